// Doom on each variant of bench_common.hpp (interpreter, compiler in the generic sandbox, compiler in the
// Linux sandbox), with gas metering off and sync: the wall time of 300 game ticks after ext_initialize.
//
// The program is the reference's Doom example, POLKAVM_SHARED_DIR/programs/doom.polkavm; its host contract is
// in that directory's README.md: page size 0x4000; imports ext_output_video, ext_output_audio, ext_rom_size,
// ext_rom_read and ext_stdout; exports ext_initialize and ext_tick. The ROM is the Freedoom WAD of Debian's
// `freedoom` package (scripts/setup.sh installs it). Host functions are dispatched here by hand: run()
// stops with Interrupt ecalli(n) for the module's n-th import, whose arguments are in A0..A5 and whose result
// goes back in A0.
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

constexpr const char* kProgramPath = POLKAVM_SHARED_DIR "/programs/doom.polkavm";
constexpr const char* kRomPath = "/usr/share/games/doom/freedoom1.wad";
constexpr uint32_t kPageSize = 0x4000;
constexpr Gas kInitialGas = 1'000'000'000'000'000;  // 10^15, set once before ext_initialize
constexpr int kTimedTicks = 300;
constexpr uint64_t kMaxOutput = uint64_t{1} << 26;  // bytes of one frame or batch of audio: a sanity bound

/// The README's table (the reference v0.35 with the same ROM).
struct Expected {
  int ticks;
  uint64_t checksum;
  Gas gas_used;  // sync metering, naive cost model
};
constexpr Expected kExpected[] = {
    {0, 0x8d59dbfe0e40814d, 217'113'118},
    {10, 0x2bb9a539623f749d, 325'953'773},
};

Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(fmt::format("cannot open {}", path.string()));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error(fmt::format("cannot read {}", path.string()));
  return bytes;
}

/// FNV-1a, 64 bits, over a stream of bytes.
class Fnv1a64 {
 public:
  void update(std::span<const uint8_t> bytes) {
    for (uint8_t byte : bytes) hash_ = (hash_ ^ byte) * 0x100000001b3;
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 0xcbf29ce484222325;
};

/// The host functions Doom imports.
enum class HostFunction { OutputVideo, OutputAudio, RomSize, RomRead, Stdout };

Result<HostFunction> host_function_named(std::string_view name) {
  if (name == "ext_output_video") return HostFunction::OutputVideo;
  if (name == "ext_output_audio") return HostFunction::OutputAudio;
  if (name == "ext_rom_size") return HostFunction::RomSize;
  if (name == "ext_rom_read") return HostFunction::RomRead;
  if (name == "ext_stdout") return HostFunction::Stdout;
  return Error(fmt::format("Doom imports '{}', which this host does not provide", name));
}

/// One game: an instance of the module, initialized, and the host state the imports work on.
class Doom {
 public:
  /// Whether every frame goes into checksum(), or is only copied out of guest memory as a display would.
  enum class Frames { Hash, Copy };

  /// A new instance of `module`, with gas set (if metered) and ext_initialize called.
  static Result<Doom> start(const polkavm::Module& module, std::span<const uint8_t> rom, Frames frames) {
    const auto initialize = module.export_pc("ext_initialize");
    const auto tick = module.export_pc("ext_tick");
    if (!initialize || !tick) return Error("the module does not export ext_initialize and ext_tick");
    std::vector<HostFunction> imports;
    for (const std::string& name : module.imports()) {
      auto function = host_function_named(name);
      if (!function) return function.error();
      imports.push_back(*function);
    }
    auto instance = module.instantiate();
    if (!instance) return instance.error();
    Doom doom(std::move(*instance), rom, *tick, std::move(imports), frames);
    if (doom.metered()) doom.instance_.set_gas(kInitialGas);
    if (auto done = doom.call(*initialize); !done) return Error("ext_initialize: " + done.error().message());
    return doom;
  }

  Result<void> tick() {
    if (auto done = call(tick_pc_); !done) return Error(fmt::format("tick {}: {}", ticks_ + 1, done.error().message()));
    ++ticks_;
    return {};
  }

  int ticks() const { return ticks_; }
  /// The checksum of all frames so far (Frames::Hash only).
  uint64_t checksum() const { return frames_.value(); }
  /// The checksum of the last frame alone.
  uint64_t last_frame_checksum() const {
    Fnv1a64 hash;
    hash.update(frame_);
    return hash.value();
  }
  bool metered() const { return instance_.module().gas_metering() != GasMeteringKind::None; }
  Gas gas_used() const { return kInitialGas - instance_.gas(); }
  /// What the game printed (the first 64 KB), to explain a failure.
  const std::string& output() const { return stdout_; }

