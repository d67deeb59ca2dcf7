// Program blobs (.polkavm): parse, validate, write. Also the bare code-and-jump-table form that the
// JAM test vectors call "program".
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "polkavm/error.hpp"
#include "polkavm/isa.hpp"

namespace polkavm {

inline constexpr uint8_t kBlobMagic[4] = {'P', 'V', 'M', 0};
inline constexpr uint32_t kMaxCodeSize = 32u * 1024 * 1024;
inline constexpr uint32_t kMaxJumpTableEntries = 16u * 1024 * 1024;
inline constexpr uint32_t kMaxImportCount = 1024;

/// The reference's varint (u32, 1..5 bytes, leading-ones length prefix).
namespace varint {
inline constexpr size_t kMaxLength = 5;
/// Reads a varint at `*offset`, advancing it; false on failure (truncated or 0xF8.. prefix).
bool read(std::span<const uint8_t> bytes, size_t* offset, uint32_t* value);
void write(std::vector<uint8_t>& out, uint32_t value);
size_t length(uint32_t value);
}  // namespace varint

struct ProgramExport {
  uint32_t pc = 0;
  std::string symbol;
  bool operator==(const ProgramExport&) const = default;
};

struct CustomSection {
  uint8_t id = 0;  // >= 131 (bit 7 set, not a known debug section)
  std::vector<uint8_t> data;
  bool operator==(const CustomSection&) const = default;
};

/// Code, jump table and bitmask (blob section 6).
struct CodeAndJumpTable {
  std::vector<uint32_t> jump_table;  // code offsets
  std::vector<uint8_t> code;
  std::vector<uint8_t> bitmask;  // ceil(code.size() / 8) bytes, LSB first

  /// Parses the bare payload (the JAM "program" form), validating it as the blob parser does.
  static Result<CodeAndJumpTable> parse(std::span<const uint8_t> bytes);
  std::vector<uint8_t> to_bytes() const;
  bool operator==(const CodeAndJumpTable&) const = default;
};

/// A parsed, validated program blob. Owns its bytes.
struct ProgramBlob {
  InstructionSet isa = InstructionSet::Latest64;
  uint32_t ro_data_size = 0;
  uint32_t rw_data_size = 0;
  uint32_t stack_size = 0;
  std::vector<uint8_t> ro_data;
  std::vector<uint8_t> rw_data;
  std::vector<std::string> imports;  // symbol bytes; index = ecalli number
  std::vector<ProgramExport> exports;
  CodeAndJumpTable code_and_jump_table;
  std::vector<uint8_t> debug_strings;
  std::vector<uint8_t> debug_line_programs;
  std::vector<uint8_t> debug_line_program_ranges;
  std::vector<CustomSection> custom_sections;

  /// Parses a .polkavm container. Errors read "failed to parse program blob: <reason>".
  static Result<ProgramBlob> parse(std::span<const uint8_t> bytes);
  /// Wraps a bare code-and-jump-table payload (as in the JAM vectors) into a blob with no data.
  static Result<ProgramBlob> from_code_and_jump_table(std::span<const uint8_t> bytes, InstructionSet isa);
  /// Writes the .polkavm container; parse(to_bytes()) gives back an equal blob.
  std::vector<uint8_t> to_bytes() const;

  bool is_64_bit() const { return polkavm::is_64_bit(isa); }
  std::span<const uint8_t> code() const { return code_and_jump_table.code; }
  std::span<const uint8_t> bitmask() const { return code_and_jump_table.bitmask; }
  std::span<const uint32_t> jump_table() const { return code_and_jump_table.jump_table; }
  bool operator==(const ProgramBlob&) const = default;
};

}  // namespace polkavm
