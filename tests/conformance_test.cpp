// Every conformance vector (the JAM PVM v0.4 set and the reference spectool's set) is its own test case,
// on every backend in test_util's backends() (the compiler in each sandbox).
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "polkavm/runtime.hpp"
#include "test_util.hpp"
#include "vector_runner.hpp"

namespace polkavm {
namespace {

namespace fs = std::filesystem;

using test::TestBackend;

struct VectorSet {
  const char* directory;  // under conformance/
  const char* tag;        // prefixes the test names
  size_t count;
};

constexpr VectorSet kVectorSets[] = {
    {"jam-pvm-v0.4", "jam_v04", 307},          // Latest64, naive gas
    {"polkavm-spec-e88d5b4", "spec", 363},     // JamV1, the full gas model (L2 hit), block gas costs
};

fs::path vector_dir(const VectorSet& set) {
  return fs::path(POLKAVM_SHARED_DIR) / "conformance" / set.directory / "programs";
}

std::vector<fs::path> vector_files(const VectorSet& set) {
  fs::path dir = vector_dir(set);
  if (!fs::is_directory(dir)) return {};
  std::vector<fs::path> inputs{dir};
  auto files = vectors::collect_vector_files(inputs);
  return files ? *files : std::vector<fs::path>{};
}

TEST(Conformance, VectorSetsArePresent) {
  for (const VectorSet& set : kVectorSets) {
    EXPECT_TRUE(fs::is_directory(vector_dir(set)))
        << "conformance vectors not found at " << vector_dir(set)
        << "; point the CMake cache variable POLKAVM_SHARED_DIR at the directory holding conformance/";
    EXPECT_EQ(vector_files(set).size(), set.count) << set.directory;
  }
}

TEST(Conformance, AVectorSetsRootRunsItsVectorsAndNotItsSchema) {
  // `spectool run <set>` walks the whole set: its programs/ and the schema.json beside them, which describes
  // vectors and is not one.
  for (const VectorSet& set : kVectorSets) {
    const fs::path root = vector_dir(set).parent_path();
    if (!fs::is_regular_file(root / "schema.json")) continue;
    const std::vector<fs::path> inputs{root};
    auto files = vectors::collect_vector_files(inputs);
    ASSERT_TRUE(files.ok()) << files.error().message();
    EXPECT_EQ(files->size(), set.count) << set.directory;
    // Named on the command line, a file is taken as given.
    const std::vector<fs::path> schema{root / "schema.json"};
    EXPECT_EQ(vectors::collect_vector_files(schema)->size(), 1u);
  }
}

struct VectorCase {
  const VectorSet* set;
  fs::path file;
  TestBackend backend;
  friend void PrintTo(const VectorCase& c, std::ostream* os) {
    *os << c.file.filename().string() << " on " << test::test_backend_name(c.backend);
  }
};

class ConformanceVector : public testing::TestWithParam<VectorCase> {};

TEST_P(ConformanceVector, Passes) {
  const VectorCase& c = GetParam();
  vectors::RunnerOptions options;
  test::apply(options.engine, c.backend);  // the sandbox (the runner sets the backend from options.backend)
  options.backend = c.backend.backend;
  auto runner = vectors::VectorRunner::create(options);
  ASSERT_TRUE(runner) << runner.error().message();
  auto outcome = runner->run_file(c.file);
  for (const auto& failure : outcome.failures) ADD_FAILURE() << vectors::describe(outcome, failure);
}

std::vector<VectorCase> all_cases() {
  std::vector<VectorCase> cases;
  for (const VectorSet& set : kVectorSets)
    for (const auto& file : vector_files(set))
      for (const TestBackend& backend : test::backends()) cases.push_back({&set, file, backend});
  return cases;
}

std::string case_name(const testing::TestParamInfo<VectorCase>& info) {
  // The backend first: "compiler_linux_jam_v04_..." matches */compiler_*.
  std::string name = test::test_backend_name(info.param.backend) + "_" + std::string(info.param.set->tag) + "_" +
                     info.param.file.stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Vectors, ConformanceVector, testing::ValuesIn(all_cases()), case_name);
// Without the vectors the suite is empty; VectorSetsArePresent reports why.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ConformanceVector);

}  // namespace
}  // namespace polkavm
