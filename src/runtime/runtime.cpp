// Engine, Module and RawInstance: the embedding API over the backends.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "polkavm/runtime.hpp"
#include "runtime/backend.hpp"

namespace polkavm {

namespace detail {
struct InstanceData {
  VmState state;
  std::unique_ptr<GuestMemory> memory;
  std::unique_ptr<InstanceBackend> backend;
};
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Config

std::string_view backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::Auto: return "auto";
    case BackendKind::Interpreter: return "interpreter";
    case BackendKind::Compiler: return "compiler";
  }
  return "?";
}

std::optional<BackendKind> backend_from_name(std::string_view name) {
  for (BackendKind kind : kBackendKinds)
    if (backend_name(kind) == name) return kind;
  return std::nullopt;
}

std::string_view gas_metering_name(GasMeteringKind kind) {
  switch (kind) {
    case GasMeteringKind::None: return "none";
    case GasMeteringKind::Sync: return "sync";
    case GasMeteringKind::Async: return "async";
  }
  return "?";
}

namespace {

Result<bool> parse_env_bool(const char* name, const char* value) {
  std::string_view v(value);
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return Error(fmt::format("invalid value of {}: '{}' (expected 1, 0, true or false)", name, v));
}

Result<uint32_t> parse_env_u32(const char* name, const char* value) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(value, &end, 10);
  if (*value == '\0' || *end != '\0') return Error(fmt::format("invalid value of {}: '{}' (expected an integer)", name, value));
  return static_cast<uint32_t>(std::min<unsigned long long>(n, UINT32_MAX));
}

/// POLKAVM_DEFAULT_COST_MODEL: a model's name, or else the path of a serialised simple cost model.
Result<std::shared_ptr<const GasModel>> cost_model_from_env(std::string_view value) {
  if (value == "naive") return make_simple_gas_model(CostModel::naive());
  if (value == "full-l1-hit") return make_full_gas_model(CacheModel::L1Hit);
  if (value == "full-l2-hit") return make_full_gas_model(CacheModel::L2Hit);
  if (value == "full-l3-hit") return make_full_gas_model(CacheModel::L3Hit);
  std::ifstream file{std::string(value), std::ios::binary};
  if (!file) return Error(fmt::format("failed to read gas cost model from '{}': cannot open the file", value));
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) return Error(fmt::format("failed to read gas cost model from '{}': read error", value));
  auto model = CostModel::deserialize(bytes);
  if (!model) return Error(fmt::format("failed to read gas cost model from '{}': the cost model blob is invalid", value));
  return make_simple_gas_model(*model);
}

}  // namespace

