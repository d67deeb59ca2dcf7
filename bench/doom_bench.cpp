// Doom on each variant of bench_common.hpp (interpreter, compiler in the generic sandbox, compiler in the
// Linux sandbox), with gas metering off and sync: the wall time of 300 game ticks after ext_initialize.
//
// The program is the reference's Doom example, POLKAVM_SHARED_DIR/programs/doom.polkavm, with the host of
// doom_host.hpp (its host contract is in that directory's README.md; the ROM is Debian's Freedoom WAD).
//
// Before timing a configuration, a run of ext_initialize and 10 ticks is checked against the README's table:
// the FNV-1a 64 checksum of every frame delivered (the frame of ext_initialize included) after 0 and after 10
// ticks and, with sync metering (the naive cost model, 10^15 gas set before ext_initialize), the gas used. The
// 300-tick runs must also agree with one another: the same last frame on every variant, the same gas on every
// metered one. A mismatch skips the row with an error, is printed to stderr, and makes the exit status 1.
//
// Every iteration starts a new instance of the module and initializes it (not timed), then times the ticks
// (manual time: a steady clock around the ticks alone). Real time, because under the Linux sandbox the game
// runs in another process. One iteration per repetition: 300 ticks take about 0.3 s on the compiler. In the
// timed runs the host copies every frame and batch of audio out of guest memory, as a player would, but does
// not hash the frames: byte-wise FNV-1a over 256 KB a frame would add host work the size of a good part of a
// compiled tick.
//   build-dev/bench/doom_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include "bench_common.hpp"
#include "doom_host.hpp"
#include "polkavm/polkavm.hpp"

namespace {

using polkavm::Error;
using polkavm::Gas;
using polkavm::GasMeteringKind;
using polkavm::Interrupt;
using polkavm::Reg;
using polkavm::Result;
using polkavm::bench::kVariants;
using polkavm::bench::Variant;

using polkavm::bench::doom::Doom;
using polkavm::bench::doom::kRomPath;

constexpr const char* kProgramPath = POLKAVM_SHARED_DIR "/programs/doom.polkavm";
constexpr int kTimedTicks = 300;

Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(fmt::format("cannot open {}", path.string()));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error(fmt::format("cannot read {}", path.string()));
  return bytes;
}

// ------------------------------------------------------------------------------------------------
// Checks

struct Inputs {
  std::vector<uint8_t> program;
  std::vector<uint8_t> rom;
};
const Inputs* g_inputs = nullptr;
bool g_failed = false;

/// Prints a failed check to stderr at once (the console table comes much later) and remembers it.
std::string report_failure(std::string message) {
  fmt::print(stderr, "doom_bench: FAILED: {}\n", message);
  std::fflush(stderr);
  g_failed = true;
  return message;
}

Result<polkavm::Module> load_module(const Variant& variant, GasMeteringKind gas) {
  auto engine = polkavm::bench::make_engine(variant);
  if (!engine) return engine.error();
  return polkavm::bench::doom::load(*engine, gas, g_inputs->program);
}

/// The first result of kTimedTicks ticks; every later one must match it.
struct Outcome {
  std::string configuration;
  uint64_t checksum;  // of the last frame
  std::optional<Gas> gas_used;
};
std::optional<Outcome> g_reference_outcome;

Result<void> check_outcome(const Outcome& outcome) {
  if (!g_reference_outcome) {
    g_reference_outcome = outcome;
    return {};
  }
  const Outcome& first = *g_reference_outcome;
  if (outcome.checksum != first.checksum)
    return Error(fmt::format("the last frame of {} ticks on {} has the checksum {:016x}, on {} {:016x}", kTimedTicks,
                             outcome.configuration, outcome.checksum, first.configuration, first.checksum));
  if (outcome.gas_used && first.gas_used && *outcome.gas_used != *first.gas_used)
    return Error(fmt::format("{} ticks on {} use {} gas, on {} {}", kTimedTicks, outcome.configuration,
                             *outcome.gas_used, first.configuration, *first.gas_used));
  if (outcome.gas_used && !first.gas_used) g_reference_outcome->gas_used = outcome.gas_used;
  return {};
}

// ------------------------------------------------------------------------------------------------
// The benchmark

