// The PolkaVM instruction set: opcodes, operand formats, registers and the per-ISA numbering.
// Everything here is generated from isa_table.def.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace polkavm {

/// The instruction-set variant of a program; the value is the blob's version byte.
enum class InstructionSet : uint8_t { ReviveV1 = 0, Latest32 = 1, Latest64 = 2, JamV1 = 3 };
inline constexpr int kInstructionSetCount = 4;

constexpr bool is_64_bit(InstructionSet isa) { return isa != InstructionSet::Latest32; }
std::string_view instruction_set_name(InstructionSet isa);  // "revive_v1", "latest32", ...
std::optional<InstructionSet> instruction_set_from_name(std::string_view name);

/// Operand shape; see decode.hpp for the byte layout of each.
enum class Format : uint8_t {
  None, Imm, Offset, RegImm, RegImm64, ImmImm, RegImmImm, RegImmOffset,
  RegReg, RegRegImm, RegRegOffset, RegRegReg, RegRegImmImm,
};

enum OpcodeFlags : uint8_t {
  OPF_NONE = 0,
  OPF_TERM = 1,    // ends a basic block: the next instruction starts a new one
  OPF_NOFALL = 2,  // never continues at the next instruction
};

enum class Opcode : uint8_t {
#define X(name, format, flags, jam, l64, l32, revive) name,
#include "polkavm/isa_table.def"
#undef X
};

inline constexpr int kOpcodeCount = 0
#define X(...) +1
#include "polkavm/isa_table.def"
#undef X
    ;

struct OpcodeInfo {
  std::string_view name;  // the reference's mnemonic ("and", not "and_")
  Format format;
  uint8_t flags;
  std::array<int16_t, kInstructionSetCount> number;  // indexed by InstructionSet; -1 = absent
};

namespace detail {
constexpr std::string_view strip_trailing_underscore(std::string_view s) {
  return s.ends_with('_') ? s.substr(0, s.size() - 1) : s;
}
}  // namespace detail

inline constexpr std::array<OpcodeInfo, kOpcodeCount> kOpcodeInfo = {{
#define X(name, format, flags, jam, l64, l32, revive) \
  {detail::strip_trailing_underscore(#name), Format::format, (flags), {revive, l32, l64, jam}},
#include "polkavm/isa_table.def"
#undef X
}};

constexpr const OpcodeInfo& info(Opcode op) { return kOpcodeInfo[static_cast<size_t>(op)]; }
constexpr std::string_view name(Opcode op) { return info(op).name; }
constexpr Format format(Opcode op) { return info(op).format; }
constexpr bool ends_block(Opcode op) { return info(op).flags & OPF_TERM; }
constexpr bool can_fallthrough(Opcode op) { return !(info(op).flags & OPF_NOFALL); }

/// The opcode byte of `op` in `isa`, or -1 when `isa` does not have it.
constexpr int opcode_number(InstructionSet isa, Opcode op) {
  return info(op).number[static_cast<size_t>(isa)];
}

namespace detail {
// byte -> Opcode index + 1 (0 = invalid), one table per instruction set.
constexpr auto make_decode_tables() {
  std::array<std::array<uint8_t, 256>, kInstructionSetCount> t{};
  for (size_t i = 0; i < kOpcodeInfo.size(); ++i)
    for (size_t isa = 0; isa < kInstructionSetCount; ++isa)
      if (int n = kOpcodeInfo[i].number[isa]; n >= 0) t[isa][static_cast<size_t>(n)] = static_cast<uint8_t>(i + 1);
  return t;
}
inline constexpr auto kDecodeTables = make_decode_tables();
}  // namespace detail

/// The opcode that `byte` encodes in `isa`, or nothing for an invalid byte.
constexpr std::optional<Opcode> opcode_from_byte(InstructionSet isa, uint8_t byte) {
  uint8_t v = detail::kDecodeTables[static_cast<size_t>(isa)][byte];
  if (v == 0) return std::nullopt;
  return static_cast<Opcode>(v - 1);
}

std::optional<Opcode> opcode_from_name(std::string_view name);

/// The 13 guest registers; the value is the encoding.
enum class Reg : uint8_t { RA, SP, T0, T1, T2, S0, S1, A0, A1, A2, A3, A4, A5 };
inline constexpr int kRegCount = 13;
inline constexpr std::array<std::string_view, kRegCount> kRegNames = {
    "ra", "sp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5"};
constexpr std::string_view reg_name(Reg r) { return kRegNames[static_cast<size_t>(r)]; }
std::optional<Reg> reg_from_name(std::string_view name);  // ABI names and r0..r12

/// The call ABI: arguments in a0..a5, t0..t2; results in a0, a1.
inline constexpr std::array<Reg, 9> kArgRegs = {Reg::A0, Reg::A1, Reg::A2, Reg::A3, Reg::A4,
                                                Reg::A5, Reg::T0, Reg::T1, Reg::T2};

}  // namespace polkavm
