// The reader of the blob's debug sections: a binary search in the ranges section, then the line program the
// range points to is interpreted until it reaches the wanted program counter. Every read is bounds-checked
// and the number of steps is bounded, so a hostile blob gives an Error.
#include "polkavm/debug_info.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "program/debug_line_program.hpp"

namespace polkavm {

namespace {

using namespace line_program;

Error parse_error(const std::string& what) { return Error("failed to parse program blob: " + what, ErrorKind::InvalidBlob); }

uint32_t read_u32(const std::vector<uint8_t>& bytes, size_t offset) {
  return uint32_t{bytes[offset]} | uint32_t{bytes[offset + 1]} << 8 | uint32_t{bytes[offset + 2]} << 16 |
         uint32_t{bytes[offset + 3]} << 24;
}

struct RawFrame {
  int kind = -1;  // -1: never set (reads as Line)
  uint32_t namespace_offset = 0;
  uint32_t function_offset = 0;
  uint32_t path_offset = 0;
  uint32_t line = 0;
  uint32_t column = 0;
};

Result<std::string> debug_string(const ProgramBlob& blob, uint32_t offset) {
  const std::vector<uint8_t>& pool = blob.debug_strings;
  if (offset == 0 && pool.empty()) return std::string();
  size_t position = offset;
  uint32_t length = 0;
  if (position >= pool.size() || !varint::read(pool, &position, &length))
    return parse_error("a debug string offset is out of bounds of the debug strings section");
  if (length > pool.size() - position) return parse_error("a debug string runs past the end of its section");
  return std::string(reinterpret_cast<const char*>(pool.data() + position), length);
}

Result<DebugFrame> resolve(const ProgramBlob& blob, const RawFrame& raw) {
  DebugFrame frame;
  frame.kind = raw.kind == 0 ? DebugFrameKind::Enter : raw.kind == 1 ? DebugFrameKind::Call : DebugFrameKind::Line;
  for (auto [offset, out] : {std::pair{raw.namespace_offset, &frame.namespace_name},
                             std::pair{raw.function_offset, &frame.function_name}, std::pair{raw.path_offset, &frame.path}}) {
    auto text = debug_string(blob, offset);
    if (!text) return text.error();
    *out = std::move(*text);
  }
  frame.line = raw.line;
  frame.column = raw.column;
  return frame;
}

}  // namespace

std::string DebugFrame::full_name() const {
  if (namespace_name.empty()) return function_name;
  return namespace_name + "::" + function_name;
}

bool has_debug_info(const ProgramBlob& blob) {
  return !blob.debug_line_programs.empty() && !blob.debug_line_program_ranges.empty();
}

Result<std::optional<DebugRegion>> debug_region_at(const ProgramBlob& blob, uint32_t pc) {
  if (!has_debug_info(blob)) return std::optional<DebugRegion>();
  const std::vector<uint8_t>& programs = blob.debug_line_programs;
  const std::vector<uint8_t>& ranges = blob.debug_line_program_ranges;
  if (programs[0] != kVersion1)
    return parse_error("the debug line programs section has an unsupported version");
  if (ranges.size() % kRangeEntrySize != 0) return parse_error("the debug function ranges section has an invalid size");

  // The last entry that begins at or before pc (entries are sorted by begin).
  size_t low = 0, high = ranges.size() / kRangeEntrySize;
  while (low < high) {
    const size_t mid = low + (high - low) / 2;
    if (read_u32(ranges, mid * kRangeEntrySize) <= pc)
      low = mid + 1;
    else
      high = mid;
  }
  if (low == 0) return std::optional<DebugRegion>();
  const size_t entry = (low - 1) * kRangeEntrySize;
  const uint32_t begin = read_u32(ranges, entry);
  const uint32_t end = read_u32(ranges, entry + 4);
  const uint32_t info_offset = read_u32(ranges, entry + 8);
  if (pc < begin || pc >= end) return std::optional<DebugRegion>();
  if (info_offset >= programs.size()) return parse_error("a debug line program offset is out of bounds");

  std::array<RawFrame, kMaxFrames> stack{};
  uint32_t stack_depth = 0;
  uint32_t mutation_depth = 0;
  uint64_t counter = begin;
  size_t position = info_offset;
  size_t ops_in_region = 0;
  auto unexpected_end = [] { return parse_error("unexpected end of a debug line program"); };
  auto frame = [&]() -> RawFrame* { return mutation_depth < kMaxFrames ? &stack[mutation_depth] : nullptr; };

  // Every op reads at least one byte, so the loop ends within programs.size() steps.
  while (true) {
    if (position >= programs.size()) return unexpected_end();
    if (++ops_in_region > kMaxOpsPerRegion) return parse_error("found a line program with too many instructions");
    const uint8_t op = programs[position++];
    uint32_t value = 0;
    const bool has_operand = op == kSetMutationDepth || (op >= kSetNamespace && op <= kSetStackDepth) ||
                             op == kAddLine || op == kSubLine || op == kFinishMultipleInstructions ||
                             op == kFinishMultipleInstructionsAndIncrementStackDepth ||
                             op == kFinishMultipleInstructionsAndDecrementStackDepth;
    if (op > kFinishMultipleInstructionsAndDecrementStackDepth)
      return parse_error("found an unrecognized line program opcode");
    if (has_operand && !varint::read(programs, &position, &value)) return unexpected_end();

    uint32_t count = 0;
    uint32_t depth = stack_depth;
    switch (op) {
      case kFinishProgram: return std::optional<DebugRegion>();  // the program ended before reaching pc
      case kSetMutationDepth: mutation_depth = value; continue;
      case kSetKindEnter: if (RawFrame* f = frame()) f->kind = 0; continue;
      case kSetKindCall: if (RawFrame* f = frame()) f->kind = 1; continue;
      case kSetKindLine: if (RawFrame* f = frame()) f->kind = 2; continue;
      case kSetNamespace: if (RawFrame* f = frame()) f->namespace_offset = value; continue;
      case kSetFunctionName: if (RawFrame* f = frame()) f->function_offset = value; continue;
      case kSetPath: if (RawFrame* f = frame()) f->path_offset = value; continue;
      case kSetLine: if (RawFrame* f = frame()) f->line = value; continue;
      case kSetColumn: if (RawFrame* f = frame()) f->column = value; continue;
      case kSetStackDepth: stack_depth = value; continue;
      case kIncrementLine: if (RawFrame* f = frame()) f->line += 1; continue;
      case kAddLine: if (RawFrame* f = frame()) f->line += value; continue;
      case kSubLine: if (RawFrame* f = frame()) f->line -= value; continue;
      case kFinishInstruction: count = 1; break;
      case kFinishMultipleInstructions: count = value; break;
      case kFinishInstructionAndIncrementStackDepth:
      case kFinishMultipleInstructionsAndIncrementStackDepth:
        count = op == kFinishInstructionAndIncrementStackDepth ? 1 : value;
        stack_depth = stack_depth == UINT32_MAX ? stack_depth : stack_depth + 1;
        break;
      case kFinishInstructionAndDecrementStackDepth:
      case kFinishMultipleInstructionsAndDecrementStackDepth:
        count = op == kFinishInstructionAndDecrementStackDepth ? 1 : value;
        stack_depth = stack_depth == 0 ? 0 : stack_depth - 1;
        break;
    }
    // A region: [counter, counter + count) with the first `depth` frames.
    ops_in_region = 0;
    const uint64_t region_begin = counter;
    counter += count;
    if (counter > UINT32_MAX) return parse_error("a debug line program runs past the largest program counter");
    if (pc < region_begin || pc >= counter) continue;
    DebugRegion region;
    region.begin_pc = static_cast<uint32_t>(region_begin);
    region.end_pc = static_cast<uint32_t>(counter);
    const size_t frames = std::min<size_t>(depth, kMaxFrames);
    for (size_t i = 0; i < frames; ++i) {
      auto resolved = resolve(blob, stack[i]);
      if (!resolved) return resolved.error();
      region.frames.push_back(std::move(*resolved));
    }
    return std::optional<DebugRegion>(std::move(region));
  }
}

Result<std::optional<SourceLocation>> source_location(const ProgramBlob& blob, uint32_t pc) {
  auto region = debug_region_at(blob, pc);
  if (!region) return region.error();
  if (!*region || (*region)->frames.empty()) return std::optional<SourceLocation>();
  SourceLocation location;
  location.frames = std::move((*region)->frames);
  for (auto it = location.frames.rbegin(); it != location.frames.rend(); ++it) {
    if (location.function.empty() && !it->function_name.empty()) location.function = it->full_name();
    if (!it->path.empty()) {
      location.path = it->path;
      location.line = it->line;
      location.column = it->column;
      if (location.function.empty()) location.function = it->full_name();
      break;
    }
  }
  if (location.path.empty() && location.function.empty()) return std::optional<SourceLocation>();
  return std::optional<SourceLocation>(std::move(location));
}

std::string to_string(const SourceLocation& location) {
  std::string text = location.path;
  if (location.line != 0) text += fmt::format(":{}", location.line);
  if (location.line != 0 && location.column != 0) text += fmt::format(":{}", location.column);
  if (!location.function.empty()) text += " in " + location.function;
  return text;
}

}  // namespace polkavm
