// The C API (include/polkavm/polkavm.h) on top of the C++ API: Engine, Module, Linker<void*> and Instance.
// Every entry point runs inside guard(), which turns any C++ exception into a status, so that nothing C++
// crosses the boundary.
#include "polkavm/polkavm.h"

#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "polkavm/config.hpp"
#include "polkavm/error.hpp"
#include "polkavm/linker.hpp"
#include "polkavm/runtime.hpp"

struct polkavm_engine {
  polkavm::Engine engine;
};

struct polkavm_module {
  polkavm::Module module;
};

struct polkavm_linker {
  // The user data of a call is a CallContext* (see below).
  polkavm::Linker<void*> linker;
};

struct polkavm_instance {
  polkavm::Instance<void*> instance;
  bool in_call = false;  // a call or run is under way: no other may start, and free is refused
};

struct polkavm_caller {
  polkavm_instance* instance = nullptr;
  void* user_data = nullptr;
  std::string error;
  bool has_error = false;
};

namespace {

using polkavm::Result;

/// What the Linker<void*> passes to the host functions during polkavm_instance_call.
struct CallContext {
  polkavm_instance* self;
  void* user_data;
};

struct LastError {
  std::string message;
  polkavm::ErrorKind kind = polkavm::ErrorKind::Other;
  const char* fallback = nullptr;  // a static message, when storing `message` failed
};
thread_local LastError t_last_error;

polkavm_status fail(polkavm_status status, std::string_view message) noexcept {
  try {
    t_last_error.kind = polkavm::ErrorKind::Other;
    t_last_error.message.assign(message.data(), message.size());
    t_last_error.fallback = nullptr;
  } catch (...) {
    t_last_error.fallback = "out of memory (while storing an error message)";
  }
  return status;
}

polkavm_status fail(polkavm_status status, const std::string& message) noexcept {
  return fail(status, std::string_view(message));
}

polkavm_status fail(polkavm_status status, const char* message) noexcept {
  return fail(status, std::string_view(message));
}

/// Runs `body` and turns every exception into a status.
template <class F>
polkavm_status guard(F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(POLKAVM_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    // Building the message may itself throw; fail() is noexcept, the concatenation is not.
    try {
      return fail(POLKAVM_ERROR, std::string("unexpected C++ exception: ") + e.what());
    } catch (...) {
      return fail(POLKAVM_ERROR, "unexpected C++ exception");
    }
  } catch (...) {
    return fail(POLKAVM_ERROR, "unexpected C++ exception");
  }
}

/// fail(), with the failure's kind.
polkavm_status fail(polkavm_status status, polkavm::ErrorKind kind, std::string_view message) noexcept {
  fail(status, message);
  t_last_error.kind = kind;
  return status;
}

polkavm_status invalid(const char* function, const char* what) noexcept {
  try {
    return fail(POLKAVM_INVALID_ARGUMENT, polkavm::ErrorKind::InvalidArgument, std::string(function) + ": " + what);
  } catch (...) {
    return fail(POLKAVM_INVALID_ARGUMENT, polkavm::ErrorKind::InvalidArgument, what);
  }
}

#define POLKAVM_REQUIRE(pointer) \
  do {                           \
    if ((pointer) == nullptr) return invalid(fn, #pointer " is NULL"); \
  } while (0)

polkavm_status from_error(const polkavm::Error& error) { return fail(POLKAVM_ERROR, error.kind(), error.message()); }

// polkavm_error_kind is polkavm::ErrorKind, value for value.
static_assert(POLKAVM_ERROR_KIND_OTHER == int(polkavm::ErrorKind::Other) &&
              POLKAVM_ERROR_KIND_INVALID_ARGUMENT == int(polkavm::ErrorKind::InvalidArgument) &&
              POLKAVM_ERROR_KIND_UNSUPPORTED == int(polkavm::ErrorKind::Unsupported) &&
              POLKAVM_ERROR_KIND_INVALID_BLOB == int(polkavm::ErrorKind::InvalidBlob) &&
              POLKAVM_ERROR_KIND_MEMORY_ACCESS == int(polkavm::ErrorKind::MemoryAccess) &&
              POLKAVM_ERROR_KIND_SANDBOX == int(polkavm::ErrorKind::Sandbox) &&
              POLKAVM_ERROR_KIND_RESOURCE_EXHAUSTED == int(polkavm::ErrorKind::ResourceExhausted) &&
              POLKAVM_ERROR_KIND_DIVERGENCE == int(polkavm::ErrorKind::Divergence));

/// The value of an enum that came from C, read as its bytes: C may pass any integer, and loading a value
/// outside a C++ enum's range is undefined behaviour.
template <class E>
int64_t raw(const E& value) {
  static_assert(std::is_enum_v<E>);
  std::underlying_type_t<E> bits;
  std::memcpy(&bits, &value, sizeof bits);
  return static_cast<int64_t>(bits);
}

std::optional<polkavm::BackendKind> to_backend(int64_t backend) {
  switch (backend) {
    case POLKAVM_BACKEND_AUTO: return polkavm::BackendKind::Auto;
    case POLKAVM_BACKEND_INTERPRETER: return polkavm::BackendKind::Interpreter;
    case POLKAVM_BACKEND_COMPILER: return polkavm::BackendKind::Compiler;
  }
  return std::nullopt;
}

std::optional<polkavm::SandboxKind> to_sandbox(int64_t sandbox) {
  switch (sandbox) {
    case POLKAVM_SANDBOX_AUTO: return polkavm::SandboxKind::Auto;
    case POLKAVM_SANDBOX_LINUX: return polkavm::SandboxKind::Linux;
    case POLKAVM_SANDBOX_GENERIC: return polkavm::SandboxKind::Generic;
  }
  return std::nullopt;
}

/// Nothing for out-of-range values; `*engine_default` tells whether it was ENGINE_DEFAULT.
std::optional<polkavm::GasMeteringKind> to_gas_metering(int64_t metering, bool* engine_default) {
  *engine_default = false;
  switch (metering) {
    case POLKAVM_GAS_METERING_NONE: return polkavm::GasMeteringKind::None;
    case POLKAVM_GAS_METERING_SYNC: return polkavm::GasMeteringKind::Sync;
    case POLKAVM_GAS_METERING_ASYNC: return polkavm::GasMeteringKind::Async;
    case POLKAVM_GAS_METERING_ENGINE_DEFAULT: *engine_default = true; return std::nullopt;
  }
  return std::nullopt;
}

std::optional<polkavm::Reg> to_reg(int64_t value) {
  if (value < 0 || value >= polkavm::kRegCount) return std::nullopt;
  return static_cast<polkavm::Reg>(value);
}

polkavm_status engine_from_config(const polkavm::Config& config, polkavm_engine** out) {
  Result<polkavm::Engine> engine = polkavm::Engine::create(config);
  if (!engine) return from_error(engine.error());
  *out = new polkavm_engine{std::move(engine).value()};
  return POLKAVM_OK;
}

/// The status and message of a call that did not return.
polkavm_status from_call_error(const polkavm::CallError& error) {
  switch (error.kind()) {
    case polkavm::CallError::Kind::Trap: return fail(POLKAVM_TRAP, error.to_string());
    case polkavm::CallError::Kind::NotEnoughGas: return fail(POLKAVM_NOT_ENOUGH_GAS, error.to_string());
    case polkavm::CallError::Kind::Step: return fail(POLKAVM_STEP, error.to_string());
    case polkavm::CallError::Kind::User: return fail(POLKAVM_USER_ERROR, error.error_kind(), error.message());
    case polkavm::CallError::Kind::Error: return fail(POLKAVM_ERROR, error.error_kind(), error.message());
  }
  return fail(POLKAVM_ERROR, error.to_string());
}

/// Marks the instance busy for the duration of a call or run (exception-safe).
class BusyGuard {
 public:
  explicit BusyGuard(polkavm_instance* instance) : instance_(instance) { instance_->in_call = true; }
  ~BusyGuard() { instance_->in_call = false; }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  polkavm_instance* instance_;
};

/// Runs the prepared call to its end and stores a0, a1.
polkavm_status finish_call(polkavm_instance* instance, void* user_data, uint64_t* a0, uint64_t* a1) {
  CallContext context{instance, user_data};
  void* context_pointer = &context;
  polkavm::CallResult<void> done = [&] {
    BusyGuard busy(instance);
    return instance->instance.continue_execution(context_pointer);
  }();
  if (!done) return from_call_error(done.error());
  const polkavm::RawInstance& raw = instance->instance.raw();
  if (a0 != nullptr) *a0 = raw.reg(polkavm::Reg::A0);
  if (a1 != nullptr) *a1 = raw.reg(polkavm::Reg::A1);
  return POLKAVM_OK;
}

polkavm_status check_args(const char* function, const uint64_t* args, size_t arg_count) {
  if (arg_count > POLKAVM_MAX_CALL_ARGS) return invalid(function, "more than POLKAVM_MAX_CALL_ARGS (9) arguments");
  if (args == nullptr && arg_count != 0) return invalid(function, "args is NULL but arg_count is not 0");
  return POLKAVM_OK;
}

polkavm_status prepare(polkavm_instance* instance, uint32_t pc, const uint64_t* args, size_t arg_count) {
  Result<void> prepared =
      instance->instance->prepare_call(pc, std::span<const uint64_t>(args, args == nullptr ? 0 : arg_count));
  if (!prepared) return from_error(prepared.error());
  return POLKAVM_OK;
}

/// Finds the export `name` (as the typed layer does: the first of that name).
polkavm_status find_export(const polkavm::Module& module, const char* name, uint32_t* pc) {
  std::optional<uint32_t> found = module.export_pc(name);
  if (!found) return fail(POLKAVM_ERROR, std::string("failed to find export: ") + name);
  *pc = *found;
  return POLKAVM_OK;
}

const char* status_name(int64_t status) {
  switch (status) {
    case POLKAVM_OK: return "POLKAVM_OK";
    case POLKAVM_TRAP: return "POLKAVM_TRAP";
    case POLKAVM_NOT_ENOUGH_GAS: return "POLKAVM_NOT_ENOUGH_GAS";
    case POLKAVM_STEP: return "POLKAVM_STEP";
    case POLKAVM_USER_ERROR: return "POLKAVM_USER_ERROR";
    case POLKAVM_ERROR: return "POLKAVM_ERROR";
    case POLKAVM_INVALID_ARGUMENT: return "POLKAVM_INVALID_ARGUMENT";
    case POLKAVM_OUT_OF_MEMORY: return "POLKAVM_OUT_OF_MEMORY";
  }
  return "POLKAVM_<unknown>";
}

polkavm_status get_reg(const char* fn, const polkavm_instance* instance, int64_t reg, uint64_t* out) {
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE(out);
    std::optional<polkavm::Reg> r = to_reg(reg);
    if (!r) return invalid(fn, "reg is out of range");
    *out = instance->instance->reg(*r);
    return POLKAVM_OK;
  });
}

