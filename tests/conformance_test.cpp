// Every JAM PVM v0.4 vector is its own test case, on every backend in kBackends.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <string>

#include "vector_runner.hpp"

namespace polkavm {
namespace {

namespace fs = std::filesystem;

// Add BackendKind::Compiler here once the compiler exists.
constexpr BackendKind kBackends[] = {BackendKind::Interpreter};

constexpr size_t kJamV04VectorCount = 307;

fs::path jam_v04_dir() { return fs::path(POLKAVM_SHARED_DIR) / "conformance" / "jam-pvm-v0.4" / "programs"; }

std::vector<fs::path> jam_v04_files() {
  fs::path dir = jam_v04_dir();
  if (!fs::is_directory(dir)) return {};
  std::vector<fs::path> inputs{dir};
  auto files = vectors::collect_vector_files(inputs);
  return files ? *files : std::vector<fs::path>{};
}

TEST(Conformance, JamV04VectorsArePresent) {
  ASSERT_TRUE(fs::is_directory(jam_v04_dir()))
      << "conformance vectors not found at " << jam_v04_dir()
      << "; point the CMake cache variable POLKAVM_SHARED_DIR at the directory holding conformance/";
  EXPECT_EQ(jam_v04_files().size(), kJamV04VectorCount);
}

struct VectorCase {
  fs::path file;
  BackendKind backend;
  friend void PrintTo(const VectorCase& c, std::ostream* os) {
    *os << c.file.filename().string() << " on " << polkavm::backend_name(c.backend);
  }
};

class JamV04 : public testing::TestWithParam<VectorCase> {};

TEST_P(JamV04, Passes) {
  const VectorCase& c = GetParam();
  vectors::RunnerOptions options;
  options.backend = c.backend;
  auto runner = vectors::VectorRunner::create(options);
  ASSERT_TRUE(runner) << runner.error().message();
  auto outcome = runner->run_file(c.file);
  for (const auto& failure : outcome.failures) ADD_FAILURE() << vectors::describe(outcome, failure);
}

std::vector<VectorCase> all_cases() {
  std::vector<VectorCase> cases;
  for (const auto& file : jam_v04_files())
    for (BackendKind backend : kBackends) cases.push_back({file, backend});
  return cases;
}

std::string case_name(const testing::TestParamInfo<VectorCase>& info) {
  std::string name = info.param.file.stem().string() + "_" + std::string(backend_name(info.param.backend));
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Vectors, JamV04, testing::ValuesIn(all_cases()), case_name);
// Without the vectors the suite is empty; JamV04VectorsArePresent reports why.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(JamV04);

}  // namespace
}  // namespace polkavm
