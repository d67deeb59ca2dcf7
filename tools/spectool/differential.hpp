// Differential execution: one program under two configurations that must agree on everything the host
// can observe: usually the interpreter vs the compiler, or a backend vs itself with step tracing.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "polkavm/runtime.hpp"
#include "program_generator.hpp"

namespace polkavm::fuzz {

/// How one side runs a program.
struct ExecutionConfig {
  std::string name;
  BackendKind backend = BackendKind::Interpreter;
  bool step_tracing = false;  // Step interrupts are resumed by the runner, never compared
  /// Applied to the instance after its initial state is set. Lets tests prove that a real difference is
  /// caught; fuzzing leaves it empty.
  std::function<void(RawInstance&)> perturb;

  static ExecutionConfig interpreter() { return {"interpreter", BackendKind::Interpreter, false, {}}; }
  static ExecutionConfig interpreter_step_tracing() {
    return {"interpreter+step-tracing", BackendKind::Interpreter, true, {}};
  }
  static ExecutionConfig compiler() { return {"compiler", BackendKind::Compiler, false, {}}; }
  static ExecutionConfig compiler_step_tracing() { return {"compiler+step-tracing", BackendKind::Compiler, true, {}}; }
  /// One of the names above ("interpreter", "interpreter+step-tracing", "compiler", "compiler+step-tracing").
  static std::optional<ExecutionConfig> from_name(std::string_view name);
};

struct ConfigPair {
  ExecutionConfig a = ExecutionConfig::interpreter();
  ExecutionConfig b = ExecutionConfig::interpreter_step_tracing();
};

/// The first observable difference.
struct Divergence {
  size_t exit_index = 0;  // how many interrupts both sides had agreed on before
  std::string field;      // "interrupt", "pc", "next pc", "a0", "gas", "memory 0x20010", ...
  std::string value_a, value_b;
};

/// What one differential run saw.
struct RunOutcome {
  std::optional<Divergence> divergence;
  std::vector<Interrupt> interrupts;  // the interrupts both sides agreed on, in order
};

struct RunLimits {
  uint32_t max_exits = 32;        // interrupts answered (ecalli, sync out-of-gas) before giving up
  uint64_t max_steps = 1u << 20;  // Step interrupts per run, a guard against a backend that never stops
};

class DifferentialRunner {
 public:
  /// Each side's engine is `engine` (spectool: Config::from_env() with --sandbox over it, so the compiler
  /// runs in the chosen sandbox) with the side's backend.
  static Result<DifferentialRunner> create(ConfigPair configs, RunLimits limits = {}, const Config& engine = {});

  /// Runs `spec` on both sides; an error when a side cannot even load it.
  Result<RunOutcome> run(const ProgramSpec& spec) const { return run(spec, build_program(spec)); }
  /// Runs `program` (any blob, e.g. raw fuzzer bytes) on both sides with the gas setup, registers and seed
  /// of `setup`; its code items are not used.
  Result<RunOutcome> run(const ProgramSpec& setup, const BuiltProgram& program) const;
  /// A smaller spec that still diverges: drops items one at a time while the divergence stays.
  ProgramSpec shrink(ProgramSpec spec) const;

  const ConfigPair& configs() const { return configs_; }

 private:
  DifferentialRunner(ConfigPair configs, RunLimits limits, Engine a, Engine b)
      : configs_(std::move(configs)), limits_(limits), engine_a_(std::move(a)), engine_b_(std::move(b)) {}
  ConfigPair configs_;
  RunLimits limits_;
  Engine engine_a_, engine_b_;
};

/// A self-contained report: seed, ISA, gas setup, entry, initial registers, disassembly and the
/// differing field.
std::string describe_reproducer(const ConfigPair& configs, const ProgramSpec& spec, const Divergence& divergence);

}  // namespace polkavm::fuzz
