// Control flow: static jump validity, branches with invalid targets (digest §2.5), dynamic jumps and the
// jump table (§2.6), the halt address, the end of code, invalid instructions and arbitrary entry points.
#include "test_util.hpp"

namespace polkavm::test {
namespace {

class ControlFlowTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  const TestBackend& backend() const { return GetParam(); }
  Vm vm(const CodeBuilder& b, InstructionSet isa = InstructionSet::Latest64, VmOptions options = {}) {
    return make_vm(backend(), isa, b, options);
  }
};

void expect_trap_at(Vm& v, uint32_t pc) {
  EXPECT_EQ(v.instance.program_counter(), pc);
  EXPECT_EQ(v.instance.next_program_counter(), std::nullopt);
}

TEST_P(ControlFlowTest, LoopWithBackwardBranch) {
  for (InstructionSet isa : kAllIsas) {
    CodeBuilder b(isa);
    emit_load_imm(b, Reg::A0, 5);
    emit_load_imm(b, Reg::A1, 0);
    b.emit(insn(Opcode::fallthrough));
    auto loop = b.new_label();
    b.bind(loop);
    emit_add_imm_32(b, Reg::A1, Reg::A1, 3);
    emit_add_imm_32(b, Reg::A0, Reg::A0, 0xFFFFFFFF);
    b.emit(insn(Opcode::branch_not_eq_imm, {Reg::A0}, {0, 0}), loop);
    emit_ret(b);
    Vm v = vm(b, isa);
    EXPECT_EQ(call(v.instance, 0), Interrupt::finished()) << instruction_set_name(isa);
    EXPECT_EQ(v.instance.reg(Reg::A1), 15u);
  }
}

// An add right before a two-register branch is a loop idiom the interpreter may run as one op; every way in
// must still see two instructions.
TEST_P(ControlFlowTest, AddThenBranchLoopsBehaveAsTwoInstructions) {
  const Instruction adds[] = {insn(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {3}),
                              insn(Opcode::add_imm_32, {Reg::A0, Reg::A0}, {3}),
                              insn(Opcode::add_64, {Reg::A0, Reg::A0, Reg::A2})};
  for (const Instruction& add : adds) {
    CodeBuilder b(InstructionSet::Latest64);
    auto loop = b.new_label(), add_at = b.new_label(), branch = b.new_label();
    emit_load_imm(b, Reg::A2, 3);
    b.emit(insn(Opcode::fallthrough));
    b.bind(loop);
    emit_load_imm(b, Reg::A3, 1);  // something before the add, so the add is not the block's first op
    b.bind(add_at);
    b.emit(add);
    b.bind(branch);
    b.emit(insn(Opcode::branch_less_unsigned, {Reg::A0, Reg::A1}), loop);
    emit_ret(b);
    Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
    RawInstance& in = v.instance;

    // a0 counts up by 3 (a2) while a0 < 10: 0 -> 12, four loop blocks of 3 instructions.
    in.set_reg(Reg::A1, 10);
    in.set_gas(100);
    EXPECT_EQ(call(in, 0), Interrupt::finished()) << name(add.opcode);
    EXPECT_EQ(in.reg(Reg::A0), 12u);
    EXPECT_EQ(in.gas(), 100 - 2 - 4 * 3 - 1);

    // The host enters at the branch itself: the add must not run, and the whole block is paid.
    in.set_reg(Reg::A0, 9);
    in.set_gas(100);
    in.set_reg(Reg::RA, kReturnToHost);
    in.set_next_program_counter(v.at(branch));
    EXPECT_EQ(resume(in), Interrupt::finished());
    EXPECT_EQ(in.reg(Reg::A0), 12u);  // 9 < 10: one more iteration, 9 + 3
    EXPECT_EQ(in.gas(), 100 - 3 - 3 - 1);

    // Step tracing sees both instructions.
    in.set_step_tracing(true);
    in.set_reg(Reg::A0, 0);
    in.set_next_program_counter(v.at(loop));
    std::vector<uint32_t> pcs;
    for (Interrupt i = resume(in); i == Interrupt::step() && pcs.size() < 4; i = resume(in))
      pcs.push_back(*in.program_counter());
    EXPECT_EQ(pcs, (std::vector<uint32_t>{v.at(loop), v.at(add_at), v.at(branch), v.at(loop)}));
  }
}

TEST_P(ControlFlowTest, StaticJumpIntoTheMiddleOfABlockTraps) {
  for (Opcode jump : {Opcode::jump, Opcode::load_imm_and_jump}) {
    CodeBuilder b(InstructionSet::Latest64);
    auto middle = b.new_label();
    b.emit(jump == Opcode::jump ? insn(jump) : insn(jump, {Reg::A1}, {7, 0}), middle);
    emit_load_imm(b, Reg::A0, 1);
    b.bind(middle);
    emit_load_imm(b, Reg::A0, 2);
    emit_ret(b);
    Vm v = vm(b);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << name(jump);
    expect_trap_at(v, 0);
    EXPECT_EQ(v.instance.reg(Reg::A0), 0u);
  }
}

TEST_P(ControlFlowTest, StaticJumpToTheStartOfABlockAfterAnyTerminator) {
  // Targets are valid right after every block terminator, e.g. after a branch or a trap.
  CodeBuilder b(InstructionSet::Latest64);
  auto after_branch = b.new_label(), after_trap = b.new_label();
  b.emit(insn(Opcode::jump), after_trap);
  b.emit(insn(Opcode::branch_eq_imm, {Reg::A0}, {1, 0}), after_trap);
  b.bind(after_branch);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 10);
  emit_ret(b);
  emit_trap(b);
  b.bind(after_trap);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  b.emit(insn(Opcode::jump), after_branch);
  Vm v = vm(b);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 11u);
}

