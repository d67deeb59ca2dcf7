#include "differential.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "polkavm/disassembler.hpp"

namespace polkavm::fuzz {

std::optional<ExecutionConfig> ExecutionConfig::from_name(std::string_view name) {
  for (ExecutionConfig config : {interpreter(), interpreter_step_tracing(), compiler(), compiler_step_tracing()})
    if (config.name == name) return config;
  return std::nullopt;
}

namespace {

constexpr uint32_t kMaxComparedHeapPages = 16;  // a huge sbrk must not make every comparison read gigabytes

/// What the host can see of an instance after run() returned.
struct Observation {
  std::string error;  // run() itself failed
  Interrupt interrupt;
  std::optional<uint32_t> pc, next_pc;
  std::array<uint64_t, kRegCount> regs{};
  Gas gas = 0;
  uint32_t heap_size = 0;
  std::vector<uint32_t> page_addresses;                  // the pages compared, in order
  std::vector<std::optional<std::vector<uint8_t>>> pages;  // nothing: not readable
};

std::string optional_hex(std::optional<uint32_t> v) { return v ? fmt::format("0x{:x}", *v) : "none"; }

/// The writable pages: RW data plus the heap (capped), and the stack.
std::vector<uint32_t> writable_pages(const RawInstance& instance) {
  const MemoryMap& map = instance.module().memory_map();
  const uint64_t page = map.page_size;
  const uint64_t rw_end = uint64_t{map.rw_data_address} + map.rw_data_size;
  const uint64_t heap_end = (uint64_t{map.heap_base} + instance.heap_size() + page - 1) / page * page;
  const uint64_t end = std::min(std::max(rw_end, heap_end), rw_end + kMaxComparedHeapPages * page);
  std::vector<uint32_t> pages;
  for (uint64_t a = map.rw_data_address; a < end; a += page) pages.push_back(static_cast<uint32_t>(a));
  for (uint64_t a = map.stack_address_low; a < map.stack_address_high; a += page) pages.push_back(static_cast<uint32_t>(a));
  return pages;
}

Observation observe(const RawInstance& instance, const Result<Interrupt>& result) {
  Observation o;
  if (!result) o.error = result.error().message();
  else o.interrupt = *result;
  o.pc = instance.program_counter();
  o.next_pc = instance.next_program_counter();
  for (int r = 0; r < kRegCount; ++r) o.regs[r] = instance.reg(static_cast<Reg>(r));
  o.gas = instance.gas();
  o.heap_size = instance.heap_size();
  const uint32_t page = instance.module().memory_map().page_size;
  o.page_addresses = writable_pages(instance);
  for (uint32_t address : o.page_addresses) {
    std::vector<uint8_t> bytes(page);
    if (instance.read_memory_into(address, bytes)) o.pages.emplace_back(std::move(bytes));
    else o.pages.emplace_back(std::nullopt);
  }
  return o;
}

std::optional<Divergence> compare(const Observation& a, const Observation& b, size_t exit_index) {
  auto diff = [&](std::string field, std::string va, std::string vb) -> std::optional<Divergence> {
    if (va == vb) return std::nullopt;
    return Divergence{exit_index, std::move(field), std::move(va), std::move(vb)};
  };
  if (auto d = diff("run error", a.error, b.error)) return d;
  if (auto d = diff("interrupt", to_string(a.interrupt), to_string(b.interrupt))) return d;
  if (auto d = diff("pc", optional_hex(a.pc), optional_hex(b.pc))) return d;
  if (auto d = diff("next pc", optional_hex(a.next_pc), optional_hex(b.next_pc))) return d;
  for (int r = 0; r < kRegCount; ++r)
    if (auto d = diff(std::string(kRegNames[r]), fmt::format("0x{:x}", a.regs[r]), fmt::format("0x{:x}", b.regs[r])))
      return d;
  if (auto d = diff("gas", std::to_string(a.gas), std::to_string(b.gas))) return d;
  if (auto d = diff("heap size", fmt::format("0x{:x}", a.heap_size), fmt::format("0x{:x}", b.heap_size))) return d;
  // Both sides have the same memory map and heap size here, so the page lists match.
  for (size_t i = 0; i < a.pages.size() && i < b.pages.size(); ++i) {
    const auto& pa = a.pages[i];
    const auto& pb = b.pages[i];
    const std::string field = fmt::format("memory page 0x{:x}", a.page_addresses[i]);
    if (auto d = diff(field + " readable", pa ? "yes" : "no", pb ? "yes" : "no")) return d;
    if (!pa || *pa == *pb) continue;
    const size_t at = static_cast<size_t>(std::mismatch(pa->begin(), pa->end(), pb->begin()).first - pa->begin());
    return Divergence{exit_index, fmt::format("memory 0x{:x}", a.page_addresses[i] + at),
                      fmt::format("0x{:02x}", (*pa)[at]), fmt::format("0x{:02x}", (*pb)[at])};
  }
  return std::nullopt;
}

/// A value derived from the seed and the exit, so that both sides (and reruns) get the same answer.
uint64_t host_value(uint64_t seed, size_t exit_index, uint64_t salt) {
  Rng rng(seed ^ (exit_index * 0x9E3779B97F4A7C15ull) ^ (salt << 32));
  return rng.next();
}

std::shared_ptr<const GasModel> full_model() {
  static const auto model = make_full_gas_model(CacheModel::L2Hit);
  return model;
}

struct Side {
  const ExecutionConfig& config;
  RawInstance instance;
};

Result<Side> start(const Engine& engine, const ExecutionConfig& config, const ProgramSpec& spec,
                   const BuiltProgram& program) {
  ModuleConfig module_config;
  module_config.gas_metering = spec.gas_metering;
  module_config.step_tracing = config.step_tracing;
  if (spec.full_cost_model) module_config.cost_model = full_model();
  auto module = Module::from_blob(engine, module_config, program.blob);
  if (!module) return Error(fmt::format("{}: {}", config.name, module.error().message()));
  auto instance = module->instantiate();
  if (!instance) return Error(fmt::format("{}: {}", config.name, instance.error().message()));
  for (int r = 0; r < kRegCount; ++r) instance->set_reg(static_cast<Reg>(r), spec.regs[r]);
  instance->set_gas(spec.gas);
  instance->set_next_program_counter(program.entry_pc);
  if (config.perturb) config.perturb(*instance);
  return Side{config, std::move(instance).value()};
}

/// Runs to the next interrupt the other side must also see: Step interrupts of a tracing side are resumed.
Result<Interrupt> advance(Side& side, const RunLimits& limits) {
  for (uint64_t steps = 0;; ++steps) {
    Result<Interrupt> interrupt = side.instance.run();
    if (!interrupt || interrupt->kind != Interrupt::Kind::Step || !side.config.step_tracing) return interrupt;
    if (steps == limits.max_steps) return Error("too many steps");
  }
}

}  // namespace

Result<DifferentialRunner> DifferentialRunner::create(ConfigPair configs, RunLimits limits, const Config& base) {
  auto engine = [&base](const ExecutionConfig& c) {
    Config config = base;
    config.backend = c.backend;
    return Engine::create(config);
  };
  auto a = engine(configs.a);
  if (!a) return Error(fmt::format("{}: {}", configs.a.name, a.error().message()));
  auto b = engine(configs.b);
  if (!b) return Error(fmt::format("{}: {}", configs.b.name, b.error().message()));
  return DifferentialRunner(std::move(configs), limits, std::move(a).value(), std::move(b).value());
}

Result<RunOutcome> DifferentialRunner::run(const ProgramSpec& spec, const BuiltProgram& program) const {
  auto a = start(engine_a_, configs_.a, spec, program);
  if (!a) return a.error();
  auto b = start(engine_b_, configs_.b, spec, program);
  if (!b) return b.error();
  RunOutcome outcome;
  for (size_t exit = 0; exit < limits_.max_exits; ++exit) {
    const Result<Interrupt> ia = advance(*a, limits_);
    const Result<Interrupt> ib = advance(*b, limits_);
    const Observation oa = observe(a->instance, ia);
    outcome.divergence = compare(oa, observe(b->instance, ib), exit);
    if (outcome.divergence || !oa.error.empty()) break;
    outcome.interrupts.push_back(oa.interrupt);
    // Both stopped the same way: answer as a host would, identically on both sides.
    if (oa.interrupt.kind == Interrupt::Kind::Ecalli) {
      const uint64_t value = host_value(spec.seed, exit, oa.interrupt.hostcall);
      a->instance.set_reg(Reg::A0, value);
      b->instance.set_reg(Reg::A0, value);
    } else if (oa.interrupt.kind == Interrupt::Kind::NotEnoughGas && oa.next_pc) {  // sync: refuel, resume
      const Gas refill = static_cast<Gas>(host_value(spec.seed, exit, 0) % 200);
      a->instance.set_gas(refill);
      b->instance.set_gas(refill);
    } else {
      break;
    }
  }
  return outcome;
}

ProgramSpec DifferentialRunner::shrink(ProgramSpec spec) const {
  auto diverges = [&](const ProgramSpec& s) {
    auto r = run(s);
    return r.ok() && r->divergence.has_value();
  };
  for (bool progress = true; progress;) {
    progress = false;
    const std::vector<size_t> candidates = droppable_items(spec);
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it) {  // from the back: indexes stay valid
      ProgramSpec smaller = spec;
      smaller.items.erase(smaller.items.begin() + static_cast<std::ptrdiff_t>(*it));
      if (!diverges(smaller)) continue;
      spec = std::move(smaller);
      progress = true;
    }
  }
  return spec;
}

