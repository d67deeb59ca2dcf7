/// @file
/// Engine and module configuration. Plain structs: set fields directly or with designated initializers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "polkavm/export.h"
#include "polkavm/error.hpp"
#include "polkavm/gas.hpp"

namespace polkavm {

/// Auto: the compiler where it runs (Linux on x86-64 with BMI1, BMI2, LZCNT and POPCNT), else the interpreter.
enum class BackendKind : uint8_t { Auto, Interpreter, Compiler };
/// Where the compiler's code runs (the interpreter always runs in-process, as in the reference).
/// Linux: a namespaced, seccomp-filtered worker process per instance. Generic: in this process, on the
/// caller's thread; experimental (needs allow_experimental). Auto: Linux where the kernel allows it.
enum class SandboxKind : uint8_t { Auto, Linux, Generic };
/// Every SandboxKind.
inline constexpr SandboxKind kSandboxKinds[] = {SandboxKind::Auto, SandboxKind::Linux, SandboxKind::Generic};
POLKAVM_API std::string_view sandbox_name(SandboxKind kind);  ///< "auto", "linux", "generic"
/// The SandboxKind that sandbox_name() calls `name`, or nothing.
POLKAVM_API std::optional<SandboxKind> sandbox_from_name(std::string_view name);

/// Every BackendKind.
inline constexpr BackendKind kBackendKinds[] = {BackendKind::Auto, BackendKind::Interpreter, BackendKind::Compiler};
POLKAVM_API std::string_view backend_name(BackendKind kind);  ///< "auto", "interpreter", "compiler"
/// The BackendKind that backend_name() calls `name`, or nothing.
POLKAVM_API std::optional<BackendKind> backend_from_name(std::string_view name);

/// Every GasMeteringKind.
inline constexpr GasMeteringKind kGasMeteringKinds[] = {GasMeteringKind::None, GasMeteringKind::Sync,
                                                        GasMeteringKind::Async};
POLKAVM_API std::string_view gas_metering_name(GasMeteringKind kind);  ///< "none", "sync", "async"

/// Where the Linux sandbox places a host thread and its workers (Config::core_pinning), as the reference's
/// POLKAVM_CORE_PINNING. A pinned thread gets its own affinity back when its last pinned instance is gone.
enum class CorePinning : uint8_t {
  Disabled,   ///< the kernel schedules host threads and workers
  PinToCore,  ///< the host thread to the core it runs on; each worker to a core of its own, nearest first
  PinToCcx,   ///< the host thread to the cores sharing its last-level cache; workers as PinToCore
};
/// Every CorePinning.
inline constexpr CorePinning kCorePinnings[] = {CorePinning::Disabled, CorePinning::PinToCore, CorePinning::PinToCcx};
POLKAVM_API std::string_view core_pinning_name(CorePinning pinning);  ///< "disabled", "pin_to_core", "pin_to_ccx"
/// The CorePinning that core_pinning_name() calls `name`, or nothing.
POLKAVM_API std::optional<CorePinning> core_pinning_from_name(std::string_view name);

/// Engine settings (Engine::create).
struct POLKAVM_API Config {
  BackendKind backend = BackendKind::Auto;  ///< what runs guest code
  SandboxKind sandbox = SandboxKind::Auto;  ///< where compiled code runs
  /// Runs an interpreter beside the compiled code and fails a run where the two disagree (ErrorKind::Divergence).
  /// Needs the compiler backend and allow_experimental.
  bool crosscheck = false;
  /// Allows the experimental settings: the generic sandbox, crosscheck, sandboxing_enabled = false and a
  /// simple default_cost_model.
  bool allow_experimental = false;
  /// Allows modules with ModuleConfig::dynamic_paging.
  bool allow_dynamic_paging = false;
  /// Idle Linux sandbox workers kept ready per engine (started as instances are created, reused after).
  uint32_t worker_count = 2;
  /// The module cache: Module::from_blob gives back the module made earlier by this engine (or a copy of
  /// it) for the same blob and ModuleConfig, when the module sets cache_by_hash. Modules in use are found
  /// while anyone holds them; lru_cache_size more are kept alive after their last handle is gone.
  bool cache_enabled = false;
  uint32_t lru_cache_size = 0;  ///< unused modules the cache keeps alive (needs cache_enabled)
  /// false: Linux sandbox workers start without namespaces, capability drop or seccomp (debugging only;
  /// needs allow_experimental).
  bool sandboxing_enabled = true;
  /// Pins host threads and Linux sandbox workers to cores (the Linux sandbox only: refused elsewhere). Off
  /// by default, unlike the reference: a library should not move its host's threads unless asked.
  CorePinning core_pinning = CorePinning::Disabled;
  /// Gas metering for modules that do not choose one.
  GasMeteringKind default_gas_metering = GasMeteringKind::None;
  /// Default gas model for modules that set none; null = the naive model. Setting a simple model here
  /// (naive included) needs allow_experimental, as in the reference; the full model does not.
  std::shared_ptr<const GasModel> default_cost_model;
  /// The most host memory the compiler backend may take to compile one module, in bytes (0: no limit): the
  /// machine code, the tables that map guest code to it (about 5 bytes per byte of guest code) and the
  /// compiler's working memory. Creating a module that needs more fails with ErrorKind::ResourceExhausted,
  /// as does running out of memory while compiling. Doom needs 11 bytes per byte of code with gas metering,
  /// the densest code measured (a dynamic jump in every two bytes) 31: the default admits any program of up
  /// to 16 MiB of code (a blob may have 32 MiB). The interpreter compiles nothing: with it, any other value
  /// than the default is refused (Unsupported).
  uint64_t compile_memory_limit = uint64_t(512) << 20;

