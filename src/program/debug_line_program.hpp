// The line program format of the blob's debug sections (the reference's polkavm-common LineProgramOp,
// version 1), shared by the reader (debug_info.cpp) and the linker's writer (linker/dwarf.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace polkavm::line_program {

inline constexpr uint8_t kVersion1 = 1;         // first byte of debug_line_programs
inline constexpr size_t kRangeEntrySize = 12;   // debug_line_program_ranges: u32 begin, end, program offset
inline constexpr size_t kMaxFrames = 16;        // frames the reader keeps (its inline stack)
inline constexpr size_t kMaxOpsPerRegion = 512; // ops between two regions, at most

enum Op : uint8_t {
  kFinishProgram = 0,
  kSetMutationDepth = 1,
  kSetKindEnter = 2,
  kSetKindCall = 3,
  kSetKindLine = 4,
  kSetNamespace = 5,
  kSetFunctionName = 6,
  kSetPath = 7,
  kSetLine = 8,
  kSetColumn = 9,
  kSetStackDepth = 10,
  kIncrementLine = 11,
  kAddLine = 12,
  kSubLine = 13,
  kFinishInstruction = 14,
  kFinishMultipleInstructions = 15,
  kFinishInstructionAndIncrementStackDepth = 16,
  kFinishMultipleInstructionsAndIncrementStackDepth = 17,
  kFinishInstructionAndDecrementStackDepth = 18,
  kFinishMultipleInstructionsAndDecrementStackDepth = 19,
};

}  // namespace polkavm::line_program
