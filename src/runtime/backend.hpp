// What every execution backend shares: the architectural state of an instance and the backend interface.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "polkavm/runtime.hpp"
#include "runtime/guest_memory.hpp"

namespace polkavm::detail {

struct EngineState {
  Config config;
  BackendKind backend = BackendKind::Interpreter;
};

struct ModuleState {
  std::shared_ptr<const EngineState> engine;
  ModuleConfig config;
  GasMeteringKind gas_metering = GasMeteringKind::None;  // resolved
  ProgramBlob blob;
  MemoryMap memory_map;
  std::shared_ptr<const GasModel> gas_model;  // never null
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

class InstanceBackend {
 public:
  virtual ~InstanceBackend() = default;
  /// Runs until an interrupt; `state.next_program_counter` is set.
  virtual Interrupt run(VmState& state, GuestMemory& memory) = 0;
  /// Step tracing was switched; compiled code must be rebuilt.
  virtual void invalidate() = 0;
};

std::unique_ptr<InstanceBackend> make_interpreter(std::shared_ptr<const ModuleState> module);

}  // namespace polkavm::detail
