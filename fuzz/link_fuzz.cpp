// libFuzzer target: any bytes as a RISC-V ELF for the linker. Linking must fail with an Error or give a
// blob that parses back and loads as a module, and linking the same input twice must give the same bytes.
// The first byte picks the linker's settings: bit 0 --strip, bits 1-2 the opt level (3 counts as 0), bit 3 no
// minimum stack size.
// Seeds: the guest programs' ELFs (scripts/test.sh passes build/guest/programs).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "polkavm/elf_linker.hpp"
#include "polkavm/polkavm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const polkavm::Engine engine = polkavm::Engine::create(polkavm::Config{}).value();
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  polkavm::ElfLinkerConfig config;
  config.strip = (mode & 1) != 0;
  config.opt_level = ((mode >> 1) & 3) % 3;
  config.min_stack_size = (mode & 8) ? 0 : 4096;
  const std::span<const uint8_t> elf(data + 1, size - 1);

  auto linked = polkavm::link_elf(elf, config);
  if (!linked) return 0;
  auto again = polkavm::link_elf(elf, config);
  if (!again || *again != *linked) abort();  // the linker must be deterministic

  auto blob = polkavm::ProgramBlob::parse(*linked);
  if (!blob) abort();  // the linker wrote a blob that its own parser rejects
  polkavm::ModuleConfig module_config;
  module_config.gas_metering = polkavm::GasMeteringKind::Sync;
  auto module = polkavm::Module::from_blob(engine, module_config, std::move(blob).value());
  if (!module) {  // the linker wrote a program that does not load
    fprintf(stderr, "%s\n", module.error().message().c_str());
    abort();
  }
  return 0;
}
