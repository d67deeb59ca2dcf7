// The compiler backend: one pass from guest code to x86-64 machine code (codegen.cpp), and the execution
// of that code in this process with signal handlers for memory faults (backend.cpp).
//
// Register map: guest registers 0..12 live in rbx, rbp, rax, rdx, rsi, rdi, r8..r14; rcx is the scratch
// register and r15 the gas counter. The gs base points at the instance's 4 GiB guest memory reservation
// (the host sets it per thread before entering). A guest address is computed in 32 bits (so it wraps like
// the guest's) and used as gs:[zero-extended address]; the reservation has a guard after 4 GiB, so no guest
// access reaches host memory.
//
// The code is position-independent but for the dynamic jump table, which holds native addresses and is built
// for wherever the code runs (djump_table(base)).
//
// Guest code runs on the host's stack, whose top (while guest code runs) holds the frame
// [rsp] = VmCtx*, [rsp + 8] = gas (at exits), [rsp + 16] = the dynamic jump table. Every exit stores the
// guest registers and the gas back into the VmCtx and returns to the host, which does the rest (ecalli,
// sbrk, memset, step, out of gas, trap, fault) and re-enters at a native address found from the guest pc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "polkavm/error.hpp"
#include "compiler/vm_ctx.hpp"
#include "runtime/backend.hpp"

namespace polkavm::detail::compiler {

static_assert(kVmRegCount == kRegCount);

inline constexpr uint32_t kNoCode = UINT32_MAX;

/// Machine code for one module, in executable memory, with the maps between guest pcs and native offsets.
class CompiledCode {
 public:
  /// Translates all of the module's code. `step_tracing` stops before every instruction.
  static Result<std::unique_ptr<CompiledCode>> compile(const ModuleState& module, bool step_tracing);
  ~CompiledCode();
  CompiledCode(const CompiledCode&) = delete;
  CompiledCode& operator=(const CompiledCode&) = delete;

  uintptr_t base() const { return reinterpret_cast<uintptr_t>(memory_); }
  size_t size() const { return size_; }
  /// Where a jump to `pc` lands (a block start pays for its block there; a step stop comes first).
  uint32_t entry(uint32_t pc) const { return entry_[pc]; }
  /// A block start after its step stop: the block's charge.
  uint32_t charge(uint32_t pc) const { return charge_[pc]; }
  /// The instruction itself, after any step stop and charge.
  uint32_t body(uint32_t pc) const { return body_[pc]; }
  bool has_code(uint32_t pc) const { return pc < entry_.size() && entry_[pc] != kNoCode; }
  /// The guest pc of the instruction whose code holds native offset `offset`.
  uint32_t pc_at(uint32_t offset) const;
  /// By address / 2: the native offset of the target plus one, 0 = trap.
  const std::vector<uint32_t>& djump_offsets() const { return djump_offsets_; }
  /// The dynamic jump table for code at `base` (native addresses, 0 = trap).
  std::vector<uintptr_t> djump_table(uintptr_t base) const;
  const uintptr_t* djump_table() const { return djump_.data(); }
  /// enter(VmCtx*): the entry function.
  uint32_t enter_offset() const { return enter_; }
  /// Where the fault handler resumes after a guest memory fault.
  uint32_t fault_stub_offset() const { return fault_stub_; }
  /// Identifies this code among all compiled in the process (a sandbox worker knows what it holds).
  uint64_t id() const { return id_; }

 private:
  friend class Codegen;
  CompiledCode() = default;

  void* memory_ = nullptr;
  size_t size_ = 0;
  std::vector<uint32_t> entry_, charge_, body_;         // by guest pc (code size + 1 entries)
  std::vector<std::pair<uint32_t, uint32_t>> insn_at_;  // (native offset, pc), in code order
  std::vector<uint32_t> djump_offsets_;                 // by address / 2: native offset + 1, 0 = trap
  std::vector<uintptr_t> djump_;                        // djump_table(base())
  uint32_t enter_ = 0, fault_stub_ = 0;
  uint64_t id_ = 0;
};

}  // namespace polkavm::detail::compiler
