// A RISC-V ELF file as the linker sees it: sections with their bytes and static relocations, and symbols.
// Read with libelf; every offset and size is checked against the file, so a hostile file gives an error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "polkavm/error.hpp"

namespace polkavm::linker {

struct ElfRelocation {
  uint64_t offset = 0;  // r_offset: an address in the target section (or an offset, for ET_REL)
  uint32_t type = 0;    // R_RISCV_*
  uint32_t symbol = 0;  // index into the symbol table; 0 = no symbol
  int64_t addend = 0;
};

struct ElfSection {
  uint32_t index = 0;  // the ELF section header index
  std::string name;
  uint32_t type = 0;    // SHT_*
  uint64_t flags = 0;   // SHF_*
  uint64_t address = 0;
  uint64_t size = 0;    // in memory; data.size() is smaller only for SHT_NOBITS (empty)
  uint64_t align = 1;   // a power of two, at least 1
  uint32_t link = 0;
  uint32_t info = 0;
  std::span<const uint8_t> data;  // in the parsed bytes, which must outlive this (empty for SHT_NOBITS)
  std::vector<ElfRelocation> relocations;  // from the static (non-allocated) SHT_RELA sections targeting this one

  bool is_allocated() const;
  bool is_writable() const;
  bool is_executable() const;
  bool is_tls() const;
};

struct ElfSymbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  uint8_t type = 0;  // STT_*
  uint16_t section = 0;  // st_shndx
};

struct ElfFile {
  bool is_64 = false;
  uint16_t type = 0;  // ET_*
  std::vector<ElfSection> sections;  // indexed by the ELF section index (0 = the null section)
  std::vector<ElfSymbol> symbols;    // the static symbol table (.symtab); [0] is the null symbol
};

/// Parses a little-endian RISC-V ELF (32- or 64-bit, ET_EXEC, ET_REL or ET_DYN). Only the relocations of
/// non-allocated SHT_RELA sections are collected: those are the static ones --emit-relocs keeps; the
/// dynamic ones (.rela.dyn) describe the ELF linker's layout, which the PolkaVM linker replaces. The sections'
/// data point into `bytes`.
Result<ElfFile> parse_elf(std::span<const uint8_t> bytes);

/// "R_RISCV_PCREL_HI20", or "relocation type 200" for a number without a name.
std::string relocation_name(uint32_t type);

}  // namespace polkavm::linker
