// Config::crosscheck: an interpreter runs beside the compiled code, the host's changes go to both, and after
// every run any difference (interrupt, registers, gas, program counters, memory) is an Error naming it.
#include "runtime/backend.hpp"
#include "sample_guests.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

Config crosscheck_config(const TestBackend& backend) {
  Config config;
  apply(config, backend);
  config.crosscheck = true;
  config.allow_experimental = true;
  config.allow_dynamic_paging = true;
  return config;
}

TEST(CrosscheckConfig, IsExperimentalAndNeedsTheCompiler) {
  Config config;
  config.crosscheck = true;
  Result<Engine> without = Engine::create(config);
  ASSERT_FALSE(without);
  EXPECT_EQ(without.error().kind(), ErrorKind::InvalidArgument);  // experimental, as in the reference
  EXPECT_EQ(without.error().message(), "cannot enable execution cross-checking: `allow_experimental` is not enabled");

  // With the interpreter there is no compiled code to check: refused rather than silently doing nothing.
  config.allow_experimental = true;
  config.backend = BackendKind::Interpreter;
  Result<Engine> interpreter = Engine::create(config);
  ASSERT_FALSE(interpreter);
  EXPECT_EQ(interpreter.error().kind(), ErrorKind::Unsupported);

  setenv("POLKAVM_CROSSCHECK", "1", 1);
  Result<Config> from_env = Config::from_env();
  unsetenv("POLKAVM_CROSSCHECK");
  ASSERT_TRUE(from_env);
  EXPECT_TRUE(from_env->crosscheck);
}

std::vector<TestBackend> compiler_backends() {
  std::vector<TestBackend> out;
  for (const TestBackend& b : backends())
    if (b.backend == BackendKind::Compiler) out.push_back(b);
  return out;
}

class CrosscheckTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (compiler_backends().empty()) GTEST_SKIP() << "this host does not run the compiler";
  }
};

// The sample guests (loops, calls, memory, the heap) with and without gas: both sides agree on every run.
TEST_P(CrosscheckTest, AgreesOnTheSampleGuests) {
  Engine engine = unwrap(Engine::create(crosscheck_config(GetParam())));
  for (const guests::SampleGuest& guest : guests::sample_guests()) {
    for (GasMeteringKind gas : {GasMeteringKind::None, GasMeteringKind::Sync, GasMeteringKind::Async}) {
      Module module = unwrap(Module::from_blob(engine, gas_config(gas), guest.build()));
      RawInstance instance = unwrap(module.instantiate());
      for (uint64_t arg : {uint64_t{0}, uint64_t{3}, guest.example_arg / 10}) {
        const uint64_t args[] = {arg};
        unwrap(instance.prepare_call(*module.export_pc("main"), args));
        instance.set_gas(Gas{1} << 40);
        Result<Interrupt> interrupt = instance.run();
        ASSERT_TRUE(interrupt) << guest.name << ": " << interrupt.error().message();
        EXPECT_EQ(*interrupt, Interrupt::finished()) << guest.name;
        EXPECT_EQ(instance.reg(Reg::A0), guest.expected_result(arg)) << guest.name;
      }
      // Out of gas part-way: the same interrupt, gas and program counters on both sides.
      unwrap(instance.prepare_call(*module.export_pc("main"), std::vector<uint64_t>{guest.example_arg / 10}));
      instance.set_gas(gas == GasMeteringKind::None ? 0 : 57);
      Result<Interrupt> interrupt = instance.run();
      ASSERT_TRUE(interrupt) << guest.name << ": " << interrupt.error().message();
    }
  }
}

