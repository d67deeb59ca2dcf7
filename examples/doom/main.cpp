// polkavm-doom: plays Doom headless on the library, with the reference's blob and host contract
// (POLKAVM_SHARED_DIR/programs/README.md), and prints one line:
//
//   checksum=<FNV-1a 64 of every frame> frames=<N> gas_used=<n or -> compile_s=<s> instantiate_s=<s> init_s=<s> run_s=<s>
//
//   polkavm-doom doom.polkavm freedoom1.wad --frames 300 --backend compiler --gas sync --frame-png 100 f.png
//
// The host is the typed Linker: five host functions, one call of ext_initialize, then ext_tick per frame.
#include <png.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "polkavm/polkavm.hpp"

namespace {

using namespace polkavm;

constexpr Gas kInitialGas = 1'000'000'000'000'000;  // 10^15, as the reference's figures are measured

struct Game {
  std::vector<uint8_t> rom;
  uint64_t checksum = 0xcbf29ce484222325;  // FNV-1a 64 over every frame
  uint64_t frames = 0;                      // delivered so far (the frame of ext_initialize is number 0)
  std::optional<uint64_t> png_frame;
  std::string png_path;
  std::vector<uint8_t> pixels;      // the last frame
  std::vector<uint8_t> png_pixels;  // frame png_frame, once delivered
  uint32_t width = 0, height = 0;
};

Result<void> output_video(Caller<Game>& caller, uint32_t address, uint32_t width, uint32_t height) {
  Game& game = caller.user_data;
  if (uint64_t{width} * height > (uint64_t{1} << 24)) return Error(fmt::format("a frame of {}x{}", width, height));
  game.pixels.resize(size_t{width} * height * 4);
  if (Result<void> read = caller.instance.read_memory_into(address, game.pixels); !read) return read;
  for (uint8_t byte : game.pixels) game.checksum = (game.checksum ^ byte) * 0x100000001b3;
  if (game.png_frame == game.frames) {
    game.png_pixels = game.pixels;
    game.width = width;
    game.height = height;
    game.png_frame.reset();
  }
  ++game.frames;
  return {};
}

Result<void> write_png(const std::string& path, const std::vector<uint8_t>& bgra, uint32_t width, uint32_t height) {
  std::vector<uint8_t> rgb(size_t{width} * height * 3);
  for (size_t i = 0, n = size_t{width} * height; i < n; ++i) {  // the frame is B, G, R, X (SDL's ARGB8888)
    rgb[3 * i] = bgra[4 * i + 2];
    rgb[3 * i + 1] = bgra[4 * i + 1];
    rgb[3 * i + 2] = bgra[4 * i];
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_RGB;
  if (!png_image_write_to_file(&image, path.c_str(), 0, rgb.data(), 0, nullptr))
    return Error(fmt::format("cannot write {}: {}", path, image.message));
  return {};
}

Result<std::vector<uint8_t>> read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error("cannot open " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int fail(const std::string& what) {
  std::fprintf(stderr, "polkavm-doom: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Plays Doom headless on polkavm-cpp and prints the frames' checksum, gas and times"};
  app.set_version_flag("--version", "polkavm-doom " + std::string(polkavm::version()));
  std::string blob_path, wad_path, backend = "auto", gas = "sync", sandbox = "auto";
  uint64_t ticks = 300;
  std::vector<std::string> png;
  app.add_option("BLOB", blob_path, "doom.polkavm")->required();
  app.add_option("WAD", wad_path, "a Doom 1 WAD, e.g. /usr/share/games/doom/freedoom1.wad")->required();
  app.add_option("--frames", ticks, "game ticks after ext_initialize (default 300)");
  app.add_option("--backend", backend)->check(CLI::IsMember({"auto", "interpreter", "compiler"}));
  app.add_option("--gas", gas)->check(CLI::IsMember({"none", "sync", "async"}));
  app.add_option("--sandbox", sandbox)->check(CLI::IsMember({"auto", "linux", "generic"}));
  app.add_option("--frame-png", png, "N FILE: write frame N (0: the frame of ext_initialize) as a PNG")->expected(2);
  CLI11_PARSE(app, argc, argv);

  Game game;
  if (Result<std::vector<uint8_t>> rom = read_file(wad_path); rom) game.rom = std::move(*rom);
  else return fail(rom.error().message());
  Result<std::vector<uint8_t>> blob = read_file(blob_path);
  if (!blob) return fail(blob.error().message());
  if (!png.empty()) {
    game.png_frame = std::stoull(png[0]);
    game.png_path = png[1];
  }

  Result<Config> config = Config::from_env();
  if (!config) return fail(config.error().message());
  config->backend = *backend_from_name(backend);
  config->sandbox = *sandbox_from_name(sandbox);
  if (config->sandbox == SandboxKind::Generic) config->allow_experimental = true;
  Result<Engine> engine = Engine::create(*config);
  if (!engine) return fail(engine.error().message());

  const auto compile_start = std::chrono::steady_clock::now();
  ModuleConfig module_config;
  module_config.page_size = 0x4000;
  module_config.gas_metering = gas == "none" ? GasMeteringKind::None : gas == "sync" ? GasMeteringKind::Sync : GasMeteringKind::Async;
  Result<Module> module = Module::create(*engine, module_config, *blob);
  if (!module) return fail(module.error().message());
  const double compile_s = seconds_since(compile_start);

  Linker<Game> linker;
  Result<void> defined[] = {
      linker.define_typed("ext_output_video", output_video),
      linker.define_typed("ext_output_audio",
                          [](Caller<Game>& caller, uint32_t address, uint32_t samples) -> Result<void> {
                            std::vector<uint8_t> audio(size_t{samples} * 4);  // stereo i16, read as a player would
                            return caller.instance.read_memory_into(address, audio);
                          }),
      linker.define_typed("ext_rom_size", [](Caller<Game>& caller) { return static_cast<uint32_t>(caller.user_data.rom.size()); }),
      linker.define_typed("ext_rom_read",
                          [](Caller<Game>& caller, uint32_t pointer, uint32_t offset, uint32_t length) -> Result<void> {
                            const std::vector<uint8_t>& rom = caller.user_data.rom;
                            if (uint64_t{offset} + length > rom.size())
                              return Error(fmt::format("invalid ROM read: offset = 0x{:x}, length = {}", offset, length));
                            return caller.instance.write_memory(pointer, std::span(rom).subspan(offset, length));
                          }),
      linker.define_typed("ext_stdout",
                          [](Caller<Game>& caller, uint32_t buffer, uint32_t length) -> Result<int32_t> {
                            Result<std::vector<uint8_t>> text = caller.instance.read_memory(buffer, length);
                            if (!text) return text.error();
                            if (!text->empty()) std::fwrite(text->data(), 1, text->size(), stderr);  // stdout: the line
                            return static_cast<int32_t>(length);
                          }),
  };
  for (const Result<void>& r : defined)
    if (!r) return fail(r.error().message());

  const auto instantiate_start = std::chrono::steady_clock::now();
  Result<InstancePre<Game>> pre = linker.instantiate_pre(*module);
  if (!pre) return fail(pre.error().message());
  Result<Instance<Game>> instance = pre->instantiate();
  if (!instance) return fail(instance.error().message());
  const double instantiate_s = seconds_since(instantiate_start);

  const bool metered = module->gas_metering() != GasMeteringKind::None;
  if (metered) (*instance)->set_gas(kInitialGas);
  const auto init_start = std::chrono::steady_clock::now();
  if (CallResult<void> r = instance->call_typed(game, "ext_initialize"); !r) return fail("ext_initialize: " + r.error().to_string());
  const double init_s = seconds_since(init_start);
  const auto run_start = std::chrono::steady_clock::now();
  for (uint64_t tick = 0; tick < ticks; ++tick)
    if (CallResult<void> r = instance->call_typed(game, "ext_tick"); !r) return fail("ext_tick: " + r.error().to_string());
  const double run_s = seconds_since(run_start);

  if (!png.empty()) {
    if (game.png_frame) return fail(fmt::format("there was no frame {} ({} frames)", png[0], game.frames));
    if (Result<void> written = write_png(game.png_path, game.png_pixels, game.width, game.height); !written)
      return fail(written.error().message());
  }
  const std::string gas_used = metered ? std::to_string(kInitialGas - (*instance)->gas()) : "-";
  std::printf("checksum=%016llx frames=%llu gas_used=%s compile_s=%.3f instantiate_s=%.6f init_s=%.3f run_s=%.3f\n",
              static_cast<unsigned long long>(game.checksum), static_cast<unsigned long long>(ticks), gas_used.c_str(),
              compile_s, instantiate_s, init_s, run_s);
  return 0;
}
