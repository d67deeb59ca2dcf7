// One guest blob on one backend with one gas metering mode.
//
//   compile    Module::create from the blob's bytes (parsing, validation and, on the compiler, the
//              translation to machine code), best of N;
//   oneshot    compile + instantiate + one call of run(ARG), best of N (each on a new module);
//   execution  one call (prepare_call + run) on the instance of the round's oneshot (warm after that
//              first call), best of N; calls shorter than --min-batch-ms are timed in batches.
// Every call's result is checked against the native twin's checksum.
#include <fmt/format.h>

#include <algorithm>

#include "benchtool.hpp"

namespace benchtool {
namespace {

using polkavm::Error;
using polkavm::GasMeteringKind;
using polkavm::Interrupt;
using polkavm::RawInstance;
using polkavm::Reg;
using polkavm::Result;

// Far more than any workload here uses: gas metering is measured, never exhausted.
constexpr polkavm::Gas kGasBudget = polkavm::Gas{1} << 50;

/// Calls run(arg) and returns its result. No benchmark program imports anything, so an ecalli is an error.
Result<uint32_t> call_run(RawInstance& instance, uint32_t pc, uint32_t arg, GasMeteringKind gas) {
  const uint64_t args[] = {arg};
  if (auto r = instance.prepare_call(pc, args); !r) return r.error();
  if (gas != GasMeteringKind::None) instance.set_gas(kGasBudget);
  auto interrupt = instance.run();
  if (!interrupt) return interrupt.error();
  if (interrupt->kind == Interrupt::Kind::Ecalli) {
    auto imports = instance.module().imports();
    std::string name = interrupt->hostcall < imports.size() ? imports[interrupt->hostcall] : "?";
    return Error(fmt::format("the program called the import '{}' (ecalli {}); benchtool's programs import nothing",
                             name, interrupt->hostcall));
  }
  if (interrupt->kind != Interrupt::Kind::Finished)
    return Error(fmt::format("run({}) ended with {}", arg, polkavm::to_string(*interrupt)));
  return static_cast<uint32_t>(instance.reg(Reg::A0));
}

}  // namespace

const polkavm::Engine* Engines::get(polkavm::BackendKind backend, std::string* why_not) {
  auto it = entries_.find(backend);
  if (it == entries_.end()) {
    Entry entry;
    polkavm::Config config = base_;
    config.backend = backend;
    auto engine = polkavm::Engine::create(config);
    if (!engine) {
      entry.error = engine.error().message();
    } else if (engine->backend() != backend) {
      entry.error = fmt::format("asked for the {} backend, got the {}", polkavm::backend_name(backend),
                                polkavm::backend_name(engine->backend()));
    } else {
      entry.engine = *engine;
    }
    it = entries_.emplace(backend, std::move(entry)).first;
  }
  if (!it->second.engine) {
    *why_not = it->second.error;
    return nullptr;
  }
  return &*it->second.engine;
}

namespace {

class VmRunner final : public Runner {
 public:
  VmRunner(Measurement row, std::shared_ptr<const GuestBlob> blob, const polkavm::Engine* engine,
           const Runner& reference, const Settings& settings)
      : Runner(std::move(row), settings.min_batch_seconds), blob_(std::move(blob)), engine_(engine),
        gas_(*row_.gas), reference_(reference), arg_(settings.arg) {
    config_.gas_metering = gas_;
  }

 private:
  Result<void> do_oneshot() override {
    double start = now_seconds();
    auto module = polkavm::Module::create(*engine_, config_, *blob_->bytes);
    double compile = seconds_since(start);
    if (!module)
      return Error(fmt::format("cannot create a module from {}: {}", blob_->path.string(), module.error().message()));
    auto export_pc = module->export_pc("run");
    if (!export_pc) return Error(fmt::format("{} has no export named 'run'", blob_->path.string()));
    auto instance = module->instantiate();
    if (!instance)
      return Error(fmt::format("cannot instantiate {}: {}", blob_->path.string(), instance.error().message()));
    auto result = call_run(*instance, *export_pc, arg_, gas_);
    double oneshot = seconds_since(start);
    if (!result) return result.error();
    record_compile(compile);
    record_oneshot(oneshot);
    if (auto r = check(*result); !r) return r;
    // The instance stays for the execution samples: warm after its first call.
    warm_.emplace(std::move(*instance));
    pc_ = *export_pc;
    return {};
  }

  void release() override { warm_.reset(); }

  Result<uint64_t> do_warm_up(double min_batch_seconds) override {
    if (!warm_) return Error("no instance to time (no oneshot sample)");
    return calibrate_calls(min_batch_seconds, [this](uint64_t calls) { return calls_on_warm(calls); });
  }

  Result<double> do_sample(uint64_t calls) override {
    return time_batch(calls, [this](uint64_t n) { return calls_on_warm(n); });
  }

  Result<void> calls_on_warm(uint64_t calls) {
    for (uint64_t i = 0; i < calls; ++i) {
      auto result = call_run(*warm_, pc_, arg_, gas_);
      if (!result) return result.error();
      if (auto r = check(*result); !r) return r;
    }
    return {};
  }

  /// Every call must return the native twin's checksum (and the same as the calls before).
  Result<void> check(uint32_t got) {
    if (row_.checksum && *row_.checksum != got)
      return Error(fmt::format("run({}) returned {} then {}", arg_, *row_.checksum, got));
    row_.checksum = got;
    const auto& expected = reference_.row().checksum;
    if (!expected) return Error("not checked: the native row has no checksum");
    if (got != *expected)
      return Error(fmt::format("checksum mismatch: {} returned {}, the native twin {}",
                               blob_->path.filename().string(), got, *expected));
    return {};
  }

  std::shared_ptr<const GuestBlob> blob_;
  const polkavm::Engine* engine_;
  GasMeteringKind gas_;
  const Runner& reference_;
  uint32_t arg_;
  polkavm::ModuleConfig config_;
  std::optional<RawInstance> warm_;
  uint32_t pc_ = 0;
};

}  // namespace

std::unique_ptr<Runner> vm_runner(const std::string& program, bool rv32, std::shared_ptr<const GuestBlob> blob,
                                  Engines& engines, polkavm::BackendKind backend, GasMeteringKind gas,
                                  const Runner& reference, const Settings& settings) {
  Measurement row;
  row.program = program;
  row.rv32 = rv32;
  row.runner = std::string(polkavm::backend_name(backend));
  row.gas = gas;
  std::string why_not;
  const polkavm::Engine* engine = engines.get(backend, &why_not);
  if (!blob->bytes)
    row.error = fmt::format("guest blob {} not found: build it with `cmake --build <build dir> --target {}`",
                            blob->path.string(), blob->target);
  else if (!engine)
    row.skipped = fmt::format("{} backend unavailable: {}", row.runner, why_not);
  return std::make_unique<VmRunner>(std::move(row), std::move(blob), engine, reference, settings);
}

}  // namespace benchtool