Result<Config> Config::from_env() {
  Config config;
  if (const char* v = std::getenv("POLKAVM_BACKEND")) {
    std::optional<BackendKind> kind = backend_from_name(v);
    if (!kind) return Error(fmt::format("invalid value of POLKAVM_BACKEND: '{}' (expected auto, compiler or interpreter)", v));
    config.backend = *kind;
  }
  if (const char* v = std::getenv("POLKAVM_SANDBOX")) {
    std::string_view s(v);
    if (s == "auto") config.sandbox = SandboxKind::Auto;
    else if (s == "linux") config.sandbox = SandboxKind::Linux;
    else if (s == "generic") config.sandbox = SandboxKind::Generic;
    else return Error(fmt::format("invalid value of POLKAVM_SANDBOX: '{}' (expected auto, linux or generic)", s));
  }
  struct BoolVar {
    const char* name;
    bool* field;
  };
  for (BoolVar var : {BoolVar{"POLKAVM_CROSSCHECK", &config.crosscheck},
                      BoolVar{"POLKAVM_ALLOW_EXPERIMENTAL", &config.allow_experimental},
                      BoolVar{"POLKAVM_CACHE_ENABLED", &config.cache_enabled},
                      BoolVar{"POLKAVM_SANDBOXING_ENABLED", &config.sandboxing_enabled}}) {
    if (const char* v = std::getenv(var.name)) {
      Result<bool> b = parse_env_bool(var.name, v);
      if (!b) return b.error();
      *var.field = *b;
    }
  }
  if (const char* v = std::getenv("POLKAVM_WORKER_COUNT")) {
    Result<uint32_t> n = parse_env_u32("POLKAVM_WORKER_COUNT", v);
    if (!n) return n.error();
    config.worker_count = *n;
  }
  if (const char* v = std::getenv("POLKAVM_LRU_CACHE_SIZE")) {
    Result<uint32_t> n = parse_env_u32("POLKAVM_LRU_CACHE_SIZE", v);
    if (!n) return n.error();
    config.lru_cache_size = *n;
  }
  if (const char* v = std::getenv("POLKAVM_DEFAULT_COST_MODEL")) {
    auto model = cost_model_from_env(v);
    if (!model) return model.error();
    config.default_cost_model = std::move(model).value();
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Engine

Result<Engine> Engine::create(const Config& config) {
  if (config.crosscheck && !config.allow_experimental)
    return Error("cannot enable execution cross-checking: `allow_experimental` is not enabled");
  if (!config.sandboxing_enabled && !config.allow_experimental)
    return Error("cannot disable sandboxing: `allow_experimental` is not enabled");
  // Only the full model may be chosen freely: any simple model, the naive one included, is experimental.
  if (config.default_cost_model && config.default_cost_model->simple_cost_model() && !config.allow_experimental)
    return Error("cannot override the default gas cost model: `allow_experimental` is not enabled");
  auto state = std::make_shared<detail::EngineState>();
  state->config = config;
  switch (config.backend) {
    // Auto: the compiler where the CPU runs it, else the interpreter.
    case BackendKind::Auto:
      state->backend = detail::compiler_unsupported_reason() ? BackendKind::Interpreter : BackendKind::Compiler;
      break;
    case BackendKind::Interpreter: state->backend = BackendKind::Interpreter; break;
    case BackendKind::Compiler:
      if (std::optional<std::string> reason = detail::compiler_unsupported_reason())
        return Error("the 'compiler' backend is not supported on this host: " + *reason);
      state->backend = BackendKind::Compiler;
      break;
  }
  Engine engine;
  engine.state_ = std::move(state);
  return engine;
}

BackendKind Engine::backend() const { return state_->backend; }
const Config& Engine::config() const { return state_->config; }

// ---------------------------------------------------------------------------------------------
// Module

namespace {

/// The reference's strict checks (api.rs): jump-table entries and exports must lie inside the code. They
/// need not start a basic block: an export in the middle of a block is where a test may expect to stop.
Result<void> check_strict(const ProgramBlob& blob) {
  const size_t code_size = blob.code().size();
  for (uint32_t target : blob.jump_table())
    if (target >= code_size) return Error("out of range jump table entry found");
  for (const ProgramExport& e : blob.exports)
    if (e.pc >= code_size)
      return Error(fmt::format("out of range export found; export {} points to code offset {}, while the code "
                               "blob is only {} bytes", e.symbol, e.pc, code_size));
  return {};
}

}  // namespace

Result<Module> Module::create(const Engine& engine, const ModuleConfig& config, std::span<const uint8_t> bytes) {
  Result<ProgramBlob> blob = ProgramBlob::parse(bytes);
  if (!blob) return blob.error();
  return from_blob(engine, config, std::move(blob).value());
}

Result<Module> Module::from_blob(const Engine& engine, const ModuleConfig& config, ProgramBlob blob) {
  if (config.dynamic_paging && !engine.config().allow_dynamic_paging)
    return Error("dynamic paging was not enabled; set `Config::allow_dynamic_paging` to enable it");
  const CodeView code(blob);
  if (blob.isa == InstructionSet::JamV1)
    if (std::optional<std::string> problem = code.validate()) return Error("invalid JAM program: " + *problem);
  Result<MemoryMap> map =
      MemoryMap::build(config.page_size, blob.ro_data_size, blob.rw_data_size, blob.stack_size, config.aux_data_size);
  if (!map) return map.error();
  if (config.strict)
    if (auto r = check_strict(blob); !r) return r.error();

  auto state = std::make_shared<detail::ModuleState>();
  state->engine = engine.state_;
  state->config = config;
  state->gas_metering = config.gas_metering.value_or(engine.config().default_gas_metering);
  state->memory_map = *map;
  state->gas_model = config.cost_model        ? config.cost_model
                     : engine.config().default_cost_model ? engine.config().default_cost_model
                                                          : make_simple_gas_model(CostModel::naive());
  state->blob = std::move(blob);
  if (engine.backend() == BackendKind::Compiler)
    if (Result<void> compiled = detail::compile_module(*state); !compiled) return compiled.error();
  Module module;
  module.state_ = std::move(state);
  return module;
}

const ProgramBlob& Module::blob() const { return state_->blob; }
const ModuleConfig& Module::config() const { return state_->config; }
const MemoryMap& Module::memory_map() const { return state_->memory_map; }
GasMeteringKind Module::gas_metering() const { return state_->gas_metering; }

std::optional<uint32_t> Module::export_pc(std::string_view symbol) const {
  for (const ProgramExport& e : blob().exports)
    if (e.symbol == symbol) return e.pc;
  return std::nullopt;
}

std::optional<Gas> Module::gas_cost_for_block(uint32_t pc) const {
  const CodeView view = code();
  if (!view.is_jump_target_valid(pc)) return std::nullopt;
  std::vector<Instruction> block;
  view.decode_block(pc, block);
  return state_->gas_model->block_cost(view, block);
}

std::vector<std::pair<uint32_t, Gas>> Module::block_gas_costs() const {
  const CodeView view = code();
  std::vector<std::pair<uint32_t, Gas>> costs;
  std::vector<Instruction> block;
  for (uint32_t pc = 0; pc < view.size();) {
    if (!view.is_instruction_boundary(pc)) {
      ++pc;
      continue;
    }
    view.decode_block(pc, block);
    costs.emplace_back(pc, state_->gas_model->block_cost(view, block));
    const Instruction& last = block.back();
    pc = last.valid ? last.next_pc() : last.pc + 1;
  }
  return costs;
}

Result<RawInstance> Module::instantiate() const {
  auto data = std::make_unique<detail::InstanceData>();
  Result<std::unique_ptr<detail::GuestMemory>> memory =
      detail::GuestMemory::create(state_->memory_map, state_->blob, state_->config.dynamic_paging);
  if (!memory) return memory.error();
  data->memory = std::move(memory).value();
  data->state.step_tracing = state_->config.step_tracing;
  data->backend = state_->engine->backend == BackendKind::Compiler ? detail::make_compiler(state_)
                                                                    : detail::make_interpreter(state_);
  return RawInstance(*this, std::move(data));
}

// ---------------------------------------------------------------------------------------------
// RawInstance

RawInstance::RawInstance(Module module, std::unique_ptr<detail::InstanceData> data)
    : module_(std::move(module)), data_(std::move(data)) {}
RawInstance::RawInstance(RawInstance&&) noexcept = default;
RawInstance& RawInstance::operator=(RawInstance&&) noexcept = default;
RawInstance::~RawInstance() = default;

Result<Interrupt> RawInstance::run() {
  detail::VmState& state = data_->state;
  if (!state.next_program_counter) return Error("failed to run: next program counter is not set");
  const bool metered = module_.gas_metering() != GasMeteringKind::None;
  if (metered && state.gas < 0) return Interrupt::not_enough_gas();
  Interrupt interrupt = data_->backend->run(state, *data_->memory);
  if (metered && state.gas < 0) {
    state.next_program_counter.reset();
    return Interrupt::not_enough_gas();
  }
  return interrupt;
}

uint64_t RawInstance::reg(Reg r) const {
  if (static_cast<size_t>(r) >= kRegCount) return 0;  // not a register: nothing to read
  uint64_t value = data_->state.regs[static_cast<size_t>(r)];
  return module_.is_64_bit() ? value : value & 0xFFFFFFFFu;
}

void RawInstance::set_reg(Reg r, uint64_t value) {
  if (static_cast<size_t>(r) >= kRegCount) return;  // not a register: never write past the register file
  // 32-bit programs keep registers sign-extended, as the reference's interpreter does.
  if (!module_.is_64_bit()) value = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value)));
  data_->state.regs[static_cast<size_t>(r)] = value;
}

