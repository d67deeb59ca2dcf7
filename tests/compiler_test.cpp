// What the compiler backend adds over the interpreter: hardware memory faults caught by a signal
// handler (thread-safe, chained to the previous handler), hostile programs that must never reach the
// host, and backend selection. The behavioural suites run on the compiler through test_util's backends().
#include <asm/prctl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>

#include "runtime/backend.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

class CompilerTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  const TestBackend& backend() const { return GetParam(); }
};

// Stores to ro data fault in hardware on the compiler; both backends must trap at the store.
// Label 0 is the store.
CodeBuilder store_then_load_program(uint32_t address) {
  CodeBuilder b(InstructionSet::Latest64);
  b.new_label();
  emit_load_imm(b, Reg::A1, 7);
  b.bind(0);
  b.emit(insn(Opcode::store_u32, {Reg::A1}, {address}));
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {address}));
  emit_ret(b);
  return b;
}

TEST_P(CompilerTest, GuestStoresToReadOnlyDataTrapAtTheStore) {
  const VmOptions options{.data = {.ro_data_size = 0x1000, .ro_data = {1, 2, 3, 4}}};
  Vm v = make_vm(backend(), InstructionSet::Latest64, store_then_load_program(kAddressSpaceBottom), options);
  EXPECT_EQ(call(v.instance, 0), Interrupt::trap());
  EXPECT_EQ(v.instance.program_counter(), v.at(0));
  EXPECT_EQ(unwrap(v.instance.read_memory(kAddressSpaceBottom, 4)), bytes({1, 2, 3, 4}));
}

TEST_P(CompilerTest, AccessesAcrossTheWholeAddressSpaceNeverReachTheHost) {
  // Every high address, with and without wrap-around in the address computation, traps.
  for (uint32_t address : {0u, 0xFFFFu, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFF8u, 0xFFFFFFFFu}) {
    CodeBuilder b(InstructionSet::Latest64);
    emit_load_imm(b, Reg::A1, address);
    b.emit(insn(Opcode::load_indirect_u64, {Reg::A0, Reg::A1}, {0x10}));  // wraps past 4 GiB for the top ones
    b.emit(insn(Opcode::store_u64, {Reg::A0}, {address}));
    emit_ret(b);
    Vm v = make_vm(backend(), InstructionSet::Latest64, b);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << std::hex << address;
  }
}

TEST_P(CompilerTest, WildDynamicJumpsTrapAtTheJump) {
  for (uint32_t address : {1u, 3u, 0u, 0xFFFFFFFEu, 0x7FFFFFFFu, 0xFFFF0002u, 6u}) {
    CodeBuilder b(InstructionSet::Latest64);
    auto jump = b.new_label(), target = b.new_label();
    emit_load_imm(b, Reg::A0, address);
    b.bind(jump);
    b.emit(insn(Opcode::jump_indirect, {Reg::A0}, {0}));
    b.bind(target);
    b.add_jump_table_entry(target);
    emit_ret(b);
    Vm v = make_vm(backend(), InstructionSet::Latest64, b);
    EXPECT_EQ(call(v.instance, 0), Interrupt::trap()) << address;
    EXPECT_EQ(v.instance.program_counter(), v.at(jump)) << address;
  }
}

TEST_P(CompilerTest, EndlessLoopRunsOutOfGasAndResumes) {
  CodeBuilder b(InstructionSet::Latest64);
  auto loop = b.new_label();
  b.bind(loop);
  emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
  b.emit(insn(Opcode::jump), loop);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  v.instance.set_gas(1000);
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.reg(Reg::A0), 500u);  // two instructions per block, naive costs
  EXPECT_EQ(v.instance.gas(), 0);
  v.instance.set_gas(10);
  EXPECT_EQ(resume(v.instance), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.reg(Reg::A0), 505u);
}

TEST_P(CompilerTest, DeepRecursionThroughTheStackTrapsWhenTheStackEnds) {
  // f: sp -= 16; store ra; call f — until the store leaves the stack.
  CodeBuilder b(InstructionSet::Latest64);
  auto f = b.new_label(), store = b.new_label(), after = b.new_label();
  b.bind(f);
  b.emit(insn(Opcode::add_imm_64, {Reg::SP, Reg::SP}, {static_cast<uint32_t>(-16)}));
  b.bind(store);
  b.emit(insn(Opcode::store_indirect_u64, {Reg::RA, Reg::SP}, {8}));
  b.emit(insn(Opcode::load_imm_and_jump, {Reg::RA}, {2, 0}), f);
  b.bind(after);
  b.add_jump_table_entry(after);
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.data = {.stack_size = 0x2000}});
  unwrap(v.instance.prepare_call(0, {}));
  EXPECT_EQ(resume(v.instance), Interrupt::trap());
  EXPECT_EQ(v.instance.program_counter(), v.at(store));
  EXPECT_EQ(v.instance.reg(Reg::SP), v.module.default_sp() - 0x2000 - 16);
}

