/// @file
/// Decoding and encoding of instructions, basic blocks and jump targets.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/isa.hpp"
#include "polkavm/program.hpp"

namespace polkavm {

/// The most zero bitmask bits after an instruction start that count towards its length (see CodeView::skip).
inline constexpr uint32_t kBitmaskMaxSkip = 24;
inline constexpr uint32_t kReturnToHost = 0xFFFF0000u;  ///< the halt address of dynamic jumps
/// Dynamic jump addresses are multiples of this: jump-table entry i has address (i + 1) * 2.
inline constexpr uint32_t kCodeAddressAlignment = 2;

namespace detail {
/// The low `length` bytes (0..4) of `value`, sign-extended; length 0 gives 0 (the reference's
/// read_simple_varint).
constexpr uint32_t sign_extend_imm(uint32_t value, uint32_t length) {
  if (length == 0) return 0;
  const uint32_t shift = 32 - 8 * length;
  return static_cast<uint32_t>(static_cast<int32_t>(value << shift) >> shift);
}
/// The fewest bytes that sign-extend back to `value` (the reference's write_simple_varint).
constexpr uint32_t imm_length(uint32_t value) {
  uint32_t length = 0;
  while (sign_extend_imm(value, length) != value) ++length;
  return length;
}
}  // namespace detail

/// One decoded instruction. Operands by format (as the reference prints them):
///   Imm: imm[0]             Offset: target          RegImm: reg[0], imm[0]     RegImm64: reg[0], imm64
///   ImmImm: imm[0] (address), imm[1] (value)        RegImmImm: reg[0] (base), imm[0] (offset), imm[1] (value)
///   RegImmOffset: reg[0], imm[0], target            RegReg: reg[0] (dst), reg[1] (src)
///   RegRegImm: reg[0], reg[1], imm[0]               RegRegOffset: reg[0], reg[1], target
///   RegRegReg: reg[0] (dst), reg[1] (src1), reg[2] (src2)
///   RegRegImmImm: reg[0] (dst), reg[1] (base), imm[0] (value), imm[1] (offset)
/// Immediates are the sign-extended 32-bit values (as u32); `target` is the absolute code offset.
struct Instruction {
  Opcode opcode = Opcode::trap;  ///< the operation (meaningful only when `valid`)
  bool valid = false;   ///< false: an invalid opcode byte or an opcode not in the ISA (behaves as trap)
  uint8_t reg[3] = {};  ///< register numbers, already clamped to 0..12
  uint32_t imm[2] = {};  ///< immediates, sign-extended to 32 bits
  uint32_t target = 0;   ///< the absolute code offset of a jump or branch
  uint64_t imm64 = 0;    ///< the 64-bit immediate of load_imm64 (RegImm64)
  uint32_t pc = 0;       ///< the code offset of the instruction
  uint32_t length = 0;  ///< 1 + bitmask skip; the last instruction ends exactly at the end of code

  /// Register operand `i` (0..2) as a Reg.
  Reg r(int i) const { return static_cast<Reg>(reg[i]); }
  /// Where execution continues when this instruction falls through.
  uint32_t next_pc() const { return pc + length; }
};

/// Read-only view of code plus bitmask, with the reference's decoding rules.
class POLKAVM_API CodeView {
 public:
  /// A view of `code` and `bitmask` (not copied: they must outlive the view), decoded as `isa`.
  CodeView(InstructionSet isa, std::span<const uint8_t> code, std::span<const uint8_t> bitmask)
      : isa_(isa), code_(code), bitmask_(bitmask) {}
  /// A view of the blob's code and bitmask (the blob must outlive the view).
  explicit CodeView(const ProgramBlob& blob) : CodeView(blob.isa, blob.code(), blob.bitmask()) {}

  InstructionSet isa() const { return isa_; }  ///< the instruction set the code is decoded as
  uint32_t size() const { return static_cast<uint32_t>(code_.size()); }  ///< the code size in bytes
  std::span<const uint8_t> code() const { return code_; }  ///< the code bytes
  std::span<const uint8_t> bitmask() const { return bitmask_; }  ///< one bit per code byte, set at instruction starts