void RawInstance::clear_regs() { data_->state.regs.fill(0); }
Gas RawInstance::gas() const { return data_->state.gas; }
void RawInstance::set_gas(Gas gas) { data_->state.gas = gas; }
std::optional<uint32_t> RawInstance::program_counter() const { return data_->state.program_counter; }
std::optional<uint32_t> RawInstance::next_program_counter() const { return data_->state.next_program_counter; }

void RawInstance::set_next_program_counter(uint32_t pc) {
  data_->state.next_program_counter = pc;
  data_->state.next_pc_changed = true;
}

Result<void> RawInstance::prepare_call(uint32_t pc, std::span<const uint64_t> args) {
  if (args.size() > kArgRegs.size())
    return Error(fmt::format("too many arguments: {} (at most {})", args.size(), kArgRegs.size()));
  clear_regs();
  set_reg(Reg::RA, kReturnToHost);
  set_reg(Reg::SP, module_.default_sp());
  for (size_t i = 0; i < args.size(); ++i) set_reg(kArgRegs[i], args[i]);
  set_next_program_counter(pc);
  return {};
}

Result<void> RawInstance::read_memory_into(uint32_t address, std::span<uint8_t> out) const {
  return data_->memory->read(address, out);
}

Result<std::vector<uint8_t>> RawInstance::read_memory(uint32_t address, uint32_t length) const {
  // Checked before allocating: a bad length must not cost gigabytes.
  if (length != 0)
    if (auto r = data_->memory->check_host_access(address, length, detail::kPermRead); !r) return r.error();
  std::vector<uint8_t> out(length);
  if (auto r = data_->memory->read(address, out); !r) return r.error();
  return out;
}

