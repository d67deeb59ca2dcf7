// What every execution backend shares: the architectural state of an instance and the backend interface.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "polkavm/runtime.hpp"
#include "runtime/guest_memory.hpp"

namespace polkavm::detail {

namespace linux_sandbox {
class WorkerPool;
}
class Sandbox;

struct EngineState {
  Config config;
  BackendKind backend = BackendKind::Interpreter;
  /// Where compiled code runs (meaningful for the compiler backend only).
  SandboxKind sandbox = SandboxKind::Generic;
  /// The Linux sandbox's idle workers; null unless the sandbox is Linux.
  std::shared_ptr<linux_sandbox::WorkerPool> workers;
};

namespace compiler {
class CompiledCode;
}

struct ModuleState {
  std::shared_ptr<const EngineState> engine;
  ModuleConfig config;
  GasMeteringKind gas_metering = GasMeteringKind::None;  // resolved
  ProgramBlob blob;
  MemoryMap memory_map;
  std::shared_ptr<const GasModel> gas_model;  // never null
  /// The compiler backend: the module's machine code (shared by its instances), null otherwise.
  std::shared_ptr<const compiler::CompiledCode> compiled_code;

  /// Whether a `fallthrough` continues to `next`, the pc after it: where a basic block starts, or at the end
  /// of code under ModuleConfig::gray_paper_end_of_code (the implicit trap there, a block of its own).
  /// Otherwise it traps at itself. Both backends lay out fall-through chains by this one rule.
  bool fallthrough_continues(const CodeView& code, uint32_t next) const {
    return code.is_jump_target_valid(next) || (config.gray_paper_end_of_code && next == code.size());
  }
};

/// Registers, gas and program counters, as the host sees them between runs.
struct VmState {
  std::array<uint64_t, 16> regs{};  // 13 used; 32-bit programs keep them sign-extended
  Gas gas = 0;
  std::optional<uint32_t> program_counter;
  std::optional<uint32_t> next_program_counter;
  bool next_pc_changed = false;  // set by the host: resolve (and maybe charge) before running
  bool step_tracing = false;
};

/// An instance's execution: it owns the registers, gas, program counters and guest memory, and every
/// RawInstance operation goes through it. The interpreter runs in this process; the compiler runs its code
/// in a sandbox (src/sandbox/).
class InstanceBackend {
 public:
  virtual ~InstanceBackend() = default;
  VmState& state() { return state_; }
  const VmState& state() const { return state_; }
  GuestMemory& memory() { return *memory_; }
  const GuestMemory& memory() const { return *memory_; }
  /// Runs until an interrupt; `state().next_program_counter` is set. An Error of kind ResourceExhausted means
  /// the kernel refused memory the run needed: the run stopped cleanly where it was and can run on. Any
  /// other Error means the instance cannot run any more (its sandbox broke); the host process is unharmed.
  virtual Result<Interrupt> run() = 0;
  /// Step tracing was switched; compiled code must be rebuilt.
  virtual void invalidate() = 0;
  /// Where compiled code runs (null for the interpreter).
  virtual Sandbox* sandbox() { return nullptr; }
  /// The interpreter: drop the translations whenever they pass `max_bytes` (nothing: no limit).
  /// The interpreter: what its translations take now, in bytes (tests).
  virtual size_t translation_bytes() const { return 0; }
  virtual Result<void> set_translation_cache_limit(std::optional<size_t> max_bytes) {
    return Error("the translation cache limit is the interpreter's; this instance runs compiled code",
                 ErrorKind::Unsupported);
  }

 protected:
  VmState state_;
  std::unique_ptr<GuestMemory> memory_;
};

Result<std::unique_ptr<InstanceBackend>> make_interpreter(std::shared_ptr<const ModuleState> module);

/// Why the compiler backend cannot run on this host (not x86-64, or a CPU feature missing), or nothing.
std::optional<std::string> compiler_unsupported_reason();
/// Translates the module's code to machine code (sets `module.compiled_code`).
Result<void> compile_module(ModuleState& module);
/// An instance running the module's compiled code in the engine's sandbox.
Result<std::unique_ptr<InstanceBackend>> make_compiler(std::shared_ptr<const ModuleState> module);

}  // namespace polkavm::detail
