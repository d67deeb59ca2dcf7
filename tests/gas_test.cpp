// Gas metering: per-block charging, Sync/Async out-of-gas behaviour, mid-block entry, cost models.
// Facts: digest §4 and the reference's tests.rs (basic_gas_metering, gas_metering_with_implicit_trap,
// gas_gets_charged_when_jumping_in_the_middle_of_a_basic_block, step_tracing_out_of_gas).
#include "test_util.hpp"

namespace polkavm::test {
namespace {

class GasTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  const TestBackend& backend() const { return GetParam(); }
  Vm vm(InstructionSet isa, const CodeBuilder& b, ModuleConfig config) {
    return make_vm(backend(), isa, b, VmOptions{.module_config = std::move(config)});
  }
};

// [fallthrough] [a0 += 666; ret]: blocks of cost 1 and 2 (the reference's basic_gas_metering program).
struct TwoBlocks {
  CodeBuilder builder{InstructionSet::Latest64};
  CodeBuilder::Label second = 0;
  TwoBlocks() {
    builder.emit(insn(Opcode::fallthrough));
    second = builder.new_label();
    builder.bind(second);
    emit_add_imm_32(builder, Reg::A0, Reg::A0, 666);
    emit_ret(builder);
  }
};

TEST_P(GasTest, NoMeteringChargesNothing) {
  TwoBlocks p;
  Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::None));
  v.instance.set_gas(1);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 1);
  EXPECT_EQ(v.instance.reg(Reg::A0), 666u);
}

TEST_P(GasTest, ModulesWithoutAChoiceUseTheEngineDefaultMetering) {
  TwoBlocks p;
  Config config;
  apply(config, backend());
  config.default_gas_metering = GasMeteringKind::Sync;
  Engine engine = unwrap(Engine::create(config));
  CodeAndJumpTable code = p.builder.finish().code;
  Module inherits = unwrap(Module::from_blob(engine, ModuleConfig{}, make_blob(InstructionSet::Latest64, code)));
  EXPECT_EQ(inherits.gas_metering(), GasMeteringKind::Sync);
  Module chooses = unwrap(Module::from_blob(engine, gas_config(GasMeteringKind::None), make_blob(InstructionSet::Latest64, code)));
  EXPECT_EQ(chooses.gas_metering(), GasMeteringKind::None);

  RawInstance instance = unwrap(inherits.instantiate());
  instance.set_gas(10);
  EXPECT_EQ(call(instance, 0), Interrupt::finished());
  EXPECT_EQ(instance.gas(), 7);  // blocks of cost 1 and 2
}

TEST_P(GasTest, NaiveModelChargesOnePerInstructionIncludingTerminators) {
  for (InstructionSet isa : kAllIsas) {
    CodeBuilder b(isa);
    emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
    emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
    b.emit(insn(Opcode::fallthrough));
    emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
    emit_ret(b);
    for (GasMeteringKind kind : {GasMeteringKind::Sync, GasMeteringKind::Async}) {
      Vm v = vm(isa, b, gas_config(kind));
      v.instance.set_gas(100);
      EXPECT_EQ(call(v.instance, 0), Interrupt::finished()) << instruction_set_name(isa);
      EXPECT_EQ(v.instance.gas(), 95) << instruction_set_name(isa);
      EXPECT_EQ(v.instance.reg(Reg::A0), 3u);
    }
  }
}

TEST_P(GasTest, ImplicitTrapAtEndOfCodeIsCharged) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 666);
  Vm v = vm(InstructionSet::Latest64, b, gas_config(GasMeteringKind::Sync));
  v.instance.set_gas(10);
  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  EXPECT_EQ(v.instance.gas(), 8);  // add + implicit trap
  EXPECT_EQ(v.instance.reg(Reg::A0), 666u);
  EXPECT_EQ(v.instance.program_counter(), v.module.code().size());
}

