// Engine, Module and RawInstance: the embedding API over the backends.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>

#include <fmt/format.h>

#include "polkavm/runtime.hpp"
#include "runtime/backend.hpp"
#include "runtime/module_cache.hpp"
#include "sandbox/linux/linux_sandbox.hpp"

namespace polkavm {

namespace detail {
struct InstanceData {
  std::unique_ptr<InstanceBackend> backend;
  /// Config::crosscheck: an interpreter running the same program beside the compiled code. The host's
  /// changes go to both; after every run the two must agree (see RawInstance::run).
  std::unique_ptr<InstanceBackend> crosscheck;
  /// A run ran out of memory (its translation may be half made): the instance cannot run again.
  bool out_of_memory = false;
};
}  // namespace detail

namespace {
/// Runs `f` (which returns a Result) so that no exception leaves the library: running out of memory becomes
/// an Error of kind ResourceExhausted (the library's own code throws nothing else; anything else is Other).
template <class F>
auto without_exceptions(const char* doing, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return Error(fmt::format("out of memory while {}", doing), ErrorKind::ResourceExhausted);
  } catch (const std::exception& e) {
    return Error(fmt::format("{} failed: {}", doing, e.what()));
  }
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// Config

namespace {
/// The value of `all` whose name (`name_of`) is `name`.
template <class Enum, size_t N>
std::optional<Enum> from_name(const Enum (&all)[N], std::string_view (*name_of)(Enum), std::string_view name) {
  for (Enum value : all)
    if (name_of(value) == name) return value;
  return std::nullopt;
}
}  // namespace

std::string_view backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::Auto: return "auto";
    case BackendKind::Interpreter: return "interpreter";
    case BackendKind::Compiler: return "compiler";
  }
  return "?";
}

std::optional<BackendKind> backend_from_name(std::string_view name) {
  return from_name(kBackendKinds, backend_name, name);
}

std::string_view sandbox_name(SandboxKind kind) {
  switch (kind) {
    case SandboxKind::Auto: return "auto";
    case SandboxKind::Linux: return "linux";
    case SandboxKind::Generic: return "generic";
  }
  return "?";
}

std::optional<SandboxKind> sandbox_from_name(std::string_view name) {
  return from_name(kSandboxKinds, sandbox_name, name);
}

std::string_view core_pinning_name(CorePinning pinning) {
  switch (pinning) {
    case CorePinning::Disabled: return "disabled";
    case CorePinning::PinToCore: return "pin_to_core";
    case CorePinning::PinToCcx: return "pin_to_ccx";
  }
  return "?";
}

std::optional<CorePinning> core_pinning_from_name(std::string_view name) {
  return from_name(kCorePinnings, core_pinning_name, name);
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
  return Error(fmt::format("invalid value of {}: '{}' (expected 1, 0, true or false)", name, v), ErrorKind::InvalidArgument);
}

Result<uint32_t> parse_env_u32(const char* name, const char* value) {
  char* end = nullptr;
  unsigned long long n = std::strtoull(value, &end, 10);
  if (*value == '\0' || *end != '\0') return Error(fmt::format("invalid value of {}: '{}' (expected an integer)", name, value), ErrorKind::InvalidArgument);
  return static_cast<uint32_t>(std::min<unsigned long long>(n, UINT32_MAX));
}

/// POLKAVM_DEFAULT_COST_MODEL: a model's name, or else the path of a serialised simple cost model.
Result<std::shared_ptr<const GasModel>> cost_model_from_env(std::string_view value) {
  if (value == "naive") return make_simple_gas_model(CostModel::naive());
  if (value == "full-l1-hit") return make_full_gas_model(CacheModel::L1Hit);
  if (value == "full-l2-hit") return make_full_gas_model(CacheModel::L2Hit);
  if (value == "full-l3-hit") return make_full_gas_model(CacheModel::L3Hit);
  std::ifstream file{std::string(value), std::ios::binary};
  if (!file) return Error(fmt::format("failed to read gas cost model from '{}': cannot open the file", value), ErrorKind::InvalidArgument);
  std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) return Error(fmt::format("failed to read gas cost model from '{}': read error", value), ErrorKind::InvalidArgument);
  auto model = CostModel::deserialize(bytes);
  if (!model) return Error(fmt::format("failed to read gas cost model from '{}': the cost model blob is invalid", value), ErrorKind::InvalidArgument);
  return make_simple_gas_model(*model);
}

}  // namespace