polkavm_status set_reg(const char* fn, polkavm_instance* instance, int64_t reg, uint64_t value) {
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    std::optional<polkavm::Reg> r = to_reg(reg);
    if (!r) return invalid(fn, "reg is out of range");
    instance->instance->set_reg(*r, value);
    return POLKAVM_OK;
  });
}

/// The failure a host callback's status turns into.
Result<void> callback_result(int64_t status, polkavm_caller& caller, const std::string& what) {
  if (status == POLKAVM_OK) return {};
  if (caller.has_error) return polkavm::Error(std::move(caller.error));
  return polkavm::Error(what + " failed with " + status_name(status));
}

polkavm_caller make_caller(polkavm::Caller<void*>& caller) {
  const CallContext* context = static_cast<const CallContext*>(caller.user_data);
  polkavm_caller c;
  c.instance = context->self;
  c.user_data = context->user_data;
  return c;
}

}  // namespace

extern "C" {

const char* polkavm_last_error(void) {
  return t_last_error.fallback != nullptr ? t_last_error.fallback : t_last_error.message.c_str();
}

const char* polkavm_status_name(polkavm_status status) { return status_name(raw(status)); }

polkavm_error_kind polkavm_last_error_kind(void) { return static_cast<polkavm_error_kind>(t_last_error.kind); }

// ---- Engine ------------------------------------------------------------------------------------------

void polkavm_config_init(polkavm_config* config) {
  if (config == nullptr) return;
  const polkavm::Config defaults;
  config->backend = POLKAVM_BACKEND_AUTO;
  config->sandbox = POLKAVM_SANDBOX_AUTO;
  config->allow_experimental = defaults.allow_experimental;
  config->allow_dynamic_paging = defaults.allow_dynamic_paging;
  config->worker_count = defaults.worker_count;
  config->sandboxing_enabled = defaults.sandboxing_enabled;
  config->default_gas_metering = POLKAVM_GAS_METERING_NONE;
  config->crosscheck = defaults.crosscheck;
  config->core_pinning = POLKAVM_CORE_PINNING_DISABLED;
  config->compile_memory_limit = defaults.compile_memory_limit;
}

polkavm_status polkavm_engine_new(const polkavm_config* config, polkavm_engine** out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(out);
    *out = nullptr;
    polkavm::Config cpp;
    if (config != nullptr) {
      std::optional<polkavm::BackendKind> backend = to_backend(raw(config->backend));
      if (!backend) return invalid(fn, "config->backend is out of range");
      std::optional<polkavm::SandboxKind> sandbox = to_sandbox(raw(config->sandbox));
      if (!sandbox) return invalid(fn, "config->sandbox is out of range");
      bool engine_default = false;
      std::optional<polkavm::GasMeteringKind> metering = to_gas_metering(raw(config->default_gas_metering), &engine_default);
      if (!metering) return invalid(fn, "config->default_gas_metering is out of range (or ENGINE_DEFAULT)");
      const int64_t pinning = raw(config->core_pinning);
      if (pinning < POLKAVM_CORE_PINNING_DISABLED || pinning > POLKAVM_CORE_PINNING_PIN_TO_CCX)
        return invalid(fn, "config->core_pinning is out of range");
      cpp.backend = *backend;
      cpp.sandbox = *sandbox;
      cpp.allow_experimental = config->allow_experimental;
      cpp.allow_dynamic_paging = config->allow_dynamic_paging;
      cpp.worker_count = config->worker_count;
      cpp.sandboxing_enabled = config->sandboxing_enabled;
      cpp.default_gas_metering = *metering;
      cpp.crosscheck = config->crosscheck;
      cpp.compile_memory_limit = config->compile_memory_limit;
      cpp.core_pinning = pinning == POLKAVM_CORE_PINNING_PIN_TO_CORE  ? polkavm::CorePinning::PinToCore
                         : pinning == POLKAVM_CORE_PINNING_PIN_TO_CCX ? polkavm::CorePinning::PinToCcx
                                                                      : polkavm::CorePinning::Disabled;
    }
    return engine_from_config(cpp, out);
  });
}

