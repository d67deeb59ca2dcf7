// Command-line options for the library's enums, spelled with the names the library defines.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
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

inline CLI::Option* add_backend_option(CLI::App* app, BackendKind& out) {
  return add_enum_option(app, "--backend", out, kBackendKinds, backend_name,
                         "Backend (default: " + std::string(backend_name(out)) + ")");
}

/// `out` is a GasMeteringKind or an optional one.
template <class Out>
CLI::Option* add_gas_metering_option(CLI::App* app, Out& out, const std::string& description) {
  return add_enum_option(app, "--gas-metering", out, kGasMeteringKinds, gas_metering_name, description);
}

}  // namespace polkavm::cli