  /// Defaults, overridden by POLKAVM_BACKEND, POLKAVM_SANDBOX, POLKAVM_CROSSCHECK,
  /// POLKAVM_ALLOW_EXPERIMENTAL, POLKAVM_WORKER_COUNT, POLKAVM_CACHE_ENABLED, POLKAVM_LRU_CACHE_SIZE,
  /// POLKAVM_SANDBOXING_ENABLED, POLKAVM_CORE_PINNING (disabled, pin_to_core, pin_to_ccx) and
  /// POLKAVM_DEFAULT_COST_MODEL (naive, full-l1-hit, full-l2-hit,
  /// full-l3-hit, or the path of a file holding a serialised simple cost model). Bad values are errors.
  static Result<Config> from_env();
};

/// Module settings (Module::create).
struct ModuleConfig {
  uint32_t page_size = 0x1000;  ///< the guest page size: a power of two from 4 KiB to 64 KiB
  /// Nothing: the engine's Config::default_gas_metering.
  std::optional<GasMeteringKind> gas_metering;
  /// The reference's strict checks: jump-table entries and exports must lie inside the code, and
  /// Linker::instantiate_pre refuses imports nobody answers and duplicate exports.
  bool strict = false;
  bool step_tracing = false;  ///< instances start with step tracing on (RawInstance::set_step_tracing)
  /// Guest memory starts unmapped: the host maps pages (RawInstance::zero_memory_with_memory_protection), and a
  /// guest access to an unmapped page is a Segfault interrupt. Needs Config::allow_dynamic_paging.
  bool dynamic_paging = false;
  /// Size of the aux data region (rounded up to whole pages; MemoryMap::aux_data_address): the guest reads
  /// it, the host may also write it.
  uint32_t aux_data_size = 0;
  /// A `fallthrough` whose next instruction would be at the end of code (pc = code length): on, it
  /// continues to the implicit trap there, charged as a basic block of its own, so the trap's pc is the
  /// code length (the Gray Paper's rule, which the JAM v0.4 test vectors follow); off, it traps at the
  /// `fallthrough` itself and charges nothing more (the reference's rule, the default).
  bool gray_paper_end_of_code = false;
  /// Take part in the engine's module cache, keyed by the SHA-256 of the blob (its serialised bytes) and
  /// this configuration. (A ProgramBlob is a mutable value, so it has no identity to key by otherwise:
  /// without this, a module is never cached.) Needs Config::cache_enabled.
  bool cache_by_hash = false;
  /// Gas model for this module; null = the engine's default.
  std::shared_ptr<const GasModel> cost_model;
};

}  // namespace polkavm