polkavm_status polkavm_engine_new_from_env(polkavm_engine** out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(out);
    *out = nullptr;
    Result<polkavm::Config> config = polkavm::Config::from_env();
    if (!config) return from_error(config.error());
    return engine_from_config(*config, out);
  });
}

polkavm_status polkavm_engine_backend(const polkavm_engine* engine, polkavm_backend* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(engine);
    POLKAVM_REQUIRE(out);
    switch (engine->engine.backend()) {
      case polkavm::BackendKind::Compiler: *out = POLKAVM_BACKEND_COMPILER; break;
      case polkavm::BackendKind::Interpreter: *out = POLKAVM_BACKEND_INTERPRETER; break;
      case polkavm::BackendKind::Auto: *out = POLKAVM_BACKEND_AUTO; break;
    }
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_engine_sandbox(const polkavm_engine* engine, polkavm_sandbox* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(engine);
    POLKAVM_REQUIRE(out);
    switch (engine->engine.sandbox()) {
      case polkavm::SandboxKind::Linux: *out = POLKAVM_SANDBOX_LINUX; break;
      case polkavm::SandboxKind::Generic: *out = POLKAVM_SANDBOX_GENERIC; break;
      case polkavm::SandboxKind::Auto: *out = POLKAVM_SANDBOX_AUTO; break;
    }
    return POLKAVM_OK;
  });
}

