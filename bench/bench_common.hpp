// Shared by the benchmark programs. What they compare: a backend, and for the compiler the sandbox its code
// runs in.
//   interpreter      the interpreter (it ignores the sandbox);
//   compiler         compiled code in this process (the generic sandbox; the variant the earlier numbers in
//                    docs/PERFORMANCE.md were measured with, so its name stays);
//   compiler-linux   compiled code in a worker process per instance (the Linux sandbox, the default).
// Benchmarks measure real (wall-clock) time: under the Linux sandbox the guest runs in another process, so
// the benchmark thread's CPU time leaves out the guest's work (the thread mostly waits on a futex).
#pragma once

#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include "polkavm/polkavm.hpp"

namespace polkavm::bench {

struct Variant {
  std::string_view name;  // in benchmark names and table headings
  BackendKind backend;
  SandboxKind sandbox;
};

inline constexpr Variant kInterpreter{"interpreter", BackendKind::Interpreter, SandboxKind::Auto};
inline constexpr Variant kCompiler{"compiler", BackendKind::Compiler, SandboxKind::Generic};
inline constexpr Variant kCompilerLinux{"compiler-linux", BackendKind::Compiler, SandboxKind::Linux};
inline constexpr std::array<Variant, 3> kVariants = {kInterpreter, kCompiler, kCompilerLinux};

/// A new engine for the variant, with its own pool of Linux workers (`worker_count` of them kept idle; the
/// default unless given). An error if the host cannot run the variant (the Linux sandbox needs user namespaces
/// and seccomp).
inline Result<Engine> make_engine(const Variant& variant, std::optional<uint32_t> worker_count = std::nullopt) {
  Config config;
  config.backend = variant.backend;
  config.sandbox = variant.sandbox;
  if (worker_count) config.worker_count = *worker_count;
  config.allow_experimental = variant.sandbox == SandboxKind::Generic;  // the generic sandbox is experimental
  // POLKAVM_CORE_PINNING applies to the Linux sandbox's rows (the others have no workers to place).
  if (variant.backend == BackendKind::Compiler && variant.sandbox == SandboxKind::Linux)
    if (const char* pinning = std::getenv("POLKAVM_CORE_PINNING")) {
      std::optional<CorePinning> parsed = core_pinning_from_name(pinning);
      if (!parsed) return Error(fmt::format("invalid POLKAVM_CORE_PINNING: '{}'", pinning));
      config.core_pinning = *parsed;
    }
  Result<Engine> engine = Engine::create(config);
  if (!engine) return engine.error();
  // Guard against a silent fallback: a row must measure what its name says.
  if (engine->backend() != variant.backend ||
      (variant.backend == BackendKind::Compiler && engine->sandbox() != variant.sandbox))
    return Error(fmt::format("asked for {}, got the {} backend in the {} sandbox", variant.name,
                             backend_name(engine->backend()), sandbox_name(engine->sandbox())));
  return engine;
}

/// For a program's own ConsoleReporter: colours only on a terminal (Google Benchmark applies
/// --benchmark_color only to the reporter it makes itself).
inline benchmark::ConsoleReporter::OutputOptions console_options() {
  return isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Defaults : benchmark::ConsoleReporter::OO_Tabular;
}

}  // namespace polkavm::bench
