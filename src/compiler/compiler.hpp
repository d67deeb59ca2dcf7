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
// An exit inside an instruction's code is a `call` (the host finds the pc from where it returns to, see
// kExitAtReturnOffset); cold code laid out elsewhere exits with `mov ecx, pc; jmp`.
//
// Memory: compiling a module takes its machine code plus about 5 bytes per byte of guest code for the
// tables below, and a bounded amount of working memory; Config::compile_memory_limit caps the sum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "polkavm/error.hpp"
#include "compiler/vm_ctx.hpp"
#include "runtime/backend.hpp"
#include "runtime/huge_pages.hpp"

namespace polkavm::detail::compiler {

static_assert(kVmRegCount == kRegCount);

inline constexpr uint32_t kNoCode = UINT32_MAX;

/// Machine code for one module, in executable memory, with the maps between guest pcs and native offsets.
class CompiledCode {
 public:
  /// Translates all of the module's code. `step_tracing` stops before every instruction. Never throws:
  /// running out of memory, or past Config::compile_memory_limit, is an ErrorKind::ResourceExhausted.
  static Result<std::unique_ptr<CompiledCode>> compile(const ModuleState& module, bool step_tracing);
  ~CompiledCode();
  CompiledCode(const CompiledCode&) = delete;
  CompiledCode& operator=(const CompiledCode&) = delete;

  uintptr_t base() const { return reinterpret_cast<uintptr_t>(memory_); }
  size_t size() const { return size_; }
  /// Where a jump to `pc` lands (a block start pays for its block there; a step stop comes first).
  uint32_t entry(uint32_t pc) const {
    return !has_code(pc) ? kNoCode : info_[pc] & kReentry ? reentry(pc) : entry_[pc];
  }
  /// A block start after its step stop: the block's charge.
  uint32_t charge(uint32_t pc) const {
    return !has_code(pc) ? kNoCode : info_[pc] & kReentry ? reentry(pc) : entry_[pc] + step_length_;
  }
  /// The instruction itself, after any step stop and charge.
  uint32_t body(uint32_t pc) const {
    const uint32_t at = charge(pc);
    return at == kNoCode || (info_[pc] & kReentry) ? at : at + charge_length(pc);
  }
  bool has_code(uint32_t pc) const { return pc < info_.size() && (info_[pc] & kHasCode); }
  /// The length of the block charge at `pc`: nonzero only at a block start that pays for its block in code.
  uint32_t charge_length(uint32_t pc) const { return has_code(pc) ? info_[pc] >> kChargeShift : 0; }
  /// Whether `pc` is a block of a lone trap whose charge the host makes (Exit::BlockTrap).
  bool is_block_trap(uint32_t pc) const { return has_code(pc) && (info_[pc] & kBlockTrap); }
  /// The guest pc of the instruction whose code holds native offset `offset` (cold code laid out after an
  /// instruction counts as its code).
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
  /// How many parts it was translated in, in parallel (1 or 2; see compile_in_parts_from()).
  uint32_t parts() const { return parts_; }

 private:
  friend class Codegen;
  CompiledCode() = default;
  uint32_t reentry(uint32_t pc) const;

  // info_ bits.
  static constexpr uint8_t kHasCode = 1, kReentry = 2, kBlockTrap = 4;
  static constexpr int kChargeShift = 3;  // the rest: the length of the block's charge

  void* memory_ = nullptr;
  size_t size_ = 0;    // of the machine code
  size_t mapped_ = 0;  // of memory_'s mapping
  // By guest pc (code size + 1 entries). entry_ is non-decreasing (a pc without code holds the entry of the
  // next one), so that pc_at can search it. A branch entered from the host through a reentry stub
  // (kReentry) has its inline offset here and the stub's in reentry_.
  std::vector<uint32_t, TableAllocator<uint32_t>> entry_;
  std::vector<uint8_t, TableAllocator<uint8_t>> info_;
  std::vector<std::pair<uint32_t, uint32_t>> reentry_;  // (pc, native offset of its reentry stub), by pc
  uint32_t step_length_ = 0;                            // of a step stop (0 without step tracing)
  std::vector<uint32_t> djump_offsets_;                 // by address / 2: native offset + 1, 0 = trap
  std::vector<uintptr_t> djump_;                        // djump_table(base())
  uint32_t enter_ = 0, fault_stub_ = 0;
  uint64_t id_ = 0;
  uint32_t parts_ = 1;
};

/// Modules with at least this many bytes of code are compiled in two parts in parallel (on two threads),
/// where the machine has two cores and the memory limit leaves room; the result runs the same as one part.
uint32_t compile_in_parts_from();
/// Sets compile_in_parts_from() for the whole process (tests split small modules with it).
void set_compile_in_parts_from(uint32_t code_bytes);

/// The gas cost of the block starting at `pc`, as the code charges it (`scratch` holds decoded instructions).
uint32_t block_cost_at(const ModuleState& module, uint32_t pc, std::vector<Instruction>& scratch);

}  // namespace polkavm::detail::compiler