void polkavm_engine_free(polkavm_engine* engine) { delete engine; }

// ---- Module ------------------------------------------------------------------------------------------

void polkavm_module_config_init(polkavm_module_config* config) {
  if (config == nullptr) return;
  const polkavm::ModuleConfig defaults;
  config->page_size = defaults.page_size;
  config->gas_metering = POLKAVM_GAS_METERING_ENGINE_DEFAULT;
  config->strict = defaults.strict;
  config->step_tracing = defaults.step_tracing;
  config->dynamic_paging = defaults.dynamic_paging;
  config->aux_data_size = defaults.aux_data_size;
  config->gray_paper_end_of_code = defaults.gray_paper_end_of_code;
}

polkavm_status polkavm_module_new(const polkavm_engine* engine, const polkavm_module_config* config,
                                  const uint8_t* blob, size_t blob_length, polkavm_module** out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(out);
    *out = nullptr;
    POLKAVM_REQUIRE(engine);
    if (blob == nullptr && blob_length != 0) return invalid(fn, "blob is NULL but blob_length is not 0");
    polkavm::ModuleConfig cpp;
    if (config != nullptr) {
      bool engine_default = false;
      std::optional<polkavm::GasMeteringKind> metering = to_gas_metering(raw(config->gas_metering), &engine_default);
      if (!metering && !engine_default) return invalid(fn, "config->gas_metering is out of range");
      cpp.page_size = config->page_size;
      cpp.gas_metering = metering;
      cpp.strict = config->strict;
      cpp.step_tracing = config->step_tracing;
      cpp.dynamic_paging = config->dynamic_paging;
      cpp.aux_data_size = config->aux_data_size;
      cpp.gray_paper_end_of_code = config->gray_paper_end_of_code;
    }
    Result<polkavm::Module> module = polkavm::Module::create(
        engine->engine, cpp, std::span<const uint8_t>(blob, blob == nullptr ? 0 : blob_length));
    if (!module) return from_error(module.error());
    *out = new polkavm_module{std::move(module).value()};
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_module_is_64_bit(const polkavm_module* module, bool* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(module);
    POLKAVM_REQUIRE(out);
    *out = module->module.is_64_bit();
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_module_export_count(const polkavm_module* module, size_t* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(module);
    POLKAVM_REQUIRE(out);
    *out = module->module.exports().size();
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_module_export(const polkavm_module* module, size_t index, const char** name, uint32_t* pc) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(module);
    POLKAVM_REQUIRE(name);
    const auto exports = module->module.exports();
    if (index >= exports.size()) return invalid(fn, "index is out of range");
    *name = exports[index].symbol.c_str();
    if (pc != nullptr) *pc = exports[index].pc;
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_module_export_pc(const polkavm_module* module, const char* name, uint32_t* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(module);
    POLKAVM_REQUIRE(name);
    POLKAVM_REQUIRE(out);
    return find_export(module->module, name, out);
  });
}

polkavm_status polkavm_module_import_count(const polkavm_module* module, size_t* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(module);
    POLKAVM_REQUIRE(out);
    *out = module->module.imports().size();
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_module_import(const polkavm_module* module, size_t index, const char** name) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(module);
    POLKAVM_REQUIRE(name);
    const auto imports = module->module.imports();
    if (index >= imports.size()) return invalid(fn, "index is out of range");
    *name = imports[index].c_str();
    return POLKAVM_OK;
  });
}

