/// @file
/// The PolkaVM instruction set: opcodes, operand formats, registers and the per-ISA numbering.
/// Everything here is generated from isa_table.def.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "polkavm/export.h"

namespace polkavm {

/// The instruction-set variant of a program; the value is the blob's version byte.
enum class InstructionSet : uint8_t { ReviveV1 = 0, Latest32 = 1, Latest64 = 2, JamV1 = 3 };
inline constexpr int kInstructionSetCount = 4;  ///< the number of InstructionSet values

/// Whether `isa` has 64-bit registers (all but Latest32).
constexpr bool is_64_bit(InstructionSet isa) { return isa != InstructionSet::Latest32; }
POLKAVM_API std::string_view instruction_set_name(InstructionSet isa);  ///< "revive_v1", "latest32", ...
/// The InstructionSet that instruction_set_name() calls `name`, or nothing.
POLKAVM_API std::optional<InstructionSet> instruction_set_from_name(std::string_view name);

/// Operand shape; see decode.hpp for the byte layout of each.
enum class Format : uint8_t {
  None, Imm, Offset, RegImm, RegImm64, ImmImm, RegImmImm, RegImmOffset,
  RegReg, RegRegImm, RegRegOffset, RegRegReg, RegRegImmImm,
};

/// Control-flow properties of an opcode (OpcodeInfo::flags).
enum OpcodeFlags : uint8_t {
  OPF_NONE = 0,    ///< an ordinary instruction
  OPF_TERM = 1,    ///< ends a basic block: the next instruction starts a new one
  OPF_NOFALL = 2,  ///< never continues at the next instruction
};

/// Every instruction of every instruction set (one row of isa_table.def each): the reference's mnemonics, with
/// a trailing underscore where they are C++ keywords (and_, or_, xor_).
enum class Opcode : uint8_t {
#define X(name, format, flags, jam, l64, l32, revive) name,
#include "polkavm/isa_table.def"
#undef X
};

/// The number of Opcode values.
inline constexpr int kOpcodeCount = 0
#define X(...) +1
#include "polkavm/isa_table.def"
#undef X
    ;

/// What isa_table.def says about one opcode.
struct OpcodeInfo {
  std::string_view name;  ///< the reference's mnemonic ("and", not "and_")
  Format format;          ///< operand shape
  uint8_t flags;          ///< OpcodeFlags
  std::array<int16_t, kInstructionSetCount> number;  ///< the opcode byte, indexed by InstructionSet; -1 = absent
};

namespace detail {
constexpr std::string_view strip_trailing_underscore(std::string_view s) {
  return s.ends_with('_') ? s.substr(0, s.size() - 1) : s;
}
}  // namespace detail

/// OpcodeInfo of every Opcode, indexed by Opcode.
inline constexpr std::array<OpcodeInfo, kOpcodeCount> kOpcodeInfo = {{
#define X(name, format, flags, jam, l64, l32, revive) \
  {detail::strip_trailing_underscore(#name), Format::format, (flags), {revive, l32, l64, jam}},
#include "polkavm/isa_table.def"
#undef X
}};

constexpr const OpcodeInfo& info(Opcode op) { return kOpcodeInfo[static_cast<size_t>(op)]; }  ///< `op`'s OpcodeInfo
constexpr std::string_view name(Opcode op) { return info(op).name; }  ///< the reference's mnemonic
constexpr Format format(Opcode op) { return info(op).format; }  ///< operand shape
constexpr bool ends_block(Opcode op) { return info(op).flags & OPF_TERM; }  ///< OPF_TERM is set
constexpr bool can_fallthrough(Opcode op) { return !(info(op).flags & OPF_NOFALL); }  ///< OPF_NOFALL is not set

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

/// The opcode whose mnemonic (OpcodeInfo::name) is `name`, or nothing.
POLKAVM_API std::optional<Opcode> opcode_from_name(std::string_view name);

/// The 13 guest registers; the value is the encoding.
enum class Reg : uint8_t { RA, SP, T0, T1, T2, S0, S1, A0, A1, A2, A3, A4, A5 };
inline constexpr int kRegCount = 13;  ///< the number of Reg values
/// The ABI names of the registers, indexed by Reg.
inline constexpr std::array<std::string_view, kRegCount> kRegNames = {
    "ra", "sp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5"};
constexpr std::string_view reg_name(Reg r) { return kRegNames[static_cast<size_t>(r)]; }  ///< "ra", "sp", ...
/// The register named `name`, or nothing; ABI names and r0..r12.
POLKAVM_API std::optional<Reg> reg_from_name(std::string_view name);

/// The call ABI: arguments in a0..a5, t0..t2; results in a0, a1.
inline constexpr std::array<Reg, 9> kArgRegs = {Reg::A0, Reg::A1, Reg::A2, Reg::A3, Reg::A4,
                                                Reg::A5, Reg::T0, Reg::T1, Reg::T2};

}  // namespace polkavm
