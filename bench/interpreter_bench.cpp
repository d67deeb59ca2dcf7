// Interpreter throughput on the sample guests, in guest instructions per second (items_per_second).
// The instruction count of a workload is measured once with step tracing; every timed iteration then
// calls `main(arg)` on one long-lived instance and checks the result.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include "polkavm/polkavm.hpp"
#include "sample_guests.hpp"

namespace {

using polkavm::Error;
using polkavm::Gas;
using polkavm::GasMeteringKind;
using polkavm::Interrupt;
using polkavm::Result;
using polkavm::guests::SampleGuest;

// Enough for any workload here; gas metering is measured, never exhausted.
constexpr Gas kGasBudget = Gas{1} << 50;

struct Workload {
  const SampleGuest* guest;
  uint64_t arg;
};

// Smaller than the guests' example arguments so that one iteration takes about a millisecond.
constexpr std::array<std::pair<std::string_view, uint64_t>, 3> kWorkloads = {{
    {"prime-sieve", 100'000},
    {"fibonacci", 1'000'000},
    {"fibonacci-recursive", 22},
}};

struct Session {
  polkavm::RawInstance instance;
  uint32_t main_pc;
};

Result<Session> start_session(const Workload& workload, GasMeteringKind gas) {
  polkavm::Config engine_config;
  engine_config.backend = polkavm::BackendKind::Interpreter;
  auto engine = polkavm::Engine::create(engine_config);
  if (!engine) return engine.error();
  polkavm::ModuleConfig config;
  config.gas_metering = gas;
  auto module = polkavm::Module::from_blob(*engine, config, workload.guest->build());
  if (!module) return module.error();
  auto main_pc = module->export_pc("main");
  if (!main_pc) return Error("no export named main");
  auto instance = module->instantiate();
  if (!instance) return instance.error();
  return Session{std::move(*instance), *main_pc};
}

// One call of `main(arg)`, which must finish with the expected result.
Result<void> call_main(Session& session, const Workload& workload) {
  const uint64_t args[] = {workload.arg};
  if (auto prepared = session.instance.prepare_call(session.main_pc, args); !prepared)
    return prepared.error();
  session.instance.set_gas(kGasBudget);
  auto interrupt = session.instance.run();
  if (!interrupt) return interrupt.error();
  if (*interrupt != Interrupt::finished()) return Error("main ended with " + polkavm::to_string(*interrupt));
  const uint64_t expected = workload.guest->expected_result(workload.arg);
  if (const uint64_t got = session.instance.reg(polkavm::Reg::A0); got != expected)
    return Error(fmt::format("main({}) returned {}, expected {}", workload.arg, got, expected));
  return {};
}

// The number of instructions one call executes: one Step interrupt precedes each of them.
Result<uint64_t> count_instructions(const Workload& workload) {
  auto session = start_session(workload, GasMeteringKind::None);
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

void run_workload(benchmark::State& state, Workload workload, GasMeteringKind gas) {
  const auto instructions = count_instructions(workload);
  if (!instructions) return state.SkipWithError(instructions.error().message().c_str());
  auto session = start_session(workload, gas);
  if (!session) return state.SkipWithError(session.error().message().c_str());

  for (auto _ : state) {
    if (auto called = call_main(*session, workload); !called)
      return state.SkipWithError(called.error().message().c_str());
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
}

[[maybe_unused]] const bool kRegistered = [] {
  for (const auto& [guest_name, arg] : kWorkloads) {
    const Workload workload{polkavm::guests::find_sample_guest(guest_name), arg};
    for (GasMeteringKind gas : {GasMeteringKind::None, GasMeteringKind::Sync, GasMeteringKind::Async}) {
      const std::string name =
          fmt::format("interpreter/{}/{}/gas:{}", guest_name, arg, polkavm::gas_metering_name(gas));
      benchmark::RegisterBenchmark(name.c_str(), run_workload, workload, gas)->Unit(benchmark::kMillisecond);
    }
  }
  return true;
}();

}  // namespace
