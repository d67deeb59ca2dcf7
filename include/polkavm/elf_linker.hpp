/// @file
/// The linker: turns a RISC-V ELF (RV32E/RV64E with M, A, C and Zbb, linked with `--emit-relocs`) into a
/// PolkaVM program blob, as the reference's `polkatool link` (crates/polkavm-linker) does.
///
/// Input contract (the reference's): a little-endian RISC-V ELF, ET_DYN, ET_EXEC or ET_REL, whose static
/// relocations were kept (`ld.lld -shared -z notext --emit-relocs --unique --apply-dynamic-relocs -Bsymbolic`).
/// The linker re-links the program from those relocations; the addresses the ELF linker resolved are ignored.
/// Only the 13 registers PolkaVM has may be used (zero, ra, sp, t0-t2, s0, s1, a0-a5), no floating point.
/// Exports and imports are described by the reference's metadata (.polkavm_exports, .polkavm_metadata and
/// the `0x0000000b` + `auipc zero, %pcrel_hi(METADATA)` import stub), so guests built with the reference's
/// polkavm-derive macros and with our C header link alike.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/error.hpp"
#include "polkavm/isa.hpp"
#include "polkavm/program.hpp"

namespace polkavm {

/// Settings of link_elf_to_blob and link_elf (polkatool link's options).
struct ElfLinkerConfig {
  /// Leave out the debug sections. Without it, the ELF's DWARF line information (file, line, column,
  /// function and inlined calls, read with libdw) becomes the blob's debug_strings, debug_line_programs and
  /// debug_line_program_ranges sections (the reference's format; read with polkavm/debug_info.hpp).
  bool strip = false;
  /// 0: keep every block and data section. 1: drop code and data that no export can reach.
  /// 2 (default): also fold constants and fuse address loads into the jumps that use them.
  int opt_level = 2;
  /// Rounded up to the 4 KiB page; `.polkavm_min_stack_size` sections in the ELF can raise it.
  uint32_t min_stack_size = 8192;
  /// Default: Latest64 for an RV64 ELF, Latest32 for an RV32 ELF. JamV1 and ReviveV1 need RV64.
  std::optional<InstructionSet> isa;
};

/// Links an ELF into a program blob. Errors read `failed to link ELF: <reason>`. A hostile ELF gives an
/// Error, never undefined behaviour. The output is deterministic: the same input and config give the same
/// bytes.
POLKAVM_API Result<ProgramBlob> link_elf_to_blob(std::span<const uint8_t> elf, const ElfLinkerConfig& config = {});

/// link_elf_to_blob, serialised as a .polkavm file.
POLKAVM_API Result<std::vector<uint8_t>> link_elf(std::span<const uint8_t> elf, const ElfLinkerConfig& config = {});

}  // namespace polkavm