void polkavm_module_free(polkavm_module* module) { delete module; }

// ---- Linker ------------------------------------------------------------------------------------------

polkavm_status polkavm_linker_new(polkavm_linker** out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(out);
    *out = nullptr;
    *out = new polkavm_linker{};
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_linker_define(polkavm_linker* linker, const char* name, polkavm_host_function function,
                                     void* user_pointer) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(linker);
    POLKAVM_REQUIRE(name);
    POLKAVM_REQUIRE(function);
    std::string what = std::string("host function ") + name;
    Result<void> defined = linker->linker.define_untyped(
        name, [function, user_pointer, what = std::move(what)](polkavm::Caller<void*>& cpp) -> Result<void> {
          polkavm_caller caller = make_caller(cpp);
          int64_t status;
          try {
            const polkavm_status returned = function(&caller, user_pointer);
            status = raw(returned);
          } catch (...) {
            return polkavm::Error(what + " threw a C++ exception");
          }
          return callback_result(status, caller, what);
        });
    if (!defined) return from_error(defined.error());
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_linker_define_fallback(polkavm_linker* linker, polkavm_fallback_function function,
                                              void* user_pointer) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(linker);
    POLKAVM_REQUIRE(function);
    linker->linker.define_fallback([function, user_pointer](polkavm::Caller<void*>& cpp, uint32_t index) -> Result<void> {
      polkavm_caller caller = make_caller(cpp);
      const std::string what = "the fallback for import " + std::to_string(index);
      int64_t status;
      try {
        const polkavm_status returned = function(&caller, index, user_pointer);
        status = raw(returned);
      } catch (...) {
        return polkavm::Error(what + " threw a C++ exception");
      }
      return callback_result(status, caller, what);
    });
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_linker_instantiate(const polkavm_linker* linker, const polkavm_module* module,
                                          polkavm_instance** out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(out);
    *out = nullptr;
    POLKAVM_REQUIRE(linker);
    POLKAVM_REQUIRE(module);
    Result<polkavm::InstancePre<void*>> pre = linker->linker.instantiate_pre(module->module);
    if (!pre) return from_error(pre.error());
    Result<polkavm::Instance<void*>> instance = pre->instantiate();
    if (!instance) return from_error(instance.error());
    *out = new polkavm_instance{std::move(instance).value()};
    return POLKAVM_OK;
  });
}

