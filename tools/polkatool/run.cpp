#include "run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "blob_file.hpp"
#include "polkavm/debug_info.hpp"
#include "polkavm/disassembler.hpp"
#include "polkavm/runtime.hpp"
#include "../common/cli_enums.hpp"

namespace polkatool {
namespace {

using polkavm::Error;
using polkavm::Gas;
using polkavm::GasMeteringKind;
using polkavm::Interrupt;
using polkavm::RawInstance;
using polkavm::Reg;
using polkavm::Result;
using Clock = std::chrono::steady_clock;

/// Decimal, 0x-prefixed hex, or negative (stored as two's complement).
Result<uint64_t> parse_integer(std::string_view text) {
  std::string_view digits = text;
  bool negative = digits.starts_with('-');
  if (negative) digits.remove_prefix(1);
  int base = 10;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    digits.remove_prefix(2);
    base = 16;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return Error(fmt::format("'{}' is not an integer", text));
  return negative ? 0 - value : value;
}

/// The command line, checked and converted.
struct CallPlan {
  std::vector<uint64_t> args;
  std::map<std::string, uint64_t, std::less<>> stubs;
  GasMeteringKind metering = GasMeteringKind::None;
  Gas gas = 0;
};

Result<CallPlan> plan_call(const RunArgs& args) {
  CallPlan plan;
  if (args.args.size() > polkavm::kArgRegs.size())
    return Error(fmt::format("at most {} arguments can be passed, got {}", polkavm::kArgRegs.size(), args.args.size()));
  for (const auto& text : args.args) {
    auto value = parse_integer(text);
    if (!value) return Error(fmt::format("bad --args value: {}", value.error().message()));
    plan.args.push_back(*value);
  }
  for (const auto& stub : args.stubs) {
    auto separator = stub.find('=');
    if (separator == std::string::npos || separator == 0)
      return Error(fmt::format("bad --stub '{}': expected IMPORT=VALUE", stub));
    auto value = parse_integer(std::string_view(stub).substr(separator + 1));
    if (!value) return Error(fmt::format("bad --stub '{}': {}", stub, value.error().message()));
    plan.stubs[stub.substr(0, separator)] = *value;
  }
  plan.metering = args.gas_metering.value_or(args.gas ? GasMeteringKind::Sync : GasMeteringKind::None);
  if (plan.metering != GasMeteringKind::None && !args.gas)
    return Error("gas metering needs a gas limit: pass --gas N");
  plan.gas = args.gas.value_or(0);
  return plan;
}

/// Prints each step: the registers the previous instruction changed, then the next instruction.
class Tracer {
 public:
  explicit Tracer(const RawInstance& instance) { regs_ = snapshot(instance); }

  void step(const RawInstance& instance) {
    changes(instance);
    auto pc = instance.program_counter();
    if (!pc) return;
    auto insn = instance.module().code().decode(*pc);
    fmt::print("{:>6}: {}\n", *pc, polkavm::disassemble_instruction(insn, instance.module().isa()));
  }
  void changes(const RawInstance& instance) {
    auto now = snapshot(instance);
    for (int i = 0; i < polkavm::kRegCount; ++i)
      if (now[i] != regs_[i]) fmt::print("        {} = 0x{:x} (was 0x{:x})\n", polkavm::kRegNames[i], now[i], regs_[i]);
    regs_ = now;
  }

