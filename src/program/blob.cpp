// Parsing and writing of .polkavm program blobs. The checks, their order and their messages follow the
// reference (crates/polkavm-common/src/program.rs: ProgramParts::from_bytes, ProgramBlob::from_parts), so a
// malformed blob fails here with the same message as there.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "polkavm/program.hpp"

namespace polkavm {

namespace {

constexpr uint8_t kSectionMemoryConfig = 1;
constexpr uint8_t kSectionRoData = 2;
constexpr uint8_t kSectionRwData = 3;
constexpr uint8_t kSectionImports = 4;
constexpr uint8_t kSectionExports = 5;
constexpr uint8_t kSectionCodeAndJumpTable = 6;
constexpr uint8_t kSectionDebugStrings = 128;
constexpr uint8_t kSectionDebugLinePrograms = 129;
constexpr uint8_t kSectionDebugLineProgramRanges = 130;
constexpr uint8_t kSectionEndOfFile = 0;
constexpr uint8_t kSectionOptionalBit = 0x80;

constexpr size_t kVersionOffset = sizeof(kBlobMagic);
constexpr size_t kLengthOffset = kVersionOffset + 1;
constexpr size_t kLengthSize = 8;

Error parse_error(std::string_view reason) {
  return Error(fmt::format("failed to parse program blob: {}", reason), ErrorKind::InvalidBlob);
}

// Propagates the error of a Result-returning expression out of the enclosing function.
#define PVM_TRY(expr)                    \
  do {                                   \
    if (auto result_ = (expr); !result_) \
      return result_.error();            \
  } while (false)

// A cursor over the blob. Error offsets are positions in `bytes`, which for the code-and-jump-table payload
// is the section payload itself, as in the reference.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes, size_t position = 0) : bytes_(bytes), position_(position) {}

  size_t position() const { return position_; }
  size_t remaining() const { return bytes_.size() - position_; }

  Result<void> read_byte(uint8_t& out) {
    std::span<const uint8_t> slice;
    PVM_TRY(read_slice(1, slice));
    out = slice[0];
    return {};
  }

  Result<void> read_slice(size_t length, std::span<const uint8_t>& out) {
    if (remaining() < length)
      return parse_error(fmt::format(
          "unexpected end of file at offset 0x{:x}: expected to be able to read at least {} bytes, found {} bytes",
          position_, length, remaining()));
    out = bytes_.subspan(position_, length);
    position_ += length;
    return {};
  }

  // A missing first byte is an unexpected end; a bad prefix or missing tail bytes are a bad varint.
  Result<void> read_varint(uint32_t& out) {
    uint8_t first = 0;
    PVM_TRY(read_byte(first));
    size_t offset = position_ - 1;
    if (!varint::read(bytes_, &offset, &out))
      return parse_error(fmt::format("failed to parse a varint at offset 0x{:x}", position_ - 1));
    position_ = offset;
    return {};
  }

