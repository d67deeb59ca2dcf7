// libFuzzer target: any bytes as a program, run on the interpreter and on the compiler, which must agree on
// every interrupt, register, gas value, pc and writable page (spectool's DifferentialRunner). A divergence
// aborts, so libFuzzer keeps the input.
//
// Input: byte 0 picks the instruction set (bits 0-1), gas metering (bits 2-3: none, sync, async) and the
// cost model (bit 4: naive or full); bytes 1-2 the gas; bytes 3-4 the seed of the initial registers and the
// host's ecalli answers; the rest is a bare code-and-jump-table payload.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "differential.hpp"
#include "polkavm/polkavm.hpp"

namespace {

const polkavm::fuzz::DifferentialRunner& runner() {
  static const auto instance = [] {
    polkavm::fuzz::ConfigPair pair{polkavm::fuzz::ExecutionConfig::interpreter(),
                                   polkavm::fuzz::ExecutionConfig::compiler()};
    auto created = polkavm::fuzz::DifferentialRunner::create(pair);
    if (!created) {
      std::fprintf(stderr, "differential_fuzz: %s\n", created.error().message().c_str());
      std::abort();
    }
    return std::move(created).value();
  }();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 5;
  if (size <= kHeader) return 0;
  const uint8_t mode = data[0];
  polkavm::fuzz::ProgramSpec setup;
  setup.isa = static_cast<polkavm::InstructionSet>(mode & 3);
  constexpr polkavm::GasMeteringKind kMetering[] = {polkavm::GasMeteringKind::None, polkavm::GasMeteringKind::Sync,
                                                    polkavm::GasMeteringKind::Async, polkavm::GasMeteringKind::Sync};
  setup.gas_metering = kMetering[(mode >> 2) & 3];
  setup.full_cost_model = (mode & 16) != 0;
  // Without metering a program could loop forever: give it gas anyway and meter asynchronously.
  if (setup.gas_metering == polkavm::GasMeteringKind::None) setup.gas_metering = polkavm::GasMeteringKind::Async;
  setup.gas = data[1] | data[2] << 8;
  setup.seed = data[3] | data[4] << 8;
  for (int r = 0; r < polkavm::kRegCount; ++r)
    setup.regs[r] = (setup.seed * 0x9E3779B97F4A7C15ull) >> (r * 4) & (r % 3 == 0 ? 0xFFFFFFFFull : 0x3FFFFull);

  auto blob = polkavm::ProgramBlob::from_code_and_jump_table(std::span(data + kHeader, size - kHeader), setup.isa);
  if (!blob) return 0;
  blob->ro_data_size = 0x1000;
  blob->rw_data_size = 0x2000;
  blob->stack_size = 0x1000;
  const polkavm::fuzz::BuiltProgram program{std::move(blob).value(), 0};
  auto outcome = runner().run(setup, program);
  if (!outcome || !outcome->divergence) return 0;
  const polkavm::fuzz::Divergence& d = *outcome->divergence;
  std::fprintf(stderr, "divergence after %zu agreeing exits: %s is %s on the interpreter, %s on the compiler\n",
               d.exit_index, d.field.c_str(), d.value_a.c_str(), d.value_b.c_str());
  std::abort();
}