Result<Config> Config::from_env() {
  Config config;
  if (const char* v = std::getenv("POLKAVM_BACKEND")) {
    std::optional<BackendKind> kind = backend_from_name(v);
    if (!kind) return Error(fmt::format("invalid value of POLKAVM_BACKEND: '{}' (expected auto, compiler or interpreter)", v), ErrorKind::InvalidArgument);
    config.backend = *kind;
  }
  if (const char* v = std::getenv("POLKAVM_SANDBOX")) {
    std::optional<SandboxKind> kind = sandbox_from_name(v);
    if (!kind) return Error(fmt::format("invalid value of POLKAVM_SANDBOX: '{}' (expected auto, linux or generic)", v), ErrorKind::InvalidArgument);
    config.sandbox = *kind;
  }
  if (const char* v = std::getenv("POLKAVM_CORE_PINNING")) {
    std::optional<CorePinning> pinning = core_pinning_from_name(v);
    if (!pinning)
      return Error(fmt::format("invalid value of POLKAVM_CORE_PINNING: '{}' (expected pin_to_core, pin_to_ccx or "
                               "disabled)", v), ErrorKind::InvalidArgument);
    config.core_pinning = *pinning;
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

namespace {

/// The sandbox compiled code will run in, or why none can.
Result<SandboxKind> choose_sandbox(const Config& config) {
  const std::optional<std::string> linux_problem =
      config.sandbox == SandboxKind::Generic ? std::nullopt : detail::linux_sandbox::unsupported_reason();
  switch (config.sandbox) {
    case SandboxKind::Linux:
      if (linux_problem) return Error("the Linux sandbox cannot run on this host: " + *linux_problem, ErrorKind::Unsupported);
      return SandboxKind::Linux;
    case SandboxKind::Generic:
      if (!config.allow_experimental)
        return Error("the generic sandbox (compiled code in this process) is experimental: set "
                     "`allow_experimental` (POLKAVM_ALLOW_EXPERIMENTAL=1) to use it", ErrorKind::InvalidArgument);
      return SandboxKind::Generic;
    case SandboxKind::Auto:
      if (!linux_problem) return SandboxKind::Linux;
      if (config.allow_experimental) return SandboxKind::Generic;
      return Error("no sandbox is available for the compiler: the Linux sandbox cannot run on this host (" +
                   *linux_problem + "), and the generic sandbox needs `allow_experimental`", ErrorKind::Unsupported);
  }
  return Error("unknown sandbox kind");
}

}  // namespace

Result<Engine> Engine::create(const Config& config) {
  if (config.crosscheck && !config.allow_experimental)
    return Error("cannot enable execution cross-checking: `allow_experimental` is not enabled", ErrorKind::InvalidArgument);
  if (config.lru_cache_size != 0 && !config.cache_enabled)
    return Error("Config::lru_cache_size (POLKAVM_LRU_CACHE_SIZE) needs the module cache: set cache_enabled "
                 "(POLKAVM_CACHE_ENABLED=1)",
                 ErrorKind::InvalidArgument);
  if (!config.sandboxing_enabled && !config.allow_experimental)
    return Error("cannot disable sandboxing: `allow_experimental` is not enabled", ErrorKind::InvalidArgument);
  // Only the full model may be chosen freely: any simple model, the naive one included, is experimental.
  if (config.default_cost_model && config.default_cost_model->simple_cost_model() && !config.allow_experimental)
    return Error("cannot override the default gas cost model: `allow_experimental` is not enabled",
                 ErrorKind::InvalidArgument);
  auto state = std::make_shared<detail::EngineState>();
  state->config = config;
  state->backend = BackendKind::Interpreter;
  state->sandbox = SandboxKind::Generic;
  if (config.backend != BackendKind::Interpreter) {
    if (std::optional<std::string> reason = detail::compiler_unsupported_reason()) {
      if (config.backend == BackendKind::Compiler)
        return Error("the 'compiler' backend is not supported on this host: " + *reason, ErrorKind::Unsupported);
    } else {
      Result<SandboxKind> sandbox = choose_sandbox(config);
      if (sandbox) {
        state->backend = BackendKind::Compiler;
        state->sandbox = *sandbox;
      } else if (config.backend == BackendKind::Compiler || config.sandbox != SandboxKind::Auto) {
        return sandbox.error();
      }
      // Auto with no usable sandbox: the interpreter, which needs none.
    }
  }
  // Cross-checking compares compiled code with the interpreter: with no compiled code it would check nothing.
  if (config.crosscheck && state->backend != BackendKind::Compiler)
    return Error("execution cross-checking (Config::crosscheck) compares the compiler with the interpreter, "
                 "and this engine's backend is the interpreter",
                 ErrorKind::Unsupported);
  // The interpreter compiles nothing: a limit of its own would go unused (the interpreter's translations are
  // bounded per instance by RawInstance::set_interpreter_cache_size_limit).
  if (config.compile_memory_limit != Config{}.compile_memory_limit && state->backend != BackendKind::Compiler)
    return Error("Config::compile_memory_limit bounds the compiler's module creation, and this engine's backend "
                 "is the interpreter",
                 ErrorKind::Unsupported);
  if (config.core_pinning != CorePinning::Disabled && state->sandbox != SandboxKind::Linux)
    return Error(fmt::format("core pinning ({}) places host threads and Linux sandbox workers, and this engine "
                             "has no Linux sandbox (backend {}, sandbox {})", core_pinning_name(config.core_pinning),
                             backend_name(state->backend), sandbox_name(state->sandbox)),
                 ErrorKind::Unsupported);
  if (config.core_pinning != CorePinning::Disabled)
    if (std::optional<std::string> problem = detail::linux_sandbox::core_pinning_unsupported_reason())
      return Error("core pinning is not available: " + *problem, ErrorKind::Unsupported);
  if (state->sandbox == SandboxKind::Linux)
    state->workers = detail::linux_sandbox::make_worker_pool(config.worker_count, config.sandboxing_enabled);
  Engine engine;
  engine.state_ = std::move(state);
  if (config.cache_enabled) engine.cache_ = std::make_shared<detail::ModuleCache>(config.lru_cache_size);
  return engine;
}

BackendKind Engine::backend() const { return state_->backend; }
SandboxKind Engine::sandbox() const { return state_->sandbox; }
const Config& Engine::config() const { return state_->config; }

// ---------------------------------------------------------------------------------------------
// Module

namespace {

/// The reference's strict checks (api.rs): jump-table entries and exports must lie inside the code. They
/// need not start a basic block: an export in the middle of a block is where a test may expect to stop.
Result<void> check_strict(const ProgramBlob& blob) {
  const size_t code_size = blob.code().size();
  for (uint32_t target : blob.jump_table())
    if (target >= code_size) return Error("out of range jump table entry found", ErrorKind::InvalidBlob);
  for (const ProgramExport& e : blob.exports)
    if (e.pc >= code_size)
      return Error(fmt::format("out of range export found; export {} points to code offset {}, while the code "
                               "blob is only {} bytes", e.symbol, e.pc, code_size), ErrorKind::InvalidBlob);
  return {};
}

}  // namespace

Result<Module> Module::create(const Engine& engine, const ModuleConfig& config, std::span<const uint8_t> bytes) {
  Result<ProgramBlob> blob = without_exceptions("parsing the blob", [&] { return ProgramBlob::parse(bytes); });
  if (!blob) return blob.error();
  return from_blob(engine, config, std::move(blob).value());
}

Result<Module> Module::from_blob(const Engine& engine, const ModuleConfig& config, ProgramBlob blob) {
  return without_exceptions("creating the module", [&] { return from_blob_unguarded(engine, config, std::move(blob)); });
}

Result<Module> Module::from_blob_unguarded(const Engine& engine, const ModuleConfig& config, ProgramBlob blob) {
  // A ProgramBlob is a public aggregate: one built or changed by hand may break what parse() guarantees, and
  // everything below relies on it.
  if (Result<void> valid = blob.validate(); !valid) return valid.error();
  if (config.dynamic_paging && !engine.config().allow_dynamic_paging)
    return Error("dynamic paging was not enabled; set `Config::allow_dynamic_paging` to enable it",
                 ErrorKind::InvalidArgument);
  if (config.cache_by_hash && !engine.cache_)
    return Error("ModuleConfig::cache_by_hash needs the engine's module cache (Config::cache_enabled)",
                 ErrorKind::InvalidArgument);
  std::optional<detail::ModuleCache::Key> cache_key;
  if (engine.cache_ && config.cache_by_hash) {
    cache_key = detail::ModuleCache::key(blob, config, engine.config());
    if (std::shared_ptr<const detail::ModuleState> cached = engine.cache_->find(*cache_key)) {
      Module module;
      module.state_ = std::move(cached);
      return module;
    }
  }
  const CodeView code(blob);
  if (blob.isa == InstructionSet::JamV1)
    if (std::optional<std::string> problem = code.validate()) return Error("invalid JAM program: " + *problem, ErrorKind::InvalidBlob);
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
  if (cache_key) module.state_ = engine.cache_->insert(*cache_key, std::move(module.state_));
  return module;
}

std::optional<Module> Module::from_cache(const Engine& engine, const ModuleConfig& config, const ProgramBlob& blob) {
  if (!engine.cache_ || !config.cache_by_hash) return std::nullopt;
  std::shared_ptr<const detail::ModuleState> cached =
      engine.cache_->find(detail::ModuleCache::key(blob, config, engine.config()));
  if (!cached) return std::nullopt;
  Module module;
  module.state_ = std::move(cached);
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
  // The end of code is the implicit trap's block, as in the reference (calculate_gas_cost_for).
  if (!view.is_jump_target_valid(pc) && pc != view.size()) return std::nullopt;
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
    // A terminator that can fall through (fallthrough, a branch) at the very end leaves the implicit trap
    // a block of its own, listed as the reference's spectool lists it.
    if (last.valid && pc == view.size() && ends_block(last.opcode) && can_fallthrough(last.opcode))
      costs.emplace_back(pc, *gas_cost_for_block(pc));
  }
  return costs;
}

Result<RawInstance> Module::instantiate() const {
  return without_exceptions("instantiating", [&]() -> Result<RawInstance> {
  Result<std::unique_ptr<detail::InstanceBackend>> backend = state_->engine->backend == BackendKind::Compiler
                                                                 ? detail::make_compiler(state_)
                                                                 : detail::make_interpreter(state_);
  if (!backend) return backend.error();
  auto data = std::make_unique<detail::InstanceData>();
  data->backend = std::move(backend).value();
  if (state_->engine->config.crosscheck) {
    Result<std::unique_ptr<detail::InstanceBackend>> twin = detail::make_interpreter(state_);
    if (!twin) return twin.error();
    data->crosscheck = std::move(twin).value();
  }
  return RawInstance(*this, std::move(data));
  });
}

// ---------------------------------------------------------------------------------------------
// RawInstance
//
// Every operation goes through the instance's backend, which owns the state and the memory. A moved-from
// instance has no backend: its operations fail (or read as zero) instead of touching freed state.

namespace detail {
InstanceBackend* backend_of(RawInstance& instance) { return instance.data_ ? instance.data_->backend.get() : nullptr; }
}  // namespace detail

namespace {

Error moved_from() { return Error("this instance was moved from", ErrorKind::InvalidArgument); }

Error divergence(const std::string& what) {
  return Error("cross-check: the compiled code and the interpreter diverged: " + what, ErrorKind::Divergence);
}

std::string describe(const Result<void>& result) { return result ? "succeeded" : "failed: " + result.error().message(); }

/// A host change to guest memory, made to the instance and, when cross-checking, to its interpreter twin:
/// the two must agree on whether it succeeded.
template <class Change>
Result<void> change_memory(detail::InstanceData& data, const char* what, Change change) {
  Result<void> done = change(data.backend->memory());
  if (data.crosscheck) {
    Result<void> twin = change(data.crosscheck->memory());
    if (done.ok() != twin.ok())
      return divergence(fmt::format("{} {}, the interpreter's {}", what, describe(done), describe(twin)));
  }
  return done;
}

/// Config::crosscheck: runs the interpreter twin from the state the compiled run started from and names the
/// first difference between them (interrupt, registers, gas, program counters, then memory).
std::optional<std::string> crosscheck(detail::InstanceData& data, const Interrupt& interrupt) {
  Result<Interrupt> expected = data.crosscheck->run();
  if (!expected) return "the interpreter failed: " + expected.error().message();
  if (*expected != interrupt)
    return fmt::format("interrupt {}, the interpreter's {}", to_string(interrupt), to_string(*expected));
  const detail::VmState &compiled = data.backend->state(), &interpreted = data.crosscheck->state();
  for (size_t i = 0; i < kRegCount; ++i)
    if (compiled.regs[i] != interpreted.regs[i])
      return fmt::format("{} = 0x{:x}, the interpreter's 0x{:x}", reg_name(static_cast<Reg>(i)), compiled.regs[i],
                         interpreted.regs[i]);
  if (compiled.gas != interpreted.gas) return fmt::format("gas {}, the interpreter's {}", compiled.gas, interpreted.gas);
  const auto pc = [](std::optional<uint32_t> pc) { return pc ? fmt::format("0x{:x}", *pc) : std::string("none"); };
  if (compiled.program_counter != interpreted.program_counter)
    return fmt::format("program counter {}, the interpreter's {}", pc(compiled.program_counter),
                       pc(interpreted.program_counter));
  if (compiled.next_program_counter != interpreted.next_program_counter)
    return fmt::format("next program counter {}, the interpreter's {}", pc(compiled.next_program_counter),
                       pc(interpreted.next_program_counter));
  if (std::optional<std::string> memory = data.backend->memory().first_difference(data.crosscheck->memory()))
    return fmt::format("{} (after {} at {})", *memory, to_string(interrupt), pc(compiled.program_counter));
  return std::nullopt;
}

}  // namespace

RawInstance::RawInstance(Module module, std::unique_ptr<detail::InstanceData> data)
    : module_(std::move(module)), data_(std::move(data)) {}
// The module is copied, not moved (a shared handle): a moved-from instance still names its module.
RawInstance::RawInstance(RawInstance&& other) noexcept : module_(other.module_), data_(std::move(other.data_)) {}
RawInstance& RawInstance::operator=(RawInstance&& other) noexcept {
  module_ = other.module_;
  data_ = std::move(other.data_);
  return *this;
}
RawInstance::~RawInstance() = default;

namespace {
/// A run of an instance whose state allows one. One named result, returned on every path: it is built in
/// the caller's slot, not copied there (a copy read back in wider pieces than it was written stalls a
/// host call's round trip).
Result<Interrupt> run_backend(detail::InstanceData& data, bool metered) {
  detail::VmState& state = data.backend->state();
  if (data.crosscheck) data.crosscheck->state() = state;  // the host's changes since the last run
  bool completed = false;  // false: an exception (running out of memory) left the backend mid-run
  Result<Interrupt> interrupt = without_exceptions("running", [&]() -> Result<Interrupt> {
    Result<Interrupt> ran = data.backend->run();
    if (ran && data.crosscheck)
      if (std::optional<std::string> difference = crosscheck(data, *ran)) ran = divergence(*difference);
    completed = true;
    return ran;
  });
  if (!completed) data.out_of_memory = true;
  if (!interrupt && (!completed || interrupt.error().kind() != ErrorKind::ResourceExhausted)) {
    // The sandbox broke (or the cross-check failed, or memory ran out): nothing can continue from here.
    // (Memory the kernel refused to map stops a run cleanly: it runs on from where it stopped.)
    state.program_counter.reset();
    state.next_program_counter.reset();
  } else if (metered && state.gas < 0) {
    state.next_program_counter.reset();
    interrupt = Interrupt::not_enough_gas();
  }
  return interrupt;
}
}  // namespace

Result<Interrupt> RawInstance::run() {
  if (!data_) return moved_from();
  if (data_->out_of_memory) return Error("this instance ran out of memory in an earlier run", ErrorKind::ResourceExhausted);
  const detail::VmState& state = data_->backend->state();
  if (!state.next_program_counter) return Error("failed to run: next program counter is not set", ErrorKind::InvalidArgument);
  const bool metered = module_.gas_metering() != GasMeteringKind::None;
  if (metered && state.gas < 0) return Interrupt::not_enough_gas();
  return run_backend(*data_, metered);
}

uint64_t RawInstance::reg(Reg r) const {
  if (!data_ || static_cast<size_t>(r) >= kRegCount) return 0;  // not a register: nothing to read
  uint64_t value = data_->backend->state().regs[static_cast<size_t>(r)];
  return module_.is_64_bit() ? value : value & 0xFFFFFFFFu;
}

void RawInstance::set_reg(Reg r, uint64_t value) {
  if (!data_ || static_cast<size_t>(r) >= kRegCount) return;  // not a register: never write past the file
  // 32-bit programs keep registers sign-extended, as the reference's interpreter does.
  if (!module_.is_64_bit()) value = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value)));
  data_->backend->state().regs[static_cast<size_t>(r)] = value;
}