  Result<void> read_bytes_with_length(std::span<const uint8_t>& out) {
    uint32_t length = 0;
    PVM_TRY(read_varint(length));
    return read_slice(length, out);
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t position_;
};

// The sections of a blob, still as raw bytes (the reference's ProgramParts).
struct RawParts {
  InstructionSet isa = InstructionSet::Latest64;
  uint32_t ro_data_size = 0;
  uint32_t rw_data_size = 0;
  uint32_t stack_size = 0;
  std::span<const uint8_t> ro_data;
  std::span<const uint8_t> rw_data;
  std::span<const uint8_t> import_offsets;
  std::span<const uint8_t> import_symbols;
  std::span<const uint8_t> exports;
  std::span<const uint8_t> code_and_jump_table;
  std::span<const uint8_t> debug_strings;
  std::span<const uint8_t> debug_line_programs;
  std::span<const uint8_t> debug_line_program_ranges;
  std::vector<CustomSection> custom_sections;
};

// Reads section `expected` if `section` is that id, then the id of the following section.
Result<void> read_section_if(Reader& reader, uint8_t& section, uint8_t expected, std::span<const uint8_t>& out) {
  if (section != expected) return {};
  uint32_t length = 0;
  PVM_TRY(reader.read_varint(length));
  PVM_TRY(reader.read_slice(length, out));
  return reader.read_byte(section);
}

Result<void> read_header(Reader& reader, std::span<const uint8_t> bytes, RawParts& parts) {
  if (bytes.size() < sizeof(kBlobMagic) || std::memcmp(bytes.data(), kBlobMagic, sizeof(kBlobMagic)) != 0)
    return parse_error("blob doesn't start with the expected magic bytes");

  uint8_t version = 0;
  PVM_TRY(reader.read_byte(version));
  if (version >= kInstructionSetCount) return parse_error(fmt::format("unsupported version: {}", version));
  parts.isa = static_cast<InstructionSet>(version);

  std::span<const uint8_t> length_bytes;
  PVM_TRY(reader.read_slice(kLengthSize, length_bytes));
  uint64_t length = 0;
  for (size_t i = 0; i < kLengthSize; ++i) length |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  if (length != bytes.size()) return parse_error("blob size doesn't match the blob length metadata");
  return {};
}

Result<void> read_memory_config(Reader& reader, RawParts& parts) {
  uint32_t length = 0;
  PVM_TRY(reader.read_varint(length));
  const size_t start = reader.position();
  PVM_TRY(reader.read_varint(parts.ro_data_size));
  PVM_TRY(reader.read_varint(parts.rw_data_size));
  PVM_TRY(reader.read_varint(parts.stack_size));
  if (start + length != reader.position()) return parse_error("the memory config section contains more data than expected");
  return {};
}

// Like the reference, the import offsets are read without regard to the section length; only the symbol
// bytes are sized by it.
Result<void> read_imports(Reader& reader, RawParts& parts) {
  uint32_t length = 0;
  PVM_TRY(reader.read_varint(length));
  const size_t start = reader.position();
  uint32_t count = 0;
  PVM_TRY(reader.read_varint(count));
  if (count > kMaxImportCount) return parse_error("too many imports");
  PVM_TRY(reader.read_slice(size_t{count} * 4, parts.import_offsets));
  const size_t consumed = reader.position() - start;
  if (consumed > length) return parse_error("the imports section is invalid");
  return reader.read_slice(length - consumed, parts.import_symbols);
}

// The reference skips unknown optional sections; we keep them (ids >= 131) so that they round-trip. A
// repeated or out-of-order debug section (128..130) lands here too; the reference ignores it, and so do we.
Result<void> read_optional_sections(Reader& reader, uint8_t& section, RawParts& parts) {
  while (section & kSectionOptionalBit) {
    std::span<const uint8_t> data;
    uint32_t length = 0;
    PVM_TRY(reader.read_varint(length));
    PVM_TRY(reader.read_slice(length, data));
    if (section > kSectionDebugLineProgramRanges)
      parts.custom_sections.push_back(CustomSection{section, std::vector<uint8_t>(data.begin(), data.end())});
    PVM_TRY(reader.read_byte(section));
  }
  return {};
}

Result<void> read_sections(std::span<const uint8_t> bytes, RawParts& parts) {
  Reader reader(bytes, kVersionOffset);
  PVM_TRY(read_header(reader, bytes, parts));

  uint8_t section = 0;
  PVM_TRY(reader.read_byte(section));
  if (section == kSectionMemoryConfig) {
    PVM_TRY(read_memory_config(reader, parts));
    PVM_TRY(reader.read_byte(section));
  }
  PVM_TRY(read_section_if(reader, section, kSectionRoData, parts.ro_data));
  PVM_TRY(read_section_if(reader, section, kSectionRwData, parts.rw_data));
  if (section == kSectionImports) {
    PVM_TRY(read_imports(reader, parts));
    PVM_TRY(reader.read_byte(section));
  }
  PVM_TRY(read_section_if(reader, section, kSectionExports, parts.exports));
  PVM_TRY(read_section_if(reader, section, kSectionCodeAndJumpTable, parts.code_and_jump_table));
  PVM_TRY(read_section_if(reader, section, kSectionDebugStrings, parts.debug_strings));
  PVM_TRY(read_section_if(reader, section, kSectionDebugLinePrograms, parts.debug_line_programs));
  PVM_TRY(read_section_if(reader, section, kSectionDebugLineProgramRanges, parts.debug_line_program_ranges));
  PVM_TRY(read_optional_sections(reader, section, parts));

  if (section != kSectionEndOfFile)
    return parse_error(fmt::format("found unexpected section as offset 0x{:x}: 0x{:x}", reader.position() - 1, section));
  // Bytes after the end-of-file marker are accepted, as by the reference: the length header already covers
  // them, and rejecting them would refuse blobs the reference runs.
  return {};
}

uint32_t read_le(std::span<const uint8_t> bytes) {
  uint32_t value = 0;
  for (size_t i = 0; i < bytes.size(); ++i) value |= static_cast<uint32_t>(bytes[i]) << (8 * i);
  return value;
}

// The reference resolves imports lazily and reports a bad one only when a module is created; we hold them
// as strings, so a symbol range outside the symbol bytes fails the parse.
Result<std::vector<std::string>> decode_imports(std::span<const uint8_t> offsets, std::span<const uint8_t> symbols) {
  const size_t count = offsets.size() / 4;
  std::vector<std::string> imports;
  imports.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t begin = read_le(offsets.subspan(i * 4, 4));
    const size_t end = i + 1 < count ? read_le(offsets.subspan((i + 1) * 4, 4)) : symbols.size();
    if (begin > end || end > symbols.size()) return parse_error("the imports section is invalid");
    imports.emplace_back(reinterpret_cast<const char*>(symbols.data()) + begin, end - begin);
  }
  return imports;
}

// The reference iterates exports lazily and silently stops at a malformed entry; we parse them up front and
// reject such a section. Error offsets are positions in the whole blob.
Result<std::vector<ProgramExport>> decode_exports(std::span<const uint8_t> blob, std::span<const uint8_t> section) {
  if (section.empty()) return std::vector<ProgramExport>{};
  const size_t base = static_cast<size_t>(section.data() - blob.data());
  Reader reader(blob.first(base + section.size()), base);
  uint32_t count = 0;
  PVM_TRY(reader.read_varint(count));
  std::vector<ProgramExport> exports;
  for (uint32_t i = 0; i < count; ++i) {
    ProgramExport entry;
    std::span<const uint8_t> symbol;
    PVM_TRY(reader.read_varint(entry.pc));
    PVM_TRY(reader.read_bytes_with_length(symbol));
    entry.symbol.assign(symbol.begin(), symbol.end());
    exports.push_back(std::move(entry));
  }
  if (reader.remaining() != 0) return parse_error("the exports section contains more data than expected");
  return exports;
}

Result<void> check_bitmask(const CodeAndJumpTable& out) {
  const size_t code_size = out.code.size();
  if (out.bitmask.size() != (code_size + 7) / 8) return parse_error("the bitmask length doesn't match the code length");
  if (code_size % 8 != 0) {
    const uint8_t padding_mask = static_cast<uint8_t>(0xFFu << (code_size % 8));
    if (out.bitmask.back() & padding_mask) return parse_error("the bitmask is padded with non-zero bits");
  }
  return {};
}

std::vector<uint8_t> to_vector(std::span<const uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

// The smallest entry size that holds every offset; at least 1 for a non-empty table, because a table with
// entry size 0 reads as empty. (The reference writer counts leading non-zero bytes instead, which undersizes
// entries such as 0x100; we do not copy that.)
uint8_t jump_table_entry_size(std::span<const uint32_t> entries) {
  uint32_t max_entry = 0;
  for (uint32_t entry : entries) max_entry = std::max(max_entry, entry);
  if (entries.empty()) return 0;
  uint8_t size = 1;
  while (size < 4 && (max_entry >> (8 * size)) != 0) ++size;
  return size;
}

void write_section(std::vector<uint8_t>& out, uint8_t id, std::span<const uint8_t> payload) {
  out.push_back(id);
  varint::write(out, static_cast<uint32_t>(payload.size()));
  out.insert(out.end(), payload.begin(), payload.end());
}

void write_section_if_not_empty(std::vector<uint8_t>& out, uint8_t id, std::span<const uint8_t> payload) {
  if (!payload.empty()) write_section(out, id, payload);
}

std::vector<uint8_t> memory_config_payload(const ProgramBlob& blob) {
  std::vector<uint8_t> payload;
  varint::write(payload, blob.ro_data_size);
  varint::write(payload, blob.rw_data_size);
  varint::write(payload, blob.stack_size);
  return payload;
}

std::vector<uint8_t> imports_payload(std::span<const std::string> imports) {
  std::vector<uint8_t> payload;
  varint::write(payload, static_cast<uint32_t>(imports.size()));
  uint32_t offset = 0;
  for (const std::string& symbol : imports) {
    for (int i = 0; i < 4; ++i) payload.push_back(static_cast<uint8_t>(offset >> (8 * i)));
    offset += static_cast<uint32_t>(symbol.size());
  }
  for (const std::string& symbol : imports) payload.insert(payload.end(), symbol.begin(), symbol.end());
  return payload;
}

std::vector<uint8_t> exports_payload(std::span<const ProgramExport> exports) {
  std::vector<uint8_t> payload;
  varint::write(payload, static_cast<uint32_t>(exports.size()));
  for (const ProgramExport& entry : exports) {
    varint::write(payload, entry.pc);
    varint::write(payload, static_cast<uint32_t>(entry.symbol.size()));
    payload.insert(payload.end(), entry.symbol.begin(), entry.symbol.end());
  }
  return payload;
}

}  // namespace

Result<CodeAndJumpTable> CodeAndJumpTable::parse(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return parse_error("no code found");

  Reader reader(bytes);
  uint32_t entry_count = 0;
  PVM_TRY(reader.read_varint(entry_count));
  if (entry_count > kMaxJumpTableEntries) return parse_error("the jump table section is too long");
  uint8_t entry_size = 0;
  PVM_TRY(reader.read_byte(entry_size));
  uint32_t code_size = 0;
  PVM_TRY(reader.read_varint(code_size));
  if (code_size > kMaxCodeSize) return parse_error("the code section is too long");
  if (entry_size > 4) return parse_error("invalid jump table entry size");
  // entry_count <= 16 Mi and entry_size <= 4, so the reference's "the jump table is too long" (u32 overflow
  // of count * size) cannot happen.

  std::span<const uint8_t> jump_table, code, bitmask;
  PVM_TRY(reader.read_slice(size_t{entry_count} * entry_size, jump_table));
  PVM_TRY(reader.read_slice(code_size, code));
  PVM_TRY(reader.read_slice(reader.remaining(), bitmask));

  CodeAndJumpTable out;
  out.code = to_vector(code);
  out.bitmask = to_vector(bitmask);
  PVM_TRY(check_bitmask(out));

  // Entries may point anywhere; the reference checks them only in a strict Module (and at jump time).
  // With entry size 0 the table reads as empty whatever the count, as in the reference.
  if (entry_size != 0) {
    out.jump_table.reserve(entry_count);
    for (uint32_t i = 0; i < entry_count; ++i) out.jump_table.push_back(read_le(jump_table.subspan(i * entry_size, entry_size)));
  }
  return out;
}

std::vector<uint8_t> CodeAndJumpTable::to_bytes() const {
  std::vector<uint8_t> out;
  const uint8_t entry_size = jump_table_entry_size(jump_table);
  varint::write(out, static_cast<uint32_t>(jump_table.size()));
  out.push_back(entry_size);
  varint::write(out, static_cast<uint32_t>(code.size()));
  for (uint32_t entry : jump_table)
    for (uint8_t i = 0; i < entry_size; ++i) out.push_back(static_cast<uint8_t>(entry >> (8 * i)));
  out.insert(out.end(), code.begin(), code.end());
  out.insert(out.end(), bitmask.begin(), bitmask.end());
  return out;
}

Result<ProgramBlob> ProgramBlob::parse(std::span<const uint8_t> bytes) {
  RawParts parts;
  PVM_TRY(read_sections(bytes, parts));

  if (parts.ro_data.size() > parts.ro_data_size)
    return parse_error("size of the read-only data payload exceeds the declared size of the section");
  if (parts.rw_data.size() > parts.rw_data_size)
    return parse_error("size of the read-write data payload exceeds the declared size of the section");

  auto code_and_jump_table = CodeAndJumpTable::parse(parts.code_and_jump_table);
  if (!code_and_jump_table) return code_and_jump_table.error();
  auto imports = decode_imports(parts.import_offsets, parts.import_symbols);
  if (!imports) return imports.error();
  auto exports = decode_exports(bytes, parts.exports);
  if (!exports) return exports.error();

  ProgramBlob blob;
  blob.isa = parts.isa;
  blob.ro_data_size = parts.ro_data_size;
  blob.rw_data_size = parts.rw_data_size;
  blob.stack_size = parts.stack_size;
  blob.ro_data = to_vector(parts.ro_data);
  blob.rw_data = to_vector(parts.rw_data);
  blob.imports = std::move(*imports);
  blob.exports = std::move(*exports);
  blob.code_and_jump_table = std::move(*code_and_jump_table);
  blob.debug_strings = to_vector(parts.debug_strings);
  blob.debug_line_programs = to_vector(parts.debug_line_programs);
  blob.debug_line_program_ranges = to_vector(parts.debug_line_program_ranges);
  blob.custom_sections = std::move(parts.custom_sections);
  return blob;
}

Result<void> ProgramBlob::validate() const {
  const auto invalid = [](std::string_view reason) {
    return Error(fmt::format("invalid program blob: {}", reason), ErrorKind::InvalidBlob);
  };
  if (static_cast<unsigned>(isa) >= kInstructionSetCount)
    return invalid(fmt::format("unsupported version: {}", static_cast<unsigned>(isa)));
  if (ro_data.size() > ro_data_size) return invalid("the read-only data is longer than its declared size");
  if (rw_data.size() > rw_data_size) return invalid("the read-write data is longer than its declared size");
  if (imports.size() > kMaxImportCount) return invalid("too many imports");
  if (code().size() > kMaxCodeSize) return invalid("the code section is too long");
  if (jump_table().size() > kMaxJumpTableEntries) return invalid("the jump table section is too long");
  if (check_bitmask(code_and_jump_table).ok()) return {};
  return invalid("the bitmask does not match the code (one bit per code byte, zero padding)");
}

Result<ProgramBlob> ProgramBlob::from_code_and_jump_table(std::span<const uint8_t> bytes, InstructionSet isa) {
  auto code_and_jump_table = CodeAndJumpTable::parse(bytes);
  if (!code_and_jump_table) return code_and_jump_table.error();
  ProgramBlob blob;
  blob.isa = isa;
  blob.code_and_jump_table = std::move(*code_and_jump_table);
  return blob;
}

// Section order and omission of empty sections follow the reference writer (ProgramBlobBuilder::to_vec);
// the debug sections, which it does not write, go where its parser expects them.
std::vector<uint8_t> ProgramBlob::to_bytes() const {
  std::vector<uint8_t> out(kBlobMagic, kBlobMagic + sizeof(kBlobMagic));
  out.push_back(static_cast<uint8_t>(isa));
  out.resize(out.size() + kLengthSize);  // patched below

  if (ro_data_size != 0 || rw_data_size != 0 || stack_size != 0)
    write_section(out, kSectionMemoryConfig, memory_config_payload(*this));
  write_section_if_not_empty(out, kSectionRoData, ro_data);
  write_section_if_not_empty(out, kSectionRwData, rw_data);
  if (!imports.empty()) write_section(out, kSectionImports, imports_payload(imports));
  if (!exports.empty()) write_section(out, kSectionExports, exports_payload(exports));
  write_section(out, kSectionCodeAndJumpTable, code_and_jump_table.to_bytes());
  write_section_if_not_empty(out, kSectionDebugStrings, debug_strings);
  write_section_if_not_empty(out, kSectionDebugLinePrograms, debug_line_programs);
  write_section_if_not_empty(out, kSectionDebugLineProgramRanges, debug_line_program_ranges);
  // Custom sections are written even when empty: the parser keeps empty ones, so this round-trips.
  for (const CustomSection& section : custom_sections) write_section(out, section.id, section.data);
  out.push_back(kSectionEndOfFile);

  const uint64_t length = out.size();
  for (size_t i = 0; i < kLengthSize; ++i) out[kLengthOffset + i] = static_cast<uint8_t>(length >> (8 * i));
  return out;
}

}  // namespace polkavm

#undef PVM_TRY
