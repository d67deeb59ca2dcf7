// Every Config and ModuleConfig field acts or is refused with an Error, never silently ignored (the module
// cache: cache_enabled, lru_cache_size, cache_by_hash); and Errors carry a kind that hosts can branch on.
//
// Where each field is shown to act (besides the tests below):
//   Config::crosscheck                 crosscheck_test.cpp
//   Config::core_pinning               core_pinning_test.cpp
//   Config::backend, sandbox           ApiTest.EngineReportsTheRequestedBackend, SandboxSelection.*
//   Config::allow_experimental         SandboxSelection.GenericNeedsAllowExperimental, CostModelSelection.*
//   Config::allow_dynamic_paging       MemoryTest.DynamicPagingNeedsTheEngineToAllowIt
//   Config::worker_count               LinuxSandbox.WorkersAreReusedAfterTheirInstanceEnds, below
//   Config::sandboxing_enabled         SandboxSelection.DisablingSandboxingNeedsAllowExperimental
//   Config::default_gas_metering       GasTest.*; Config::default_cost_model: CostModelSelection.*
//   Config::compile_memory_limit       CompileMemory.TheCompileMemoryLimitIsAnErrorWhereverItIsReached, below
//   ModuleConfig::gas_metering, cost_model   GasTest.*, CostModelSelection.*
//   ModuleConfig::strict               LinkerApiTest.MistakesAreErrors, ApiTest.*
//   ModuleConfig::step_tracing         ApiTest.StepTracingStopsBeforeEveryInstruction
//   ModuleConfig::dynamic_paging       MemoryTest.DynamicPaging*
//   ModuleConfig::page_size, aux_data_size   below
//   ModuleConfig::gray_paper_end_of_code     ControlFlowTest.FallthroughIntoTheEndOfCode
#include <cstdlib>

#include "sandbox/linux/linux_sandbox.hpp"
#include "runtime/backend.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

ProgramBlob return_blob() {
  CodeBuilder b(InstructionSet::Latest64);
  emit_ret(b);
  return make_blob(InstructionSet::Latest64, b.finish().code, DataLayout{.stack_size = 4096});
}

TEST(ModuleCache, NeedsToBeEnabled) {
  Config lru;
  lru.lru_cache_size = 4;  // without cache_enabled: nothing would act on it
  Result<Engine> refused = Engine::create(lru);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::InvalidArgument);
  {
    ScopedEnv env("POLKAVM_LRU_CACHE_SIZE", "16");
    EXPECT_FALSE(Engine::create(unwrap(Config::from_env())));
  }
  Config interpreter;
  interpreter.backend = BackendKind::Interpreter;
  Engine engine = unwrap(Engine::create(interpreter));
  ModuleConfig by_hash;
  by_hash.cache_by_hash = true;
  Result<Module> module = Module::from_blob(engine, by_hash, return_blob());
  ASSERT_FALSE(module);
  EXPECT_EQ(module.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_FALSE(Module::from_cache(engine, by_hash, return_blob()));
}

class ModuleCacheTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  Engine engine(uint32_t lru_cache_size) {
    Config config;
    apply(config, GetParam());
    config.cache_enabled = true;
    config.lru_cache_size = lru_cache_size;
    return unwrap(Engine::create(config));
  }
  static ModuleConfig cached() {
    ModuleConfig config;
    config.cache_by_hash = true;
    return config;
  }
  // The same module (state) behind two handles: the blob they show is one object.
  static bool same(const Module& a, const Module& b) { return &a.blob() == &b.blob(); }
};

TEST_P(ModuleCacheTest, TheSameBlobAndConfigurationGiveTheSameModule) {
  Engine e = engine(0);
  Module first = unwrap(Module::from_blob(e, cached(), return_blob()));
  Module second = unwrap(Module::from_blob(e, cached(), return_blob()));  // an equal blob, another object
  EXPECT_TRUE(same(first, second));
  std::optional<Module> found = Module::from_cache(e, cached(), return_blob());
  ASSERT_TRUE(found);
  EXPECT_TRUE(same(*found, first));
  RawInstance instance = unwrap(found->instantiate());  // a cached module runs like any other
  EXPECT_EQ(call(instance, 0), Interrupt::finished());

  // Another configuration, another blob, or no cache_by_hash: other modules.
  ModuleConfig metered = cached();
  metered.gas_metering = GasMeteringKind::Sync;
  EXPECT_FALSE(same(unwrap(Module::from_blob(e, metered, return_blob())), first));
  ProgramBlob changed = return_blob();
  changed.stack_size += 4096;
  EXPECT_FALSE(same(unwrap(Module::from_blob(e, cached(), changed)), first));
  EXPECT_FALSE(same(unwrap(Module::from_blob(e, ModuleConfig{}, return_blob())), first));
  // Engines have caches of their own.
  EXPECT_FALSE(same(unwrap(Module::from_blob(engine(0), cached(), return_blob())), first));
}