TEST_P(CompilerTest, InstancesOnSeveralThreadsFaultIndependently) {
  // Each thread alternates a faulting run and a finishing run on its own instance.
  constexpr int kThreads = 4, kRounds = 200;
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_indirect_u32, {Reg::A0, Reg::A1}, {0}));
  b.emit(insn(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {1}));
  emit_ret(b);
  const VmOptions options{.data = {.rw_data_size = 0x1000, .rw_data = {41}}};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Vm v = make_vm(backend(), InstructionSet::Latest64, b, options);
      const uint32_t good = v.module.memory_map().rw_data_address;
      for (int i = 0; i < kRounds; ++i) {
        v.instance.set_reg(Reg::A1, 0x1000);
        if (call(v.instance, 0) != Interrupt::trap() || v.instance.program_counter() != 0u) ++failures;
        v.instance.set_reg(Reg::A1, good);
        if (call(v.instance, 0) != Interrupt::finished() || v.instance.reg(Reg::A0) != 42u) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(CompilerTest, JumpsIntoTheMiddleOfAnInstructionTrap) {
  // A 10-byte load_imm64 is the block's first instruction; its bytes 1..9 are no instruction starts.
  CodeBuilder b(InstructionSet::Latest64);
  auto wide = b.new_label(), jump = b.new_label();
  b.bind(wide);
  b.emit(insn(Opcode::load_imm64, {Reg::A1}, {0x89abcdef, 0x01234567}));
  b.bind(jump);
  b.emit(insn(Opcode::jump_indirect, {Reg::A0}, {0}));
  for (uint32_t offset = 1; offset < 10; ++offset) b.add_jump_table_offset(offset);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b);
  ASSERT_EQ(v.at(jump), 10u);
  for (uint32_t entry = 0; entry < 9; ++entry) {
    // Through the jump table: the jump itself traps.
    v.instance.set_reg(Reg::A0, (entry + 1) * 2);
    EXPECT_EQ(call(v.instance, v.at(jump)), Interrupt::trap()) << entry;
    EXPECT_EQ(v.instance.program_counter(), v.at(jump)) << entry;
    // Entered from the host: the call traps without running anything.
    v.instance.set_reg(Reg::A1, 0);
    EXPECT_EQ(call(v.instance, entry + 1), Interrupt::trap()) << entry;
    EXPECT_EQ(v.instance.reg(Reg::A1), 0u) << entry;
  }
}

TEST_P(CompilerTest, HugeBlocksRunAndChargeAsOne) {
  // One block of 200,000 instructions; out of gas before it, nothing of it runs.
  constexpr uint32_t kAdds = 200'000;
  CodeBuilder b(InstructionSet::Latest64);
  for (uint32_t i = 0; i < kAdds; ++i) b.emit(insn(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {3}));
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  v.instance.set_gas(kAdds);  // one short: the block costs kAdds + 1
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.reg(Reg::A0), 0u);
  EXPECT_EQ(v.instance.gas(), kAdds);
  v.instance.set_gas(kAdds + 1);
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 3u * kAdds);
  EXPECT_EQ(v.instance.gas(), 0);
}

TEST_P(CompilerTest, MachineCodeLongerThanEightBytesPerByteOfGuestCodeStillCompiles) {
  // The compiler emits into address space for 8 bytes of machine code per byte of guest code and, for code
  // that needs more, compiles again into a buffer that grows. A block of its own per one-byte fallthrough,
  // each with its gas check, takes about 20 bytes per byte.
  constexpr uint32_t kBlocks = 50'000;
  CodeBuilder b(InstructionSet::Latest64);
  for (uint32_t i = 0; i < kBlocks; ++i) b.emit(insn(Opcode::fallthrough));
  emit_load_imm(b, Reg::A0, 7);
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  v.instance.set_gas(kBlocks);  // the last block (load_imm, ret) is the one that cannot be paid for
  EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas());
  EXPECT_EQ(v.instance.program_counter(), kBlocks);
  EXPECT_EQ(v.instance.gas(), 0);
  v.instance.set_gas(2);
  EXPECT_EQ(resume(v.instance), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 7u);
  EXPECT_EQ(v.instance.gas(), 0);
}

