/// @file
/// Text form of instructions and programs, in the reference's syntax (polkavm-common's instruction
/// Display and polkavm-disassembler's "guest" format), such as `i32 a2 = a0 + a1` and `jump @3 if a0 == 5`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/code.hpp"
#include "polkavm/program.hpp"

namespace polkavm {

class Module;

/// How one instruction is printed (the reference's InstructionFormat).
struct InstructionFormat {
  bool is_64_bit = true;                  ///< 32-bit operations get an "i32 " prefix on 64-bit ISAs
  bool prefer_non_abi_reg_names = false;  ///< r0..r12 instead of ra, sp, t0, ...
  bool prefer_unaliased = false;          ///< no "ret", "[base]", "a0 = a1 - 4" or "a0 = -a1" shorthands
  /// Prints a jump target (an absolute code offset); unset = the offset in decimal.
  std::function<std::string(uint32_t)> jump_target;
};

/// One instruction; an instruction with valid == false prints as "invalid".
POLKAVM_API std::string disassemble_instruction(const Instruction& insn, const InstructionFormat& format = {});
/// One instruction with the default format for `isa`.
POLKAVM_API std::string disassemble_instruction(const Instruction& insn, InstructionSet isa);

/// The program's instructions in code order, as the reference's instruction iterator yields them: a region
/// without an instruction start appears as one invalid instruction, and an instruction that can fall through
/// but has no successor is followed by an implicit invalid one (at code.size() for the last instruction).
/// An invalid entry's `length` covers the bytes up to the next instruction (0 at the end of code).
POLKAVM_API std::vector<Instruction> list_instructions(const CodeView& code);

/// What disassemble() prints.
struct DisassemblyOptions {
  bool show_offsets = true;    ///< each instruction's code offset, in a column before it
  bool show_raw_bytes = false;  ///< each instruction's bytes, in a column before it
  bool emit_header = true;   ///< the "// RO data = ..." summary
  /// The memory layout as assembler directives (`%isa`, `%ro_data_size`, `%ro_data`, `%rw_data_size`, `%rw_data`,
  /// `%stack_size`), so that the listing assembles back to the whole program, not just its code. Imports and
  /// debug or custom sections have no syntax and are left out.
  bool emit_directives = false;
  bool emit_exports = true;  ///< `[export #0: 'main']` on block labels
  bool prefer_non_abi_reg_names = false;  ///< as InstructionFormat::prefer_non_abi_reg_names
  bool prefer_unaliased = false;          ///< as InstructionFormat::prefer_unaliased
  bool prefer_offset_jump_targets = false;  ///< `jump 12` instead of `jump @3`
  /// When set, every block label shows "(gas: N)" from this module's cost model.
  const Module* gas_costs = nullptr;
};

/// The whole program in the reference's `polkatool disassemble` layout: one "@N" label line per basic block,
/// then one line per instruction. Every line ends with '\n'. assemble() reads it back into the same code and
/// jump table (a repeated jump-table entry shows as "[@dyn 1] [@dyn 2]", where the reference would panic).
POLKAVM_API std::string disassemble(const ProgramBlob& blob, const DisassemblyOptions& options = {});

}  // namespace polkavm
