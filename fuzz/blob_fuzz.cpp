// libFuzzer target: any bytes as a .polkavm container. Parsing must fail with an Error or give a blob that
// writes back and parses to an equal blob; the disassembler and the debug-information lookups must cope with
// whatever parsed, and the module must load or fail cleanly and then run bounded by gas.
// Seeds: the guest programs' blobs, which carry debug sections (scripts/test.sh passes build/guest/programs).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "polkavm/debug_info.hpp"
#include "polkavm/disassembler.hpp"
#include "polkavm/polkavm.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const polkavm::Engine engine = polkavm::Engine::create(polkavm::Config{}).value();
  auto blob = polkavm::ProgramBlob::parse(std::span(data, size));
  if (!blob) return 0;

  auto again = polkavm::ProgramBlob::parse(blob->to_bytes());
  if (!again || !(*again == *blob)) abort();  // to_bytes must write what parse reads back

  polkavm::DisassemblyOptions options;
  options.emit_directives = true;
  (void)polkavm::disassemble(*blob, options);

  // Debug lookups at the start, at every jump target (the linker's functions and blocks) and past the end.
  if (polkavm::has_debug_info(*blob)) {
    (void)polkavm::source_location(*blob, 0);
    size_t lookups = 0;
    for (uint32_t target : blob->jump_table()) {
      if (++lookups > 64) break;
      (void)polkavm::source_location(*blob, target);
    }
    (void)polkavm::source_location(*blob, static_cast<uint32_t>(blob->code().size()));
  }

  polkavm::ModuleConfig config;
  config.gas_metering = polkavm::GasMeteringKind::Sync;
  auto module = polkavm::Module::from_blob(engine, config, std::move(blob).value());
  if (!module) return 0;
  auto instance = module->instantiate();
  if (!instance) return 0;
  for (const auto& e : module->blob().exports) {
    instance->set_gas(10'000);
    instance->set_reg(polkavm::Reg::RA, polkavm::kReturnToHost);
    instance->set_reg(polkavm::Reg::SP, module->default_sp());
    instance->set_next_program_counter(e.pc);
    for (int interrupts = 0; interrupts < 16; ++interrupts) {
      auto result = instance->run();
      if (!result || result->kind != polkavm::Interrupt::Kind::Ecalli) break;
    }
  }
  return 0;
}
