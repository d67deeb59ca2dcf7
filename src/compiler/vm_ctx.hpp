// What generated code and whoever enters it share: the guest state in and out, and why the code stopped.
// Kept free of other project headers: the Linux sandbox's worker program includes it too.
#pragma once

#include <cstdint>

namespace polkavm::detail::compiler {

inline constexpr int kVmRegCount = 13;

// Access: a memory access the generated code cannot check in hardware; the host classifies it.
enum class Exit : uint32_t { Trap, Halt, Ecalli, OutOfGas, Sbrk, Memset, Step, Fault, Access };

/// Generated code addresses these fields by offsetof. Pointers and native addresses are those of the
/// process that runs the code (the host for the generic sandbox, the worker for the Linux one).
struct VmCtx {
  uint64_t regs[kVmRegCount];
  int64_t gas;
  const uintptr_t* djump_table;
  uintptr_t target;  // the native address to enter at
  uint64_t arg;      // the exit's argument: a guest pc
  Exit exit;
  // For the signal handler.
  uintptr_t code_begin, code_end, fault_stub;
  uintptr_t fault_rip, fault_address;
};

}  // namespace polkavm::detail::compiler