void doom_ticks(benchmark::State& state, Variant variant, GasMeteringKind gas) {
  const std::string configuration = fmt::format("{}, gas {}", variant.name, polkavm::gas_metering_name(gas));
  auto module = load_module(variant, gas);
  if (!module) return state.SkipWithError(module.error().message().c_str());

  // Once per configuration, whatever the number of repetitions.
  static std::map<std::string, bool> verified;
  if (auto [it, first] = verified.try_emplace(configuration, false); first) {
    if (auto checked = polkavm::bench::doom::verify(*module, g_inputs->rom); !checked)
      report_failure(fmt::format("{}: {}", configuration, checked.error().message()));
    else
      it->second = true;
  }
  if (!verified.at(configuration)) return state.SkipWithError("failed the checks against the reference");

  double initialize = 0;  // seconds, the last iteration's
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto doom = Doom::start(*module, g_inputs->rom, Doom::Frames::Copy);
    if (!doom) return state.SkipWithError(report_failure(configuration + ": " + doom.error().message()).c_str());
    const auto ticking = std::chrono::steady_clock::now();
    initialize = std::chrono::duration<double>(ticking - start).count();
    for (int i = 0; i < kTimedTicks; ++i) {
      if (auto ticked = doom->tick(); !ticked)
        return state.SkipWithError(report_failure(configuration + ": " + ticked.error().message()).c_str());
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - ticking).count());

    const Outcome outcome{configuration, doom->last_frame_checksum(),
                          doom->metered() ? std::optional<Gas>(doom->gas_used()) : std::nullopt};
    if (auto same = check_outcome(outcome); !same)
      return state.SkipWithError(report_failure(same.error().message()).c_str());
  }
  state.SetItemsProcessed(state.iterations() * kTimedTicks);  // ticks (frames) per second
  state.counters["initialize_s"] = initialize;
}

std::string benchmark_name(const Variant& variant, GasMeteringKind gas) {
  return fmt::format("doom/{}-ticks/gas:{}/{}", kTimedTicks, polkavm::gas_metering_name(gas), variant.name);
}

constexpr GasMeteringKind kGasModes[] = {GasMeteringKind::None, GasMeteringKind::Sync};

void register_all() {
  for (GasMeteringKind gas : kGasModes)
    for (const Variant& variant : kVariants)
      benchmark::RegisterBenchmark(benchmark_name(variant, gas).c_str(), doom_ticks, variant, gas)
          ->Unit(benchmark::kMillisecond)
          ->Iterations(1)
          ->UseManualTime();
}

/// Prints the usual console output, then a table per gas mode: the fastest repetition of each variant, the
/// compiler's speed-up over the interpreter, and the Linux sandbox's time over the generic one's.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  SummaryReporter() : ConsoleReporter(polkavm::bench::console_options()) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.iterations == 0 || run.run_type == Run::RT_Aggregate) continue;
      // Manual time is reported as real time; the unit is milliseconds (see register_all).
      const double seconds = run.GetAdjustedRealTime() / 1e3;
      auto [it, first] = fastest_.try_emplace(run.run_name.function_name, seconds);
      if (!first) it->second = std::min(it->second, seconds);
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    if (fastest_.empty()) return;
    fmt::print("\n| {} ticks | interpreter | compiler | compiler-linux | compiler vs interpreter | linux/generic |\n"
               "|---|---|---|---|---|---|\n",
               kTimedTicks);
    for (GasMeteringKind gas : kGasModes) {
      std::optional<double> times[3];
      for (size_t i = 0; i < kVariants.size(); ++i)
        if (auto it = fastest_.find(benchmark_name(kVariants[i], gas)); it != fastest_.end()) times[i] = it->second;
      auto cell = [](std::optional<double> time) {
        return time ? fmt::format("{:.3f} s ({:.2f} ms/tick)", *time, *time * 1e3 / kTimedTicks) : "–";
      };
      auto ratio = [](std::optional<double> a, std::optional<double> b) {
        return a && b ? fmt::format("{:.2f}×", *a / *b) : "–";
      };
      fmt::print("| gas {} | {} | {} | {} | {} | {} |\n", polkavm::gas_metering_name(gas), cell(times[0]),
                 cell(times[1]), cell(times[2]), ratio(times[0], times[1]), ratio(times[2], times[1]));
    }
  }

 private:
  std::map<std::string, double> fastest_;  // seconds per kTimedTicks ticks
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto program = read_file(kProgramPath);
  auto rom = read_file(kRomPath);
  if (!program || !rom) {
    fmt::print(stderr, "doom_bench: {}\n", (!program ? program : rom).error().message());
    fmt::print(stderr, "  (the program comes with the shared data, the CMake cache variable POLKAVM_SHARED_DIR; "
                       "the ROM with Debian's freedoom package: scripts/setup.sh)\n");
    return 1;
  }
  const Inputs inputs{std::move(*program), std::move(*rom)};
  g_inputs = &inputs;
  register_all();
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (g_failed) fmt::print(stderr, "doom_bench: some checks FAILED (above)\n");
  return g_failed ? 1 : 0;
}
