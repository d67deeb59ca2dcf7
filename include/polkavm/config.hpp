// Engine and module configuration. Plain structs: set fields directly or with designated initializers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "polkavm/error.hpp"
#include "polkavm/gas.hpp"

namespace polkavm {

/// Auto: the compiler where it runs (Linux on x86-64 with BMI1, BMI2, LZCNT and POPCNT), else the interpreter.
enum class BackendKind : uint8_t { Auto, Interpreter, Compiler };
/// Where the compiler's code runs (the interpreter always runs in-process, as in the reference).
/// Linux: a namespaced, seccomp-filtered worker process per instance. Generic: in this process, on the
/// caller's thread; experimental (needs allow_experimental). Auto: Linux where the kernel allows it.
enum class SandboxKind : uint8_t { Auto, Linux, Generic };
inline constexpr SandboxKind kSandboxKinds[] = {SandboxKind::Auto, SandboxKind::Linux, SandboxKind::Generic};
std::string_view sandbox_name(SandboxKind kind);  // "auto", "linux", "generic"
std::optional<SandboxKind> sandbox_from_name(std::string_view name);

inline constexpr BackendKind kBackendKinds[] = {BackendKind::Auto, BackendKind::Interpreter, BackendKind::Compiler};
std::string_view backend_name(BackendKind kind);  // "auto", "interpreter", "compiler"
std::optional<BackendKind> backend_from_name(std::string_view name);

inline constexpr GasMeteringKind kGasMeteringKinds[] = {GasMeteringKind::None, GasMeteringKind::Sync,
                                                        GasMeteringKind::Async};
std::string_view gas_metering_name(GasMeteringKind kind);  // "none", "sync", "async"

struct Config {
  BackendKind backend = BackendKind::Auto;
  SandboxKind sandbox = SandboxKind::Auto;
  bool crosscheck = false;
  bool allow_experimental = false;
  bool allow_dynamic_paging = false;
  /// Idle Linux sandbox workers kept ready per engine (started as instances are created, reused after).
  uint32_t worker_count = 2;
  /// The module cache: Module::from_blob gives back the module made earlier by this engine (or a copy of
  /// it) for the same blob and ModuleConfig, when the module sets cache_by_hash. Modules in use are found
  /// while anyone holds them; lru_cache_size more are kept alive after their last handle is gone.
  bool cache_enabled = false;
  uint32_t lru_cache_size = 0;
  /// false: Linux sandbox workers start without namespaces, capability drop or seccomp (debugging only;
  /// needs allow_experimental).
  bool sandboxing_enabled = true;
  /// Gas metering for modules that do not choose one.
  GasMeteringKind default_gas_metering = GasMeteringKind::None;
  /// Default gas model for modules that set none; null = the naive model. Setting a simple model here
  /// (naive included) needs allow_experimental, as in the reference; the full model does not.
  std::shared_ptr<const GasModel> default_cost_model;

  /// Defaults, overridden by POLKAVM_BACKEND, POLKAVM_SANDBOX, POLKAVM_CROSSCHECK,
  /// POLKAVM_ALLOW_EXPERIMENTAL, POLKAVM_WORKER_COUNT, POLKAVM_CACHE_ENABLED, POLKAVM_LRU_CACHE_SIZE,
  /// POLKAVM_SANDBOXING_ENABLED and POLKAVM_DEFAULT_COST_MODEL (naive, full-l1-hit, full-l2-hit,
  /// full-l3-hit, or the path of a file holding a serialised simple cost model). Bad values are errors.
  static Result<Config> from_env();
};

struct ModuleConfig {
  uint32_t page_size = 0x1000;
  /// Nothing: the engine's Config::default_gas_metering.
  std::optional<GasMeteringKind> gas_metering;
  bool strict = false;
  bool step_tracing = false;
  bool dynamic_paging = false;
  uint32_t aux_data_size = 0;
  /// Take part in the engine's module cache, keyed by the SHA-256 of the blob (its serialised bytes) and
  /// this configuration. (A ProgramBlob is a mutable value, so it has no identity to key by otherwise:
  /// without this, a module is never cached.) Needs Config::cache_enabled.
  bool cache_by_hash = false;
  /// Gas model for this module; null = the engine's default.
  std::shared_ptr<const GasModel> cost_model;
};

}  // namespace polkavm