TEST_P(CompilerTest, OutOfGasInsideAHotLoopStopsAtTheLoopHead) {
  // A loop with memory traffic; the gas runs out at a block start, never in the middle of a block.
  CodeBuilder b(InstructionSet::Latest64);
  auto loop = b.new_label();
  b.bind(loop);
  b.emit(insn(Opcode::load_indirect_u64, {Reg::A2, Reg::A1}, {0}));
  b.emit(insn(Opcode::add_imm_64, {Reg::A2, Reg::A2}, {1}));
  b.emit(insn(Opcode::store_indirect_u64, {Reg::A2, Reg::A1}, {0}));
  b.emit(insn(Opcode::jump), loop);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b,
                 VmOptions{.data = {.rw_data_size = 0x1000}, .module_config = gas_config(GasMeteringKind::Sync)});
  const uint32_t counter = v.module.memory_map().rw_data_address;
  for (Gas gas : {Gas{0}, Gas{3}, Gas{4}, Gas{4001}, Gas{1'000'003}}) {
    unwrap(v.instance.zero_memory(counter, 8));
    v.instance.set_reg(Reg::A1, counter);
    v.instance.set_gas(gas);
    EXPECT_EQ(call(v.instance, 0), Interrupt::not_enough_gas()) << gas;
    EXPECT_EQ(v.instance.program_counter(), v.at(loop)) << gas;
    EXPECT_EQ(v.instance.gas(), gas % 4) << gas;
    const std::vector<uint8_t> memory = unwrap(v.instance.read_memory(counter, 8));
    uint64_t iterations = 0;
    for (int i = 7; i >= 0; --i) iterations = iterations << 8 | memory[i];
    EXPECT_EQ(iterations, gas / 4) << gas;
  }
}

TEST_P(CompilerTest, BranchesEnteredInTheMiddleOfABlockTestTheirRegister) {
  // `a0 -= 1; branch a0 != 0` compiles to a decrement whose flags the branch reuses. Entered at the branch
  // itself (from the host, or after a step with tracing switched off), the branch must still test a0.
  CodeBuilder b(InstructionSet::Latest64);
  auto branch = b.new_label(), taken = b.new_label();
  b.emit(insn(Opcode::add_imm_64, {Reg::A0, Reg::A0}, {static_cast<uint32_t>(-1)}));
  b.bind(branch);
  b.emit(insn(Opcode::branch_not_eq_imm, {Reg::A0}, {0, 0}), taken);
  emit_load_imm(b, Reg::A1, 1);
  emit_ret(b);
  b.bind(taken);
  emit_load_imm(b, Reg::A1, 2);
  emit_ret(b);
  Vm v = make_vm(backend(), InstructionSet::Latest64, b);
  RawInstance& in = v.instance;
  // {a0, entered at the branch, a1 expected}
  const std::tuple<uint64_t, bool, uint64_t> cases[] = {{1, false, 1}, {2, false, 2}, {0, true, 1},
                                                        {5, true, 2}, {1, true, 2},   {0, false, 2}};
  for (const auto& [a0, at_branch, a1] : cases) {
    in.set_reg(Reg::A0, a0);
    in.set_reg(Reg::A1, 0);
    EXPECT_EQ(call(in, at_branch ? v.at(branch) : 0), Interrupt::finished()) << a0 << " " << at_branch;
    EXPECT_EQ(in.reg(Reg::A1), a1) << a0 << " " << at_branch;
  }
  // Stop before the branch with tracing on, then go on without it.
  for (const uint64_t a0 : {1, 2}) {
    in.set_step_tracing(true);
    in.set_reg(Reg::A0, a0);
    EXPECT_EQ(call(in, 0), Interrupt::step());
    EXPECT_EQ(resume(in), Interrupt::step());
    EXPECT_EQ(in.program_counter(), v.at(branch));
    in.set_step_tracing(false);
    EXPECT_EQ(resume(in), Interrupt::finished());
    EXPECT_EQ(in.reg(Reg::A1), a0 == 1 ? 1u : 2u) << a0;
  }
}

