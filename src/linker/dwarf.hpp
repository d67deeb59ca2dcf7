// Debug information for the linker's output: the input ELF's DWARF (.debug_line and the subprogram /
// inlined-subroutine tree of .debug_info, read with elfutils' libdw) turned into a stack of source frames for
// every code address, and those stacks encoded as the blob's debug sections in the reference's format
// (debug_strings, debug_line_programs version 1, debug_line_program_ranges).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "linker/elf.hpp"
#include "polkavm/debug_info.hpp"

namespace polkavm::linker {

/// One frame, with its strings interned in a StringTable (id 0 is the empty string).
struct SourceFrame {
  DebugFrameKind kind = DebugFrameKind::Line;
  uint32_t namespace_id = 0;
  uint32_t function_id = 0;
  uint32_t path_id = 0;
  uint32_t line = 0;
  uint32_t column = 0;
  auto operator<=>(const SourceFrame&) const = default;
};
using FrameStack = std::vector<SourceFrame>;  // outermost first; the last frame is the source line

class StringTable {
 public:
  StringTable() { intern(""); }
  uint32_t intern(const std::string& text);
  const std::string& operator[](uint32_t id) const { return strings_[id]; }
  size_t size() const { return strings_.size(); }

 private:
  std::vector<std::string> strings_;
  std::map<std::string, uint32_t> ids_;
};

/// The DWARF of one ELF, indexed by (virtual) code address. Only linked ELFs (ET_EXEC, ET_DYN) are read: the
/// DWARF of a relocatable object needs its relocations applied first, which is not done. An ELF without
/// DWARF, or whose DWARF libdw cannot read, gives no frames (debug information is best effort: it never
/// makes a link fail).
class DwarfInfo {
 public:
  static DwarfInfo load(std::span<const uint8_t> elf_bytes, const ElfFile& elf);
  DwarfInfo();
  ~DwarfInfo();
  DwarfInfo(DwarfInfo&&) noexcept;
  DwarfInfo& operator=(DwarfInfo&&) noexcept;

  /// The frames of the code at `address`; empty when nothing is known about it.
  FrameStack frames_at(uint64_t address) const;
  void frames_at(uint64_t address, FrameStack& frames) const;  // the same into `frames`, reusing its memory
  const StringTable& strings() const;

  struct Data;

 private:
  std::unique_ptr<Data> data_;
};

/// One run of code with the same frames: [begin_pc, end_pc).
struct DebugSpan {
  uint32_t begin_pc = 0;
  uint32_t end_pc = 0;
  FrameStack frames;  // empty: no debug information
};

struct DebugSections {
  std::vector<uint8_t> strings;
  std::vector<uint8_t> line_programs;
  std::vector<uint8_t> ranges;
};

/// Encodes spans (sorted by pc, not overlapping) as the three debug sections. Deterministic.
DebugSections encode_debug_sections(const std::vector<DebugSpan>& spans, const StringTable& strings);

}  // namespace polkavm::linker
