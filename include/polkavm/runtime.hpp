/// @file
/// The embedding API: Engine -> Module -> RawInstance -> run() -> Interrupt.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/code.hpp"
#include "polkavm/config.hpp"
#include "polkavm/error.hpp"
#include "polkavm/gas.hpp"
#include "polkavm/memory_map.hpp"
#include "polkavm/program.hpp"

namespace polkavm {

/// Dynamic paging: the guest touched a page that is not mapped, or wrote to a read-only one.
struct Segfault {
  uint32_t page_address = 0;  ///< the page's address
  uint32_t page_size = 0;     ///< the module's page size
  bool is_write_protected = false;  ///< the page is mapped read-only and the access was a write
  bool operator==(const Segfault&) const = default;  ///< field-wise equality
};

/// Why run() returned.
struct Interrupt {
  /// What stopped the run.
  enum class Kind : uint8_t { Finished, Trap, Ecalli, Segfault, NotEnoughGas, Step };
  Kind kind = Kind::Finished;  ///< what stopped the run
  uint32_t hostcall = 0;     ///< Ecalli: the immediate
  polkavm::Segfault segfault;  ///< Segfault: the page

  static Interrupt finished() { return {Kind::Finished, 0, {}}; }  ///< a Finished interrupt
  static Interrupt trap() { return {Kind::Trap, 0, {}}; }  ///< a Trap interrupt
  static Interrupt ecalli(uint32_t n) { return {Kind::Ecalli, n, {}}; }  ///< an Ecalli of host call `n`
  static Interrupt fault(polkavm::Segfault s) { return {Kind::Segfault, 0, s}; }  ///< a Segfault at `s`
  static Interrupt not_enough_gas() { return {Kind::NotEnoughGas, 0, {}}; }  ///< a NotEnoughGas interrupt
  static Interrupt step() { return {Kind::Step, 0, {}}; }  ///< a Step interrupt
  bool operator==(const Interrupt&) const = default;  ///< field-wise equality
};
/// The interrupt as text: "finished", "trap", "ecalli(3)", "segfault(0x20000)", ...
POLKAVM_API std::string to_string(const Interrupt& interrupt);

/// Access to guest memory: read-only, or read and write.
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

/// The backend, sandbox and settings that modules share, with the Linux sandbox's worker pool and the module
/// cache. Cheap to copy (shared).
class POLKAVM_API Engine {
 public:
  /// Validates the configuration and picks the backend and sandbox. Backend Auto: the compiler where the CPU
  /// runs it and a sandbox is available, else the interpreter. Sandbox Auto: Linux where the kernel allows
  /// it, else Generic if allow_experimental is set.
  static Result<Engine> create(const Config& config = Config{});
  BackendKind backend() const;  ///< the backend in use: Interpreter or Compiler
  /// Where compiled code runs: Linux or Generic (for the interpreter: Generic, in this process).
  SandboxKind sandbox() const;
  const Config& config() const;  ///< the configuration it was created with

 private:
  friend class Module;
  std::shared_ptr<const detail::EngineState> state_;
  // The module cache (Config::cache_enabled): held by the engine's handles, not by its modules, which
  // the cache holds.
  std::shared_ptr<detail::ModuleCache> cache_;
};

/// A validated program ready to instantiate. Cheap to copy (shared, immutable).
class POLKAVM_API Module {
 public:
  /// Parses a .polkavm blob, then from_blob: validates it and, with the compiler backend, compiles it.
  static Result<Module> create(const Engine& engine, const ModuleConfig& config, std::span<const uint8_t> blob);
  /// With the engine's module cache (Config::cache_enabled) and ModuleConfig::cache_by_hash, a blob and
  /// configuration seen before give the module made then (shared, not compiled again).
  static Result<Module> from_blob(const Engine& engine, const ModuleConfig& config, ProgramBlob blob);
  /// The cached module for this blob and configuration, if there is one (never compiles).
  static std::optional<Module> from_cache(const Engine& engine, const ModuleConfig& config, const ProgramBlob& blob);

