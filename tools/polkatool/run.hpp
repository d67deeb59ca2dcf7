// `polkatool run`: calls an export of a program and reports how it ended.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "polkavm/config.hpp"
#include "polkavm/gas.hpp"

namespace polkatool {

struct RunArgs {
  std::filesystem::path blob;
  std::string call;
  std::vector<std::string> args;   // integers (decimal, 0x hex, or negative), at most 9
  std::vector<std::string> stubs;  // IMPORT=VALUE: an ecalli of IMPORT returns VALUE in a0
  std::optional<polkavm::BackendKind> backend;  // unset: POLKAVM_BACKEND, else auto
  std::optional<polkavm::SandboxKind> sandbox;  // unset: POLKAVM_SANDBOX, else auto; generic allows experimental
  std::optional<polkavm::Gas> gas;
  std::optional<polkavm::GasMeteringKind> gas_metering;  // unset: sync when --gas is given, else none
  bool trace = false;
  bool timings = false;
  unsigned repeat = 1;
};

/// Runs the command; prints results to stdout and errors to stderr. Returns the process exit code.
int run_command(const RunArgs& args);

}  // namespace polkatool