 private:
  static std::array<uint64_t, polkavm::kRegCount> snapshot(const RawInstance& instance) {
    std::array<uint64_t, polkavm::kRegCount> regs{};
    for (int i = 0; i < polkavm::kRegCount; ++i) regs[i] = instance.reg(static_cast<Reg>(i));
    return regs;
  }
  std::array<uint64_t, polkavm::kRegCount> regs_{};
};

struct CallOutcome {
  Interrupt interrupt;
  std::optional<uint32_t> pc;  // the interrupted instruction
  std::string location;        // its source location, when the blob has debug information
  uint64_t a0 = 0;
  uint64_t a1 = 0;
  Gas gas_used = 0;
  double compile = 0, instantiate = 0, execute = 0;  // seconds
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Answers ecalli with the stubbed values until the program stops for another reason.
Result<Interrupt> execute(RawInstance& instance, const CallPlan& plan, Tracer* tracer) {
  auto imports = instance.module().imports();
  while (true) {
    auto interrupt = instance.run();
    if (!interrupt) return interrupt.error();
    if (interrupt->kind == Interrupt::Kind::Step) {
      if (tracer) tracer->step(instance);
      continue;
    }
    if (tracer) tracer->changes(instance);
    if (interrupt->kind != Interrupt::Kind::Ecalli) return interrupt;
    uint32_t index = interrupt->hostcall;
    if (index >= imports.size())
      return Error(fmt::format("the program made ecalli {}, but it has only {} imports", index, imports.size()));
    const std::string& symbol = imports[index];
    auto stub = plan.stubs.find(symbol);
    if (stub == plan.stubs.end())
      return Error(fmt::format("the program called import '{}' (ecalli {}); give it a result with --stub {}=VALUE",
                               symbol, index, symbol));
    instance.set_reg(Reg::A0, stub->second);
  }
}

Result<CallOutcome> call_once(const polkavm::Engine& engine, const polkavm::ProgramBlob& blob, const RunArgs& args,
                              const CallPlan& plan, bool trace) {
  CallOutcome outcome;
  polkavm::ModuleConfig config;
  config.gas_metering = plan.metering;
  config.step_tracing = trace;

  auto start = Clock::now();
  auto module = polkavm::Module::from_blob(engine, config, blob);
  outcome.compile = seconds_since(start);
  if (!module) return Error(fmt::format("failed to load the program: {}", module.error().message()));

  auto pc = module->export_pc(args.call);
  if (!pc) {
    std::string names;
    for (const auto& e : module->exports()) names += fmt::format("{}'{}'", names.empty() ? "" : ", ", e.symbol);
    return Error(fmt::format("no export named '{}' (exports: {})", args.call, names.empty() ? "none" : names));
  }

  start = Clock::now();
  auto instance = module->instantiate();
  outcome.instantiate = seconds_since(start);
  if (!instance) return Error(fmt::format("failed to instantiate: {}", instance.error().message()));

  if (auto r = instance->prepare_call(*pc, plan.args); !r) return r.error();
  if (plan.metering != GasMeteringKind::None) instance->set_gas(plan.gas);

  std::optional<Tracer> tracer;
  if (trace) tracer.emplace(*instance);
  start = Clock::now();
  auto interrupt = execute(*instance, plan, tracer ? &*tracer : nullptr);
  outcome.execute = seconds_since(start);
  if (!interrupt) return interrupt.error();

  outcome.interrupt = *interrupt;
  outcome.pc = instance->program_counter();
  if (outcome.pc && interrupt->kind != Interrupt::Kind::Finished) {
    if (auto found = polkavm::source_location(blob, *outcome.pc); found && *found)
      outcome.location = polkavm::to_string(**found);
  }
  outcome.a0 = instance->reg(Reg::A0);
  outcome.a1 = instance->reg(Reg::A1);
  if (plan.metering != GasMeteringKind::None) outcome.gas_used = plan.gas - instance->gas();
  return outcome;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

}  // namespace

int run_command(const RunArgs& args) {
  auto plan = plan_call(args);
  if (!plan) return fail(plan.error().message());
  auto blob = load_blob(args.blob);
  if (!blob) return fail(blob.error().message());

  // The environment's POLKAVM_* settings, with the command line's --backend and --sandbox over them.
  auto config = polkavm::cli::config_from_env(args.sandbox);
  if (!config) return fail(config.error().message());
  if (args.backend) config->backend = *args.backend;
  auto engine = polkavm::Engine::create(*config);
  if (!engine) return fail(engine.error().message());

  std::vector<CallOutcome> outcomes;
  for (unsigned i = 0; i < std::max(args.repeat, 1u); ++i) {
    // Only the first call is traced, so a repeated run prints one trace.
    auto outcome = call_once(*engine, *blob, args, *plan, args.trace && i == 0);
    if (!outcome) return fail(outcome.error().message());
    outcomes.push_back(*outcome);
  }

  const CallOutcome& last = outcomes.back();
  fmt::print("interrupt: {}", polkavm::to_string(last.interrupt));
  if (last.pc && last.interrupt.kind != Interrupt::Kind::Finished) fmt::print(" at pc 0x{:x}", *last.pc);
  if (!last.location.empty()) fmt::print(" ({})", last.location);
  fmt::print("\n");
  fmt::print("a0 = 0x{:x} ({})\n", last.a0, last.a0);
  fmt::print("a1 = 0x{:x} ({})\n", last.a1, last.a1);
  if (plan->metering != GasMeteringKind::None) fmt::print("gas used: {}\n", last.gas_used);
  if (args.timings) {
    auto phase = [&](double CallOutcome::*field) {
      std::vector<double> values;
      for (const auto& o : outcomes) values.push_back(o.*field);
      return median(std::move(values));
    };
    fmt::print("timings: compile={:.6f} instantiate={:.6f} execute={:.6f}\n", phase(&CallOutcome::compile),
               phase(&CallOutcome::instantiate), phase(&CallOutcome::execute));
  }
  // A program that did not finish (a trap, running out of gas, a fault) is a failed run.
  return last.interrupt.kind == Interrupt::Kind::Finished ? 0 : 1;
}

}  // namespace polkatool