TEST_P(GasTest, WholeBlockIsChargedBeforeItRuns) {
  // The block [a0 = 1; ecalli; a0 += 2; a0 += 4; ret] is paid in full before the ecalli stops it,
  // and resuming after the ecalli charges nothing more.
  CodeBuilder b(InstructionSet::Latest64);
  emit_load_imm(b, Reg::A0, 1);
  b.emit(insn(Opcode::ecalli, {}, {0}));
  emit_add_imm_32(b, Reg::A0, Reg::A0, 2);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 4);
  emit_ret(b);
  Vm v = vm(InstructionSet::Latest64, b, gas_config(GasMeteringKind::Sync));
  v.instance.set_gas(100);
  EXPECT_EQ(call(v.instance, 0), Interrupt::ecalli(0));
  EXPECT_EQ(v.instance.gas(), 95);
  EXPECT_EQ(v.instance.reg(Reg::A0), 1u);
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 95);
  EXPECT_EQ(v.instance.reg(Reg::A0), 7u);
}

TEST_P(GasTest, TrapInsideABlockKeepsTheBlockCharged) {
  // A store to an unmapped address traps at the first instruction; the whole block stays paid.
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::store_imm_u8, {}, {0x100, 1}));
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  emit_ret(b);
  Vm v = vm(InstructionSet::Latest64, b, gas_config(GasMeteringKind::Sync));
  v.instance.set_gas(10);
  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  EXPECT_EQ(v.instance.gas(), 7);
  EXPECT_EQ(v.instance.program_counter(), 0u);
}

TEST_P(GasTest, ExactlyZeroGasRemainingIsFine) {
  TwoBlocks p;
  for (GasMeteringKind kind : {GasMeteringKind::Sync, GasMeteringKind::Async}) {
    Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(kind));
    v.instance.set_gas(3);
    EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
    EXPECT_EQ(v.instance.gas(), 0);
    EXPECT_EQ(v.instance.reg(Reg::A0), 666u);
    EXPECT_EQ(v.instance.program_counter(), std::nullopt);
    EXPECT_EQ(v.instance.next_program_counter(), std::nullopt);
  }
}

TEST_P(GasTest, SyncOutOfGasStopsBeforeTheUnpaidBlockAndCanResume) {
  TwoBlocks p;
  Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Sync));
  const uint32_t second = v.at(p.second);
  v.instance.set_gas(2);
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.gas(), 1);  // the value before the unpaid block
  EXPECT_EQ(v.instance.program_counter(), second);
  EXPECT_EQ(v.instance.next_program_counter(), second);
  EXPECT_EQ(v.instance.reg(Reg::A0), 0u);

  // Still not enough: same state again.
  EXPECT_EQ(resume(v.instance), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.gas(), 1);
  EXPECT_EQ(v.instance.next_program_counter(), second);

  v.instance.set_gas(2);
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 0);
  EXPECT_EQ(v.instance.reg(Reg::A0), 666u);
}

TEST_P(GasTest, AsyncOutOfGasLeavesNegativeGasAndCannotResume) {
  TwoBlocks p;
  Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Async));
  v.instance.set_gas(2);
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_LT(v.instance.gas(), 0);
  EXPECT_EQ(v.instance.next_program_counter(), std::nullopt);
  EXPECT_FALSE(v.instance.run().ok());
}

TEST_P(GasTest, OutOfGasAtTheVeryFirstBlock) {
  TwoBlocks p;
  {
    Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Sync));
    v.instance.set_gas(0);
    EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
    EXPECT_EQ(v.instance.gas(), 0);
    EXPECT_EQ(v.instance.program_counter(), 0u);
    EXPECT_EQ(v.instance.next_program_counter(), 0u);
    v.instance.set_gas(3);
    EXPECT_EQ(resume(v.instance), Interrupt::finished());
    EXPECT_EQ(v.instance.gas(), 0);
  }
  {
    Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Async));
    v.instance.set_gas(0);
    EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
    EXPECT_LT(v.instance.gas(), 0);
  }
}

TEST_P(GasTest, NegativeGasBeforeRunIsNotEnoughGas) {
  TwoBlocks p;
  Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Sync));
  v.instance.set_gas(-1);
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.gas(), -1);
  EXPECT_EQ(v.instance.reg(Reg::A0), 0u);
}

