// One guest blob on one backend with one gas metering mode.
//
//   compile    Module::create from the blob's bytes (parsing, validation and, on the compiler, the
//              translation to machine code), best of N;
//   oneshot    compile + instantiate + one call of run(ARG), best of N (each on a new module);
//   execution  one call (prepare_call + run) on the warm instance the last oneshot left behind, best of
//              N samples; calls shorter than --min-batch are timed in batches.
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
    polkavm::Config config;
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

Measurement measure_vm(const std::string& program, bool rv32, const std::filesystem::path& blob_path,
                       const std::vector<uint8_t>& blob_bytes, Engines& engines, polkavm::BackendKind backend,
                       GasMeteringKind gas, std::optional<uint32_t> expected, const Settings& settings) {
  Measurement row;
  row.program = program;
  row.rv32 = rv32;
  row.runner = std::string(polkavm::backend_name(backend));
  row.gas = gas;

  std::string why_not;
  const polkavm::Engine* engine = engines.get(backend, &why_not);
  if (!engine) {
    row.skipped = fmt::format("{} backend unavailable: {}", row.runner, why_not);
    return row;
  }
  polkavm::ModuleConfig config;
  config.gas_metering = gas;

  // The result of every call must be the native twin's checksum.
  auto check = [&](uint32_t got) -> Result<void> {
    if (row.checksum && *row.checksum != got)
      return Error(fmt::format("run({}) returned {} then {}", settings.arg, *row.checksum, got));
    row.checksum = got;
    if (expected && got != *expected)
      return Error(fmt::format("checksum mismatch: {} returned {}, the native twin {}", blob_path.filename().string(),
                               got, *expected));
    return {};
  };

  std::optional<RawInstance> warm;
  uint32_t pc = 0;
  for (unsigned i = 0; i < settings.repetitions; ++i) {
    double start = now_seconds();
    auto module = polkavm::Module::create(*engine, config, blob_bytes);
    double compile = seconds_since(start);
    if (!module) {
      row.error = fmt::format("cannot create a module from {}: {}", blob_path.string(), module.error().message());
      return row;
    }
    auto export_pc = module->export_pc("run");
    if (!export_pc) {
      row.error = fmt::format("{} has no export named 'run'", blob_path.string());
      return row;
    }
    pc = *export_pc;
    auto instance = module->instantiate();
    if (!instance) {
      row.error = fmt::format("cannot instantiate {}: {}", blob_path.string(), instance.error().message());
      return row;
    }
    auto result = call_run(*instance, pc, settings.arg, gas);
    double oneshot = seconds_since(start);
    if (!result) {
      row.error = result.error().message();
      return row;
    }
    row.compile = std::min(row.compile.value_or(compile), compile);
    row.oneshot = std::min(row.oneshot.value_or(oneshot), oneshot);
    if (auto r = check(*result); !r) {
      row.error = r.error().message();
      return row;
    }
    warm.emplace(std::move(*instance));
  }
  if (!warm) {
    row.error = "no repetitions";
    return row;
  }

  std::function<Result<void>(uint64_t)> sample = [&](uint64_t calls) -> Result<void> {
    for (uint64_t i = 0; i < calls; ++i) {
      auto result = call_run(*warm, pc, settings.arg, gas);
      if (!result) return result.error();
      if (auto r = check(*result); !r) return r;
    }
    return {};
  };
  auto calls = calibrate_calls(settings.min_batch_seconds, sample);
  if (!calls) {
    row.error = calls.error().message();
    return row;
  }
  auto timing = time_samples(settings.repetitions, *calls, sample);
  if (!timing) {
    row.error = timing.error().message();
    return row;
  }
  row.execution = *timing;
  if (!expected) row.error = "not checked: the native row has no checksum";
  return row;
}

}  // namespace benchtool
