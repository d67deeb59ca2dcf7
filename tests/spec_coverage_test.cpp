// The spec sources in tests/spec double as the ISA checklist: every opcode of JamV1 and of Latest64 must be used
// by a source assembled for that instruction set, and every opcode must have a source named after it
// (inst_<opcode>.txt or inst_<opcode>_<case>.txt) that uses it, so deleting an opcode's source fails this test.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "polkavm/assembler.hpp"
#include "polkavm/disassembler.hpp"

namespace polkavm {
namespace {

const std::filesystem::path kSpecDir = std::filesystem::path(__FILE__).parent_path() / "spec";

struct SpecProgram {
  std::string name;  // file stem
  InstructionSet isa;
  std::set<Opcode> opcodes;
};

/// The source with the generator's directive lines (pre:, post:, step:) blanked, as the generator does.
std::string assembly_of(const std::string& source) {
  std::istringstream lines(source);
  std::string out, line;
  while (std::getline(lines, line)) {
    bool directive = line.starts_with("pre:") || line.starts_with("post:") || line.starts_with("step:");
    if (!directive) out += line;
    out += '\n';
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

struct SpecPrograms {
  std::vector<SpecProgram> programs;
  std::vector<std::string> errors;  // "file: message" for each source that does not assemble
};

/// Every tests/spec/*.txt, assembled (JamV1 unless the source says `%isa = ...`) and decoded.
SpecPrograms load_spec_programs() {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kSpecDir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".txt") paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());

  SpecPrograms out;
  for (const auto& path : paths) {
    auto blob = assemble_blob(assembly_of(read_file(path)), InstructionSet::JamV1);
    if (!blob) {
      out.errors.push_back(path.filename().string() + ": " + blob.error().message());
      continue;
    }
    SpecProgram program{path.stem().string(), blob->isa, {}};
    for (const Instruction& insn : list_instructions(CodeView(*blob)))
      if (insn.valid) program.opcodes.insert(insn.opcode);
    out.programs.push_back(std::move(program));
  }
  return out;
}

const SpecPrograms& spec_programs() {
  static const SpecPrograms loaded = load_spec_programs();
  return loaded;
}

std::vector<Opcode> opcodes_of(InstructionSet isa) {
  std::vector<Opcode> out;
  for (int i = 0; i < kOpcodeCount; ++i)
    if (opcode_number(isa, static_cast<Opcode>(i)) >= 0) out.push_back(static_cast<Opcode>(i));
  return out;
}

std::string join_names(const std::vector<Opcode>& opcodes) {
  std::string out;
  for (Opcode op : opcodes) out += (out.empty() ? "" : ", ") + std::string(name(op));
  return out;
}

TEST(SpecCoverage, EverySourceAssembles) {
  ASSERT_TRUE(std::filesystem::is_directory(kSpecDir)) << kSpecDir;
  EXPECT_FALSE(spec_programs().programs.empty()) << "no spec sources in " << kSpecDir;
  for (const std::string& error : spec_programs().errors) ADD_FAILURE() << error;
}

TEST(SpecCoverage, EveryOpcodeIsUsedBySourceOfItsInstructionSet) {
  for (InstructionSet isa : {InstructionSet::JamV1, InstructionSet::Latest64}) {
    std::set<Opcode> used;
    for (const SpecProgram& program : spec_programs().programs)
      if (program.isa == isa) used.insert(program.opcodes.begin(), program.opcodes.end());
    std::vector<Opcode> missing;
    for (Opcode op : opcodes_of(isa))
      if (!used.contains(op)) missing.push_back(op);
    EXPECT_TRUE(missing.empty()) << "no " << instruction_set_name(isa) << " spec source uses: " << join_names(missing);
  }
}

TEST(SpecCoverage, EveryOpcodeHasASourceNamedAfterIt) {
  std::set<Opcode> all;
  for (InstructionSet isa : {InstructionSet::JamV1, InstructionSet::Latest64})
    for (Opcode op : opcodes_of(isa)) all.insert(op);
  std::vector<Opcode> missing;
  for (Opcode op : all) {
    std::string stem = "inst_" + std::string(name(op));
    bool found =
        std::any_of(spec_programs().programs.begin(), spec_programs().programs.end(), [&](const SpecProgram& program) {
          bool named = program.name == stem || program.name.starts_with(stem + "_");
          return named && program.opcodes.contains(op);
        });
    if (!found) missing.push_back(op);
  }
  EXPECT_TRUE(missing.empty()) << "no inst_<opcode>[_<case>].txt source uses: " << join_names(missing);
}

}  // namespace
}  // namespace polkavm
