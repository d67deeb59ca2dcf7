// Names of instruction sets, opcodes and registers, as the reference spells them.
#include <charconv>

#include "polkavm/isa.hpp"

namespace polkavm {

namespace {
constexpr std::array<std::string_view, kInstructionSetCount> kInstructionSetNames = {
    "revive_v1", "latest32", "latest64", "jam_v1"};
}  // namespace

std::string_view instruction_set_name(InstructionSet isa) {
  return kInstructionSetNames[static_cast<size_t>(isa)];
}

std::optional<InstructionSet> instruction_set_from_name(std::string_view name) {
  for (size_t i = 0; i < kInstructionSetNames.size(); ++i)
    if (kInstructionSetNames[i] == name) return static_cast<InstructionSet>(i);
  return std::nullopt;
}

std::optional<Opcode> opcode_from_name(std::string_view name) {
  for (size_t i = 0; i < kOpcodeInfo.size(); ++i)
    if (kOpcodeInfo[i].name == name) return static_cast<Opcode>(i);
  return std::nullopt;
}

std::optional<Reg> reg_from_name(std::string_view name) {
  for (size_t i = 0; i < kRegNames.size(); ++i)
    if (kRegNames[i] == name) return static_cast<Reg>(i);

  // Non-ABI names: "r0".."r12", without leading zeros or signs.
  if (name.size() < 2 || name.size() > 3 || name[0] != 'r') return std::nullopt;
  std::string_view digits = name.substr(1);
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  unsigned index = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || end != digits.data() + digits.size() || index >= kRegCount) return std::nullopt;
  return static_cast<Reg>(index);
}

}  // namespace polkavm