  /// True when an instruction starts at `pc` (bitmask bit set).
  bool is_instruction_boundary(uint32_t pc) const {
    return pc < code_.size() && ((bitmask_[pc >> 3] >> (pc & 7)) & 1);
  }
  /// The first instruction start at or after `pc`, or size() when there is none.
  uint32_t next_instruction_start(uint32_t pc) const {
    while (pc < size() && !is_instruction_boundary(pc)) ++pc;
    return pc;
  }
  /// Number of zero bits after `pc` before the next set bit, capped at 24 and at the end of code.
  uint32_t skip(uint32_t pc) const;
  /// Decodes the instruction at `pc`. For pc >= size() it returns the implicit trap at the end of code
  /// (valid == false, length 1).
  Instruction decode(uint32_t pc) const;
  /// The same, written into `out` (all of it): decoding into a buffer this way saves copying each
  /// instruction out of a temporary, which costs a store-forwarding stall per instruction.
  void decode(uint32_t pc, Instruction& out) const;
  /// Offset 0, or an instruction right after a valid block-terminating instruction.
  bool is_jump_target_valid(uint32_t pc) const;
  /// The start of the basic block that contains the instruction at `pc` (which must be a boundary).
  std::optional<uint32_t> find_start_of_basic_block(uint32_t pc) const;
  /// Decodes the basic block that starts at `pc` into `out`: up to and including its terminator, or an
  /// invalid instruction (an unknown opcode, a bitmask gap, or the implicit trap at the end of code).
  void decode_block(uint32_t pc, std::vector<Instruction>& out) const;
  /// The reference's strict check (used for JamV1): every instruction from 0 decodes and the last one
  /// does not fall through. Returns an error message or nothing.
  std::optional<std::string> validate() const;

 private:
  InstructionSet isa_;
  std::span<const uint8_t> code_;
  std::span<const uint8_t> bitmask_;
};

/// Shorthand for building an Instruction: make_instruction(Opcode::add_32, {Reg::A2, Reg::A0, Reg::A1}).
/// Registers and immediates fill the operands in the order documented on Instruction. For jumps and
/// branches the absolute target is the last immediate, and either every immediate is given or none:
/// make_instruction(Opcode::branch_eq_imm, {Reg::A0}, {5, 20}), or {} with CodeBuilder::emit(insn, label)
/// (which needs {imm, 0} when the branch has an immediate). Anything else aborts.
POLKAVM_API Instruction make_instruction(Opcode op, std::initializer_list<Reg> regs = {},
                             std::initializer_list<uint32_t> imms = {});
/// A load_imm64 of `value` into `reg`.
POLKAVM_API Instruction make_load_imm64(Reg reg, uint64_t value);

/// Builds code, bitmask and jump table with labels, using the minimal encodings the reference writes.
class POLKAVM_API CodeBuilder {
 public:
  /// A position in the code, bound with bind(); an index into Output::label_offsets.
  using Label = uint32_t;
  /// An empty builder for `isa`.
  explicit CodeBuilder(InstructionSet isa) : isa_(isa) {}

  /// A new, unbound label.
  Label new_label();
  /// The next emitted instruction starts at `label`.
  void bind(Label label);
  /// Appends an instruction (its `pc` is ignored: finish() lays the code out).
  void emit(const Instruction& insn);
  /// Emits a jump/branch whose target operand is `target`.
  void emit(const Instruction& insn, Label target);
  /// Appends raw bytes as one "instruction" (bitmask bit set at its first byte), for hostile-code tests.
  void emit_raw(std::span<const uint8_t> bytes);
  /// Appends a jump-table entry pointing at `target`; entry i is reached with address (i + 1) * 2.
  void add_jump_table_entry(Label target);
  /// Appends a raw jump-table entry (any code offset, valid or not).
  void add_jump_table_offset(uint32_t offset);

  /// What finish() lays out.
  struct Output {
    CodeAndJumpTable code;  ///< code, bitmask and jump table
    std::vector<uint32_t> label_offsets;  ///< the code offset of each label, indexed by Label
  };
  /// Lays the code out (offsets shrink to their minimal size). Unbound labels abort.
  Output finish() const;

 private:
  struct Item {
    Instruction insn;
    std::vector<uint8_t> raw;
    int64_t label = -1;  // target label, or -1
    bool is_raw = false;
  };
  struct TableEntry {
    int64_t label = -1;
    uint32_t offset = 0;
  };
  InstructionSet isa_;
  std::vector<Item> items_;
  std::vector<int64_t> label_items_;  // label -> index of the item it precedes
  std::vector<TableEntry> jump_table_;
};

/// Encodes one instruction (minimal immediates) into bytes; targets are relative to `insn.pc`.
POLKAVM_API std::vector<uint8_t> encode_instruction(InstructionSet isa, const Instruction& insn);

}  // namespace polkavm
