// The backends side by side, in one run, in the three variants of bench_common.hpp: `interpreter`,
// `compiler` (generic sandbox: compiled code in this process) and `compiler-linux` (Linux sandbox: a worker
// process per instance; its rows skip themselves if this host cannot run that sandbox).
//   exec/...                guest instructions per second on the sample guests, per variant and gas metering;
//   compile/...             module creation (the compiler translates everything up front) for generated
//                           programs 1x, 10x and 100x the size, with the time per KB of code;
//   ecalli/...              one ecalli round trip: guest -> host -> guest;
//   instantiate+call/...    a new instance of a ready module plus one call of a function that only returns;
//   call/...                that call alone, on an existing instance;
//   sandbox/first-worker    the same where no worker is ready: each instance starts a Linux worker.
// After the run, Markdown tables give the compiler/interpreter and linux/generic ratios of every exec workload
// (from each row's fastest single call, and from the real time of its fastest repetition), the compile time
// per KB at each size (linear compilation shows as a flat column), and the per-call costs. Run it with
// --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true on a noisy machine.
//
// Every benchmark measures real (wall-clock) time, not CPU time: under the Linux sandbox the guest runs in
// another process, so the CPU time of the benchmark thread leaves the guest's work out (the thread mostly
// waits on a futex). All variants are measured the same way, so that their ratios compare like with like.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "bench_common.hpp"
#include "polkavm/polkavm.hpp"
#include "sample_guests.hpp"

