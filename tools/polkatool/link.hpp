// `polkatool link`: a RISC-V ELF -> a .polkavm program blob.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "polkavm/isa.hpp"

namespace polkatool {

struct LinkArgs {
  std::filesystem::path input;
  std::filesystem::path output;
  bool strip = false;
  int opt_level = 2;
  uint32_t min_stack_size = 8192;
  std::optional<polkavm::InstructionSet> isa;  // unset: latest64 for RV64, latest32 for RV32
};

/// Links the input into the output file; errors go to stderr. Returns the process exit code.
int link_command(const LinkArgs& args);

}  // namespace polkatool
