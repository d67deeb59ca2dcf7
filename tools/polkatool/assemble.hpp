// `polkatool assemble`: text in the reference's assembler syntax -> a .polkavm blob.
#pragma once

#include <filesystem>
#include <optional>

#include "polkavm/isa.hpp"

namespace polkatool {

inline constexpr polkavm::InstructionSet kInstructionSets[] = {
    polkavm::InstructionSet::JamV1, polkavm::InstructionSet::Latest64, polkavm::InstructionSet::Latest32,
    polkavm::InstructionSet::ReviveV1};

struct AssembleArgs {
  std::filesystem::path input;
  std::filesystem::path output;
  std::optional<polkavm::InstructionSet> isa;  // an "%isa = ..." line in the text takes precedence
};

/// Assembles the input into the output file; errors go to stderr. Returns the process exit code.
int assemble_command(const AssembleArgs& args);

}  // namespace polkatool