// [branch_eq_imm a0, 33 -> target] [a1 = 1; (middle:) a1 = 2; trap]: the branch target is inside a
// block, so the branch traps whatever a0 is, after its own block (cost 1) is charged (reference test
// invalid_branch_target).
TEST_P(ControlFlowTest, BranchWithAnInvalidTargetTrapsEvenWhenNotTaken) {
  CodeBuilder b(InstructionSet::Latest64);
  auto middle = b.new_label();
  b.emit(insn(Opcode::branch_eq_imm, {Reg::A0}, {33, 0}), middle);
  emit_load_imm(b, Reg::A1, 1);
  b.bind(middle);
  emit_load_imm(b, Reg::A1, 2);
  emit_trap(b);
  Vm v = vm(b, InstructionSet::Latest64, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  for (uint64_t a0 : {33u, 0u}) {
    v.instance.set_gas(100);
    v.instance.set_reg(Reg::A0, a0);
    v.instance.set_reg(Reg::A1, 0);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << "a0=" << a0;
    expect_trap_at(v, 0);
    EXPECT_EQ(v.instance.reg(Reg::A1), 0u);
    EXPECT_EQ(v.instance.gas(), 99);
  }
}

TEST_P(ControlFlowTest, BranchWithAValidTargetRunsNormally) {
  // Same shape with a valid target: not taken -> a1 = 1 then trap, taken -> a1 = 2 then trap.
  CodeBuilder b(InstructionSet::Latest64);
  auto target = b.new_label(), first_trap = b.new_label(), second_trap = b.new_label();
  b.emit(insn(Opcode::branch_eq_imm, {Reg::A0}, {33, 0}), target);
  emit_load_imm(b, Reg::A1, 1);
  b.bind(first_trap);
  emit_trap(b);
  b.bind(target);
  emit_load_imm(b, Reg::A1, 2);
  b.bind(second_trap);
  emit_trap(b);
  Vm v = vm(b, InstructionSet::Latest64, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  v.instance.set_gas(100);
  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  expect_trap_at(v, v.at(first_trap));
  EXPECT_EQ(v.instance.reg(Reg::A1), 1u);
  EXPECT_EQ(v.instance.gas(), 97);

  v.instance.set_gas(100);
  v.instance.set_reg(Reg::A0, 33);
  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  expect_trap_at(v, v.at(second_trap));
  EXPECT_EQ(v.instance.reg(Reg::A1), 2u);
  EXPECT_EQ(v.instance.gas(), 97);
}

TEST_P(ControlFlowTest, BranchWhoseFallthroughIsTheEndOfCodeTraps) {
  // The branch is the last instruction, so its not-taken successor (the end of code) is not a valid
  // target: it traps at the branch even though the taken target is fine.
  CodeBuilder b(InstructionSet::Latest64);
  auto branch = b.new_label(), target = b.new_label();
  b.emit(insn(Opcode::jump), branch);
  b.bind(target);
  emit_load_imm(b, Reg::A1, 2);
  emit_ret(b);
  b.bind(branch);
  b.emit(insn(Opcode::branch_eq_imm, {Reg::A0}, {33, 0}), target);
  Vm v = vm(b);
  for (uint64_t a0 : {33u, 0u}) {
    v.instance.set_reg(Reg::A0, a0);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << "a0=" << a0;
    expect_trap_at(v, v.at(branch));
    EXPECT_EQ(v.instance.reg(Reg::A1), 0u);
  }
}

// A fallthrough whose successor would be the end of code. The reference (tests.rs
// implicit_trap_after_fallthrough; in interpreter.rs compile_block makes no block at pc >= code length, so
// unresolved_fallthrough traps at the fallthrough's own pc) charges the fallthrough's block, nothing more. The Gray Paper's rule (ModuleConfig::gray_paper_end_of_code)
// continues to the implicit trap at the code length, a block of its own (the `invalid` instruction's cost).
TEST_P(ControlFlowTest, FallthroughIntoTheEndOfCode) {
  for (bool gray_paper : {false, true}) {
    CodeBuilder b(InstructionSet::Latest64);
    auto fallthrough = b.new_label();
    emit_load_imm(b, Reg::A0, 7);
    b.bind(fallthrough);
    b.emit(insn(Opcode::fallthrough));
    VmOptions options{.module_config = gas_config(GasMeteringKind::Sync)};
    options.module_config.gray_paper_end_of_code = gray_paper;
    Vm v = vm(b, InstructionSet::Latest64, options);
    const uint32_t code_length = static_cast<uint32_t>(v.module.blob().code().size());
    v.instance.set_gas(100);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << gray_paper;
    expect_trap_at(v, gray_paper ? code_length : v.at(fallthrough));
    EXPECT_EQ(v.instance.reg(Reg::A0), 7u);
    // One block of two instructions (naive: one gas each), then the Gray Paper's trap block of one.
    EXPECT_EQ(v.instance.gas(), gray_paper ? 100 - 2 - 1 : 100 - 2) << gray_paper;

    // Entered at the fallthrough itself (mid-block: the whole block is paid first): the same end.
    v.instance.set_gas(100);
    EXPECT_EQ(call(v.instance, v.at(fallthrough)), Interrupt::trap()) << gray_paper;
    expect_trap_at(v, gray_paper ? code_length : v.at(fallthrough));
    EXPECT_EQ(v.instance.gas(), gray_paper ? 100 - 2 - 1 : 100 - 2) << gray_paper;
  }
}

// [jump_indirect a0, 0] with a table of two valid entries (addresses 2 and 4), one pointing into the
// middle of a block (address 6) and one past the end of code (address 8).
struct DynamicJumpProgram {
  CodeBuilder builder{InstructionSet::Latest64};
  DynamicJumpProgram() {
    auto first = builder.new_label(), second = builder.new_label(), middle = builder.new_label();
    builder.emit(insn(Opcode::jump_indirect, {Reg::A0}, {0}));
    builder.bind(first);
    emit_load_imm(builder, Reg::A1, 11);
    emit_ret(builder);
    builder.bind(second);
    emit_load_imm(builder, Reg::A1, 22);
    builder.bind(middle);
    emit_ret(builder);
    builder.add_jump_table_entry(first);
    builder.add_jump_table_entry(second);
    builder.add_jump_table_entry(middle);
    builder.add_jump_table_offset(0x10000);
  }
};

TEST_P(ControlFlowTest, DynamicJumpsThroughTheJumpTable) {
  DynamicJumpProgram p;
  Vm v = vm(p.builder);
  for (auto [address, expected_a1] : {std::pair<uint64_t, uint64_t>{2, 11}, {4, 22}}) {
    v.instance.set_reg(Reg::A0, address);
    EXPECT_EQ(call(v.instance, 0), Interrupt::finished()) << "address " << address;
    EXPECT_EQ(v.instance.reg(Reg::A1), expected_a1);
  }
}

TEST_P(ControlFlowTest, InvalidDynamicJumpsTrapAtTheJump) {
  DynamicJumpProgram p;
  Vm v = vm(p.builder);
  const uint64_t bad[] = {
      0,                      // null
      1, 3, 0xFFFF0001,       // odd
      6,                      // entry into the middle of a block
      8,                      // entry past the end of code
      10, 0x1000,             // beyond the table
      0xFFFF0002, 0xFFFF0200, // the halt address + 2k
      0xFFFFFFFE,
  };
  for (uint64_t address : bad) {
    v.instance.set_reg(Reg::A0, address);
    v.instance.set_reg(Reg::A1, 0);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << "address 0x" << std::hex << address;
    expect_trap_at(v, 0);
    EXPECT_EQ(v.instance.reg(Reg::A1), 0u);
  }
}

TEST_P(ControlFlowTest, DynamicJumpUsesOnlyTheLow32BitsOfTheAddress) {
  DynamicJumpProgram p;
  Vm v = vm(p.builder);
  v.instance.set_reg(Reg::A0, 0x100000004ull);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A1), 22u);
  v.instance.set_reg(Reg::A0, 0xFFFFFFFFFFFF0000ull);
  v.instance.set_reg(Reg::A1, 0);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A1), 0u);
}