std::string describe_reproducer(const ConfigPair& configs, const ProgramSpec& spec, const Divergence& divergence) {
  const BuiltProgram program = build_program(spec);
  std::string out = fmt::format("divergence: seed {} ({} vs {})\n", spec.seed, configs.a.name, configs.b.name);
  out += fmt::format("  isa: {}, gas metering: {}, cost model: {}, gas: {}\n", instruction_set_name(spec.isa),
                     gas_metering_name(spec.gas_metering), spec.full_cost_model ? "full-l2-hit" : "naive", spec.gas);
  out += fmt::format("  RO data: {} bytes ({} initialised), RW data: {} bytes ({} initialised), stack: {} bytes\n",
                     spec.ro_data_size, spec.ro_data.size(), spec.rw_data_size, spec.rw_data.size(), spec.stack_size);
  out += fmt::format("  entry pc: {}\n  initial registers:", program.entry_pc);
  for (int r = 0; r < kRegCount; ++r) out += fmt::format(" {}=0x{:x}", kRegNames[r], spec.regs[r]);
  out += fmt::format("\n  after {} agreeing interrupt(s), {} differs: {} = {}, {} = {}\n", divergence.exit_index,
                     divergence.field, configs.a.name, divergence.value_a, configs.b.name, divergence.value_b);
  DisassemblyOptions options;
  options.show_raw_bytes = true;
  out += disassemble(program.blob, options);
  return out;
}

}  // namespace polkavm::fuzz
