// The embedding API: Engine -> Module -> RawInstance -> run() -> Interrupt.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "polkavm/code.hpp"
#include "polkavm/config.hpp"
#include "polkavm/error.hpp"
#include "polkavm/gas.hpp"
#include "polkavm/memory_map.hpp"
#include "polkavm/program.hpp"

namespace polkavm {

struct Segfault {
  uint32_t page_address = 0;
  uint32_t page_size = 0;
  bool is_write_protected = false;
  bool operator==(const Segfault&) const = default;
};

/// Why run() returned.
struct Interrupt {
  enum class Kind : uint8_t { Finished, Trap, Ecalli, Segfault, NotEnoughGas, Step };
  Kind kind = Kind::Finished;
  uint32_t hostcall = 0;     // Ecalli: the immediate
  polkavm::Segfault segfault;  // Segfault: the page

  static Interrupt finished() { return {Kind::Finished, 0, {}}; }
  static Interrupt trap() { return {Kind::Trap, 0, {}}; }
  static Interrupt ecalli(uint32_t n) { return {Kind::Ecalli, n, {}}; }
  static Interrupt fault(polkavm::Segfault s) { return {Kind::Segfault, 0, s}; }
  static Interrupt not_enough_gas() { return {Kind::NotEnoughGas, 0, {}}; }
  static Interrupt step() { return {Kind::Step, 0, {}}; }
  bool operator==(const Interrupt&) const = default;
};
std::string to_string(const Interrupt& interrupt);  // "finished", "trap", "ecalli(3)", "segfault(0x20000)", ...

enum class MemoryProtection : uint8_t { Read, ReadWrite };

class RawInstance;

namespace detail {
struct EngineState;
struct ModuleState;
struct InstanceData;
class InstanceBackend;
class ModuleCache;
/// The backend behind an instance (null if moved from); for the library's own tests and tools.
InstanceBackend* backend_of(RawInstance& instance);
}  // namespace detail

class Engine {
 public:
  /// Validates the configuration and picks the backend and sandbox. Backend Auto: the compiler where the CPU
  /// runs it and a sandbox is available, else the interpreter. Sandbox Auto: Linux where the kernel allows
  /// it, else Generic if allow_experimental is set.
  static Result<Engine> create(const Config& config = Config{});
  BackendKind backend() const;
  /// Where compiled code runs: Linux or Generic (for the interpreter: Generic, i.e. in this process).
  SandboxKind sandbox() const;
  const Config& config() const;

 private:
  friend class Module;
  std::shared_ptr<const detail::EngineState> state_;
  // The module cache (Config::cache_enabled): held by the engine's handles, not by its modules, which
  // the cache holds.
  std::shared_ptr<detail::ModuleCache> cache_;
};

/// A validated program ready to instantiate. Cheap to copy (shared, immutable).
class Module {
 public:
  static Result<Module> create(const Engine& engine, const ModuleConfig& config, std::span<const uint8_t> blob);
  /// With the engine's module cache (Config::cache_enabled) and ModuleConfig::cache_by_hash, a blob and
  /// configuration seen before give the module made then (shared, not compiled again).
  static Result<Module> from_blob(const Engine& engine, const ModuleConfig& config, ProgramBlob blob);
  /// The cached module for this blob and configuration, if there is one (never compiles).
  static std::optional<Module> from_cache(const Engine& engine, const ModuleConfig& config, const ProgramBlob& blob);

  const ProgramBlob& blob() const;
  const ModuleConfig& config() const;
  const MemoryMap& memory_map() const;
  /// The gas metering in force (the module's choice, else the engine's default).
  GasMeteringKind gas_metering() const;
  InstructionSet isa() const { return blob().isa; }
  bool is_64_bit() const { return blob().is_64_bit(); }
  uint32_t default_sp() const { return memory_map().stack_address_high; }
  std::span<const ProgramExport> exports() const { return blob().exports; }
  std::span<const std::string> imports() const { return blob().imports; }
  /// The pc of the export named `symbol`.
  std::optional<uint32_t> export_pc(std::string_view symbol) const;
  /// The gas cost of the basic block that starts at `pc` (nothing if no block starts there).
  std::optional<Gas> gas_cost_for_block(uint32_t pc) const;
  /// Every basic block's start and cost, in code order.
  std::vector<std::pair<uint32_t, Gas>> block_gas_costs() const;
  CodeView code() const { return CodeView(blob()); }

  Result<RawInstance> instantiate() const;

 private:
  friend class RawInstance;
  std::shared_ptr<const detail::ModuleState> state_;
};

/// One running program. Move-only.
class RawInstance {
 public:
  RawInstance(RawInstance&&) noexcept;
  RawInstance& operator=(RawInstance&&) noexcept;
  ~RawInstance();

  const Module& module() const { return module_; }

  /// Runs from next_program_counter() until an interrupt. Error if no next program counter is set.
  Result<Interrupt> run();

  uint64_t reg(Reg r) const;
  void set_reg(Reg r, uint64_t value);
  void clear_regs();
  Gas gas() const;
  void set_gas(Gas gas);
  /// The instruction that was interrupted (nothing after Finished, or before the first run).
  std::optional<uint32_t> program_counter() const;
  /// Where run() continues (nothing when the instance cannot resume).
  std::optional<uint32_t> next_program_counter() const;
  /// Sets where run() starts. Starting in the middle of a block charges that whole block.
  void set_next_program_counter(uint32_t pc);
  /// The reference's call convention: clears registers, RA = 0xFFFF0000, SP = default_sp, args in
  /// a0..a5, t0..t2 (at most 9), next pc = `pc`.
  Result<void> prepare_call(uint32_t pc, std::span<const uint64_t> args = {});

  Result<void> read_memory_into(uint32_t address, std::span<uint8_t> out) const;
  Result<std::vector<uint8_t>> read_memory(uint32_t address, uint32_t length) const;
  Result<void> write_memory(uint32_t address, std::span<const uint8_t> data);
  Result<void> zero_memory(uint32_t address, uint32_t length);
  bool is_memory_accessible(uint32_t address, uint32_t length, MemoryProtection protection) const;
  /// Dynamic paging: maps (and zeroes) whole pages covering [address, address + length).
  Result<void> zero_memory_with_memory_protection(uint32_t address, uint32_t length, MemoryProtection protection);
  Result<void> protect_memory(uint32_t address, uint32_t length);
  Result<void> unprotect_memory(uint32_t address, uint32_t length);
  Result<void> free_pages(uint32_t address, uint32_t length);
  /// Restores the initial RO/RW data and empties heap and stack (fails only if the kernel refuses pages).
  Result<void> reset_memory();

  uint32_t heap_size() const;
  /// Grows the heap by `size` bytes; returns the new heap top, or nothing when it cannot grow.
  std::optional<uint32_t> sbrk(uint32_t size);

  /// Turns Step interrupts (one before every instruction) on or off.
  void set_step_tracing(bool enabled);
  bool step_tracing() const;

 private:
  friend class Module;
  friend detail::InstanceBackend* detail::backend_of(RawInstance& instance);
  RawInstance(Module module, std::unique_ptr<detail::InstanceData> data);
  Module module_;
  std::unique_ptr<detail::InstanceData> data_;
};

}  // namespace polkavm