TEST_P(ControlFlowTest, JumpToTheHaltAddressFinishes) {
  for (InstructionSet isa : kAllIsas) {
    CodeBuilder b(isa);
    emit_load_imm(b, Reg::A0, 1);
    emit_ret(b);
    Vm v = vm(b, isa);
    EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
    EXPECT_EQ(v.instance.program_counter(), std::nullopt);
    EXPECT_EQ(v.instance.next_program_counter(), std::nullopt);
    EXPECT_EQ(v.instance.reg(Reg::A0), 1u);
    EXPECT_FALSE(v.instance.run().ok());
  }
}

TEST_P(ControlFlowTest, RunningOffTheEndOfCodeTrapsAtTheCodeSize) {
  for (InstructionSet isa : {InstructionSet::Latest64, InstructionSet::Latest32, InstructionSet::ReviveV1}) {
    CodeBuilder b(isa);
    emit_load_imm(b, Reg::A0, 1);
    emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
    Vm v = vm(b, isa);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << instruction_set_name(isa);
    expect_trap_at(v, v.module.code().size());
    EXPECT_EQ(v.instance.reg(Reg::A0), 2u);
  }
}

TEST_P(ControlFlowTest, BlockOfOnlyAFallthroughWithoutGasMetering) {
  // A block holding nothing but `fallthrough` (no gas metering, so nothing else is emitted for it).
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::fallthrough));
  emit_add_imm_32(b, Reg::A0, Reg::A0, 666);
  emit_ret(b);
  Vm v = vm(b);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 666u);
}