void polkavm_linker_free(polkavm_linker* linker) { delete linker; }

// ---- Caller ------------------------------------------------------------------------------------------

polkavm_instance* polkavm_caller_instance(polkavm_caller* caller) {
  return caller == nullptr ? nullptr : caller->instance;
}

void* polkavm_caller_user_data(const polkavm_caller* caller) {
  return caller == nullptr ? nullptr : caller->user_data;
}

polkavm_status polkavm_caller_set_error(polkavm_caller* caller, const char* message) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(caller);
    caller->error = message == nullptr ? "" : message;
    caller->has_error = true;
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_caller_get_reg(const polkavm_caller* caller, polkavm_reg reg, uint64_t* out) {
  const char* const fn = __func__;
  if (caller == nullptr) return invalid(fn, "caller is NULL");
  return get_reg(fn, caller->instance, raw(reg), out);
}

polkavm_status polkavm_caller_set_reg(polkavm_caller* caller, polkavm_reg reg, uint64_t value) {
  const char* const fn = __func__;
  if (caller == nullptr) return invalid(fn, "caller is NULL");
  return set_reg(fn, caller->instance, raw(reg), value);
}

polkavm_status polkavm_caller_read_memory(const polkavm_caller* caller, uint32_t address, void* out,
                                          uint32_t length) {
  const char* const fn = __func__;
  if (caller == nullptr) return invalid(fn, "caller is NULL");
  return polkavm_instance_read_memory(caller->instance, address, out, length);
}