  const ProgramBlob& blob() const;  ///< the program
  const ModuleConfig& config() const;  ///< the configuration it was created with
  const MemoryMap& memory_map() const;  ///< the guest memory layout
  /// The gas metering in force (the module's choice, else the engine's default).
  GasMeteringKind gas_metering() const;
  InstructionSet isa() const { return blob().isa; }  ///< the program's instruction set
  bool is_64_bit() const { return blob().is_64_bit(); }  ///< whether registers are 64-bit
  uint32_t default_sp() const { return memory_map().stack_address_high; }  ///< the initial stack pointer
  std::span<const ProgramExport> exports() const { return blob().exports; }  ///< the program's exports
  std::span<const std::string> imports() const { return blob().imports; }  ///< import names by ecalli number
  /// The pc of the export named `symbol`.
  std::optional<uint32_t> export_pc(std::string_view symbol) const;
  /// The gas cost of the basic block that starts at `pc` (nothing if no block starts there). The end of
  /// code (pc = code length) is the implicit trap's block, as the reference counts it.
  std::optional<Gas> gas_cost_for_block(uint32_t pc) const;
  /// Every basic block's start and cost, in code order. The end of code is listed when a terminator that
  /// can fall through (`fallthrough`, a branch) ends the code, as the reference's spectool lists it.
  std::vector<std::pair<uint32_t, Gas>> block_gas_costs() const;
  CodeView code() const { return CodeView(blob()); }  ///< the program's code

  /// A new instance: fresh memory and registers (with the Linux sandbox, a worker from the engine's pool).
  /// In this process, its memory is mapped when first needed: by the first run() on the compiler, by the
  /// first access (the guest's or the host's) on the interpreter.
  Result<RawInstance> instantiate() const;

 private:
  friend class RawInstance;
  /// from_blob without its guard against exceptions.
  static Result<Module> from_blob_unguarded(const Engine& engine, const ModuleConfig& config, ProgramBlob blob);
  std::shared_ptr<const detail::ModuleState> state_;
};

/// One running program. Move-only.
class POLKAVM_API RawInstance {
 public:
  /// Moves. The moved-from instance keeps naming its module(); its fallible calls fail (InvalidArgument),
  /// its reads give nothing (zero, no pc, not accessible), and its setters do nothing.
  RawInstance(RawInstance&&) noexcept;
  RawInstance& operator=(RawInstance&&) noexcept;  ///< moves, as the move constructor
  ~RawInstance();

  const Module& module() const { return module_; }  ///< the module it runs

  /// Runs from next_program_counter() until an interrupt. Error if no next program counter is set, or
  /// (ResourceExhausted) if the kernel refuses to map memory the run needs; the run can then be retried.
  Result<Interrupt> run();

  uint64_t reg(Reg r) const;  ///< register `r` (its low 32 bits in a 32-bit program)
  void set_reg(Reg r, uint64_t value);  ///< sets register `r` (sign-extended from 32 bits in a 32-bit program)
  void clear_regs();  ///< sets every register to 0
  Gas gas() const;  ///< the gas left (negative after async metering overshot)
  void set_gas(Gas gas);  ///< sets the gas left
  /// The instruction that was interrupted (nothing after Finished, or before the first run).
  std::optional<uint32_t> program_counter() const;
  /// Where run() continues (nothing when the instance cannot resume).
  std::optional<uint32_t> next_program_counter() const;
  /// Sets where run() starts. Starting in the middle of a block charges that whole block.
  void set_next_program_counter(uint32_t pc);
  /// The reference's call convention: clears registers, RA = 0xFFFF0000, SP = default_sp, args in
  /// a0..a5, t0..t2 (at most 9), next pc = `pc`.
  Result<void> prepare_call(uint32_t pc, std::span<const uint64_t> args = {});