TEST_P(CompilerTest, ThirtyTwoBitResultsCompareAsTheirSignExtensions) {
  // 32-bit operations whose results differ from their zero extension, then every kind of instruction that
  // compares them: a branch reusing the flags of `add_imm_32`, branches against immediates and registers,
  // set_less_than, min/max and cmov. (The compiler keeps only the low half of a 32-bit program's registers
  // meaningful and compares 32-bit values; 64-bit programs compare the sign extensions.)
  for (InstructionSet isa : {InstructionSet::Latest32, InstructionSet::Latest64}) {
    SCOPED_TRACE(instruction_set_name(isa));
    CodeBuilder b(isa);
    auto check = b.new_label(), bad = b.new_label();
    const auto u = [](int32_t v) { return static_cast<uint32_t>(v); };
    emit_load_imm(b, Reg::A0, u(-1));
    b.emit(insn(Opcode::add_imm_32, {Reg::A0, Reg::A0}, {1}));                      // 0
    b.bind(check);
    b.emit(insn(Opcode::branch_not_eq_imm, {Reg::A0}, {0, 0}), bad);
    emit_load_imm(b, Reg::A1, 0x7FFFFFFF);
    b.emit(insn(Opcode::add_imm_32, {Reg::A1, Reg::A1}, {1}));                      // INT32_MIN
    b.emit(insn(Opcode::branch_greater_or_equal_signed_imm, {Reg::A1}, {0, 0}), bad);
    emit_load_imm(b, Reg::A2, 1);
    b.emit(insn(Opcode::branch_greater_or_equal_unsigned, {Reg::A2, Reg::A1}), bad);
    b.emit(insn(Opcode::set_less_than_unsigned, {Reg::A3, Reg::A2, Reg::A1}));      // 1
    b.emit(insn(Opcode::set_less_than_signed, {Reg::A4, Reg::A1, Reg::A2}));        // 1
    b.emit(insn(Opcode::shift_logical_left_imm_32, {Reg::A5, Reg::A2}, {31}));      // INT32_MIN
    b.emit(insn(Opcode::maximum, {Reg::T0, Reg::A5, Reg::A2}));                     // 1
    b.emit(insn(Opcode::maximum_unsigned, {Reg::T1, Reg::A5, Reg::A2}));            // INT32_MIN
    b.emit(insn(Opcode::sub_32, {Reg::T2, Reg::A2, Reg::A2}));                      // 0
    emit_load_imm(b, Reg::S0, 5);
    b.emit(insn(Opcode::cmov_if_zero, {Reg::S0, Reg::A2, Reg::T2}));               // 1
    b.emit(insn(Opcode::set_less_than_unsigned_imm, {Reg::S1, Reg::A1}, {u(-1)}));  // 1
    emit_ret(b);
    b.bind(bad);
    emit_trap(b);
    Vm v = make_vm(backend(), isa, b);
    RawInstance& in = v.instance;
    const uint64_t int32_min = isa == InstructionSet::Latest32 ? 0x80000000u : 0xFFFFFFFF80000000u;
    ASSERT_EQ(call(in, 0), Interrupt::finished());
    EXPECT_EQ(in.reg(Reg::A0), 0u);
    EXPECT_EQ(in.reg(Reg::A1), int32_min);
    EXPECT_EQ(in.reg(Reg::A3), 1u);
    EXPECT_EQ(in.reg(Reg::A4), 1u);
    EXPECT_EQ(in.reg(Reg::A5), int32_min);
    EXPECT_EQ(in.reg(Reg::T0), 1u);
    EXPECT_EQ(in.reg(Reg::T1), int32_min);
    EXPECT_EQ(in.reg(Reg::S0), 1u);
    EXPECT_EQ(in.reg(Reg::S1), 1u);
    // Entered at the branch, which then tests a0 itself: a host value that is zero only in its low half is
    // not zero on a 64-bit program; a 32-bit program keeps only the low half.
    in.set_reg(Reg::A0, 0x100000000u);
    EXPECT_EQ(call(in, v.at(check)), isa == InstructionSet::Latest32 ? Interrupt::finished() : Interrupt::trap());
  }
}

INSTANTIATE_TEST_SUITE_P(Compiler, CompilerTest, ::testing::ValuesIn(backends()), backend_param_name);

// ---- the compiler only ----

void exit_on_signal(int) { _exit(42); }
void* g_host_page = nullptr;
void exit_on_host_page(int, siginfo_t* info, void*) { _exit(info->si_addr == g_host_page ? 42 : 43); }