polkavm_status polkavm_caller_write_memory(polkavm_caller* caller, uint32_t address, const void* data,
                                           uint32_t length) {
  const char* const fn = __func__;
  if (caller == nullptr) return invalid(fn, "caller is NULL");
  return polkavm_instance_write_memory(caller->instance, address, data, length);
}

// ---- Instance ----------------------------------------------------------------------------------------

#define POLKAVM_REQUIRE_IDLE(instance) \
  do {                                 \
    if ((instance)->in_call) return invalid(fn, "a call is already running on this instance"); \
  } while (0)

polkavm_status polkavm_instance_call(polkavm_instance* instance, const char* name, const uint64_t* args,
                                     size_t arg_count, void* user_data, uint64_t* a0, uint64_t* a1) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE(name);
    POLKAVM_REQUIRE_IDLE(instance);
    if (polkavm_status s = check_args(fn, args, arg_count); s != POLKAVM_OK) return s;
    uint32_t pc = 0;
    if (polkavm_status s = find_export(instance->instance->module(), name, &pc); s != POLKAVM_OK) return s;
    if (polkavm_status s = prepare(instance, pc, args, arg_count); s != POLKAVM_OK) return s;
    return finish_call(instance, user_data, a0, a1);
  });
}

polkavm_status polkavm_instance_continue(polkavm_instance* instance, void* user_data, uint64_t* a0, uint64_t* a1) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE_IDLE(instance);
    return finish_call(instance, user_data, a0, a1);
  });
}

polkavm_status polkavm_instance_prepare_call(polkavm_instance* instance, const char* name, const uint64_t* args,
                                             size_t arg_count) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE(name);
    POLKAVM_REQUIRE_IDLE(instance);
    if (polkavm_status s = check_args(fn, args, arg_count); s != POLKAVM_OK) return s;
    uint32_t pc = 0;
    if (polkavm_status s = find_export(instance->instance->module(), name, &pc); s != POLKAVM_OK) return s;
    return prepare(instance, pc, args, arg_count);
  });
}

polkavm_status polkavm_instance_prepare_call_pc(polkavm_instance* instance, uint32_t pc, const uint64_t* args,
                                                size_t arg_count) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE_IDLE(instance);
    if (polkavm_status s = check_args(fn, args, arg_count); s != POLKAVM_OK) return s;
    return prepare(instance, pc, args, arg_count);
  });
}

