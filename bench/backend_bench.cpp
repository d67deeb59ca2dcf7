// The two backends side by side, in one run:
//   exec/...         guest instructions per second on the sample guests, per backend and gas metering mode;
//   compile/...      module creation (the compiler translates everything up front) for generated programs
//                    1x, 10x and 100x the size, with the time per KB of code;
//   ecalli/...       one ecalli round trip: guest -> host -> guest;
//   instantiate/...  a new instance of a ready module plus one call of a function that only returns.
// After the run, a Markdown table gives the compiler/interpreter ratio of every exec workload (from each
// row's fastest single call, and from the CPU time of its fastest repetition) and the compile time per KB at
// each size (linear compilation shows as a flat column). Run it with --benchmark_repetitions=5
// --benchmark_enable_random_interleaving=true on a noisy machine.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "polkavm/polkavm.hpp"
#include "sample_guests.hpp"

namespace {

using polkavm::BackendKind;
using polkavm::Error;
using polkavm::Gas;
using polkavm::GasMeteringKind;
using polkavm::Interrupt;
using polkavm::Opcode;
using polkavm::Reg;
using polkavm::Result;
using polkavm::guests::SampleGuest;

// Enough for any workload here; gas metering is measured, never exhausted.
constexpr Gas kGasBudget = Gas{1} << 50;
constexpr std::array<BackendKind, 2> kBackends = {BackendKind::Interpreter, BackendKind::Compiler};

Result<polkavm::Module> make_module(BackendKind backend, GasMeteringKind gas, polkavm::ProgramBlob blob) {
  polkavm::Config engine_config;
  engine_config.backend = backend;
  auto engine = polkavm::Engine::create(engine_config);
  if (!engine) return engine.error();
  polkavm::ModuleConfig config;
  config.gas_metering = gas;
  return polkavm::Module::from_blob(*engine, config, std::move(blob));
}

struct Session {
  polkavm::RawInstance instance;
  uint32_t main_pc;
};

Result<Session> start_session(BackendKind backend, GasMeteringKind gas, polkavm::ProgramBlob blob) {
  auto module = make_module(backend, gas, std::move(blob));
  if (!module) return module.error();
  auto main_pc = module->export_pc("main");
  if (!main_pc) return Error("no export named main");
  auto instance = module->instantiate();
  if (!instance) return instance.error();
  return Session{std::move(*instance), *main_pc};
}

// Calls main(arg); returns the interrupt that ended it, after answering every ecalli.
Result<Interrupt> call(Session& session, uint64_t arg) {
  const uint64_t args[] = {arg};
  if (auto prepared = session.instance.prepare_call(session.main_pc, args); !prepared) return prepared.error();
  session.instance.set_gas(kGasBudget);
  for (;;) {
    auto interrupt = session.instance.run();
    if (!interrupt || interrupt->kind != Interrupt::Kind::Ecalli) return interrupt;
  }
}

// ------------------------------------------------------------------------------------------------
// exec: sample guests

struct Workload {
  const SampleGuest* guest;
  uint64_t arg;
};

// About a millisecond per call on the interpreter.
constexpr std::array<std::pair<std::string_view, uint64_t>, 4> kWorkloads = {{
    {"prime-sieve", 100'000},
    {"fibonacci", 1'000'000},
    {"fibonacci-recursive", 22},
    {"xorshift-lanes", 200'000},
}};

// The number of instructions one call executes: one Step interrupt precedes each of them.
Result<uint64_t> count_instructions(const Workload& workload) {
  auto session = start_session(BackendKind::Interpreter, GasMeteringKind::None, workload.guest->build());
  if (!session) return session.error();
  polkavm::RawInstance& instance = session->instance;
  const uint64_t args[] = {workload.arg};
  if (auto prepared = instance.prepare_call(session->main_pc, args); !prepared) return prepared.error();
  instance.set_step_tracing(true);
  for (uint64_t steps = 0;; ++steps) {
    auto interrupt = instance.run();
    if (!interrupt) return interrupt.error();
    if (interrupt->kind == Interrupt::Kind::Finished) return steps;
    if (interrupt->kind != Interrupt::Kind::Step)
      return Error("step tracing ended with " + polkavm::to_string(*interrupt));
  }
}

void exec(benchmark::State& state, Workload workload, BackendKind backend, GasMeteringKind gas) {
  const auto instructions = count_instructions(workload);
  if (!instructions) return state.SkipWithError(instructions.error().message().c_str());
  auto session = start_session(backend, gas, workload.guest->build());
  if (!session) return state.SkipWithError(session.error().message().c_str());
  const uint64_t expected = workload.guest->expected_result(workload.arg);

  // Besides Google Benchmark's mean over the iterations, the fastest single call: the machine's noise (the
  // hypervisor taking the core, a change of clock) only ever adds time, and a call is short enough that
  // many run undisturbed.
  double best_call = std::numeric_limits<double>::infinity();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto interrupt = call(*session, workload.arg);
    best_call = std::min(best_call, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!interrupt) return state.SkipWithError(interrupt.error().message().c_str());
    if (*interrupt != Interrupt::finished())
      return state.SkipWithError(("main ended with " + polkavm::to_string(*interrupt)).c_str());
    if (const uint64_t got = session->instance.reg(Reg::A0); got != expected)
      return state.SkipWithError(fmt::format("main returned {}, expected {}", got, expected).c_str());
  }

  // Every block of these guests runs to its end, so under the naive cost model a metered call uses one gas
  // per instruction.
  if (gas != GasMeteringKind::None) {
    if (const Gas used = kGasBudget - session->instance.gas(); used != static_cast<Gas>(*instructions)) {
      const auto error = fmt::format("the last call used {} gas for {} instructions", used, *instructions);
      return state.SkipWithError(error.c_str());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * *instructions));
  state.counters["guest_insns"] = static_cast<double>(*instructions);
  state.counters["best_call_s"] = best_call;
}

// ------------------------------------------------------------------------------------------------
// compile: generated programs of a given size

// `units` blocks of compiler-like code: arithmetic, loads and stores through a base register, a call through
// the jump table every 8th block, and a conditional branch to the next block. About 50 bytes a unit.
polkavm::ProgramBlob generated_program(uint32_t units) {
  using enum Reg;
  polkavm::CodeBuilder code(polkavm::InstructionSet::Latest64);
  auto op = [](Opcode opcode, std::initializer_list<Reg> regs, std::initializer_list<uint32_t> imms = {}) {
    return polkavm::make_instruction(opcode, regs, imms);
  };
  std::vector<polkavm::CodeBuilder::Label> labels;
  for (uint32_t i = 0; i <= units; ++i) labels.push_back(code.new_label());
  for (uint32_t i = 0; i < units; ++i) {
    code.bind(labels[i]);
    if (i % 8 == 0) code.add_jump_table_entry(labels[i]);
    code.emit(op(Opcode::add_64, {A0, A1, A2}));
    code.emit(op(Opcode::load_indirect_u32, {A3, SP}, {8 * (i % 16)}));
    code.emit(op(Opcode::xor_imm, {A4, A3}, {i * 2654435761u}));
    code.emit(op(Opcode::shift_logical_left_imm_64, {A5, A4}, {i % 64}));
    code.emit(op(Opcode::mul_64, {T0, A5, A0}));
    code.emit(op(Opcode::store_indirect_u64, {T0, SP}, {8 * (i % 16)}));
    code.emit(op(Opcode::div_unsigned_64, {T1, T0, A1}));
    code.emit(op(Opcode::set_less_than_signed, {T2, T1, A2}));
    code.emit(op(Opcode::add_imm_64, {S0, S0}, {i}));
    if (i % 8 == 7) {
      code.emit(op(Opcode::load_imm_and_jump_indirect, {RA, S1}, {2, 0}));
    } else {
      code.emit(polkavm::make_instruction(Opcode::branch_eq_imm, {T2}, {i & 0xff, 0}), labels[i + 1]);
    }
  }
  code.bind(labels[units]);
  code.emit(op(Opcode::jump_indirect, {RA}, {0}));
  polkavm::CodeBuilder::Output out = code.finish();
  polkavm::ProgramBlob blob;
  blob.isa = polkavm::InstructionSet::Latest64;
  blob.stack_size = 0x1000;
  blob.exports.push_back(polkavm::ProgramExport{out.label_offsets[labels[0]], "main"});
  blob.code_and_jump_table = std::move(out.code);
  return blob;
}

void compile(benchmark::State& state, uint32_t units, BackendKind backend) {
  const polkavm::ProgramBlob blob = generated_program(units);
  const size_t code_bytes = blob.code_and_jump_table.code.size();
  for (auto _ : state) {
    auto module = make_module(backend, GasMeteringKind::Sync, blob);
    if (!module) return state.SkipWithError(module.error().message().c_str());
    benchmark::DoNotOptimize(module);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * code_bytes));
  state.counters["code_bytes"] = static_cast<double>(code_bytes);
}

// ------------------------------------------------------------------------------------------------
// ecalli round trip and instantiate + call

// main(n): n ecallis in a loop.
polkavm::ProgramBlob ecalli_loop_program() {
  using enum Reg;
  polkavm::CodeBuilder code(polkavm::InstructionSet::Latest64);
  const auto main = code.new_label(), loop = code.new_label(), done = code.new_label();
  code.bind(main);
  code.emit(polkavm::make_instruction(Opcode::branch_eq_imm, {A0}, {0, 0}), done);
  code.bind(loop);
  code.emit(polkavm::make_instruction(Opcode::ecalli, {}, {1}));
  code.emit(polkavm::make_instruction(Opcode::add_imm_64, {A0, A0}, {static_cast<uint32_t>(-1)}));
  code.emit(polkavm::make_instruction(Opcode::branch_not_eq_imm, {A0}, {0, 0}), loop);
  code.bind(done);
  code.emit(polkavm::make_instruction(Opcode::jump_indirect, {RA}, {0}));
  polkavm::CodeBuilder::Output out = code.finish();
  polkavm::ProgramBlob blob;
  blob.isa = polkavm::InstructionSet::Latest64;
  blob.stack_size = 0x1000;
  blob.exports.push_back(polkavm::ProgramExport{out.label_offsets[main], "main"});
  blob.code_and_jump_table = std::move(out.code);
  return blob;
}

constexpr uint64_t kEcallisPerCall = 1000;

void ecalli_round_trip(benchmark::State& state, BackendKind backend, GasMeteringKind gas) {
  auto session = start_session(backend, gas, ecalli_loop_program());
  if (!session) return state.SkipWithError(session.error().message().c_str());
  for (auto _ : state) {
    auto interrupt = call(*session, kEcallisPerCall);
    if (!interrupt || *interrupt != Interrupt::finished()) return state.SkipWithError("the ecalli loop failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kEcallisPerCall));
}

void instantiate_and_call(benchmark::State& state, BackendKind backend) {
  // main(0) of the ecalli loop returns at once.
  auto module = make_module(backend, GasMeteringKind::Sync, ecalli_loop_program());
  if (!module) return state.SkipWithError(module.error().message().c_str());
  const uint32_t main_pc = *module->export_pc("main");
  for (auto _ : state) {
    auto instance = module->instantiate();
    if (!instance) return state.SkipWithError(instance.error().message().c_str());
    Session session{std::move(*instance), main_pc};
    auto interrupt = call(session, 0);
    if (!interrupt || *interrupt != Interrupt::finished()) return state.SkipWithError("the call failed");
  }
}

// ------------------------------------------------------------------------------------------------
// Registration and the summary table

constexpr std::array<uint32_t, 3> kCompileUnits = {200, 2'000, 20'000};

void register_all() {
  for (const auto& [guest_name, arg] : kWorkloads) {
    const Workload workload{polkavm::guests::find_sample_guest(guest_name), arg};
    for (GasMeteringKind gas : {GasMeteringKind::None, GasMeteringKind::Sync, GasMeteringKind::Async}) {
      for (BackendKind backend : kBackends) {
        const std::string name = fmt::format("exec/{}/{}/gas:{}/{}", guest_name, arg,
                                             polkavm::gas_metering_name(gas), polkavm::backend_name(backend));
        benchmark::RegisterBenchmark(name.c_str(), exec, workload, backend, gas)->Unit(benchmark::kMicrosecond);
      }
    }
  }
  for (uint32_t units : kCompileUnits) {
    for (BackendKind backend : kBackends) {
      const std::string name = fmt::format("compile/{}-blocks/{}", units, polkavm::backend_name(backend));
      benchmark::RegisterBenchmark(name.c_str(), compile, units, backend)->Unit(benchmark::kMicrosecond);
    }
  }
  for (BackendKind backend : kBackends) {
    for (GasMeteringKind gas : {GasMeteringKind::None, GasMeteringKind::Sync}) {
      const std::string name =
          fmt::format("ecalli/gas:{}/{}", polkavm::gas_metering_name(gas), polkavm::backend_name(backend));
      benchmark::RegisterBenchmark(name.c_str(), ecalli_round_trip, backend, gas)->Unit(benchmark::kMicrosecond);
    }
    const std::string name = fmt::format("instantiate+call/{}", polkavm::backend_name(backend));
    benchmark::RegisterBenchmark(name.c_str(), instantiate_and_call, backend)->Unit(benchmark::kMicrosecond);
  }
}

/// Prints the usual console output, then the comparison tables.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    // CPU time (a descheduled thread does not count), and with --benchmark_repetitions the fastest
    // repetition: this machine's noise only ever adds time.
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0 || run.run_type == Run::RT_Aggregate) continue;
      Timing r{run.GetAdjustedCPUTime(), benchmark::GetTimeUnitString(run.time_unit), run.counters};
      auto [it, inserted] = results_.try_emplace(run.benchmark_name(), r);
      if (!inserted && r.time < it->second.time) it->second = r;
      if (auto best = run.counters.find("best_call_s"); best != run.counters.end()) {
        auto [best_it, first] = best_call_.try_emplace(run.benchmark_name(), best->second.value);
        if (!first) best_it->second = std::min(best_it->second, best->second.value);
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    auto seconds = [](const Timing& r) {
      const std::string unit = r.unit;
      const double scale = unit == "ns" ? 1e-9 : unit == "us" ? 1e-6 : unit == "ms" ? 1e-3 : 1.0;
      return r.time * scale;
    };
    auto find = [&](const std::string& name) -> const Timing* {
      auto it = results_.find(name);
      return it == results_.end() ? nullptr : &it->second;
    };

    // Two views of the same runs: the fastest single call of each backend, and the mean CPU time per call
    // of its fastest repetition.
    fmt::print(
        "\n| workload | gas | interpreter, best call | compiler, best call | speed-up (best call) | "
        "speed-up (fastest repetition) |\n|---|---|---|---|---|---|\n");
    for (const auto& [guest, arg] : kWorkloads) {
      for (const char* gas : {"none", "sync", "async"}) {
        const std::string prefix = fmt::format("exec/{}/{}/gas:{}/", guest, arg, gas);
        const Timing* interpreter = find(prefix + "interpreter");
        const Timing* compiler = find(prefix + "compiler");
        if (!interpreter || !compiler) continue;
        const double insns = interpreter->counters.at("guest_insns");
        const double best_interpreter = best_call_.at(prefix + "interpreter");
        const double best_compiler = best_call_.at(prefix + "compiler");
        fmt::print("| {}({}) | {} | {:.0f} µs ({:.0f} M insn/s) | {:.0f} µs ({:.0f} M insn/s) | {:.1f}× | {:.1f}× |\n",
                   guest, arg, gas, best_interpreter * 1e6, insns / best_interpreter / 1e6, best_compiler * 1e6,
                   insns / best_compiler / 1e6, best_interpreter / best_compiler,
                   seconds(*interpreter) / seconds(*compiler));
      }
    }

    fmt::print("\n| program | code | compile (compiler) | per KB | module creation (interpreter) |\n|---|---|---|---|---|\n");
    for (uint32_t units : kCompileUnits) {
      const Timing* compiler = find(fmt::format("compile/{}-blocks/compiler", units));
      const Timing* interpreter = find(fmt::format("compile/{}-blocks/interpreter", units));
      if (!compiler || !interpreter) continue;
      const double kb = compiler->counters.at("code_bytes") / 1024.0;
      fmt::print("| {} blocks | {:.1f} KB | {:.3f} ms | {:.1f} µs | {:.3f} ms |\n", units, kb, seconds(*compiler) * 1e3,
                 seconds(*compiler) * 1e6 / kb, seconds(*interpreter) * 1e3);
    }

    fmt::print("\n| per call | interpreter | compiler |\n|---|---|---|\n");
    for (const char* gas : {"none", "sync"}) {
      const Timing* interpreter = find(fmt::format("ecalli/gas:{}/interpreter", gas));
      const Timing* compiler = find(fmt::format("ecalli/gas:{}/compiler", gas));
      if (interpreter && compiler)
        fmt::print("| ecalli round trip (gas {}) | {:.0f} ns | {:.0f} ns |\n", gas,
                   seconds(*interpreter) * 1e9 / kEcallisPerCall, seconds(*compiler) * 1e9 / kEcallisPerCall);
    }
    const Timing* interpreter = find("instantiate+call/interpreter");
    const Timing* compiler = find("instantiate+call/compiler");
    if (interpreter && compiler)
      fmt::print("| instantiate + minimal call | {:.1f} µs | {:.1f} µs |\n", seconds(*interpreter) * 1e6,
                 seconds(*compiler) * 1e6);
  }

 private:
  struct Timing {
    double time = 0;
    std::string unit;
    benchmark::UserCounters counters;
  };
  std::map<std::string, Timing> results_;
  std::map<std::string, double> best_call_;  // seconds
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  polkavm::Config config;
  config.backend = BackendKind::Compiler;
  if (!polkavm::Engine::create(config)) {
    fmt::print(stderr, "the compiler backend is not available on this host\n");
    return 1;
  }
  register_all();
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