// One block of six instructions with an ecalli in the middle (the reference's
// gas_gets_charged_when_jumping_in_the_middle_of_a_basic_block).
struct MidBlockProgram {
  CodeBuilder builder{InstructionSet::Latest64};
  std::vector<CodeBuilder::Label> at;
  MidBlockProgram() {
    auto mark = [&] {
      at.push_back(builder.new_label());
      builder.bind(at.back());
    };
    mark();
    emit_add_imm_32(builder, Reg::A0, Reg::A0, 1);
    mark();
    emit_add_imm_32(builder, Reg::A0, Reg::A0, 2);
    mark();
    builder.emit(insn(Opcode::ecalli, {}, {0}));
    mark();
    emit_add_imm_32(builder, Reg::A0, Reg::A0, 4);
    mark();
    emit_add_imm_32(builder, Reg::A0, Reg::A0, 8);
    mark();
    emit_ret(builder);
  }
};

TEST_P(GasTest, EnteringMidBlockChargesTheWholeBlock) {
  MidBlockProgram p;
  Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Sync));
  struct Entry {
    size_t index;
    uint64_t a0_at_ecalli, a0_at_end;
  };
  for (Entry e : {Entry{0, 3, 15}, Entry{1, 2, 14}, Entry{2, 0, 12}}) {
    v.instance.set_gas(100);
    v.instance.set_reg(Reg::A0, 0);
    EXPECT_EQ(call(v.instance, v.at(p.at[e.index])), Interrupt::ecalli(0)) << "entry " << e.index;
    EXPECT_EQ(v.instance.gas(), 94) << "entry " << e.index;
    EXPECT_EQ(v.instance.reg(Reg::A0), e.a0_at_ecalli);
    EXPECT_EQ(v.instance.next_program_counter(), v.at(p.at[3]));
    EXPECT_EQ(resume(v.instance), Interrupt::finished());  // resuming after ecalli: no new charge
    EXPECT_EQ(v.instance.gas(), 94) << "entry " << e.index;
    EXPECT_EQ(v.instance.reg(Reg::A0), e.a0_at_end);
  }

  // Setting the pc explicitly after the ecalli counts as a new entry and charges again.
  v.instance.set_gas(100);
  v.instance.set_reg(Reg::A0, 0);
  EXPECT_EQ(call(v.instance, v.at(p.at[0])), Interrupt::ecalli(0));
  v.instance.set_next_program_counter(v.at(p.at[3]));
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 88);
}

TEST_P(GasTest, EnteringMidBlockWithoutEnoughGasRunsNothing) {
  MidBlockProgram p;
  Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Sync));
  const uint32_t entry = v.at(p.at[1]);
  v.instance.set_gas(5);
  EXPECT_EQ(call(v.instance, entry), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.gas(), 5);
  EXPECT_EQ(v.instance.next_program_counter(), entry);
  EXPECT_EQ(v.instance.reg(Reg::A0), 0u);

  v.instance.set_gas(6);
  EXPECT_EQ(resume(v.instance), Interrupt::ecalli(0));
  EXPECT_EQ(v.instance.gas(), 0);
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 0);
  EXPECT_EQ(v.instance.reg(Reg::A0), 14u);
}

TEST_P(GasTest, StepTracingDoesNotChargeTwice) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 2);
  emit_ret(b);
  ModuleConfig config = gas_config(GasMeteringKind::Sync);
  config.step_tracing = true;
  Vm v = vm(InstructionSet::Latest64, b, config);
  v.instance.set_gas(10);
  EXPECT_EQ(call(v.instance, 0), Interrupt::step());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(resume(v.instance), Interrupt::step());
    EXPECT_EQ(v.instance.gas(), 7);
  }
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 7);
  EXPECT_EQ(v.instance.reg(Reg::A0), 3u);
}

TEST_P(GasTest, MemsetChargesOneGasPerByteAndResumes) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::memset));
  emit_ret(b);
  VmOptions options{.data = {.rw_data_size = 0x100}, .module_config = gas_config(GasMeteringKind::Sync)};
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, options);
  const uint32_t rw = v.module.memory_map().rw_data_address;
  v.instance.set_gas(5);  // 2 for the block, then 3 bytes
  v.instance.set_reg(Reg::A0, rw);
  v.instance.set_reg(Reg::A1, 0x7E);
  v.instance.set_reg(Reg::A2, 100);
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.reg(Reg::A0), rw + 3u);
  EXPECT_EQ(v.instance.reg(Reg::A2), 97u);
  EXPECT_EQ(v.instance.program_counter(), 0u);
  EXPECT_EQ(v.instance.next_program_counter(), 0u);
  EXPECT_EQ(unwrap(v.instance.read_memory(rw, 5)), (std::vector<uint8_t>{0x7E, 0x7E, 0x7E, 0, 0}));

  v.instance.set_gas(97);
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 0);
  EXPECT_EQ(v.instance.reg(Reg::A0), rw + 100u);
  EXPECT_EQ(v.instance.reg(Reg::A2), 0u);
}