TEST_P(ControlFlowTest, InvalidOpcodesTrap) {
  // A byte that is no opcode anywhere, and opcodes that exist only in other instruction sets.
  struct Case {
    InstructionSet isa;
    uint8_t byte;
  };
  const Case cases[] = {
      {InstructionSet::Latest64, 255},
      {InstructionSet::Latest32, static_cast<uint8_t>(opcode_number(InstructionSet::Latest64, Opcode::add_64))},
      {InstructionSet::ReviveV1, static_cast<uint8_t>(opcode_number(InstructionSet::Latest64, Opcode::memset))},
  };
  for (const Case& c : cases) {
    ASSERT_FALSE(opcode_from_byte(c.isa, c.byte).has_value());
    CodeBuilder b(c.isa);
    emit_load_imm(b, Reg::A0, 1);
    auto bad = b.new_label();
    b.bind(bad);
    const uint8_t raw[] = {c.byte, 0x00, 0x00};
    b.emit_raw(raw);
    emit_ret(b);
    Vm v = vm(b, c.isa);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << instruction_set_name(c.isa) << " byte " << int(c.byte);
    expect_trap_at(v, v.at(bad));
    EXPECT_EQ(v.instance.reg(Reg::A0), 1u);
  }
}

TEST_P(ControlFlowTest, JamV1RejectsCodeThatDoesNotValidate) {
  Engine engine = make_engine(backend());
  {
    CodeBuilder b(InstructionSet::JamV1);
    emit_load_imm(b, Reg::A0, 1);
    const uint8_t raw[] = {255};
    b.emit_raw(raw);
    emit_ret(b);
    EXPECT_FALSE(Module::from_blob(engine, {}, make_blob(InstructionSet::JamV1, b.finish().code)).ok());
  }
  {
    // The last instruction may fall through.
    CodeBuilder b(InstructionSet::JamV1);
    emit_load_imm(b, Reg::A0, 1);
    EXPECT_FALSE(Module::from_blob(engine, {}, make_blob(InstructionSet::JamV1, b.finish().code)).ok());
  }
  {
    CodeBuilder b(InstructionSet::JamV1);
    emit_load_imm(b, Reg::A0, 1);
    emit_ret(b);
    EXPECT_TRUE(Module::from_blob(engine, {}, make_blob(InstructionSet::JamV1, b.finish().code)).ok());
  }
}