 private:
  Doom(polkavm::RawInstance instance, std::span<const uint8_t> rom, uint32_t tick_pc, std::vector<HostFunction> imports,
       Frames frames)
      : instance_(std::move(instance)),
        rom_(rom),
        tick_pc_(tick_pc),
        imports_(std::move(imports)),
        hash_frames_(frames == Frames::Hash) {}

  /// Calls the export at `pc` and answers its host calls until it returns.
  Result<void> call(uint32_t pc) {
    if (auto prepared = instance_.prepare_call(pc); !prepared) return prepared.error();
    for (;;) {
      auto interrupt = instance_.run();
      if (!interrupt) return interrupt.error();
      if (interrupt->kind == Interrupt::Kind::Finished) return {};
      if (interrupt->kind != Interrupt::Kind::Ecalli)
        return Error("the guest stopped with " + polkavm::to_string(*interrupt));
      if (auto answered = host_call(interrupt->hostcall); !answered) return answered.error();
    }
  }

  /// A 32-bit argument register (Doom is a 32-bit program).
  uint32_t arg(Reg reg) const { return static_cast<uint32_t>(instance_.reg(reg)); }

  Result<void> host_call(uint32_t index) {
    if (index >= imports_.size())
      return Error(fmt::format("ecalli {}, but the module has {} imports", index, imports_.size()));
    switch (imports_[index]) {
      case HostFunction::OutputVideo: {  // (address, width, height): one frame of 4-byte pixels
        const uint64_t size = uint64_t{arg(Reg::A1)} * arg(Reg::A2) * 4;
        if (size > kMaxOutput) return Error(fmt::format("a frame of {} bytes", size));
        frame_.resize(size);
        if (auto read = instance_.read_memory_into(arg(Reg::A0), frame_); !read) return read.error();
        if (hash_frames_) frames_.update(frame_);
        return {};
      }
      case HostFunction::OutputAudio: {  // (address, samples): stereo pairs of i16, read as a player would
        const uint64_t size = uint64_t{arg(Reg::A1)} * 4;
        if (size > kMaxOutput) return Error(fmt::format("{} bytes of audio", size));
        audio_.resize(size);
        return instance_.read_memory_into(arg(Reg::A0), audio_);
      }
      case HostFunction::RomSize:
        instance_.set_reg(Reg::A0, rom_.size());
        return {};
      case HostFunction::RomRead: {  // (pointer, offset, length): copy part of the ROM into the guest
        const uint32_t pointer = arg(Reg::A0), offset = arg(Reg::A1), length = arg(Reg::A2);
        if (uint64_t{offset} + length > rom_.size())
          return Error(fmt::format("ext_rom_read of {} bytes at {} past the ROM's end", length, offset));
        return instance_.write_memory(pointer, rom_.subspan(offset, length));
      }
      case HostFunction::Stdout: {  // (buffer, length) -> length
        const uint32_t length = arg(Reg::A1);
        auto text = instance_.read_memory(arg(Reg::A0), length);
        if (!text) return text.error();
        const size_t room = (size_t{1} << 16) - std::min(stdout_.size(), size_t{1} << 16);
        stdout_.append(text->begin(), text->begin() + std::min<size_t>(room, text->size()));
        instance_.set_reg(Reg::A0, length);
        return {};
      }
    }
    return Error("unreachable");
  }

  polkavm::RawInstance instance_;
  std::span<const uint8_t> rom_;
  uint32_t tick_pc_;
  std::vector<HostFunction> imports_;  // by import index
  bool hash_frames_;
  int ticks_ = 0;
  Fnv1a64 frames_;
  std::vector<uint8_t> frame_;  // the last frame
  std::vector<uint8_t> audio_;  // the last batch of audio samples
  std::string stdout_;
};

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
  polkavm::ModuleConfig config;
  config.page_size = kPageSize;
  config.gas_metering = gas;
  return polkavm::Module::create(*engine, config, g_inputs->program);
}

/// The checksum and gas after each row of kExpected, compared with the reference's.
Result<void> verify(const polkavm::Module& module) {
  auto doom = Doom::start(module, g_inputs->rom, Doom::Frames::Hash);
  if (!doom) return doom.error();
  for (const Expected& expected : kExpected) {
    while (doom->ticks() < expected.ticks)
      if (auto ticked = doom->tick(); !ticked) return ticked.error();
    if (doom->checksum() != expected.checksum)
      return Error(fmt::format("after {} ticks the frames' checksum is {:016x}, expected {:016x}; the game "
                               "printed:\n{}",
                               expected.ticks, doom->checksum(), expected.checksum, doom->output()));
    if (doom->metered() && doom->gas_used() != expected.gas_used)
      return Error(fmt::format("after {} ticks {} gas was used, expected {}", expected.ticks, doom->gas_used(),
                               expected.gas_used));
  }
  return {};
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
    if (auto checked = verify(*module); !checked)
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