TEST_P(ModuleCacheTest, UnusedModulesStayOnlyInTheLru) {
  Engine without_lru = engine(0);
  { Module dropped = unwrap(Module::from_blob(without_lru, cached(), return_blob())); }
  EXPECT_FALSE(Module::from_cache(without_lru, cached(), return_blob())) << "nobody holds it and there is no LRU";

  Engine with_lru = engine(1);
  const uint8_t* kept = nullptr;
  { kept = reinterpret_cast<const uint8_t*>(&unwrap(Module::from_blob(with_lru, cached(), return_blob())).blob()); }
  std::optional<Module> found = Module::from_cache(with_lru, cached(), return_blob());
  ASSERT_TRUE(found) << "the LRU holds the last module";
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(&found->blob()), kept);
  found.reset();
  // A second module pushes the first out of a one-module LRU.
  ProgramBlob other = return_blob();
  other.stack_size += 4096;
  { Module second = unwrap(Module::from_blob(with_lru, cached(), other)); }
  EXPECT_FALSE(Module::from_cache(with_lru, cached(), return_blob()));
  EXPECT_TRUE(Module::from_cache(with_lru, cached(), other));
}

INSTANTIATE_TEST_SUITE_P(Cache, ModuleCacheTest, ::testing::ValuesIn(backends()), backend_param_name);

TEST(ConfigHonesty, PageSizeAndAuxDataSizeShapeTheMemoryMap) {
  Config interpreter;
  interpreter.backend = BackendKind::Interpreter;
  Engine engine = unwrap(Engine::create(interpreter));
  ModuleConfig config;
  config.page_size = 0x4000;
  config.aux_data_size = 0x5000;
  Module module = unwrap(Module::from_blob(engine, config, return_blob()));
  EXPECT_EQ(module.memory_map().page_size, 0x4000u);
  EXPECT_EQ(module.memory_map().aux_data_size, 0x8000u);  // rounded up to the page
  EXPECT_EQ(module.memory_map().aux_data_address % 0x4000, 0u);
  RawInstance instance = unwrap(module.instantiate());
  EXPECT_TRUE(instance.is_memory_accessible(module.memory_map().aux_data_address, 0x8000, MemoryProtection::Read));

  config.page_size = 0x3000;  // not a power of two
  EXPECT_FALSE(Module::from_blob(engine, config, return_blob()));
}

TEST(ConfigHonesty, TheInterpreterRefusesACompileMemoryLimit) {
  Config config;
  config.backend = BackendKind::Interpreter;
  config.compile_memory_limit = 1 << 20;  // it compiles nothing
  Result<Engine> engine = Engine::create(config);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().kind(), ErrorKind::Unsupported);
  EXPECT_NE(engine.error().message().find("compile_memory_limit"), std::string::npos) << engine.error().message();
  config.compile_memory_limit = Config{}.compile_memory_limit;
  EXPECT_TRUE(Engine::create(config).ok());
}

TEST(ConfigHonesty, WorkerCountZeroKeepsNoIdleWorker) {
  Config config;
  config.backend = BackendKind::Compiler;
  config.sandbox = SandboxKind::Linux;
  config.worker_count = 0;
  Result<Engine> engine = Engine::create(config);
  if (!engine) GTEST_SKIP() << "the Linux sandbox does not run here: " << engine.error().message();
  Module module = unwrap(Module::from_blob(*engine, ModuleConfig{}, return_blob()));
  int first = -1;
  {
    RawInstance instance = unwrap(module.instantiate());
    first = detail::linux_sandbox::worker_pid(*detail::backend_of(instance)->sandbox());
  }
  RawInstance instance = unwrap(module.instantiate());
  EXPECT_NE(detail::linux_sandbox::worker_pid(*detail::backend_of(instance)->sandbox()), first)
      << "with worker_count = 0 the first instance's worker must not be kept for the second";
}

TEST(ErrorKinds, NameWhatWentWrong) {
  Config interpreter;
  interpreter.backend = BackendKind::Interpreter;
  Engine engine = unwrap(Engine::create(interpreter));

  const uint8_t garbage[] = {1, 2, 3};
  EXPECT_EQ(Module::create(engine, ModuleConfig{}, garbage).error().kind(), ErrorKind::InvalidBlob);

  Module module = unwrap(Module::from_blob(engine, ModuleConfig{}, return_blob()));
  RawInstance instance = unwrap(module.instantiate());
  Result<std::vector<uint8_t>> outside = instance.read_memory(0x20000000, 4);
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().kind(), ErrorKind::MemoryAccess);
  EXPECT_EQ(instance.run().error().kind(), ErrorKind::InvalidArgument);  // no next program counter

  RawInstance taken = std::move(instance);
  EXPECT_EQ(instance.run().error().kind(), ErrorKind::InvalidArgument);  // moved from

  {
    ScopedEnv env("POLKAVM_BACKEND", "fast");
    EXPECT_EQ(Config::from_env().error().kind(), ErrorKind::InvalidArgument);
  }
  EXPECT_EQ(Error("x").kind(), ErrorKind::Other);
  EXPECT_STREQ(error_kind_name(ErrorKind::MemoryAccess), "memory-access");
}

}  // namespace
}  // namespace polkavm::test
