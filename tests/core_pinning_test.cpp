// Config::core_pinning: parsed as the reference's POLKAVM_CORE_PINNING, refused where there is no Linux
// sandbox, and acting where there is one: the host thread and the worker are pinned while an instance lives,
// and the thread gets its own affinity back after.
#include <sched.h>

#include <thread>

#include "runtime/backend.hpp"
#include "sandbox/linux/linux_sandbox.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

cpu_set_t affinity(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(tid, sizeof(set), &set), 0);
  return set;
}

ProgramBlob ecalli_blob() {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::ecalli, {}, {1}));
  emit_ret(b);
  return make_blob(InstructionSet::Latest64, b.finish().code, DataLayout{.stack_size = 4096});
}

TEST(CorePinningConfig, ParsesTheReferencesNames) {
  for (CorePinning pinning : kCorePinnings)
    EXPECT_EQ(core_pinning_from_name(core_pinning_name(pinning)), pinning);
  EXPECT_EQ(core_pinning_name(CorePinning::PinToCcx), "pin_to_ccx");
  setenv("POLKAVM_CORE_PINNING", "pin_to_core", 1);
  Result<Config> config = Config::from_env();
  setenv("POLKAVM_CORE_PINNING", "pin-to-core", 1);
  Result<Config> bad = Config::from_env();
  unsetenv("POLKAVM_CORE_PINNING");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->core_pinning, CorePinning::PinToCore);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(Config{}.core_pinning, CorePinning::Disabled);
}

TEST(CorePinningConfig, IsRefusedWithoutTheLinuxSandbox) {
  Config config;
  config.backend = BackendKind::Interpreter;
  config.core_pinning = CorePinning::PinToCore;
  Result<Engine> engine = Engine::create(config);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().kind(), ErrorKind::Unsupported);
  EXPECT_NE(engine.error().message().find("no Linux sandbox"), std::string::npos) << engine.error().message();
}

class CorePinningTest : public ::testing::TestWithParam<CorePinning> {};

TEST_P(CorePinningTest, PinsTheHostThreadAndTheWorkerWhileAnInstanceLives) {
  Config config;
  config.backend = BackendKind::Compiler;
  config.sandbox = SandboxKind::Linux;
  config.core_pinning = GetParam();
  Result<Engine> created = Engine::create(config);
  if (!created) GTEST_SKIP() << "no Linux sandbox here: " << created.error().message();
  Engine engine = std::move(created).value();
  Module module = unwrap(Module::from_blob(engine, {}, ecalli_blob()));
  const cpu_set_t runner = affinity(0);
  const int cpus = CPU_COUNT(&runner);
  // On a thread of its own, as a host would: the test runner's thread keeps its affinity either way.
  std::thread([&] {
    const cpu_set_t before = affinity(0);
    pid_t worker_pid = -1;
    {
      RawInstance instance = unwrap(module.instantiate());
      EXPECT_EQ(call(instance, 0), Interrupt::ecalli(1));
      EXPECT_EQ(resume(instance), Interrupt::finished());
      const cpu_set_t host = affinity(0);
      worker_pid = detail::linux_sandbox::worker_pid(*detail::backend_of(instance)->sandbox());
      ASSERT_GT(worker_pid, 0);
      const cpu_set_t worker = affinity(worker_pid);
      EXPECT_EQ(CPU_COUNT(&worker), 1);
      if (GetParam() == CorePinning::PinToCore) {
        EXPECT_EQ(CPU_COUNT(&host), 1);
      } else {
        EXPECT_GE(CPU_COUNT(&host), 1);
        EXPECT_LE(CPU_COUNT(&host), cpus);
      }
      // With two cores or more, the worker has a core of its own.
      cpu_set_t both;
      CPU_AND(&both, &host, &worker);
      if (cpus >= 2 && GetParam() == CorePinning::PinToCore) {
        EXPECT_EQ(CPU_COUNT(&both), 0);
      }
      // A second instance on the same thread: the thread stays where it is.
      RawInstance second = unwrap(module.instantiate());
      EXPECT_EQ(call(second, 0), Interrupt::ecalli(1));
      const cpu_set_t still = affinity(0);
      EXPECT_TRUE(CPU_EQUAL(&still, &host));
    }
    const cpu_set_t after = affinity(0);
    EXPECT_TRUE(CPU_EQUAL(&after, &before)) << "the thread's own affinity is restored";
    // The worker, back in the pool, may serve an engine that does not pin.
    const cpu_set_t idle_worker = affinity(worker_pid);
    EXPECT_EQ(CPU_COUNT(&idle_worker), cpus);
  }).join();
}

INSTANTIATE_TEST_SUITE_P(CorePinning, CorePinningTest,
                         ::testing::Values(CorePinning::PinToCore, CorePinning::PinToCcx),
                         [](const ::testing::TestParamInfo<CorePinning>& info) {
                           return std::string(core_pinning_name(info.param));
                         });

}  // namespace
}  // namespace polkavm::test