// [a0 = u32 [0x10000]; ret] with dynamic paging and 10 gas, run until the load (the first instruction of
// its block, cost 2) faults; then the page is mapped.
Vm faulted_first_load(const TestBackend& backend) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {0x10000}));
  emit_ret(b);
  VmOptions options{.module_config = gas_config(GasMeteringKind::Sync), .allow_dynamic_paging = true};
  options.module_config.dynamic_paging = true;
  Vm v = make_vm(backend, InstructionSet::Latest64, b, options);
  v.instance.set_gas(10);
  EXPECT_EQ(call(v.instance, 0), Interrupt::fault(Segfault{0x10000, 0x1000, false}));
  EXPECT_EQ(v.instance.gas(), 8);
  unwrap(v.instance.zero_memory_with_memory_protection(0x10000, 0x1000, MemoryProtection::Read));
  return v;
}

TEST_P(GasTest, ResumingAfterAPageFaultDoesNotChargeAgain) {
  Vm v = faulted_first_load(backend());
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 8);
}

TEST_P(GasTest, SwitchingStepTracingBeforeAResumeDoesNotChargeAgain) {
  Vm v = faulted_first_load(backend());
  v.instance.set_step_tracing(true);
  EXPECT_EQ(resume(v.instance), Interrupt::step());
  EXPECT_EQ(v.instance.program_counter(), 0u);
  EXPECT_EQ(resume(v.instance), Interrupt::step());
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 8);  // the block (2) was paid once, before the fault
}

TEST_P(GasTest, JumpsResolvedOnFirstUseAreChargedOnce) {
  // Each block starts with a jump whose target is translated the first time it runs.
  CodeBuilder b(InstructionSet::Latest64);
  auto second = b.new_label(), third = b.new_label();
  b.emit(insn(Opcode::jump), second);
  b.bind(third);
  emit_ret(b);
  b.bind(second);
  b.emit(insn(Opcode::jump), third);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  for (int round = 0; round < 2; ++round) {  // the second round runs the resolved jumps
    v.instance.set_gas(3);
    EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
    EXPECT_EQ(v.instance.gas(), 0);
  }
}

// A simple cost model with distinct, non-1 costs.
CostModel custom_costs() {
  CostModel model = CostModel::naive();
  model.cost[static_cast<size_t>(Opcode::add_imm_32)] = 5;
  model.cost[static_cast<size_t>(Opcode::fallthrough)] = 2;
  model.cost[static_cast<size_t>(Opcode::jump_indirect)] = 7;
  model.cost[static_cast<size_t>(Opcode::trap)] = 11;
  model.invalid = 11;
  return model;
}

TEST_P(GasTest, CustomSimpleCostModelIsHonoured) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  b.emit(insn(Opcode::fallthrough));
  auto second = b.new_label();
  b.bind(second);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  emit_load_imm(b, Reg::A1, 1);
  emit_ret(b);
  auto third = b.new_label();
  b.bind(third);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);  // runs off the end: implicit trap

  ModuleConfig config = gas_config(GasMeteringKind::Sync);
  config.cost_model = make_simple_gas_model(custom_costs());
  Vm v = vm(InstructionSet::Latest64, b, config);

  EXPECT_EQ(v.module.gas_cost_for_block(0), 5 + 2);
  EXPECT_EQ(v.module.gas_cost_for_block(v.at(second)), 5 + 1 + 7);
  EXPECT_EQ(v.module.gas_cost_for_block(v.at(third)), 5 + 11);
  const std::vector<std::pair<uint32_t, Gas>> expected_blocks = {{0, 7}, {v.at(second), 13}, {v.at(third), 16}};
  EXPECT_EQ(v.module.block_gas_costs(), expected_blocks);

  v.instance.set_gas(100);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.gas(), 100 - 7 - 13);

  v.instance.set_gas(100);
  EXPECT_EQ(call(v.instance, v.at(third)), Interrupt::trap());
  EXPECT_EQ(v.instance.gas(), 100 - 16);

  // Exactly enough for the first block only.
  v.instance.set_gas(7 + 12);
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.gas(), 12);
  EXPECT_EQ(v.instance.next_program_counter(), v.at(second));
}