polkavm_status polkavm_instance_run(polkavm_instance* instance, polkavm_interrupt* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE(out);
    POLKAVM_REQUIRE_IDLE(instance);
    Result<polkavm::Interrupt> interrupt = [&] {
      BusyGuard busy(instance);
      return instance->instance->run();
    }();
    if (!interrupt) return from_error(interrupt.error());
    polkavm_interrupt result{};
    switch (interrupt->kind) {
      case polkavm::Interrupt::Kind::Finished: result.kind = POLKAVM_INTERRUPT_FINISHED; break;
      case polkavm::Interrupt::Kind::Trap: result.kind = POLKAVM_INTERRUPT_TRAP; break;
      case polkavm::Interrupt::Kind::Ecalli: result.kind = POLKAVM_INTERRUPT_ECALLI; break;
      case polkavm::Interrupt::Kind::Segfault: result.kind = POLKAVM_INTERRUPT_SEGFAULT; break;
      case polkavm::Interrupt::Kind::NotEnoughGas: result.kind = POLKAVM_INTERRUPT_NOT_ENOUGH_GAS; break;
      case polkavm::Interrupt::Kind::Step: result.kind = POLKAVM_INTERRUPT_STEP; break;
    }
    result.hostcall = interrupt->hostcall;
    result.segfault_page_address = interrupt->segfault.page_address;
    result.segfault_page_size = interrupt->segfault.page_size;
    result.segfault_is_write_protected = interrupt->segfault.is_write_protected;
    *out = result;
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_program_counter(const polkavm_instance* instance, uint32_t* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE(out);
    std::optional<uint32_t> pc = instance->instance->program_counter();
    if (!pc) return fail(POLKAVM_ERROR, "the instance has no program counter");
    *out = *pc;
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_set_next_program_counter(polkavm_instance* instance, uint32_t pc) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE_IDLE(instance);
    instance->instance->set_next_program_counter(pc);
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_get_reg(const polkavm_instance* instance, polkavm_reg reg, uint64_t* out) {
  return get_reg(__func__, instance, raw(reg), out);
}

polkavm_status polkavm_instance_set_reg(polkavm_instance* instance, polkavm_reg reg, uint64_t value) {
  return set_reg(__func__, instance, raw(reg), value);
}

polkavm_status polkavm_instance_read_memory(const polkavm_instance* instance, uint32_t address, void* out,
                                            uint32_t length) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    if (out == nullptr && length != 0) return invalid(fn, "out is NULL but length is not 0");
    Result<void> read =
        instance->instance->read_memory_into(address, std::span<uint8_t>(static_cast<uint8_t*>(out), out ? length : 0));
    if (!read) return from_error(read.error());
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_write_memory(polkavm_instance* instance, uint32_t address, const void* data,
                                             uint32_t length) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    if (data == nullptr && length != 0) return invalid(fn, "data is NULL but length is not 0");
    Result<void> written = instance->instance->write_memory(
        address, std::span<const uint8_t>(static_cast<const uint8_t*>(data), data ? length : 0));
    if (!written) return from_error(written.error());
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_zero_memory(polkavm_instance* instance, uint32_t address, uint32_t length) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    Result<void> zeroed = instance->instance->zero_memory(address, length);
    if (!zeroed) return from_error(zeroed.error());
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_reset_memory(polkavm_instance* instance) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    Result<void> reset = instance->instance->reset_memory();
    if (!reset) return from_error(reset.error());
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_sbrk(polkavm_instance* instance, uint32_t size, uint32_t* new_heap_top) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    std::optional<uint32_t> top = instance->instance->sbrk(size);
    if (!top) return fail(POLKAVM_ERROR, "the heap cannot grow by " + std::to_string(size) + " bytes");
    if (new_heap_top != nullptr) *new_heap_top = *top;
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_get_gas(const polkavm_instance* instance, int64_t* out) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    POLKAVM_REQUIRE(out);
    *out = instance->instance->gas();
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_set_gas(polkavm_instance* instance, int64_t gas) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    instance->instance->set_gas(gas);
    return POLKAVM_OK;
  });
}

polkavm_status polkavm_instance_set_step_tracing(polkavm_instance* instance, bool enabled) {
  const char* const fn = __func__;
  return guard([&]() -> polkavm_status {
    POLKAVM_REQUIRE(instance);
    instance->instance->set_step_tracing(enabled);
    return POLKAVM_OK;
  });
}

void polkavm_instance_free(polkavm_instance* instance) {
  const char* const fn = __func__;
  if (instance == nullptr) return;
  if (instance->in_call) {
    // Freeing the instance of a running callback would pull the call out from under it: refused (and the
    // instance stays usable).
    (void)invalid(fn, "the instance is running a call; not freed");
    return;
  }
  delete instance;  // destructors do not throw
}

}  // extern "C"
