// The interpreter's translations stay proportional to what runs: a chain of blocks is laid out only up to a
// bound, and with set_interpreter_cache_size_limit the translations are dropped whenever they pass the
// limit, with the same results and gas as without it.
#include <tuple>

#include "runtime/backend.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

size_t translation_bytes(RawInstance& instance) { return detail::backend_of(instance)->translation_bytes(); }

// 200,000 blocks falling into each other (one `fallthrough` each), then a return.
TEST(InterpreterCache, ALongChainOfBlocksIsNotTranslatedAhead) {
  CodeBuilder b(InstructionSet::Latest64);
  for (int i = 0; i < 200'000; ++i) b.emit(insn(Opcode::fallthrough));
  emit_ret(b);
  Config config;
  config.backend = BackendKind::Interpreter;
  Engine engine = unwrap(Engine::create(config));
  Module module = unwrap(Module::from_blob(engine, gas_config(GasMeteringKind::Sync),
                                           make_blob(InstructionSet::Latest64, b.finish().code)));
  RawInstance instance = unwrap(module.instantiate());
  instance.set_gas(2);
  EXPECT_EQ(call(instance, 0), Interrupt::not_enough_gas());
  // Before the bound, the whole chain (200,001 ops, about 4 MB) was translated for 2 gas.
  EXPECT_LT(translation_bytes(instance), 1000u * 20) << "ops translated ahead of execution";
  instance.set_gas(1'000'000);
  EXPECT_EQ(resume(instance), Interrupt::finished());
  EXPECT_EQ(instance.gas(), 1'000'000 - 200'000 + 2 - 1);  // one gas a block, the two paid before
}

// A chain past the bound that runs off the end of the code traps as on the compiler, whatever the chain
// bound: at the last fallthrough (the reference's rule), or at the implicit trap there, reached as a block
// of its own and charged (ModuleConfig::gray_paper_end_of_code).
TEST(InterpreterCache, AChainRunningOffTheEndTrapsAsOnTheCompiler) {
  for (bool gray_paper : {false, true}) {
    for (uint32_t length : {511u, 512u, 513u, 1024u}) {  // the bound is 512 instructions
      CodeBuilder b(InstructionSet::Latest64);
      for (uint32_t i = 0; i < length; ++i) b.emit(insn(Opcode::fallthrough));
      const ProgramBlob blob = make_blob(InstructionSet::Latest64, b.finish().code);
      ModuleConfig config = gas_config(GasMeteringKind::Sync);
      config.gray_paper_end_of_code = gray_paper;
      std::vector<std::tuple<Interrupt, std::optional<uint32_t>, Gas>> results;
      for (const TestBackend& backend : backends()) {
        Engine engine = make_engine(backend);
        Module module = unwrap(Module::from_blob(engine, config, blob));
        RawInstance instance = unwrap(module.instantiate());
        instance.set_gas(10'000);
        const Interrupt interrupt = call(instance, 0);
        results.emplace_back(interrupt, instance.program_counter(), instance.gas());
      }
      for (const auto& result : results) EXPECT_EQ(result, results.front()) << length;
      EXPECT_EQ(std::get<0>(results.front()), Interrupt::trap()) << length;
      EXPECT_EQ(std::get<1>(results.front()), gray_paper ? length : length - 1) << "where it traps";
      EXPECT_EQ(std::get<2>(results.front()), 10'000 - Gas(length) - (gray_paper ? 1 : 0)) << length;
    }
  }
}

/// 6000 blocks, each adding one to a0: even ones end with a static jump to the next, odd ones with a
/// dynamic jump through the jump table; the last returns.
ProgramBlob many_blocks() {
  constexpr int kBlocks = 6000;
  CodeBuilder b(InstructionSet::Latest64);
  std::vector<CodeBuilder::Label> labels;
  for (int i = 0; i <= kBlocks; ++i) labels.push_back(b.new_label());
  uint32_t entries = 0;
  for (int i = 0; i < kBlocks; ++i) {
    b.bind(labels[i]);
    b.emit(insn(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {1}));
    if (i % 2 == 0) {
      b.emit(insn(Opcode::jump), labels[i + 1]);
    } else {
      b.add_jump_table_entry(labels[i + 1]);
      ++entries;
      b.emit(insn(Opcode::load_imm_and_jump_indirect, {Reg::T0, Reg::T0}, {0, entries * 2}));
    }
  }
  b.bind(labels[kBlocks]);
  emit_ret(b);
  return make_blob(InstructionSet::Latest64, b.finish().code);
}

TEST(InterpreterCache, ALimitDropsTranslationsWithoutChangingResultsOrGas) {
  Config config;
  config.backend = BackendKind::Interpreter;
  Engine engine = unwrap(Engine::create(config));
  Module module = unwrap(Module::from_blob(engine, gas_config(GasMeteringKind::Sync), many_blocks()));
  constexpr size_t kLimit = 100'000;
  for (bool stepping : {false, true}) {
    RawInstance unlimited = unwrap(module.instantiate());
    RawInstance limited = unwrap(module.instantiate());
    ASSERT_TRUE(limited.set_interpreter_cache_size_limit(kLimit));
    size_t largest = 0;
    for (RawInstance* instance : {&unlimited, &limited}) {
      instance->set_step_tracing(stepping);
      unwrap(instance->prepare_call(0));
      instance->set_gas(1'000'000);
      for (;;) {
        const Interrupt interrupt = resume(*instance);
        if (instance == &limited) largest = std::max(largest, translation_bytes(*instance));
        if (interrupt != Interrupt::step()) {
          EXPECT_EQ(interrupt, Interrupt::finished());
          break;
        }
      }
    }
    EXPECT_EQ(limited.reg(Reg::A0), 6000u);
    EXPECT_EQ(limited.reg(Reg::A0), unlimited.reg(Reg::A0));
    EXPECT_EQ(limited.gas(), unlimited.gas());
    EXPECT_GT(translation_bytes(unlimited), 2 * kLimit);  // the limit mattered
    // Past the limit by one translation at most: here a block of two instructions, with step ops four.
    EXPECT_LE(largest, kLimit + 4 * 20);
  }
}

// Without gas metering a block of a lone `fallthrough` has no op of its own: its pc enters at the next
// block's first op. Dropping the translations forgets it too: a guest that jumped back to it after a drop ran
// whatever op had taken that index since (or read past the ops).
TEST(InterpreterCache, ABlockWithoutOpsIsForgottenWithTheRest) {
  constexpr int kBlocks = 3000;  // two ops each: the smallest limit (4096 ops) is passed once
  CodeBuilder b(InstructionSet::Latest64);
  uint32_t entries = 0;
  auto jump_through_table = [&](CodeBuilder::Label to) {
    b.add_jump_table_entry(to);
    ++entries;
    b.emit(insn(Opcode::load_imm_and_jump_indirect, {Reg::T0, Reg::T0}, {0, entries * 2}));
  };
  auto lone = b.new_label(), end = b.new_label(), twice = b.new_label();
  std::vector<CodeBuilder::Label> chain;
  for (int i = 0; i <= kBlocks; ++i) chain.push_back(b.new_label());
  jump_through_table(lone);
  b.bind(lone);
  b.emit(insn(Opcode::fallthrough));
  b.emit(insn(Opcode::add_imm_64, {Reg::A2, Reg::A2}, {1}));
  b.emit(insn(Opcode::branch_eq_imm, {Reg::A2}, {2, 0}), end);
  jump_through_table(chain[0]);
  for (int i = 0; i < kBlocks; ++i) {
    b.bind(chain[i]);
    b.emit(insn(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {1}));
    jump_through_table(chain[i + 1]);
  }
  b.bind(chain[kBlocks]);  // the chain runs once: a second time is the bug, stopped here
  b.emit(insn(Opcode::add_imm_64, {Reg::A3, Reg::A3}, {1}));
  b.emit(insn(Opcode::branch_eq_imm, {Reg::A3}, {2, 0}), twice);
  jump_through_table(lone);
  b.bind(twice);
  emit_trap(b);
  b.bind(end);
  emit_ret(b);
  const ProgramBlob blob = make_blob(InstructionSet::Latest64, b.finish().code);
  for (const TestBackend& backend : backends()) {
    for (bool limited : {false, true}) {
      if (limited && backend.backend != BackendKind::Interpreter) continue;
      Engine engine = make_engine(backend);
      Module module = unwrap(Module::from_blob(engine, gas_config(GasMeteringKind::None), blob));
      RawInstance instance = unwrap(module.instantiate());
      if (limited) {
        ASSERT_TRUE(instance.set_interpreter_cache_size_limit(80 * 1024));  // the floor
      }
      EXPECT_EQ(call(instance, 0), Interrupt::finished()) << test_backend_name(backend) << limited;
      EXPECT_EQ(instance.reg(Reg::A0), uint64_t(kBlocks)) << test_backend_name(backend) << limited;
      EXPECT_EQ(instance.reg(Reg::A2), 2u);
      EXPECT_EQ(instance.reg(Reg::A3), 1u);
    }
  }
}

TEST(InterpreterCache, LimitIsTheInterpretersAndHasAFloor) {
  for (const TestBackend& backend : backends()) {
    Vm v = make_vm(backend, InstructionSet::Latest64, [] {
      CodeBuilder b(InstructionSet::Latest64);
      emit_ret(b);
      return b;
    }());
    Result<void> small = v.instance.set_interpreter_cache_size_limit(1000);
    Result<void> unlimited = v.instance.set_interpreter_cache_size_limit(std::nullopt);
    if (backend.backend == BackendKind::Interpreter) {
      EXPECT_EQ(small.error().kind(), ErrorKind::InvalidArgument);
      EXPECT_TRUE(unlimited);
    } else {
      EXPECT_EQ(small.error().kind(), ErrorKind::Unsupported);
    }
  }
}

}  // namespace
}  // namespace polkavm::test
