// The embedding API: engine/module creation, instance state, registers, prepare_call, step tracing.
// Facts: digest §5 and the reference's tests.rs (step_tracing_basic) and api.rs (prepare_call_untyped).
#include "test_util.hpp"

namespace polkavm::test {
namespace {

class ApiTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  const TestBackend& backend() const { return GetParam(); }
};

// [a0 = 1; a0 += 2; ecalli 3; a0 += 4; ret] with a label before every instruction.
struct StepProgram {
  CodeBuilder builder{InstructionSet::Latest64};
  std::vector<CodeBuilder::Label> at;
  StepProgram() {
    auto mark = [&] {
      at.push_back(builder.new_label());
      builder.bind(at.back());
    };
    mark();
    emit_load_imm(builder, Reg::A0, 1);
    mark();
    emit_add_imm_32(builder, Reg::A0, Reg::A0, 2);
    mark();
    builder.emit(insn(Opcode::ecalli, {}, {3}));
    mark();
    emit_add_imm_32(builder, Reg::A0, Reg::A0, 4);
    mark();
    emit_ret(builder);
  }
};

TEST_P(ApiTest, EngineReportsTheRequestedBackend) {
  Engine engine = make_engine(backend());
  EXPECT_EQ(engine.backend(), backend().backend);
  EXPECT_EQ(engine.config().backend, backend().backend);
}

TEST_P(ApiTest, FreshInstanceState) {
  StepProgram p;
  Vm v = make_vm(backend(), InstructionSet::Latest64, p.builder);
  EXPECT_EQ(v.instance.program_counter(), std::nullopt);
  EXPECT_EQ(v.instance.next_program_counter(), std::nullopt);
  for (int r = 0; r < kRegCount; ++r) EXPECT_EQ(v.instance.reg(static_cast<Reg>(r)), 0u);
  EXPECT_FALSE(v.instance.run().ok());  // nothing to run yet

  v.instance.set_next_program_counter(v.at(p.at[1]));
  EXPECT_EQ(v.instance.program_counter(), std::nullopt);
  EXPECT_EQ(v.instance.next_program_counter(), v.at(p.at[1]));
}

TEST_P(ApiTest, RunWithoutANextProgramCounterIsAnError) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_trap(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b);
  auto fresh = v.instance.run();
  ASSERT_FALSE(fresh.ok());
  EXPECT_NE(fresh.error().message().find("next program counter"), std::string::npos) << fresh.error().message();

  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  EXPECT_EQ(v.instance.next_program_counter(), std::nullopt);
  EXPECT_FALSE(v.instance.run().ok());  // a trap cannot be resumed
}

