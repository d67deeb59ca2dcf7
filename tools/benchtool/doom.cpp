// Doom, the reference's example (`programs/doom.polkavm` of the shared data, with the host of
// bench/doom_host.hpp and Debian's Freedoom WAD), on one backend with one gas metering mode:
//
//   compile    Module::create from the blob's bytes, best of N;
//   oneshot    compile + instantiate + ext_initialize + one tick, best of N (each on a new module);
//   execution  kTicks ticks on the instance of the round's oneshot, best of N.
//
// Before its first execution sample a row is checked against the reference's results (the shared data's
// programs/README.md): the FNV-1a 64 checksum of the frames after ext_initialize and after 10 ticks and,
// metered, the gas used. The checksum column shows the low 32 bits of the one after 10 ticks. There is no
// native Doom to compare with: the ratio to native is "–".
#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "benchtool.hpp"
#include "doom_host.hpp"

namespace benchtool {
namespace {

using polkavm::Error;
using polkavm::GasMeteringKind;
using polkavm::Result;
namespace doom = polkavm::bench::doom;

class DoomRunner final : public Runner {
 public:
  DoomRunner(Measurement row, std::shared_ptr<const DoomInputs> inputs, const polkavm::Engine* engine,
             const Settings& settings)
      : Runner(std::move(row), settings.min_batch_seconds), inputs_(std::move(inputs)), engine_(engine) {}

 private:
  Result<void> do_oneshot() override {
    const double start = now_seconds();
    auto module = doom::load(*engine_, *row_.gas, inputs_->program);
    const double compile = seconds_since(start);
    if (!module) return Error(fmt::format("cannot create a module from {}: {}", inputs_->program_path.string(),
                                          module.error().message()));
    auto game = doom::Doom::start(*module, inputs_->rom, doom::Doom::Frames::Copy);
    if (!game) return game.error();
    if (auto ticked = game->tick(); !ticked) return ticked.error();
    record_compile(compile);
    record_oneshot(seconds_since(start));
    module_.emplace(std::move(*module));
    game_.emplace(std::move(*game));
    return {};
  }

  void release() override {
    game_.reset();
    module_.reset();
  }

  Result<uint64_t> do_warm_up(double) override {
    if (!module_) return Error("no module to check (no oneshot sample)");
    if (auto checked = doom::verify(*module_, inputs_->rom); !checked)
      return Error("Doom's results differ from the reference's: " + checked.error().message());
    row_.checksum = static_cast<uint32_t>(doom::kExpected[std::size(doom::kExpected) - 1].checksum);
    return 1;  // a sample is kTicks ticks: long enough without batching
  }

  Result<double> do_sample(uint64_t calls) override {
    if (!game_) return Error("no game to time (no oneshot sample)");
    return time_batch(calls, [this](uint64_t n) -> Result<void> {
      for (uint64_t i = 0; i < n * kDoomTicks; ++i)
        if (auto ticked = game_->tick(); !ticked) return ticked.error();
      return {};
    });
  }

  std::shared_ptr<const DoomInputs> inputs_;
  const polkavm::Engine* engine_;
  std::optional<polkavm::Module> module_;
  std::optional<doom::Doom> game_;
};

}  // namespace

std::shared_ptr<const DoomInputs> read_doom_inputs(const std::filesystem::path& program,
                                                   const std::filesystem::path& rom) {
  auto inputs = std::make_shared<DoomInputs>();
  inputs->program_path = program;
  auto read = [](const std::filesystem::path& path) -> std::optional<std::vector<uint8_t>> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  };
  auto program_bytes = read(program);
  auto rom_bytes = read(rom);
  if (!program_bytes)
    inputs->missing = fmt::format("{} not found (the shared data: --doom, or POLKAVM_SHARED_DIR at build time)",
                                  program.string());
  else if (!rom_bytes)
    inputs->missing = fmt::format("the WAD {} is missing (Debian's freedoom package, which scripts/setup.sh "
                                  "installs; or --doom-wad)",
                                  rom.string());
  else {
    inputs->program = std::move(*program_bytes);
    inputs->rom = std::move(*rom_bytes);
  }
  return inputs;
}

std::unique_ptr<Runner> doom_runner(std::shared_ptr<const DoomInputs> inputs, Engines& engines,
                                    polkavm::BackendKind backend, GasMeteringKind gas, const Settings& settings) {
  Measurement row;
  row.program = "doom";
  row.runner = std::string(polkavm::backend_name(backend));
  row.gas = gas;
  std::string why_not;
  const polkavm::Engine* engine = engines.get(backend, &why_not);
  if (!inputs->missing.empty())
    row.skipped = inputs->missing;
  else if (!engine)
    row.skipped = fmt::format("{} backend unavailable: {}", row.runner, why_not);
  return std::make_unique<DoomRunner>(std::move(row), std::move(inputs), engine, settings);
}

}  // namespace benchtool
