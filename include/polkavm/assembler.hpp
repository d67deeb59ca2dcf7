/// @file
/// Text assembler for the reference's syntax (polkavm-common's assembler.rs). For example:
///
/// ```text
///   %isa = jam_v1
///   pub @main:
///       a0 = u8 [a1 + 0x10]
///       jump @done if a0 == 5
///       i32 a2 = a0 + a1
///   @done:
///       trap
/// ```
///
/// It also reads back everything disassemble() prints: the offset and raw-bytes columns are skipped, block
/// labels may omit the colon, "[\@dyn N]" on a label makes it jump-table entry N, "[export \#N: 'name']" exports
/// it, and a final "invalid" after an instruction that falls through stands for the implicit trap at the end
/// of the code (it assembles to nothing). A numeric jump target ("jump 12") names the line listed at offset
/// 12 when the text has an offset column, otherwise the instruction that lands at code offset 12.
///
/// Differences from the reference: a jump to a label placed mid-block with `%no_fallthrough` is an error (the
/// reference jumps to the start of that block); "a0 = a1 if a2 != 0" is cmov_if_not_zero (the reference
/// emits cmov_if_zero); u8/u16 stores take any 32-bit immediate, as the encoding does; memset, sbrk, mulh*,
/// "-a1" and the listing forms above are accepted.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/error.hpp"
#include "polkavm/isa.hpp"
#include "polkavm/program.hpp"

namespace polkavm {

/// Assembles `source` into a program. The instruction set is the last "%isa = ..." directive, else `isa`;
/// with neither the error is "no ISA was declared in the program". Other errors read
/// `line L, column C: <message>`.
POLKAVM_API Result<ProgramBlob> assemble_blob(std::string_view source, std::optional<InstructionSet> isa = std::nullopt);

/// The same, as the bytes of a .polkavm file (as the reference's `assemble` returns them).
POLKAVM_API Result<std::vector<uint8_t>> assemble(std::string_view source, std::optional<InstructionSet> isa = std::nullopt);

}  // namespace polkavm