// A moved-from RawInstance has no backend: every call fails with InvalidArgument (or reads as nothing),
// never touches freed state, and its module stays usable; assigning a live instance to it revives it.
TEST_P(ApiTest, EveryCallOnAMovedFromInstanceFails) {
  StepProgram p;
  Vm v = make_vm(backend(), InstructionSet::Latest64, p.builder);
  RawInstance taken = std::move(v.instance);
  RawInstance& gone = v.instance;
  auto refused = [](const auto& result, const char* what) {
    ASSERT_FALSE(result) << what;
    EXPECT_EQ(result.error().kind(), ErrorKind::InvalidArgument) << what;
    EXPECT_EQ(result.error().message(), "this instance was moved from") << what;
  };
  EXPECT_EQ(gone.module().blob().code().size(), v.module.blob().code().size());
  EXPECT_EQ(gone.module().export_pc("missing"), std::nullopt);
  gone.set_next_program_counter(0);
  refused(gone.run(), "run");
  gone.set_reg(Reg::A0, 5);
  EXPECT_EQ(gone.reg(Reg::A0), 0u);
  gone.clear_regs();
  gone.set_gas(100);
  EXPECT_EQ(gone.gas(), 0);
  EXPECT_EQ(gone.program_counter(), std::nullopt);
  EXPECT_EQ(gone.next_program_counter(), std::nullopt);
  refused(gone.prepare_call(0), "prepare_call");
  uint8_t byte = 0;
  refused(gone.read_memory_into(0x20000, std::span<uint8_t>(&byte, 1)), "read_memory_into");
  refused(gone.read_memory(0x20000, 1), "read_memory");
  refused(gone.write_memory(0x20000, std::vector<uint8_t>{1}), "write_memory");
  refused(gone.zero_memory(0x20000, 1), "zero_memory");
  refused(gone.read_u8(0x20000), "read_u8");
  refused(gone.read_u16(0x20000), "read_u16");
  refused(gone.read_u32(0x20000), "read_u32");
  refused(gone.read_u64(0x20000), "read_u64");
  refused(gone.write_u8(0x20000, 1), "write_u8");
  refused(gone.write_u16(0x20000, 1), "write_u16");
  refused(gone.write_u32(0x20000, 1), "write_u32");
  refused(gone.write_u64(0x20000, 1), "write_u64");
  refused(gone.read_string(0x20000, 1), "read_string");
  EXPECT_FALSE(gone.is_memory_accessible(0x20000, 1, MemoryProtection::Read));
  refused(gone.zero_memory_with_memory_protection(0x20000, 0x1000, MemoryProtection::ReadWrite), "map");
  refused(gone.protect_memory(0x20000, 0x1000), "protect_memory");
  refused(gone.unprotect_memory(0x20000, 0x1000), "unprotect_memory");
  refused(gone.free_pages(0x20000, 0x1000), "free_pages");
  refused(gone.reset_memory(), "reset_memory");
  EXPECT_EQ(gone.heap_size(), 0u);
  EXPECT_EQ(gone.sbrk(16), std::nullopt);
  refused(gone.set_interpreter_cache_size_limit(std::nullopt), "set_interpreter_cache_size_limit");
  gone.set_step_tracing(true);
  EXPECT_FALSE(gone.step_tracing());
  RawInstance moved_again = std::move(gone);  // moving an empty instance is fine too
  refused(moved_again.run(), "run after a second move");

  // The instance it went to works, and one assigned back works again.
  EXPECT_EQ(call(taken, 0), Interrupt::ecalli(3));
  gone = std::move(taken);
  EXPECT_EQ(resume(gone), Interrupt::finished());
  EXPECT_EQ(gone.reg(Reg::A0), 7u);
  refused(taken.run(), "run on the instance moved from by assignment");
}

TEST_P(ApiTest, RegistersAreSixtyFourBitExceptOnLatest32) {
  for (InstructionSet isa : kAllIsas) {
    CodeBuilder b(isa);
    emit_trap(b);
    Vm v = make_vm(backend(), isa, b);
    v.instance.set_reg(Reg::A0, 0x123456789ABCDEF0ull);
    v.instance.set_reg(Reg::A5, 0xFFFFFFFF80000000ull);
    EXPECT_EQ(v.instance.reg(Reg::A0), reg_view(isa, 0x123456789ABCDEF0ull)) << instruction_set_name(isa);
    EXPECT_EQ(v.instance.reg(Reg::A5), reg_view(isa, 0xFFFFFFFF80000000ull)) << instruction_set_name(isa);
    v.instance.clear_regs();
    EXPECT_EQ(v.instance.reg(Reg::A0), 0u);
    EXPECT_EQ(v.instance.reg(Reg::A5), 0u);
  }
}

TEST_P(ApiTest, Latest32ValuesAboveTwoToThe31BehaveAsUnsigned32Bit) {
  // Registers written by the host with bit 31 set compare as 32-bit values inside the guest.
  CodeBuilder b(InstructionSet::Latest32);
  b.emit(insn(Opcode::set_less_than_unsigned, {Reg::A2, Reg::A0, Reg::A1}));
  b.emit(insn(Opcode::add_32, {Reg::A3, Reg::A0, Reg::A1}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest32, b);
  v.instance.set_reg(Reg::A0, 0x80000000);
  v.instance.set_reg(Reg::A1, 0x1FFFFFFFFull);  // truncated to 0xFFFFFFFF
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A1), 0xFFFFFFFFu);
  EXPECT_EQ(v.instance.reg(Reg::A2), 1u);
  EXPECT_EQ(v.instance.reg(Reg::A3), 0x7FFFFFFFu);
}

TEST_P(ApiTest, TrapPreservesRegisters) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_trap(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b);
  for (int r = 0; r < kRegCount; ++r) v.instance.set_reg(static_cast<Reg>(r), 0x1111111111111111ull * (r + 1));
  v.instance.set_next_program_counter(0);
  EXPECT_EQ(resume(v.instance), Interrupt::trap());
  for (int r = 0; r < kRegCount; ++r) EXPECT_EQ(v.instance.reg(static_cast<Reg>(r)), 0x1111111111111111ull * (r + 1));
}

