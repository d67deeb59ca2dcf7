// Disassemble -> assemble gives back the exact code and jump table of every program in both vector sets, in
// every disassembly format. The vectors are mostly what the reference assembler writes, but 197 of the
// jam-pvm-v0.4 programs end in an instruction that falls through (the listing ends in the implicit "invalid")
// and 19 programs per set have a jump table (the listing carries it as "[@dyn N]" on block labels).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "polkavm/assembler.hpp"
#include "polkavm/disassembler.hpp"
#include "sample_guests.hpp"
#include "test_util.hpp"

namespace polkavm {
namespace {

namespace fs = std::filesystem;

struct VectorProgram {
  std::string name;
  ProgramBlob blob;
};

// The "program" field (code and jump table) of every vector in `dir`.
std::vector<VectorProgram> load_programs(const fs::path& dir, InstructionSet isa) {
  std::vector<VectorProgram> out;
  if (!fs::is_directory(dir)) {
    ADD_FAILURE() << dir << " is missing; point the CMake cache variable POLKAVM_SHARED_DIR at the directory "
                  << "holding conformance/";
    return out;
  }
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".json") paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  for (const fs::path& path : paths) {
    std::ifstream file(path);
    const std::vector<uint8_t> bytes = nlohmann::json::parse(file).at("program");
    auto blob = ProgramBlob::from_code_and_jump_table(bytes, isa);
    if (!blob) {
      ADD_FAILURE() << path << ": " << blob.error().message();
      continue;
    }
    out.push_back({path.stem().string(), std::move(blob).value()});
  }
  return out;
}

struct VectorSet {
  const char* directory;
  InstructionSet isa;
  size_t expected_count;
};
void PrintTo(const VectorSet& set, std::ostream* os) { *os << set.directory; }

class AsmRoundTrip : public ::testing::TestWithParam<VectorSet> {};

TEST_P(AsmRoundTrip, EveryProgramComesBackByteForByte) {
  const fs::path dir = fs::path(POLKAVM_SHARED_DIR) / "conformance" / GetParam().directory / "programs";
  const std::vector<VectorProgram> programs = load_programs(dir, GetParam().isa);
  ASSERT_EQ(programs.size(), GetParam().expected_count) << dir;

  size_t ending_in_invalid = 0, with_jump_table = 0;
  for (const VectorProgram& program : programs) {
    const std::string plain = disassemble(program.blob);
    ending_in_invalid += plain.ends_with("invalid\n");
    with_jump_table += !program.blob.jump_table().empty();
    for (int options = 0; options < test::kDisassemblyVariants; ++options) {
      const std::string text = options == 0 ? plain : disassemble(program.blob, test::disassembly_variant(options));
      auto back = assemble_blob(text, GetParam().isa);
      if (!back) {
        ADD_FAILURE() << program.name << " (options " << options << "): " << back.error().message();
        continue;
      }
      const CodeAndJumpTable& expected = program.blob.code_and_jump_table;
      EXPECT_EQ(back->code_and_jump_table.code, expected.code) << program.name << " (options " << options << ")";
      EXPECT_EQ(back->code_and_jump_table.bitmask, expected.bitmask) << program.name << " (options " << options << ")";
      EXPECT_EQ(back->code_and_jump_table.jump_table, expected.jump_table)
          << program.name << " (options " << options << ")";
    }
  }
  // The two representations beyond plain instructions are really exercised.
  EXPECT_GT(with_jump_table, 0u);
  if (GetParam().isa == InstructionSet::Latest64) {
    EXPECT_GT(ending_in_invalid, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Vectors, AsmRoundTrip,
                         ::testing::Values(VectorSet{"jam-pvm-v0.4", InstructionSet::Latest64, 307},
                                           VectorSet{"polkavm-spec-e88d5b4", InstructionSet::JamV1, 363}),
                         [](const auto& info) { return std::string(instruction_set_name(info.param.isa)); });

// With directives the listing carries the memory layout too, so the whole blob comes back (the sample guests
// have RO/RW data, a stack, exports and a jump table).
TEST(AsmRoundTrip, ListingsWithDirectivesRebuildTheWholeBlob) {
  for (const guests::SampleGuest& guest : guests::sample_guests()) {
    const ProgramBlob blob = guest.build();
    for (int options : {0, 1 | 2 | 4, 8 | 16}) {
      DisassemblyOptions format = test::disassembly_variant(options);
      format.emit_directives = true;
      const std::string text = disassemble(blob, format);
      auto back = assemble_blob(text);  // no ISA argument: %isa says it
      ASSERT_TRUE(back.ok()) << guest.name << ": " << back.error().message();
      EXPECT_EQ(*back, blob) << guest.name << " (options " << options << ")";
    }
  }
  ProgramBlob with_data = guests::sample_guests()[0].build();
  with_data.ro_data = {0, 1, 0xff};
  with_data.ro_data_size = 4096;
  with_data.rw_data = {0x7f};
  with_data.rw_data_size = 3;
  with_data.stack_size = 0;
  DisassemblyOptions format;
  format.emit_directives = true;
  auto back = assemble_blob(disassemble(with_data, format));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, with_data);
}

}  // namespace
}  // namespace polkavm