TEST_P(ControlFlowTest, StartingAtAnInvalidProgramCounterTraps) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_load_imm(b, Reg::A0, 0x12345);  // several bytes long: offset 1 is inside it
  emit_ret(b);
  Vm v = vm(b);
  const uint32_t size = v.module.code().size();
  for (uint32_t pc : {1u, size, size + 1, size + 1000, 0xFFFFFFFFu}) {
    EXPECT_EQ(call(v.instance, pc), Interrupt::trap()) << "pc " << pc;
    EXPECT_EQ(v.instance.program_counter(), pc);
    EXPECT_EQ(v.instance.reg(Reg::A0), 0u);
  }
}

TEST_P(ControlFlowTest, EcalliStopsAndResumesAtTheNextInstruction) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_load_imm(b, Reg::A0, 1);
  auto first = b.new_label(), after_first = b.new_label(), after_second = b.new_label();
  b.bind(first);
  b.emit(insn(Opcode::ecalli, {}, {1}));
  b.bind(after_first);
  b.emit(insn(Opcode::ecalli, {}, {2}));
  b.bind(after_second);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  emit_ret(b);
  Vm v = vm(b);
  EXPECT_EQ(call(v.instance, 0), Interrupt::ecalli(1));
  EXPECT_EQ(v.instance.program_counter(), v.at(first));
  EXPECT_EQ(v.instance.next_program_counter(), v.at(after_first));
  v.instance.set_reg(Reg::A0, 100);  // the host's result
  EXPECT_EQ(resume(v.instance), Interrupt::ecalli(2));
  EXPECT_EQ(v.instance.program_counter(), v.at(after_first));
  EXPECT_EQ(v.instance.next_program_counter(), v.at(after_second));
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 101u);
}

INSTANTIATE_TEST_SUITE_P(ControlFlow, ControlFlowTest, ::testing::ValuesIn(backends()), backend_param_name);

}  // namespace
}  // namespace polkavm::test