TEST_P(ApiTest, PrepareCallSetsTheAbiRegisters) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_trap(b);
  auto entry = b.new_label();
  b.bind(entry);
  b.emit(insn(Opcode::add_64, {Reg::A0, Reg::A0, Reg::T2}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.data = {.stack_size = 0x1000}});
  RawInstance& in = v.instance;
  in.set_reg(Reg::S0, 77);
  in.set_reg(Reg::S1, 78);

  const std::vector<uint64_t> args = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  ASSERT_TRUE(in.prepare_call(v.at(entry), args).ok());
  EXPECT_EQ(in.reg(Reg::RA), kReturnToHost);
  EXPECT_EQ(in.reg(Reg::SP), v.module.default_sp());
  EXPECT_EQ(in.reg(Reg::S0), 0u);  // everything else is cleared
  EXPECT_EQ(in.reg(Reg::S1), 0u);
  for (size_t i = 0; i < kArgRegs.size(); ++i) EXPECT_EQ(in.reg(kArgRegs[i]), args[i]) << reg_name(kArgRegs[i]);
  EXPECT_EQ(in.program_counter(), std::nullopt);
  EXPECT_EQ(in.next_program_counter(), v.at(entry));

  EXPECT_EQ(resume(in), Interrupt::finished());
  EXPECT_EQ(in.reg(Reg::A0), 10u);

  // Fewer arguments leave the other argument registers zeroed.
  ASSERT_TRUE(in.prepare_call(v.at(entry), std::vector<uint64_t>{5}).ok());
  EXPECT_EQ(in.reg(Reg::A1), 0u);
  EXPECT_EQ(resume(in), Interrupt::finished());
  EXPECT_EQ(in.reg(Reg::A0), 5u);

  EXPECT_FALSE(in.prepare_call(v.at(entry), std::vector<uint64_t>(10, 1)).ok());  // at most 9 arguments
}

TEST_P(ApiTest, StepTracingStopsBeforeEveryInstruction) {
  StepProgram p;
  VmOptions options;
  options.module_config.step_tracing = true;
  Vm v = make_vm(backend(), InstructionSet::Latest64, p.builder, options);
  RawInstance& in = v.instance;
  auto expect_step_at = [&](size_t index) {
    const uint32_t pc = v.at(p.at[index]);
    EXPECT_EQ(in.program_counter(), pc) << "instruction " << index;
    EXPECT_EQ(in.next_program_counter(), pc) << "instruction " << index;
  };

  EXPECT_EQ(call(in, 0), Interrupt::step());
  expect_step_at(0);
  EXPECT_EQ(in.reg(Reg::A0), 0u);  // not executed yet
  EXPECT_EQ(resume(in), Interrupt::step());
  expect_step_at(1);
  EXPECT_EQ(in.reg(Reg::A0), 1u);
  EXPECT_EQ(resume(in), Interrupt::step());
  expect_step_at(2);
  EXPECT_EQ(in.reg(Reg::A0), 3u);
  EXPECT_EQ(resume(in), Interrupt::ecalli(3));
  EXPECT_EQ(in.program_counter(), v.at(p.at[2]));
  EXPECT_EQ(in.next_program_counter(), v.at(p.at[3]));
  EXPECT_EQ(resume(in), Interrupt::step());
  expect_step_at(3);
  EXPECT_EQ(resume(in), Interrupt::step());
  expect_step_at(4);
  EXPECT_EQ(in.reg(Reg::A0), 7u);
  EXPECT_EQ(resume(in), Interrupt::finished());
  EXPECT_EQ(in.program_counter(), std::nullopt);
  EXPECT_EQ(in.next_program_counter(), std::nullopt);
}

TEST_P(ApiTest, StepTracingCanBeToggledOnTheInstance) {
  StepProgram p;
  Vm v = make_vm(backend(), InstructionSet::Latest64, p.builder);
  RawInstance& in = v.instance;
  EXPECT_FALSE(in.step_tracing());
  in.set_step_tracing(true);
  EXPECT_TRUE(in.step_tracing());
  EXPECT_EQ(call(in, v.at(p.at[3])), Interrupt::step());
  EXPECT_EQ(in.program_counter(), v.at(p.at[3]));
  in.set_step_tracing(false);
  EXPECT_EQ(resume(in), Interrupt::finished());
  EXPECT_EQ(call(in, 0), Interrupt::ecalli(3));
}

