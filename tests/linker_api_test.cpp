// The typed host-function layer (polkavm/linker.hpp): Linker, InstancePre, Instance::call_typed, Caller and
// CallError, on every backend. Argument and result conversion follows the reference's AbiTy.
#include "polkavm/linker.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "test_util.hpp"

namespace polkavm::test {
namespace {

class LinkerApiTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  const TestBackend& backend() const { return GetParam(); }

  /// A module whose export "pass" hands its own arguments to import 0 ("f") and returns what it answers;
  /// "twice" calls it twice; "trap" traps.
  Module pass_through(InstructionSet isa, ModuleConfig config = {}, std::vector<std::string> imports = {"f"},
                      bool allow_dynamic_paging = false) {
    CodeBuilder b(isa);
    auto pass = b.new_label(), twice = b.new_label(), trap = b.new_label();
    b.bind(pass);
    b.emit(insn(Opcode::ecalli, {}, {0}));
    emit_ret(b);
    b.bind(twice);
    b.emit(insn(Opcode::ecalli, {}, {0}));
    b.emit(insn(Opcode::ecalli, {}, {0}));
    emit_ret(b);
    b.bind(trap);
    emit_trap(b);
    CodeBuilder::Output out = b.finish();
    ProgramBlob blob = make_blob(isa, std::move(out.code), DataLayout{.stack_size = 4096});
    blob.imports = std::move(imports);
    blob.exports = {{out.label_offsets[pass], "pass"},
                    {out.label_offsets[twice], "twice"},
                    {out.label_offsets[trap], "trap"}};
    Engine engine = make_engine(backend(), allow_dynamic_paging);
    return unwrap(Module::from_blob(engine, config, std::move(blob)));
  }
};

TEST_P(LinkerApiTest, TheReferencesHelloWorld) {
  // ../shared/programs/README.md: add_numbers(1, 10) with get_third_number answering 100 returns 111.
  const std::filesystem::path path = std::filesystem::path(POLKAVM_SHARED_DIR) / "programs" / "example-hello-world.polkavm";
  std::ifstream file(path, std::ios::binary);
  ASSERT_TRUE(file) << path << " is missing; set the CMake cache variable POLKAVM_SHARED_DIR";
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  Engine engine = make_engine(backend());
  Module module = unwrap(Module::create(engine, ModuleConfig{}, bytes));

  struct State {
    int calls = 0;
  };
  Linker<State> linker;
  ASSERT_TRUE(linker.define_typed("get_third_number", [](Caller<State>& caller) -> uint32_t {
    ++caller.user_data.calls;
    return 100;
  }));
  InstancePre<State> pre = unwrap(linker.instantiate_pre(module));
  Instance<State> instance = unwrap(pre.instantiate());
  State state;
  CallResult<uint32_t> sum = instance.call_typed<uint32_t>(state, "add_numbers", 1u, 10u);
  ASSERT_TRUE(sum) << sum.error().to_string();
  EXPECT_EQ(*sum, 111u);
  EXPECT_EQ(state.calls, 1);
  // The instance is reusable, and so is the InstancePre.
  EXPECT_EQ(*instance.call_typed<uint32_t>(state, "add_numbers", 2u, 3u), 105u);
  Instance<State> second = unwrap(pre.instantiate());
  EXPECT_EQ(*second.call_typed<uint32_t>(state, "add_numbers", 5u, 5u), 110u);
  EXPECT_EQ(state.calls, 3);
}

TEST_P(LinkerApiTest, ArgumentsAndResultsFollowTheReferencesAbi) {
  for (InstructionSet isa : {InstructionSet::Latest32, InstructionSet::Latest64}) {
    SCOPED_TRACE(instruction_set_name(isa));
    const bool is_64_bit = polkavm::is_64_bit(isa);
    Module module = pass_through(isa);
    struct Seen {
      uint64_t a = 0;
      int32_t b = 0;
      uint32_t c = 0;
      int64_t d = 0;
    };
    Linker<Seen> linker;
    ASSERT_TRUE(linker.define_typed("f", [](Caller<Seen>& caller, uint64_t a, int32_t b, uint32_t c, int64_t d) {
      caller.user_data = Seen{a, b, c, d};
      return a + static_cast<uint64_t>(d);
    }));
    Instance<Seen> instance = unwrap(unwrap(linker.instantiate_pre(module)).instantiate());
    Seen seen;
    const uint64_t a = 0x1234'5678'9abc'def0;
    const int64_t d = -0x1'0000'0002;
    CallResult<uint64_t> result = instance.call_typed<uint64_t>(seen, "pass", a, int32_t{-5}, 0xffff'fff0u, d);
    ASSERT_TRUE(result) << result.error().to_string();
    EXPECT_EQ(seen.a, a);
    EXPECT_EQ(seen.b, -5);
    EXPECT_EQ(seen.c, 0xffff'fff0u);
    EXPECT_EQ(seen.d, d);
    EXPECT_EQ(*result, a + static_cast<uint64_t>(d));
    // Where the values sit: a 64-bit value takes a0 and a1 in a 32-bit program (low half first).
    const RawInstance& raw = instance.raw();
    if (is_64_bit) {
      EXPECT_EQ(raw.reg(Reg::A0), a + static_cast<uint64_t>(d));
      EXPECT_EQ(raw.reg(Reg::A1), static_cast<uint64_t>(int64_t{-5}));  // int32_t sign-extended
    } else {
      EXPECT_EQ(raw.reg(Reg::A0), (a + static_cast<uint64_t>(d)) & 0xFFFFFFFFu);
      EXPECT_EQ(raw.reg(Reg::A1), (a + static_cast<uint64_t>(d)) >> 32);
      EXPECT_EQ(raw.reg(Reg::A2), 0xFFFFFFFBu);  // b, untouched by the host function
    }
  }
}

TEST_P(LinkerApiTest, HostFunctionsTakeAnyCallableAndResultReturns) {
  Module module = pass_through(InstructionSet::Latest64);
  Linker<> linker;  // no user data
  int calls = 0;
  ASSERT_TRUE(linker.define_typed("f", [&calls](Caller<>& caller, int32_t x) -> Result<int32_t> {
    ++calls;
    EXPECT_EQ(caller.instance.reg(Reg::A0), static_cast<uint64_t>(int64_t{x}));
    if (x < 0) return Error("negative: " + std::to_string(x));
    return x * 2;
  }));
  Instance<> instance = unwrap(unwrap(linker.instantiate_pre(module)).instantiate());
  EXPECT_EQ(*instance.call_typed<int32_t>("pass", int32_t{21}), 42);
  CallResult<int32_t> failed = instance.call_typed<int32_t>("pass", int32_t{-3});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind(), CallError::Kind::User);
  EXPECT_EQ(failed.error().message(), "negative: -3");
  EXPECT_EQ(failed.error().to_string(), "host function failed: negative: -3");
  EXPECT_EQ(calls, 2);
  // A function pointer and a function returning nothing.
  Linker<> other;
  static int pointer_calls = 0;
  pointer_calls = 0;
  ASSERT_TRUE(other.define_typed("f", +[]() { ++pointer_calls; }));
  Instance<> second = unwrap(unwrap(other.instantiate_pre(module)).instantiate());
  ASSERT_TRUE(second.call_typed("twice"));
  EXPECT_EQ(pointer_calls, 2);
}

TEST_P(LinkerApiTest, UntypedAndFallbackHandlers) {
  Module module = pass_through(InstructionSet::Latest64, {}, {"f", "g"});
  Linker<> linker;
  ASSERT_TRUE(linker.define_untyped("f", [](Caller<>& caller) -> Result<void> {
    caller.instance.set_reg(Reg::A0, caller.instance.reg(Reg::A0) + caller.instance.reg(Reg::A1));
    return {};
  }));
  EXPECT_EQ(*unwrap(unwrap(linker.instantiate_pre(module)).instantiate()).call_typed<uint64_t>("pass", uint64_t{2}, uint64_t{3}),
            5u);

  // Import 0 undefined: the fallback answers with its index.
  Linker<std::vector<uint32_t>> fallback;
  fallback.define_fallback([](Caller<std::vector<uint32_t>>& caller, uint32_t index) -> Result<void> {
    caller.user_data.push_back(index);
    caller.instance.set_reg(Reg::A0, 7);
    return {};
  });
  Instance<std::vector<uint32_t>> instance = unwrap(unwrap(fallback.instantiate_pre(module)).instantiate());
  std::vector<uint32_t> seen;
  EXPECT_EQ(*instance.call_typed<uint32_t>(seen, "pass"), 7u);
  EXPECT_EQ(seen, std::vector<uint32_t>{0});
}

TEST_P(LinkerApiTest, MistakesAreErrors) {
  Linker<> linker;
  ASSERT_TRUE(linker.define_typed("f", [] {}));
  Result<void> duplicate = linker.define_typed("f", [] {});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().message(), "cannot register host function: host function was already registered: f");
  EXPECT_FALSE(linker.define_untyped("f", [](Caller<>&) -> Result<void> { return {}; }));

  // A strict module refuses an import nobody answers, and names it.
  ModuleConfig strict;
  strict.strict = true;
  Result<InstancePre<>> missing = Linker<>().instantiate_pre(pass_through(InstructionSet::Latest64, strict));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "missing host function: f");