namespace {

using polkavm::Error;
using polkavm::Gas;
using polkavm::GasMeteringKind;
using polkavm::Interrupt;
using polkavm::Opcode;
using polkavm::Reg;
using polkavm::Result;
using polkavm::bench::kCompiler;
using polkavm::bench::kCompilerLinux;
using polkavm::bench::kInterpreter;
using polkavm::bench::kVariants;
using polkavm::bench::make_engine;
using polkavm::bench::Variant;
using polkavm::guests::SampleGuest;

// Enough for any workload here; gas metering is measured, never exhausted.
constexpr Gas kGasBudget = Gas{1} << 50;

/// A module in a new engine (the module keeps its engine, and so the engine's worker pool, alive).
Result<polkavm::Module> make_module(const Variant& variant, GasMeteringKind gas, polkavm::ProgramBlob blob) {
  auto engine = make_engine(variant);
  if (!engine) return engine.error();
  polkavm::ModuleConfig config;
  config.gas_metering = gas;
  return polkavm::Module::from_blob(*engine, config, std::move(blob));
}

struct Session {
  polkavm::RawInstance instance;
  uint32_t main_pc;
};

Result<Session> start_session(const Variant& variant, GasMeteringKind gas, polkavm::ProgramBlob blob) {
  auto module = make_module(variant, gas, std::move(blob));
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
  auto session = start_session(kInterpreter, GasMeteringKind::None, workload.guest->build());
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

void exec(benchmark::State& state, Workload workload, Variant variant, GasMeteringKind gas) {
  const auto instructions = count_instructions(workload);
  if (!instructions) return state.SkipWithError(instructions.error().message().c_str());
  auto session = start_session(variant, gas, workload.guest->build());
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

void compile(benchmark::State& state, uint32_t units, Variant variant) {
  const polkavm::ProgramBlob blob = generated_program(units);
  const size_t code_bytes = blob.code_and_jump_table.code.size();
  for (auto _ : state) {
    auto module = make_module(variant, GasMeteringKind::Sync, blob);
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

void ecalli_round_trip(benchmark::State& state, Variant variant, GasMeteringKind gas) {
  auto session = start_session(variant, gas, ecalli_loop_program());
  if (!session) return state.SkipWithError(session.error().message().c_str());
  for (auto _ : state) {
    auto interrupt = call(*session, kEcallisPerCall);
    if (!interrupt || *interrupt != Interrupt::finished()) return state.SkipWithError("the ecalli loop failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kEcallisPerCall));
}

/// A new instance of `module` after a call of main(0), which returns at once.
Result<polkavm::RawInstance> instantiate_and_call_once(const polkavm::Module& module, uint32_t main_pc) {
  auto instance = module.instantiate();
  if (!instance) return instance.error();
  Session session{std::move(*instance), main_pc};
  auto interrupt = call(session, 0);
  if (!interrupt) return interrupt.error();
  if (*interrupt != Interrupt::finished()) return Error("main(0) ended with " + polkavm::to_string(*interrupt));
  return std::move(session.instance);
}

// One module, many instances, each dropped before the next: from the second iteration on, a Linux instance
// takes the worker its predecessor gave back to the engine's pool, so this is the warm path (it includes the
// release, which wipes the worker's memory).
void instantiate_and_call(benchmark::State& state, Variant variant) {
  auto module = make_module(variant, GasMeteringKind::Sync, ecalli_loop_program());
  if (!module) return state.SkipWithError(module.error().message().c_str());
  const uint32_t main_pc = *module->export_pc("main");
  for (auto _ : state) {
    if (auto instance = instantiate_and_call_once(*module, main_pc); !instance)
      return state.SkipWithError(instance.error().message().c_str());
  }
}

// One call of main(0), which returns at once, on an existing instance.
void call_only(benchmark::State& state, Variant variant) {
  auto session = start_session(variant, GasMeteringKind::Sync, ecalli_loop_program());
  if (!session) return state.SkipWithError(session.error().message().c_str());
  for (auto _ : state) {
    auto interrupt = call(*session, 0);
    if (!interrupt || *interrupt != Interrupt::finished()) return state.SkipWithError("main(0) failed");
  }
}

// The same without the call: what Module::instantiate costs (plus the drop), as the reference measures it.
void instantiate_only(benchmark::State& state, Variant variant) {
  auto module = make_module(variant, GasMeteringKind::Sync, ecalli_loop_program());
  if (!module) return state.SkipWithError(module.error().message().c_str());
  for (auto _ : state) {
    auto instance = module->instantiate();
    if (!instance) return state.SkipWithError(instance.error().message().c_str());
    benchmark::DoNotOptimize(instance);
  }
}

// The cold path: the same in an engine that keeps no idle workers (worker_count = 0), so that every instance
// starts a Linux worker process, and a dropped instance's worker is stopped rather than pooled. A new engine
// per iteration would not do: the library may hand a new engine the idle workers of engines that ended. Only
// the instantiate and the call are timed (manual time), not the drop that stops the worker.
void first_worker(benchmark::State& state) {
  auto engine = make_engine(kCompilerLinux, 0);
  if (!engine) return state.SkipWithError(engine.error().message().c_str());
  polkavm::ModuleConfig config;
  config.gas_metering = GasMeteringKind::Sync;
  auto module = polkavm::Module::from_blob(*engine, config, ecalli_loop_program());
  if (!module) return state.SkipWithError(module.error().message().c_str());
  const uint32_t main_pc = *module->export_pc("main");
  // Use up any ready workers the library keeps for new instances (left by engines of earlier benchmarks):
  // several instances at once, each of which takes one if there is one.
  {
    std::vector<polkavm::RawInstance> drain;
    for (int i = 0; i < 8; ++i) {
      auto instance = module->instantiate();
      if (!instance) return state.SkipWithError(instance.error().message().c_str());
      drain.push_back(std::move(*instance));
    }
  }
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto instance = instantiate_and_call_once(*module, main_pc);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!instance) return state.SkipWithError(instance.error().message().c_str());
  }
}

// ------------------------------------------------------------------------------------------------
// Registration and the summary table

constexpr std::array<uint32_t, 3> kCompileUnits = {200, 2'000, 20'000};

// Every registration measures real time (see the top of the file).
benchmark::internal::Benchmark* add(const std::string& name, auto function, auto... args) {
  return benchmark::RegisterBenchmark(name.c_str(), function, args...)->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void register_all() {
  for (const auto& [guest_name, arg] : kWorkloads) {
    const Workload workload{polkavm::guests::find_sample_guest(guest_name), arg};
    for (GasMeteringKind gas : {GasMeteringKind::None, GasMeteringKind::Sync, GasMeteringKind::Async}) {
      for (const Variant& variant : kVariants)
        add(fmt::format("exec/{}/{}/gas:{}/{}", guest_name, arg, polkavm::gas_metering_name(gas), variant.name), exec,
            workload, variant, gas);
    }
  }
  for (uint32_t units : kCompileUnits) {
    for (const Variant& variant : kVariants)
      add(fmt::format("compile/{}-blocks/{}", units, variant.name), compile, units, variant);
  }
  for (const Variant& variant : kVariants) {
    for (GasMeteringKind gas : {GasMeteringKind::None, GasMeteringKind::Sync})
      add(fmt::format("ecalli/gas:{}/{}", polkavm::gas_metering_name(gas), variant.name), ecalli_round_trip, variant,
          gas);
    add(fmt::format("instantiate/{}", variant.name), instantiate_only, variant);
    add(fmt::format("instantiate+call/{}", variant.name), instantiate_and_call, variant);
    add(fmt::format("call/{}", variant.name), call_only, variant);
  }
  // Manual time is real time too (Google Benchmark refuses UseRealTime together with UseManualTime).
  benchmark::RegisterBenchmark("sandbox/first-worker", first_worker)->Unit(benchmark::kMicrosecond)->UseManualTime();
}

/// Prints the usual console output, then the comparison tables. A variant that did not run (compiler-linux
/// on a host without the Linux sandbox, or filtered out) shows as "–".
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  SummaryReporter() : ConsoleReporter(polkavm::bench::console_options()) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    // Real time (see the top of the file), and with --benchmark_repetitions the fastest repetition: this
    // machine's noise only ever adds time.
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0 || run.run_type == Run::RT_Aggregate) continue;
      // The name as registered, without the "/real_time" or "/manual_time" that benchmark_name() appends.
      const std::string& name = run.run_name.function_name;
      Timing r{run.GetAdjustedRealTime(), benchmark::GetTimeUnitString(run.time_unit), run.counters};
      auto [it, inserted] = results_.try_emplace(name, r);
      if (!inserted && r.time < it->second.time) it->second = r;
      if (auto best = run.counters.find("best_call_s"); best != run.counters.end()) {
        auto [best_it, first] = best_call_.try_emplace(name, best->second.value);
        if (!first) best_it->second = std::min(best_it->second, best->second.value);
      }
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    print_exec_table();
    print_compile_table();
    print_per_call_table();
  }

 private:
  struct Timing {
    double time = 0;
    std::string unit;
    benchmark::UserCounters counters;
  };

  static double seconds(const Timing& r) {
    const double scale = r.unit == "ns" ? 1e-9 : r.unit == "us" ? 1e-6 : r.unit == "ms" ? 1e-3 : 1.0;
    return r.time * scale;
  }
  /// The fastest repetition's mean time per iteration, in seconds; nothing if the row did not run.
  std::optional<double> time_of(const std::string& name) const {
    auto it = results_.find(name);
    if (it == results_.end()) return std::nullopt;
    return seconds(it->second);
  }
  std::optional<double> best_call_of(const std::string& name) const {
    auto it = best_call_.find(name);
    if (it == best_call_.end()) return std::nullopt;
    return it->second;
  }
  /// `value` scaled and formatted, or "–".
  static std::string cell(std::optional<double> value, double scale, std::string_view unit, int digits = 0) {
    return value ? fmt::format("{:.{}f} {}", *value * scale, digits, unit) : "–";
  }
  /// numerator / denominator as "1.2×", or "–".
  static std::string ratio(std::optional<double> numerator, std::optional<double> denominator) {
    return numerator && denominator ? fmt::format("{:.2f}×", *numerator / *denominator) : "–";
  }

  // Two views of the same runs: the fastest single call of each variant, and the mean real time per call of
  // its fastest repetition. speed-up = interpreter / compiler (generic); linux/generic = the time of
  // compiler-linux over that of compiler (above 1: the Linux sandbox is slower).
  /// A Markdown table, unless it has no rows (all its benchmarks filtered out).
  static void print_table(std::string_view header, const std::vector<std::string>& rows) {
    if (rows.empty()) return;
    const auto columns = std::count(header.begin(), header.end(), '|') - 1;
    std::string rule = "|";
    for (int i = 0; i < columns; ++i) rule += "---|";
    fmt::print("\n{}\n{}\n", header, rule);
    for (const std::string& row : rows) fmt::print("{}\n", row);
  }

  void print_exec_table() const {
    std::vector<std::string> rows;
    for (const auto& [guest, arg] : kWorkloads) {
      for (const char* gas : {"none", "sync", "async"}) {
        const std::string prefix = fmt::format("exec/{}/{}/gas:{}/", guest, arg, gas);
        auto it = results_.find(prefix + "interpreter");
        if (it == results_.end()) continue;
        const double insns = it->second.counters.at("guest_insns");
        auto best_cell = [&](std::optional<double> best) {
          return best ? fmt::format("{:.0f} µs ({:.0f} M insn/s)", *best * 1e6, insns / *best / 1e6) : "–";
        };
        const auto best_interpreter = best_call_of(prefix + "interpreter");
        const auto best_compiler = best_call_of(prefix + "compiler");
        const auto best_linux = best_call_of(prefix + "compiler-linux");
        rows.push_back(fmt::format("| {}({}) | {} | {} | {} | {} | {} | {} | {} | {} |", guest, arg, gas,
                                   best_cell(best_interpreter), best_cell(best_compiler), best_cell(best_linux),
                                   ratio(best_interpreter, best_compiler),
                                   ratio(time_of(prefix + "interpreter"), time_of(prefix + "compiler")),
                                   ratio(best_linux, best_compiler),
                                   ratio(time_of(prefix + "compiler-linux"), time_of(prefix + "compiler"))));
      }
    }
    print_table(
        "| workload | gas | interpreter, best call | compiler, best call | compiler-linux, best call | "
        "speed-up (best call) | speed-up (fastest repetition) | linux/generic (best call) | "
        "linux/generic (fastest repetition) |",
        rows);
  }

  void print_compile_table() const {
    std::vector<std::string> rows;
    for (uint32_t units : kCompileUnits) {
      const std::string prefix = fmt::format("compile/{}-blocks/", units);
      auto it = results_.find(prefix + "compiler");
      if (it == results_.end()) continue;
      const double kb = it->second.counters.at("code_bytes") / 1024.0;
      const double compiler = seconds(it->second);
      rows.push_back(fmt::format("| {} blocks | {:.1f} KB | {:.3f} ms | {:.1f} µs | {} | {} |", units, kb,
                                 compiler * 1e3, compiler * 1e6 / kb,
                                 cell(time_of(prefix + "compiler-linux"), 1e3, "ms", 3),
                                 cell(time_of(prefix + "interpreter"), 1e3, "ms", 3)));
    }
    print_table(
        "| program | code | compile (compiler) | per KB | compile (compiler-linux) | module creation (interpreter) |",
        rows);
  }

  void print_per_call_table() const {
    std::vector<std::string> rows;
    // One row: the time of each variant's benchmark `prefix + variant`, divided by `per`.
    auto add_row = [&](std::string_view what, const std::string& prefix, double per, double scale,
                       std::string_view unit, int digits) {
      std::optional<double> times[3];
      for (size_t i = 0; i < kVariants.size(); ++i)
        if (auto time = time_of(prefix + std::string(kVariants[i].name))) times[i] = *time / per;
      if (!times[0] && !times[1] && !times[2]) return;
      rows.push_back(fmt::format("| {} | {} | {} | {} | {} |", what, cell(times[0], scale, unit, digits),
                                 cell(times[1], scale, unit, digits), cell(times[2], scale, unit, digits),
                                 ratio(times[2], times[1])));
    };
    add_row("ecalli round trip (gas none)", "ecalli/gas:none/", kEcallisPerCall, 1e9, "ns", 0);
    add_row("ecalli round trip (gas sync)", "ecalli/gas:sync/", kEcallisPerCall, 1e9, "ns", 0);
    // The instantiate loop drops each instance before the next, so every Linux instance after the first takes
    // a warm worker from the engine's pool; sandbox/first-worker starts a worker for every instance.
    add_row("instantiate (Linux: a pooled worker)", "instantiate/", 1, 1e6, "µs", 1);
    add_row("instantiate + minimal call (Linux: a pooled worker)", "instantiate+call/", 1, 1e6, "µs", 1);
    add_row("minimal call on an existing instance", "call/", 1, 1e9, "ns", 0);
    const auto warm = time_of("instantiate+call/compiler-linux");
    const auto cold = time_of("sandbox/first-worker");
    if (cold)
      rows.push_back(fmt::format("| {} | – | – | {} | – |",
                                 "instantiate + minimal call, no worker ready (Linux: starts one)",
                                 cell(cold, 1e6, "µs", 1)));
    print_table("| per call | interpreter | compiler | compiler-linux | linux/generic |", rows);
    if (warm && cold)
      fmt::print("\nStarting a worker costs about {:.0f} µs (an instance with a new worker minus a pooled one).\n",
                 (*cold - *warm) * 1e6);
  }

  std::map<std::string, Timing> results_;
  std::map<std::string, double> best_call_;  // seconds
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The compiler in the generic sandbox is the baseline of every table; the Linux rows skip themselves when
  // this host cannot run that sandbox.
  if (auto engine = make_engine(kCompiler); !engine) {
    fmt::print(stderr, "the compiler backend is not available on this host: {}\n", engine.error().message());
    return 1;
  }
  register_all();
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