void RawInstance::clear_regs() {
  if (data_) data_->backend->state().regs.fill(0);
}
Gas RawInstance::gas() const { return data_ ? data_->backend->state().gas : 0; }
void RawInstance::set_gas(Gas gas) {
  if (data_) data_->backend->state().gas = gas;
}
std::optional<uint32_t> RawInstance::program_counter() const {
  return data_ ? data_->backend->state().program_counter : std::nullopt;
}
std::optional<uint32_t> RawInstance::next_program_counter() const {
  return data_ ? data_->backend->state().next_program_counter : std::nullopt;
}

void RawInstance::set_next_program_counter(uint32_t pc) {
  if (!data_) return;
  data_->backend->state().next_program_counter = pc;
  data_->backend->state().next_pc_changed = true;
}

Result<void> RawInstance::prepare_call(uint32_t pc, std::span<const uint64_t> args) {
  if (!data_) return moved_from();
  if (args.size() > kArgRegs.size())
    return Error(fmt::format("too many arguments: {} (at most {})", args.size(), kArgRegs.size()), ErrorKind::InvalidArgument);
  clear_regs();
  set_reg(Reg::RA, kReturnToHost);
  set_reg(Reg::SP, module_.default_sp());
  for (size_t i = 0; i < args.size(); ++i) set_reg(kArgRegs[i], args[i]);
  set_next_program_counter(pc);
  return {};
}