  // Otherwise calling it traps, at the ecalli.
  Module module = pass_through(InstructionSet::Latest64);
  Instance<> instance = unwrap(unwrap(Linker<>().instantiate_pre(module)).instantiate());
  CallResult<void> trapped = instance.call_typed("pass");
  ASSERT_FALSE(trapped);
  EXPECT_EQ(trapped.error().kind(), CallError::Kind::Trap);
  EXPECT_EQ(trapped.error().pc(), module.export_pc("pass"));
  EXPECT_EQ(instance.call_typed("trap").error().kind(), CallError::Kind::Trap);

  CallResult<void> unknown = instance.call_typed("nope");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind(), CallError::Kind::Error);
  EXPECT_EQ(unknown.error().message(), "failed to find export: nope");

  // Six 64-bit parameters need twelve registers in a 32-bit program: more than there are.
  Linker<> wide;
  ASSERT_TRUE(wide.define_typed("f", [](uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {}));
  Result<InstancePre<>> too_wide = wide.instantiate_pre(pass_through(InstructionSet::Latest32));
  ASSERT_FALSE(too_wide);
  EXPECT_EQ(too_wide.error().message(), "host function f takes 12 argument registers in a 32-bit program (at most 9)");
  EXPECT_TRUE(wide.instantiate_pre(pass_through(InstructionSet::Latest64)));
}

