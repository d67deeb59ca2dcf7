/// @file
/// Program blobs (.polkavm): parse, validate, write. Also the bare code-and-jump-table form that the
/// JAM test vectors call "program".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/error.hpp"
#include "polkavm/isa.hpp"

namespace polkavm {

inline constexpr uint8_t kBlobMagic[4] = {'P', 'V', 'M', 0};  ///< the first bytes of a .polkavm file
inline constexpr uint32_t kMaxCodeSize = 32u * 1024 * 1024;  ///< the largest code section a blob may have
inline constexpr uint32_t kMaxJumpTableEntries = 16u * 1024 * 1024;  ///< the longest jump table a blob may have
inline constexpr uint32_t kMaxImportCount = 1024;  ///< the most imports a blob may have

/// The reference's varint (u32, 1..5 bytes, leading-ones length prefix).
namespace varint {
inline constexpr size_t kMaxLength = 5;  ///< the longest encoding, in bytes
/// Reads a varint at `*offset`, advancing it; false on failure (truncated or 0xF8.. prefix).
POLKAVM_API bool read(std::span<const uint8_t> bytes, size_t* offset, uint32_t* value);
POLKAVM_API void write(std::vector<uint8_t>& out, uint32_t value);  ///< appends the encoding of `value` to `out`
POLKAVM_API size_t length(uint32_t value);  ///< the length of the encoding of `value`, in bytes
}  // namespace varint

/// An exported entry point.
struct ProgramExport {
  uint32_t pc = 0;     ///< where it starts
  std::string symbol;  ///< its name (symbol bytes)
  bool operator==(const ProgramExport&) const = default;  ///< field-wise equality
};

/// An optional blob section the library does not know, kept so that it round-trips.
struct CustomSection {
  uint8_t id = 0;  ///< >= 131 (bit 7 set, not a known debug section)
  std::vector<uint8_t> data;  ///< the section's payload
  bool operator==(const CustomSection&) const = default;  ///< field-wise equality
};

/// Code, jump table and bitmask (blob section 6).
struct POLKAVM_API CodeAndJumpTable {
  std::vector<uint32_t> jump_table;  ///< code offsets
  std::vector<uint8_t> code;  ///< the instructions' bytes
  std::vector<uint8_t> bitmask;  ///< ceil(code.size() / 8) bytes, LSB first

  /// Parses the bare payload (the JAM "program" form), validating it as the blob parser does.
  static Result<CodeAndJumpTable> parse(std::span<const uint8_t> bytes);
  std::vector<uint8_t> to_bytes() const;  ///< the bare payload, as parse() reads it
  bool operator==(const CodeAndJumpTable&) const = default;  ///< field-wise equality
};

/// A parsed, validated program blob. Owns its bytes.
struct POLKAVM_API ProgramBlob {
  InstructionSet isa = InstructionSet::Latest64;  ///< the blob's version byte
  uint32_t ro_data_size = 0;  ///< declared size of the read-only data (ro_data may be shorter: zeroes follow)
  uint32_t rw_data_size = 0;  ///< declared size of the read-write data (rw_data may be shorter: zeroes follow)
  uint32_t stack_size = 0;    ///< declared stack size
  std::vector<uint8_t> ro_data;  ///< initial read-only data
  std::vector<uint8_t> rw_data;  ///< initial read-write data
  std::vector<std::string> imports;  ///< symbol bytes; index = ecalli number
  std::vector<ProgramExport> exports;  ///< in blob order
  CodeAndJumpTable code_and_jump_table;  ///< the code section
  std::vector<uint8_t> debug_strings;  ///< debug section (see debug_info.hpp)
  std::vector<uint8_t> debug_line_programs;  ///< debug section (see debug_info.hpp)
  std::vector<uint8_t> debug_line_program_ranges;  ///< debug section (see debug_info.hpp)
  std::vector<CustomSection> custom_sections;  ///< unknown optional sections, in blob order

  /// Parses a .polkavm container. Errors read `failed to parse program blob: <reason>`.
  static Result<ProgramBlob> parse(std::span<const uint8_t> bytes);
  /// Wraps a bare code-and-jump-table payload (as in the JAM vectors) into a blob with no data.
  static Result<ProgramBlob> from_code_and_jump_table(std::span<const uint8_t> bytes, InstructionSet isa);
  /// Whether the fields hold what parse() guarantees (a known isa, data no longer than declared, the
  /// size limits, a bitmask matching the code). A blob built or changed by hand may not: Module::from_blob
  /// checks it, and refuses it with ErrorKind::InvalidBlob.
  Result<void> validate() const;
  /// Writes the .polkavm container; parse(to_bytes()) gives back an equal blob.
  std::vector<uint8_t> to_bytes() const;

  bool is_64_bit() const { return polkavm::is_64_bit(isa); }  ///< whether isa has 64-bit registers
  std::span<const uint8_t> code() const { return code_and_jump_table.code; }  ///< the code bytes
  std::span<const uint8_t> bitmask() const { return code_and_jump_table.bitmask; }  ///< the code's bitmask
  std::span<const uint32_t> jump_table() const { return code_and_jump_table.jump_table; }  ///< the jump table
  bool operator==(const ProgramBlob&) const = default;  ///< field-wise equality
};

}  // namespace polkavm