Result<void> RawInstance::write_memory(uint32_t address, std::span<const uint8_t> data) {
  return data_->memory->write(address, data);
}

Result<void> RawInstance::zero_memory(uint32_t address, uint32_t length) { return data_->memory->zero(address, length); }

bool RawInstance::is_memory_accessible(uint32_t address, uint32_t length, MemoryProtection protection) const {
  return data_->memory->is_accessible(address, length, protection);
}

Result<void> RawInstance::zero_memory_with_memory_protection(uint32_t address, uint32_t length,
                                                             MemoryProtection protection) {
  return data_->memory->map_pages(address, length, protection);
}

Result<void> RawInstance::protect_memory(uint32_t address, uint32_t length) {
  return data_->memory->set_protection(address, length, true);
}

Result<void> RawInstance::unprotect_memory(uint32_t address, uint32_t length) {
  return data_->memory->set_protection(address, length, false);
}

Result<void> RawInstance::free_pages(uint32_t address, uint32_t length) {
  return data_->memory->free_pages(address, length);
}

Result<void> RawInstance::reset_memory() { return data_->memory->reset(); }
uint32_t RawInstance::heap_size() const { return data_->memory->heap_size(); }
std::optional<uint32_t> RawInstance::sbrk(uint32_t size) { return data_->memory->sbrk(size); }

void RawInstance::set_step_tracing(bool enabled) {
  if (data_->state.step_tracing == enabled) return;
  data_->state.step_tracing = enabled;
  data_->backend->invalidate();
}

bool RawInstance::step_tracing() const { return data_->state.step_tracing; }

std::string to_string(const Interrupt& interrupt) {
  switch (interrupt.kind) {
    case Interrupt::Kind::Finished: return "finished";
    case Interrupt::Kind::Trap: return "trap";
    case Interrupt::Kind::Ecalli: return fmt::format("ecalli({})", interrupt.hostcall);
    case Interrupt::Kind::Segfault:
      return fmt::format("segfault(0x{:x}{})", interrupt.segfault.page_address,
                         interrupt.segfault.is_write_protected ? ", write-protected" : "");
    case Interrupt::Kind::NotEnoughGas: return "not-enough-gas";
    case Interrupt::Kind::Step: return "step";
  }
  return "?";
}

}  // namespace polkavm