  /// Copies guest memory at `address` into `out`; an Error (MemoryAccess) if any of it is not readable.
  Result<void> read_memory_into(uint32_t address, std::span<uint8_t> out) const;
  /// `length` bytes of guest memory at `address`; an Error (MemoryAccess) if any of it is not readable.
  Result<std::vector<uint8_t>> read_memory(uint32_t address, uint32_t length) const;
  /// Copies `data` to guest memory at `address`; an Error (MemoryAccess) if any of it is not writable by the
  /// host, which writes where the guest may write, and to aux data.
  Result<void> write_memory(uint32_t address, std::span<const uint8_t> data);
  /// Zeroes `length` bytes of guest memory at `address`; the same access rules as write_memory.
  Result<void> zero_memory(uint32_t address, uint32_t length);
  /// The little-endian value at `address` (the guest's byte order); the same access rules as read_memory.
  Result<uint8_t> read_u8(uint32_t address) const;
  Result<uint16_t> read_u16(uint32_t address) const;  ///< as read_u8, two bytes
  Result<uint32_t> read_u32(uint32_t address) const;  ///< as read_u8, four bytes
  Result<uint64_t> read_u64(uint32_t address) const;  ///< as read_u8, eight bytes
  /// Writes `value` little-endian at `address`; the same access rules as write_memory.
  Result<void> write_u8(uint32_t address, uint8_t value);
  Result<void> write_u16(uint32_t address, uint16_t value);  ///< as write_u8, two bytes
  Result<void> write_u32(uint32_t address, uint32_t value);  ///< as write_u8, four bytes
  Result<void> write_u64(uint32_t address, uint64_t value);  ///< as write_u8, eight bytes
  /// `length` bytes at `address` as a string (a guest's byte string: any bytes, not necessarily text).
  Result<std::string> read_string(uint32_t address, uint32_t length) const;
  /// Whether the guest may access the whole range with `protection`.
  bool is_memory_accessible(uint32_t address, uint32_t length, MemoryProtection protection) const;
  /// Dynamic paging: maps (and zeroes) whole pages covering [address, address + length).
  Result<void> zero_memory_with_memory_protection(uint32_t address, uint32_t length, MemoryProtection protection);
  /// Dynamic paging: makes the pages covering [address, address + length), all mapped, read-only.
  Result<void> protect_memory(uint32_t address, uint32_t length);
  /// Dynamic paging: makes the pages covering [address, address + length), all mapped, read-write.
  Result<void> unprotect_memory(uint32_t address, uint32_t length);
  /// Dynamic paging: unmaps the pages covering [address, address + length) (they read as zero when mapped again).
  Result<void> free_pages(uint32_t address, uint32_t length);
  /// Restores the initial RO/RW data and empties heap and stack (fails only if the kernel refuses pages).
  Result<void> reset_memory();

  uint32_t heap_size() const;  ///< how far the heap has grown from MemoryMap::heap_base
  /// Grows the heap by `size` bytes; returns the new heap top, or nothing when it cannot grow.
  std::optional<uint32_t> sbrk(uint32_t size);

  /// The interpreter translates code as it first runs it and keeps the translation; with a limit, the
  /// translations are dropped whenever they pass `max_bytes` (at least 80 KiB), so a program cannot make
  /// the instance's memory grow with its code (as the reference's set_interpreter_cache_size_limit).
  /// Nothing: no limit (the default). Refused (Unsupported) for compiled code.
  Result<void> set_interpreter_cache_size_limit(std::optional<size_t> max_bytes);
  /// Turns Step interrupts (one before every instruction) on or off. Switched on, the instruction the next
  /// run resumes at stops with a Step first, whatever the last interrupt was; its gas stays as that left it.
  void set_step_tracing(bool enabled);
  bool step_tracing() const;  ///< whether step tracing is on

 private:
  friend class Module;
  friend detail::InstanceBackend* detail::backend_of(RawInstance& instance);
  RawInstance(Module module, std::unique_ptr<detail::InstanceData> data);
  Module module_;
  std::unique_ptr<detail::InstanceData> data_;
};

}  // namespace polkavm