// The rule for switching step tracing between runs (the reference fixes it per module): once it is on, the
// instruction the next run resumes at stops with a Step first, whatever stopped the run before; its block's
// charge stays as the interrupt left it (made after running out of gas, not made again after a fault).
TEST_P(ApiTest, StepTracingSwitchedOnStepsTheInstructionARunResumesAt) {
  // Sync gas 0: out of gas at the first block (three instructions); refuelled with tracing on.
  {
    CodeBuilder b(InstructionSet::Latest64);
    emit_load_imm(b, Reg::A0, 1);
    auto second = b.new_label();
    b.bind(second);
    emit_load_imm(b, Reg::A1, 2);
    emit_trap(b);
    Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
    v.instance.set_gas(0);
    EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
    v.instance.set_gas(10);
    v.instance.set_step_tracing(true);
    EXPECT_EQ(resume(v.instance), Interrupt::step());  // the compiler resumed at the charge, with no Step
    EXPECT_EQ(v.instance.program_counter(), 0u);
    EXPECT_EQ(v.instance.gas(), 10);  // not charged yet
    EXPECT_EQ(resume(v.instance), Interrupt::step());
    EXPECT_EQ(v.instance.program_counter(), v.at(second));
    EXPECT_EQ(v.instance.gas(), 7);
  }
  // After an ecalli, tracing on; the next instruction is a `fallthrough`, an `unlikely` or the end of the
  // code (the implicit trap, in the ecalli's block). The interpreter ran on without any Step: its translation
  // for the fallthrough's pc outlived the translations dropped when tracing was switched.
  for (const char* next : {"fallthrough", "unlikely", "end"}) {
    CodeBuilder b(InstructionSet::Latest64);
    emit_load_imm(b, Reg::A0, 1);
    b.emit(insn(Opcode::ecalli, {}, {5}));
    auto after = b.new_label();
    b.bind(after);
    const bool end = std::string_view(next) == "end";
    CodeBuilder::Label last = after;
    if (!end) {
      last = b.new_label();
      b.emit(insn(std::string_view(next) == "fallthrough" ? Opcode::fallthrough : Opcode::unlikely));
      emit_load_imm(b, Reg::A1, 2);
      b.bind(last);
      emit_trap(b);
    }
    Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
    const uint32_t code_length = static_cast<uint32_t>(v.module.blob().code().size());
    v.instance.set_gas(100);
    EXPECT_EQ(call(v.instance, 0), Interrupt::ecalli(5)) << next;
    const Gas paid = v.instance.gas();
    v.instance.set_step_tracing(true);
    EXPECT_EQ(resume(v.instance), Interrupt::step()) << next;
    EXPECT_EQ(v.instance.program_counter(), end ? code_length : v.at(after)) << next;
    if (end) {
      EXPECT_EQ(resume(v.instance), Interrupt::trap());
      EXPECT_EQ(v.instance.program_counter(), code_length);
      EXPECT_EQ(v.instance.gas(), paid);  // the implicit trap was paid with the ecalli's block
      continue;
    }
    EXPECT_EQ(resume(v.instance), Interrupt::step()) << next;
    EXPECT_EQ(resume(v.instance), Interrupt::step()) << next;
    EXPECT_EQ(v.instance.program_counter(), v.at(last)) << next;
    EXPECT_EQ(resume(v.instance), Interrupt::trap()) << next;
    EXPECT_EQ(v.instance.reg(Reg::A1), 2u) << next;
  }
}

// A host entry at a `fallthrough` in the middle of a block, after the code ran untraced and tracing was
// switched on: a Step there, then the block's successor (the interpreter read past its ops, or ran another's).
TEST_P(ApiTest, StepTracingSwitchedOnThenAnEntryAtAFallthrough) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_load_imm(b, Reg::A0, 1);
  auto fallthrough = b.new_label(), last = b.new_label();
  b.bind(fallthrough);
  b.emit(insn(Opcode::fallthrough));
  b.bind(last);
  emit_trap(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  v.instance.set_gas(100);
  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  v.instance.set_step_tracing(true);
  v.instance.set_gas(100);
  EXPECT_EQ(call(v.instance, v.at(fallthrough)), Interrupt::step());
  EXPECT_EQ(v.instance.program_counter(), v.at(fallthrough));
  EXPECT_EQ(v.instance.gas(), 98);  // entered mid-block: the block (two) paid first
  EXPECT_EQ(resume(v.instance), Interrupt::step());
  EXPECT_EQ(v.instance.program_counter(), v.at(last));
  EXPECT_EQ(resume(v.instance), Interrupt::trap());
  EXPECT_EQ(v.instance.gas(), 97);
}

