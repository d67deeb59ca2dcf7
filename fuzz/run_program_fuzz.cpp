// libFuzzer target: any bytes as a program blob. Parsing must fail cleanly or give a module that runs
// (bounded by gas) without crashing, whatever the code does.
#include <cstddef>
#include <cstdint>
#include <span>

#include "polkavm/polkavm.hpp"

namespace {

void run_bounded(polkavm::RawInstance& instance, uint32_t pc) {
  instance.set_gas(20'000);
  instance.set_reg(polkavm::Reg::RA, polkavm::kReturnToHost);
  instance.set_next_program_counter(pc);
  for (int interrupts = 0; interrupts < 64; ++interrupts) {
    auto result = instance.run();
    if (!result) return;
    switch (result->kind) {
      case polkavm::Interrupt::Kind::Ecalli:
      case polkavm::Interrupt::Kind::Step: continue;
      case polkavm::Interrupt::Kind::Segfault:
        if (!instance.zero_memory_with_memory_protection(result->segfault.page_address, result->segfault.page_size,
                                                         polkavm::MemoryProtection::ReadWrite))
          return;
        continue;
      default: return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const polkavm::Engine engine = [] {
    polkavm::Config config;
    config.allow_dynamic_paging = true;
    return polkavm::Engine::create(config).value();
  }();
  if (size < 2) return 0;
  // The first byte picks the configuration; the rest is a bare code-and-jump-table payload, the form
  // in which random bytes most often make runnable code.
  const uint8_t mode = data[0];
  auto blob = polkavm::ProgramBlob::from_code_and_jump_table(std::span(data + 1, size - 1),
                                                             static_cast<polkavm::InstructionSet>(mode & 3));
  if (!blob) return 0;
  polkavm::ModuleConfig config;
  config.gas_metering = (mode & 4) ? polkavm::GasMeteringKind::Async : polkavm::GasMeteringKind::Sync;
  config.dynamic_paging = (mode & 8) != 0;
  config.step_tracing = (mode & 16) != 0;
  blob->stack_size = 0x1000;
  auto module = polkavm::Module::from_blob(engine, config, std::move(blob).value());
  if (!module) return 0;
  auto instance = module->instantiate();
  if (!instance) return 0;
  run_bounded(*instance, 0);
  // Also enter at every jump-table target and a few raw offsets, as a host might.
  for (uint32_t target : module->blob().jump_table()) run_bounded(*instance, target);
  run_bounded(*instance, mode % (module->blob().code().size() + 1));
  return 0;
}
