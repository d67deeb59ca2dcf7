// What generated code and whoever enters it share: the guest state in and out, and why the code stopped.
// Kept free of other project headers: the Linux sandbox's worker program includes it too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace polkavm::detail::compiler {

inline constexpr int kVmRegCount = 13;

// Access: a memory access the generated code cannot check in hardware; the host classifies it.
// BlockTrap: a block of a lone trap (or invalid instruction) under gas metering, which has no charge of its
// own: the host charges the block, then traps (or runs out of gas).
enum class Exit : uint32_t { Trap, Halt, Ecalli, OutOfGas, Sbrk, Memset, Step, Fault, Access, BlockTrap };
/// Or'ed into VmCtx::exit by the exits that the code reaches with a call from inside an instruction's code:
/// VmCtx::pc then holds the native offset the call returns to, and the host finds the guest pc from it.
inline constexpr uint32_t kExitAtReturnOffset = 0x80000000u;

/// Generated code addresses these fields by offsetof. Pointers and native addresses are those of the
/// process that runs the code (the host for the generic sandbox, the worker for the Linux one).
///
/// The order is for the Linux sandbox, where this lives in a page shared between two processes and every
/// cache line written on one side and read on the other crosses between cores: what an ecalli's answer
/// changes (a0 to a5, where to resume, the gas) fills the second cache line alone; the first holds the
/// exit, its pc and the other registers; the third what is set once per code and the fault's details.
struct alignas(64) VmCtx {
  Exit exit;
  uint32_t pc;                 // the guest pc of the instruction that exited, or see kExitAtReturnOffset
                               // (an ecalli's number is in its code)
  uint64_t regs[kVmRegCount];  // regs[7..12] (a0..a5) start the second cache line
  uintptr_t target;            // the native address to enter at
  int64_t gas;
  const uintptr_t* djump_table;
  // For the signal handler.
  uintptr_t code_begin, code_end, fault_stub;
  uintptr_t fault_rip, fault_address;
};
static_assert(offsetof(VmCtx, regs) + 7 * sizeof(uint64_t) == 64 && offsetof(VmCtx, gas) == 120,
              "a0..a5, target and gas fill the second cache line");

}  // namespace polkavm::detail::compiler