// Switched off at the Step on the Gray Paper's implicit trap (a block of its own after a final
// `fallthrough`): the trap is still charged, as with tracing left on or never on.
TEST_P(ApiTest, StepTracingSwitchedOffAtTheEndOfCodeStillChargesItsBlock) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_load_imm(b, Reg::A0, 1);
  b.emit(insn(Opcode::fallthrough));
  VmOptions options{.module_config = gas_config(GasMeteringKind::Sync)};
  options.module_config.step_tracing = true;
  options.module_config.gray_paper_end_of_code = true;
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, options);
  const uint32_t code_length = static_cast<uint32_t>(v.module.blob().code().size());
  v.instance.set_gas(100);
  Interrupt interrupt = call(v.instance, 0);
  while (interrupt == Interrupt::step() && v.instance.program_counter() != code_length) interrupt = resume(v.instance);
  ASSERT_EQ(interrupt, Interrupt::step());
  EXPECT_EQ(v.instance.gas(), 98);
  v.instance.set_step_tracing(false);
  EXPECT_EQ(resume(v.instance), Interrupt::trap());
  EXPECT_EQ(v.instance.program_counter(), code_length);
  EXPECT_EQ(v.instance.gas(), 97);  // the interpreter trapped without charging
}

TEST_P(ApiTest, ModuleFromSerializedBlob) {
  CodeBuilder b(InstructionSet::Latest64);
  emit_trap(b);
  auto main = b.new_label();
  b.bind(main);
  emit_load_imm(b, Reg::A0, 42);
  emit_ret(b);
  CodeBuilder::Output out = b.finish();
  ProgramBlob blob = make_blob(InstructionSet::Latest64, out.code, {.ro_data_size = 4, .ro_data = {1, 2, 3, 4}});
  blob.exports.push_back({out.label_offsets[main], "main"});

  Engine engine = make_engine(backend());
  Module module = unwrap(Module::create(engine, {}, blob.to_bytes()), "Module::create");
  EXPECT_EQ(module.isa(), InstructionSet::Latest64);
  EXPECT_TRUE(module.is_64_bit());
  ASSERT_EQ(module.exports().size(), 1u);
  EXPECT_EQ(module.export_pc("main"), out.label_offsets[main]);
  EXPECT_EQ(module.export_pc("missing"), std::nullopt);

  RawInstance instance = unwrap(module.instantiate());
  EXPECT_EQ(unwrap(instance.read_memory(module.memory_map().ro_data_address, 4)), (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(call(instance, *module.export_pc("main")), Interrupt::finished());
  EXPECT_EQ(instance.reg(Reg::A0), 42u);
}

TEST_P(ApiTest, ModuleCreateRejectsGarbage) {
  Engine engine = make_engine(backend());
  const std::vector<uint8_t> garbage = {'P', 'V', 'M', 1, 2, 3};
  auto module = Module::create(engine, {}, garbage);
  ASSERT_FALSE(module.ok());
  EXPECT_FALSE(module.error().message().empty());
}

TEST_P(ApiTest, InstancesAreIndependent) {
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::store_u32, {Reg::A0}, {0x30000}));  // RW starts at 0x30000 when RO is < 64 KiB
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.data = {.ro_data_size = 1, .rw_data_size = 4}});
  ASSERT_EQ(v.module.memory_map().rw_data_address, 0x30000u);
  RawInstance other = unwrap(v.module.instantiate());
  v.instance.set_reg(Reg::A0, 0xAABBCCDD);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(unwrap(v.instance.read_memory(0x30000, 4)), (std::vector<uint8_t>{0xDD, 0xCC, 0xBB, 0xAA}));
  EXPECT_EQ(unwrap(other.read_memory(0x30000, 4)), std::vector<uint8_t>(4, 0));
  EXPECT_EQ(other.reg(Reg::A0), 0u);
}

TEST(ApiInterrupt, ToStringUsesTheDocumentedNames) {
  EXPECT_EQ(to_string(Interrupt::finished()), "finished");
  EXPECT_EQ(to_string(Interrupt::trap()), "trap");
  EXPECT_EQ(to_string(Interrupt::ecalli(3)), "ecalli(3)");
  EXPECT_EQ(to_string(Interrupt::fault(Segfault{0x20000, 0x1000, false})), "segfault(0x20000)");
}

INSTANTIATE_TEST_SUITE_P(Api, ApiTest, ::testing::ValuesIn(backends()), backend_param_name);

}  // namespace
}  // namespace polkavm::test
