// Command-line options for the library's enums, spelled with the names the library defines.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "polkavm/config.hpp"

namespace polkavm::cli {

/// An option that accepts the name of one of `kinds` (as `name` spells it) and stores the kind in `out`.
template <class Enum, size_t N, class Out>
CLI::Option* add_enum_option(CLI::App* app, const std::string& flag, Out& out, const Enum (&kinds)[N],
                             std::string_view (*name)(Enum), const std::string& description) {
  std::vector<std::string> names;
  for (Enum kind : kinds) names.emplace_back(name(kind));
  auto store = [&out, &kinds, name](const std::string& value) {
    for (Enum kind : kinds)
      if (name(kind) == value) out = kind;
  };
  return app->add_option_function<std::string>(flag, store, description)->check(CLI::IsMember(names));
}

namespace detail {
template <class T>
inline constexpr bool kIsOptional = false;
template <class T>
inline constexpr bool kIsOptional<std::optional<T>> = true;

/// "(default: <name>)" for a plain kind; for an optional one, which stays empty without the flag, the
/// environment variable the tool's Config::from_env() reads instead.
template <class Enum, class Out>
std::string default_text(const Out& out, std::string_view (*name)(Enum), std::string_view env_var) {
  if constexpr (kIsOptional<Out>)
    return out ? "(default: " + std::string(name(*out)) + ")"
               : "(default: $" + std::string(env_var) + ", else " + std::string(name(Enum{})) + ")";
  else
    return "(default: " + std::string(name(out)) + ")";
}
}  // namespace detail

/// `out` is a BackendKind or an optional one (left empty without the flag, so that the POLKAVM_BACKEND
/// of Config::from_env() stays in force).
template <class Out>
CLI::Option* add_backend_option(CLI::App* app, Out& out) {
  return add_enum_option(app, "--backend", out, kBackendKinds, backend_name,
                         "Backend " + detail::default_text<BackendKind>(out, backend_name, "POLKAVM_BACKEND"));
}

/// `out` is a GasMeteringKind or an optional one.
template <class Out>
CLI::Option* add_gas_metering_option(CLI::App* app, Out& out, const std::string& description) {
  return add_enum_option(app, "--gas-metering", out, kGasMeteringKinds, gas_metering_name, description);
}

/// `--sandbox auto|linux|generic`: the sandbox the compiler backend runs guests in. `out` is a SandboxKind
/// or an optional one (left empty without the flag, so that the POLKAVM_SANDBOX of Config::from_env() stays
/// in force). Apply it with apply_sandbox_option().
template <class Out>
CLI::Option* add_sandbox_option(CLI::App* app, Out& out) {
  return add_enum_option(app, "--sandbox", out, kSandboxKinds, sandbox_name,
                         "Sandbox of the compiler backend. auto; linux: a separate sandboxed process; "
                         "generic: in-process, experimental (also sets allow_experimental) " +
                             detail::default_text<SandboxKind>(out, sandbox_name, "POLKAVM_SANDBOX"));
}

/// Puts a sandbox chosen on the command line into `config`. The in-process generic sandbox needs
/// allow_experimental (as in the reference PolkaVM), so asking for it explicitly also allows experimental
/// features; with POLKAVM_SANDBOX=generic the user sets POLKAVM_ALLOW_EXPERIMENTAL=1 as well.
inline void apply_sandbox_option(Config& config, SandboxKind sandbox) {
  config.sandbox = sandbox;
  if (sandbox == SandboxKind::Generic) config.allow_experimental = true;
}
inline void apply_sandbox_option(Config& config, const std::optional<SandboxKind>& sandbox) {
  if (sandbox) apply_sandbox_option(config, *sandbox);
}

/// The tools' engine configuration: Config::from_env() (POLKAVM_BACKEND, POLKAVM_SANDBOX, ...) with the
/// command line's --sandbox over it. Fails on a bad POLKAVM_* value.
inline Result<Config> config_from_env(const std::optional<SandboxKind>& sandbox) {
  Result<Config> config = Config::from_env();
  if (config) apply_sandbox_option(*config, sandbox);
  return config;
}

}  // namespace polkavm::cli