TEST_P(GasTest, EndOfCodeCostsTheInvalidInstruction) {
  // The reference synthesises an `invalid` instruction at the end of code (Instructions iterator in
  // polkavm-common/src/program.rs) and the gas visitor charges it the model's `invalid` cost.
  CostModel model = CostModel::naive();
  model.cost[static_cast<size_t>(Opcode::trap)] = 3;
  model.invalid = 17;
  CodeBuilder b(InstructionSet::Latest64);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  ModuleConfig config = gas_config(GasMeteringKind::Sync);
  config.cost_model = make_simple_gas_model(model);
  Vm v = vm(InstructionSet::Latest64, b, config);
  EXPECT_EQ(v.module.gas_cost_for_block(0), 1 + 17);
  v.instance.set_gas(100);
  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  EXPECT_EQ(v.instance.gas(), 100 - 18);
}

// The end of code is the implicit trap's block (the reference's calculate_gas_cost_for(code length) walks
// its bounded iterator from there: one `invalid`). The listing names it only where a terminator that can
// fall through ends the code (the reference's spectool: the iterator yields the implicit `invalid` after an
// instruction whose opcode can_fallthrough, and a block-ending one makes it a block of its own).
TEST_P(GasTest, TheEndOfCodeIsTheImplicitTrapsBlock) {
  CostModel model = CostModel::naive();
  model.invalid = 17;
  struct Case {
    const char* name;
    Instruction last;
    bool listed;
  };
  const Case cases[] = {{"fallthrough", insn(Opcode::fallthrough), true},
                        {"branch", insn(Opcode::branch_eq_imm, {Reg::A0}, {1, 0}), true},
                        {"trap", insn(Opcode::trap), false},
                        {"jump", insn(Opcode::jump), false}};
  for (const Case& c : cases) {
    CodeBuilder b(InstructionSet::Latest64);
    auto start = b.new_label();
    b.bind(start);
    emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
    if (c.last.opcode == Opcode::fallthrough || c.last.opcode == Opcode::trap) b.emit(c.last);
    else b.emit(c.last, start);
    ModuleConfig config = gas_config(GasMeteringKind::Sync);
    config.cost_model = make_simple_gas_model(model);
    Vm v = vm(InstructionSet::Latest64, b, config);
    const uint32_t end = static_cast<uint32_t>(v.module.blob().code().size());
    EXPECT_EQ(v.module.gas_cost_for_block(end), 17) << c.name;
    EXPECT_EQ(v.module.gas_cost_for_block(end + 1), std::nullopt) << c.name;
    std::vector<std::pair<uint32_t, Gas>> expected{{0, 2}};
    if (c.listed) expected.emplace_back(end, 17);
    EXPECT_EQ(v.module.block_gas_costs(), expected) << c.name;
  }
}

TEST_P(GasTest, BlockCostQueriesWithTheNaiveModel) {
  MidBlockProgram p;
  Vm v = vm(InstructionSet::Latest64, p.builder, gas_config(GasMeteringKind::Sync));
  EXPECT_EQ(v.module.gas_cost_for_block(0), 6);
  EXPECT_EQ(v.module.gas_cost_for_block(v.at(p.at[2])), std::nullopt);  // not a block start
  const std::vector<std::pair<uint32_t, Gas>> expected_blocks = {{0, 6}};
  EXPECT_EQ(v.module.block_gas_costs(), expected_blocks);
}

INSTANTIATE_TEST_SUITE_P(Gas, GasTest, ::testing::ValuesIn(backends()), backend_param_name);

}  // namespace
}  // namespace polkavm::test