// Steps, host calls, and a host that maps pages on demand and writes guest memory between runs.
TEST_P(CrosscheckTest, FollowsTheHostsChangesBetweenRuns) {
  Engine engine = unwrap(Engine::create(crosscheck_config(GetParam())));
  constexpr uint32_t kPage = 0x40000;
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::store_u32, {Reg::A0}, {kPage}));      // faults: the host maps the page
  b.emit(insn(Opcode::ecalli, {}, {1}));                    // the host writes 7 at kPage + 4
  b.emit(insn(Opcode::load_u32, {Reg::A1}, {kPage + 4}));
  b.emit(insn(Opcode::add_64, {Reg::A0, Reg::A0, Reg::A1}));
  emit_ret(b);
  ModuleConfig module_config;
  module_config.dynamic_paging = true;
  module_config.gas_metering = GasMeteringKind::Sync;
  Module module =
      unwrap(Module::from_blob(engine, module_config, make_blob(InstructionSet::Latest64, b.finish().code)));
  RawInstance instance = unwrap(module.instantiate());
  for (bool stepping : {false, true}) {
    instance.set_step_tracing(stepping);
    unwrap(instance.reset_memory());
    unwrap(instance.prepare_call(0, std::vector<uint64_t>{35}));
    instance.set_gas(1000);
    int steps = 0;
    for (;;) {
      Result<Interrupt> interrupt = instance.run();
      ASSERT_TRUE(interrupt) << interrupt.error().message();
      if (interrupt->kind == Interrupt::Kind::Finished) break;
      if (interrupt->kind == Interrupt::Kind::Step) {
        ++steps;
      } else if (interrupt->kind == Interrupt::Kind::Segfault) {
        unwrap(instance.zero_memory_with_memory_protection(interrupt->segfault.page_address,
                                                           interrupt->segfault.page_size, MemoryProtection::ReadWrite));
      } else {
        ASSERT_EQ(*interrupt, Interrupt::ecalli(1));
        const uint8_t seven[] = {7, 0, 0, 0};
        unwrap(instance.write_memory(kPage + 4, seven));
      }
    }
    EXPECT_EQ(instance.reg(Reg::A0), 42u);
    EXPECT_EQ(steps, stepping ? 5 : 0);  // one before each instruction (none again after the fault)
  }
}

/// Loads a word of RW data into a0 and returns, or traps when it is 0xDEAD.
Module load_and_branch(const Engine& engine, uint32_t rw_address) {
  CodeBuilder b(InstructionSet::Latest64);
  CodeBuilder::Label trap = b.new_label();
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {rw_address}));
  b.emit(insn(Opcode::load_imm, {Reg::A1}, {0xDEAD}));
  b.emit(insn(Opcode::branch_eq, {Reg::A0, Reg::A1}), trap);
  emit_ret(b);
  b.bind(trap);
  emit_trap(b);
  return unwrap(Module::from_blob(engine, {},
                                  make_blob(InstructionSet::Latest64, b.finish().code,
                                            DataLayout{.ro_data_size = 1, .rw_data_size = 4, .stack_size = 4096})));
}

// A divergence is found and named. The two sides are made to differ behind the API's back (a change to the
// compiled instance's memory that the interpreter does not see), as a backend bug would.
TEST_P(CrosscheckTest, NamesTheFirstDifference) {
  Engine engine = unwrap(Engine::create(crosscheck_config(GetParam())));
  Module module = load_and_branch(engine, 0x30000);
  ASSERT_EQ(module.memory_map().rw_data_address, 0x30000u);
  const auto compiled_only_write = [](RawInstance& instance, uint32_t value) {
    const uint8_t bytes[] = {uint8_t(value), uint8_t(value >> 8), uint8_t(value >> 16), uint8_t(value >> 24)};
    unwrap(detail::backend_of(instance)->memory().write(0x30000, bytes));
  };
  {
    RawInstance instance = unwrap(module.instantiate());
    unwrap(instance.prepare_call(0));
    ASSERT_TRUE(instance.run());  // in step: no error
    EXPECT_EQ(instance.reg(Reg::A0), 0u);
    compiled_only_write(instance, 5);
    unwrap(instance.prepare_call(0));
    Result<Interrupt> run = instance.run();
    ASSERT_FALSE(run);
    EXPECT_EQ(run.error().kind(), ErrorKind::Divergence);
    EXPECT_EQ(run.error().message(),
              "cross-check: the compiled code and the interpreter diverged: a0 = 0x5, the interpreter's 0x0");
    // The instance cannot go on from a divergence.
    EXPECT_EQ(instance.next_program_counter(), std::nullopt);
  }
  {
    RawInstance instance = unwrap(module.instantiate());
    compiled_only_write(instance, 0xDEAD);
    unwrap(instance.prepare_call(0));
    Result<Interrupt> run = instance.run();
    ASSERT_FALSE(run);
    EXPECT_EQ(run.error().message(),
              "cross-check: the compiled code and the interpreter diverged: interrupt trap, the interpreter's finished");
  }
  {
    RawInstance instance = unwrap(module.instantiate());
    const uint8_t byte[] = {9};
    // Memory that no register shows: found by comparing the memories after the run.
    unwrap(detail::backend_of(instance)->memory().write(0x30008, byte));  // not read by the guest
    unwrap(instance.prepare_call(0));
    Result<Interrupt> run = instance.run();
    ASSERT_FALSE(run);
    EXPECT_EQ(run.error().message(),
              "cross-check: the compiled code and the interpreter diverged: memory at 0x30008: 0x09, the "
              "interpreter's 0x00 (after finished at none)");
  }
}

INSTANTIATE_TEST_SUITE_P(Crosscheck, CrosscheckTest, ::testing::ValuesIn(compiler_backends()), backend_param_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CrosscheckTest);

}  // namespace
}  // namespace polkavm::test