Result<void> RawInstance::read_memory_into(uint32_t address, std::span<uint8_t> out) const {
  if (!data_) return moved_from();
  return data_->backend->memory().read(address, out);
}

Result<std::vector<uint8_t>> RawInstance::read_memory(uint32_t address, uint32_t length) const {
  if (!data_) return moved_from();
  const detail::GuestMemory& memory = data_->backend->memory();
  // Checked before allocating: a bad length must not cost gigabytes.
  if (length != 0)
    if (auto r = memory.check_host_access(address, length, detail::kPermRead); !r) return r.error();
  std::vector<uint8_t> out(length);
  if (auto r = memory.read(address, out); !r) return r.error();
  return out;
}

Result<void> RawInstance::write_memory(uint32_t address, std::span<const uint8_t> data) {
  if (!data_) return moved_from();
  return change_memory(*data_, "write_memory", [&](detail::GuestMemory& m) { return m.write(address, data); });
}

Result<void> RawInstance::zero_memory(uint32_t address, uint32_t length) {
  if (!data_) return moved_from();
  return change_memory(*data_, "zero_memory", [&](detail::GuestMemory& m) { return m.zero(address, length); });
}

namespace {

template <class T>
Result<T> read_le(const RawInstance& instance, uint32_t address) {
  uint8_t bytes[sizeof(T)];
  if (Result<void> read = instance.read_memory_into(address, bytes); !read) return read.error();
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(static_cast<T>(bytes[i]) << (8 * i));
  return value;
}

template <class T>
Result<void> write_le(RawInstance& instance, uint32_t address, T value) {
  uint8_t bytes[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  return instance.write_memory(address, bytes);
}

}  // namespace

Result<uint8_t> RawInstance::read_u8(uint32_t address) const { return read_le<uint8_t>(*this, address); }
Result<uint16_t> RawInstance::read_u16(uint32_t address) const { return read_le<uint16_t>(*this, address); }
Result<uint32_t> RawInstance::read_u32(uint32_t address) const { return read_le<uint32_t>(*this, address); }
Result<uint64_t> RawInstance::read_u64(uint32_t address) const { return read_le<uint64_t>(*this, address); }
Result<void> RawInstance::write_u8(uint32_t address, uint8_t value) { return write_le(*this, address, value); }
Result<void> RawInstance::write_u16(uint32_t address, uint16_t value) { return write_le(*this, address, value); }
Result<void> RawInstance::write_u32(uint32_t address, uint32_t value) { return write_le(*this, address, value); }
Result<void> RawInstance::write_u64(uint32_t address, uint64_t value) { return write_le(*this, address, value); }

Result<std::string> RawInstance::read_string(uint32_t address, uint32_t length) const {
  Result<std::vector<uint8_t>> bytes = read_memory(address, length);
  if (!bytes) return bytes.error();
  return std::string(bytes->begin(), bytes->end());
}

bool RawInstance::is_memory_accessible(uint32_t address, uint32_t length, MemoryProtection protection) const {
  return data_ && data_->backend->memory().is_accessible(address, length, protection);
}

Result<void> RawInstance::zero_memory_with_memory_protection(uint32_t address, uint32_t length,
                                                             MemoryProtection protection) {
  if (!data_) return moved_from();
  return change_memory(*data_, "zero_memory_with_memory_protection",
                       [&](detail::GuestMemory& m) { return m.map_pages(address, length, protection); });
}

Result<void> RawInstance::protect_memory(uint32_t address, uint32_t length) {
  if (!data_) return moved_from();
  return change_memory(*data_, "protect_memory",
                       [&](detail::GuestMemory& m) { return m.set_protection(address, length, true); });
}

Result<void> RawInstance::unprotect_memory(uint32_t address, uint32_t length) {
  if (!data_) return moved_from();
  return change_memory(*data_, "unprotect_memory",
                       [&](detail::GuestMemory& m) { return m.set_protection(address, length, false); });
}

Result<void> RawInstance::free_pages(uint32_t address, uint32_t length) {
  if (!data_) return moved_from();
  return change_memory(*data_, "free_pages", [&](detail::GuestMemory& m) { return m.free_pages(address, length); });
}

Result<void> RawInstance::reset_memory() {
  if (!data_) return moved_from();
  return change_memory(*data_, "reset_memory", [](detail::GuestMemory& m) { return m.reset(); });
}
uint32_t RawInstance::heap_size() const { return data_ ? data_->backend->memory().heap_size() : 0; }
std::optional<uint32_t> RawInstance::sbrk(uint32_t size) {
  if (!data_) return std::nullopt;
  // Cross-checking: a heap that grew in one and not the other shows as a divergence after the next run.
  if (data_->crosscheck) (void)data_->crosscheck->memory().sbrk(size);
  return data_->backend->memory().sbrk(size);
}

Result<void> RawInstance::set_interpreter_cache_size_limit(std::optional<size_t> max_bytes) {
  if (!data_) return moved_from();
  return data_->backend->set_translation_cache_limit(max_bytes);
}

void RawInstance::set_step_tracing(bool enabled) {
  if (!data_ || data_->backend->state().step_tracing == enabled) return;
  data_->backend->state().step_tracing = enabled;
  data_->backend->invalidate();
  if (data_->crosscheck) data_->crosscheck->invalidate();  // its state (step_tracing included) is copied on run
}

bool RawInstance::step_tracing() const { return data_ && data_->backend->state().step_tracing; }

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