TEST_P(LinkerApiTest, RunningOutOfGasAndSteppingEndTheCall) {
  ModuleConfig metered;
  metered.gas_metering = GasMeteringKind::Sync;
  Module module = pass_through(InstructionSet::Latest64, metered);
  Linker<> linker;
  ASSERT_TRUE(linker.define_typed("f", [] {}));
  Instance<> instance = unwrap(unwrap(linker.instantiate_pre(module)).instantiate());
  instance->set_gas(0);
  CallResult<void> out = instance.call_typed("twice");
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().kind(), CallError::Kind::NotEnoughGas);
  EXPECT_EQ(out.error().to_string(), "not enough gas");
  instance->set_gas(1000);
  EXPECT_TRUE(instance.continue_execution());

  instance->set_step_tracing(true);
  CallResult<void> stepped = instance.call_typed("twice");
  ASSERT_FALSE(stepped);
  EXPECT_EQ(stepped.error().kind(), CallError::Kind::Step);
}

TEST_P(LinkerApiTest, DynamicPagingFaultsOnTheStackAreAnsweredByDefault) {
  // The stack is not mapped up front with dynamic paging: the call loop maps each page it faults on.
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::add_imm_64, {Reg::SP, Reg::SP}, {static_cast<uint32_t>(-16)}));
  b.emit(insn(Opcode::store_indirect_u64, {Reg::A0, Reg::SP}, {8}));
  b.emit(insn(Opcode::load_indirect_u64, {Reg::A1, Reg::SP}, {8}));
  b.emit(insn(Opcode::add_imm_64, {Reg::SP, Reg::SP}, {16}));
  b.emit(insn(Opcode::add_64, {Reg::A0, Reg::A0, Reg::A1}));
  emit_ret(b);
  CodeBuilder::Output out = b.finish();
  ProgramBlob blob = make_blob(InstructionSet::Latest64, std::move(out.code), DataLayout{.stack_size = 4096});
  blob.exports = {{0, "double"}};
  ModuleConfig config;
  config.dynamic_paging = true;
  Engine engine = make_engine(backend(), /*allow_dynamic_paging=*/true);
  Module module = unwrap(Module::from_blob(engine, config, std::move(blob)));
  Instance<> instance = unwrap(unwrap(Linker<>().instantiate_pre(module)).instantiate());
  CallResult<uint64_t> doubled = instance.call_typed<uint64_t>("double", uint64_t{21});
  ASSERT_TRUE(doubled) << doubled.error().to_string();
  EXPECT_EQ(*doubled, 42u);
}

INSTANTIATE_TEST_SUITE_P(Linker, LinkerApiTest, ::testing::ValuesIn(backends()), backend_param_name);

TEST(ResultDeathTest, TheValueOfAnErrorPrintsTheErrorBeforeAborting) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<int> failed = Error("the reason");
  EXPECT_DEATH((void)failed.value(), "the value of a failed result was accessed: the reason");
}

}  // namespace
}  // namespace polkavm::test
