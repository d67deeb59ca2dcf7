// Doom's host, shared by doom_bench and benchtool: the host contract of POLKAVM_SHARED_DIR/programs/README.md
// (the reference's examples/doom/src/vm.rs): page size 0x4000; imports ext_output_video, ext_output_audio,
// ext_rom_size, ext_rom_read and ext_stdout; exports ext_initialize and ext_tick. Host functions are
// dispatched by hand: run() stops with Interrupt ecalli(n) for the module's n-th import, whose arguments are in
// A0..A5 and whose result goes back in A0. The ROM is the Freedoom WAD of Debian's `freedoom` package
// (scripts/setup.sh installs it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "polkavm/polkavm.hpp"

namespace polkavm::bench::doom {

constexpr const char* kRomPath = "/usr/share/games/doom/freedoom1.wad";
constexpr uint32_t kPageSize = 0x4000;
constexpr Gas kInitialGas = 1'000'000'000'000'000;  // 10^15, set once before ext_initialize
constexpr uint64_t kMaxOutput = uint64_t{1} << 26;  // bytes of one frame or batch of audio: a sanity bound

/// A module of Doom's blob for `engine`, with its page size and `gas` metering.
inline Result<Module> load(const Engine& engine, GasMeteringKind gas, std::span<const uint8_t> program) {
  ModuleConfig config;
  config.page_size = kPageSize;
  config.gas_metering = gas;
  return Module::create(engine, config, program);
}

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

inline Result<HostFunction> host_function_named(std::string_view name) {
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

/// The checksum and gas after each row of kExpected, compared with the reference's.
inline Result<void> verify(const polkavm::Module& module, std::span<const uint8_t> rom) {
  auto doom = Doom::start(module, rom, Doom::Frames::Hash);
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

}  // namespace polkavm::bench::doom