// The generic sandbox reaches guest memory through the gs base. Something else on the thread moving gs
// (here: pointing it at another instance's memory, the worst case) must not make compiled code read the
// wrong memory: gs is checked on every entry.
TEST(CompilerGsBase, AnotherWriterOfGsIsNoticedOnEntry) {
  const TestBackend generic{BackendKind::Compiler, SandboxKind::Generic};
  if (!backend_available(generic)) GTEST_SKIP() << "the generic sandbox does not run on this host";
  CodeBuilder b(InstructionSet::Latest64);
  b.emit(insn(Opcode::load_u32, {Reg::A0}, {0x30000}));
  emit_ret(b);
  const VmOptions options{.data = {.ro_data_size = 1, .rw_data_size = 4}};
  Vm v = make_vm(generic, InstructionSet::Latest64, b, options);
  RawInstance other = unwrap(v.module.instantiate());
  unwrap(v.instance.write_u32(0x30000, 1));
  unwrap(other.write_u32(0x30000, 2));
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 1u);
  // As another runtime on this thread might: gs now points at the other instance's memory.
  const auto other_base = reinterpret_cast<uintptr_t>(detail::backend_of(other)->memory().base());
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_SET_GS, other_base), 0);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 1u) << "compiled code read through a gs base it did not set";
  // And somewhere unmapped.
  ASSERT_EQ(syscall(SYS_arch_prctl, ARCH_SET_GS, uintptr_t{0x1000}), 0);
  EXPECT_EQ(call(v.instance, 0), Interrupt::finished());
  EXPECT_EQ(v.instance.reg(Reg::A0), 1u);
  EXPECT_EQ(call(other, 0), Interrupt::finished());
  EXPECT_EQ(other.reg(Reg::A0), 2u);
}

TEST(CompilerSignals, FaultsOutsideGuestCodeReachTheHandlerInstalledBefore) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a fresh process: the compiler installs its handler after ours
  for (const TestBackend& backend : backends()) {  // the compiler in each sandbox
    if (backend.backend != BackendKind::Compiler) continue;
    SCOPED_TRACE(test_backend_name(backend));
    EXPECT_EXIT(
        {
          struct sigaction action {};
          action.sa_handler = exit_on_signal;
          sigaction(SIGSEGV, &action, nullptr);
          Vm v = make_vm(backend, InstructionSet::Latest64, store_then_load_program(0x1000));
          if (call(v.instance, 0) != Interrupt::trap()) _exit(1);  // a guest fault stays with the VM
          void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          *static_cast<volatile int*>(page) = 1;  // a host fault goes to the handler installed before
          _exit(2);
        },
        ::testing::ExitedWithCode(42), "");
  }
}

// The other order: the host installs its handler (not chaining to ours) after compiled code has run. The
// next entry puts the VM's handler back in front, so a guest fault still stays with the VM, and a host fault
// still reaches the host's handler.
TEST(CompilerSignals, AHandlerInstalledAfterTheFirstRunDoesNotTakeGuestFaults) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (const TestBackend& backend : backends()) {
    if (backend.backend != BackendKind::Compiler) continue;
    SCOPED_TRACE(test_backend_name(backend));
    EXPECT_EXIT(
        {
          g_host_page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          Vm v = make_vm(backend, InstructionSet::Latest64, store_then_load_program(0x1000));
          if (call(v.instance, 0) != Interrupt::trap()) _exit(1);
          struct sigaction action {};
          action.sa_sigaction = exit_on_host_page;
          action.sa_flags = SA_SIGINFO;
          sigaction(SIGSEGV, &action, nullptr);
          for (int i = 0; i < 2; ++i)
            if (call(v.instance, 0) != Interrupt::trap()) _exit(3);  // the host's handler exits with 43
          *static_cast<volatile int*>(g_host_page) = 1;  // the host's fault: its handler, 42
          _exit(2);
        },
        ::testing::ExitedWithCode(42), "");
  }
}

TEST(CompilerSelection, EngineReportsTheBackendItRuns) {
  Config config;
  config.backend = BackendKind::Compiler;
  Result<Engine> engine = Engine::create(config);
  if (const std::optional<std::string> reason = detail::compiler_unsupported_reason()) {
    // Not on this CPU, or not in this build (POLKAVM_ENABLE_COMPILER=OFF): refused with the reason, and Auto
    // runs the interpreter.
    ASSERT_FALSE(engine);
    EXPECT_EQ(engine.error().kind(), ErrorKind::Unsupported);
    EXPECT_NE(engine.error().message().find("'compiler' backend is not supported on this host: " + *reason),
              std::string::npos)
        << engine.error().message();
    config.backend = BackendKind::Auto;
    EXPECT_EQ(unwrap(Engine::create(config)).backend(), BackendKind::Interpreter);
    return;
  }
  if (!engine) {
    EXPECT_NE(engine.error().message().find("'compiler' backend is not supported on this host"), std::string::npos);
    GTEST_SKIP() << engine.error().message();
  }
  EXPECT_EQ(engine->backend(), BackendKind::Compiler);
  config.backend = BackendKind::Auto;
  EXPECT_EQ(unwrap(Engine::create(config)).backend(), BackendKind::Compiler);
}

}  // namespace
}  // namespace polkavm::test
