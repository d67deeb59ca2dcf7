/// @file
/// Source locations from a blob's debug sections (debug_strings, debug_line_programs,
/// debug_line_program_ranges), in the reference's format (polkavm-common's LineProgram, version 1).
///
/// The linker writes them from the ELF's DWARF unless `ElfLinkerConfig::strip` is set. The ranges section maps
/// program-counter ranges to line programs; running a line program gives, for each range of code, a stack of
/// frames, outermost first: the function the code belongs to (kind Enter, at its declaration), then for each
/// inlined call a Call frame (the call site) and an Enter frame (the inlined function), and last the Line
/// frame: the source line the code was compiled from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/error.hpp"
#include "polkavm/program.hpp"

namespace polkavm {

/// What a DebugFrame is: a function (at its declaration), an inlined call site, or the source line.
enum class DebugFrameKind : uint8_t { Enter, Call, Line };

/// One frame. Empty strings and zero line/column mean "not known".
struct POLKAVM_API DebugFrame {
  DebugFrameKind kind = DebugFrameKind::Line;  ///< what the frame is
  std::string namespace_name;  ///< such as "std::vector<int>" (empty for C)
  std::string function_name;   ///< without the namespace
  std::string path;            ///< source file
  uint32_t line = 0;           ///< source line
  uint32_t column = 0;         ///< source column

  /// "namespace::function", or just the function when there is no namespace.
  std::string full_name() const;
  bool operator==(const DebugFrame&) const = default;  ///< field-wise equality
};

/// The code range [begin_pc, end_pc) one line-program step describes, and its frames (outermost first).
struct DebugRegion {
  uint32_t begin_pc = 0;            ///< first program counter of the range
  uint32_t end_pc = 0;              ///< one past the last
  std::vector<DebugFrame> frames;  ///< outermost first
};

/// Where the instruction at a program counter came from: the innermost frame that names a file.
struct SourceLocation {
  std::string path;     ///< source file
  uint32_t line = 0;    ///< 0: not known
  uint32_t column = 0;  ///< 0: not known
  std::string function;  ///< full name of the innermost function, empty if not known
  std::vector<DebugFrame> frames;  ///< the whole stack, outermost first
};

/// Whether the blob carries line programs (the linker's output without --strip).
POLKAVM_API bool has_debug_info(const ProgramBlob& blob);

/// The region covering `pc`, or nullopt when the blob has no debug information for it. Malformed debug
/// sections give an Error ("failed to parse program blob: ..."), never a crash; lookups are bounded in time.
POLKAVM_API Result<std::optional<DebugRegion>> debug_region_at(const ProgramBlob& blob, uint32_t pc);

/// The source location of the instruction at `pc` (see debug_region_at), or nullopt when not known.
POLKAVM_API Result<std::optional<SourceLocation>> source_location(const ProgramBlob& blob, uint32_t pc);

/// "path:line:column in function", leaving out what is not known.
POLKAVM_API std::string to_string(const SourceLocation& location);

}  // namespace polkavm
