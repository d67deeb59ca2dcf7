// The compiler's machine code itself, for what leaves no architectural trace. Built only with the compiler
// (POLKAVM_ENABLE_COMPILER): it calls the code generator directly.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compiler/compiler.hpp"
#include "runtime/backend.hpp"
#include "test_util.hpp"

namespace polkavm::test {
namespace {

// Spectre v1: every dynamic jump clamps its table index with `cmovae ecx, [rsp + 24]` (the frame's zero)
// right after its range check, so a mispredicted check cannot load past the native jump table. Checked in
// the machine code, since speculation leaves no architectural trace.
TEST(CompilerSpeculation, EveryDynamicJumpClampsItsTableIndex) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  CodeBuilder b(InstructionSet::Latest64);
  auto target = b.new_label();
  for (Reg reg : {Reg::A0, Reg::A1, Reg::T0}) b.emit(insn(Opcode::jump_indirect, {reg}, {0}));
  b.emit(insn(Opcode::load_imm_and_jump_indirect, {Reg::A2, Reg::A3}, {1, 0}));
  b.bind(target);
  b.add_jump_table_entry(target);
  emit_ret(b);
  detail::ModuleState module;
  module.blob = make_blob(InstructionSet::Latest64, b.finish().code);
  module.memory_map = unwrap(MemoryMap::build(0x1000, 0, 0, 0, 0));
  module.gas_model = make_simple_gas_model(CostModel::naive());
  auto code = unwrap(detail::compiler::CompiledCode::compile(module, false));
  const auto* begin = reinterpret_cast<const uint8_t*>(code->base());
  const std::vector<uint8_t> machine(begin, begin + code->size());
  const std::vector<uint8_t> clamp = {0x0F, 0x43, 0x4C, 0x24, 0x18};  // cmovae ecx, dword [rsp + 0x18]
  size_t clamps = 0;
  for (auto it = machine.begin(); (it = std::search(it, machine.end(), clamp.begin(), clamp.end())) != machine.end(); ++it) {
    ++clamps;
    const size_t at = static_cast<size_t>(it - machine.begin());
    // Right after the range check's jae (rel8 73 xx or rel32 0F 83 xx xx xx xx).
    const bool short_jae = at >= 2 && machine[at - 2] == 0x73;
    const bool near_jae = at >= 6 && machine[at - 6] == 0x0F && machine[at - 5] == 0x83;
    EXPECT_TRUE(short_jae || near_jae) << "at native offset " << at;
  }
  EXPECT_EQ(clamps, 5u);  // one per dynamic jump (the final ret is one too)
}

// Large modules are compiled in two parts in parallel. A module split so runs as it does in one part (and
// as on the interpreter): jumps and branches across the split both ways, a block that falls through into
// the second part, and a dynamic jump from the second part into the first, with and without gas metering
// and step tracing, in every sandbox.
TEST(CompilerParts, AModuleCompiledInTwoPartsRunsAsInOne) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  struct Restore {
    uint32_t from = detail::compiler::compile_in_parts_from();
    ~Restore() { detail::compiler::set_compile_in_parts_from(from); }
  } restore;
  CodeBuilder b(InstructionSet::Latest64);
  const auto l1 = b.new_label(), l2 = b.new_label(), t = b.new_label(), s = b.new_label(), ret = b.new_label();
  auto add_imm = [&](Reg r, uint32_t v) { b.emit(insn(Opcode::add_imm_64, {r, r}, {v})); };
  for (Reg r : {Reg::A0, Reg::A2, Reg::A3, Reg::A4, Reg::A5, Reg::T0}) emit_load_imm(b, r, 0);
  b.emit(insn(Opcode::jump), l2);
  b.bind(l1);  // the first part: a long block
  add_imm(Reg::A0, 1);
  for (int i = 0; i < 150; ++i) add_imm(Reg::A5, 1);
  b.emit(insn(Opcode::branch_less_unsigned_imm, {Reg::A0}, {50, 0}), l2);
  b.bind(t);  // where the code splits (the first block start from the middle on), or just before
  add_imm(Reg::A3, 7);
  b.emit(insn(Opcode::fallthrough));
  b.bind(s);
  add_imm(Reg::A4, 1);
  b.emit(insn(Opcode::branch_greater_or_equal_unsigned_imm, {Reg::A4}, {3, 0}), ret);
  emit_load_imm(b, Reg::T1, 2);  // jump-table entry 1: l1
  b.emit(insn(Opcode::jump_indirect, {Reg::T1}, {0}));
  b.bind(ret);
  emit_ret(b);
  b.bind(l2);  // the second part: a long block
  b.emit(insn(Opcode::add_64, {Reg::A2, Reg::A2, Reg::A0}));
  for (int i = 0; i < 150; ++i) add_imm(Reg::T0, 1);
  b.emit(insn(Opcode::jump), l1);
  b.add_jump_table_entry(l1);
  const CodeBuilder::Output out = b.finish();

  // The compiler splits it, where it would not by default (it is small).
  detail::compiler::set_compile_in_parts_from(0);
  for (const bool gas : {false, true}) {
    detail::ModuleState module;
    module.blob = make_blob(InstructionSet::Latest64, out.code);
    module.memory_map = unwrap(MemoryMap::build(0x1000, 0, 0, 0, 0));
    module.gas_model = make_simple_gas_model(CostModel::naive());
    module.gas_metering = gas ? GasMeteringKind::Sync : GasMeteringKind::None;
    EXPECT_EQ(unwrap(detail::compiler::CompiledCode::compile(module, false))->parts(), 2u);
    EXPECT_EQ(unwrap(detail::compiler::CompiledCode::compile(module, true))->parts(), 2u);
  }

  for (const TestBackend& backend : backends()) {
    for (const bool gas : {false, true}) {
      for (const bool step : {false, true}) {
        SCOPED_TRACE(fmt::format("{}, gas {}, step tracing {}", test_backend_name(backend), gas, step));
        ModuleConfig config = gas_config(gas ? GasMeteringKind::Sync : GasMeteringKind::None);
        config.step_tracing = step;
        Engine engine = make_engine(backend);
        Module module = unwrap(Module::from_blob(engine, config, make_blob(InstructionSet::Latest64, out.code)));
        RawInstance instance = unwrap(module.instantiate());
        instance.set_gas(100000);
        Interrupt interrupt = call(instance, 0);
        uint32_t steps = 0;
        for (; interrupt.kind == Interrupt::Kind::Step && steps < 100000; ++steps) interrupt = resume(instance);
        EXPECT_EQ(interrupt, Interrupt::finished());
        EXPECT_EQ(instance.reg(Reg::A0), 52u);
        EXPECT_EQ(instance.reg(Reg::A2), 1225u);  // 1 + ... + 49
        EXPECT_EQ(instance.reg(Reg::A3), 21u);
        EXPECT_EQ(instance.reg(Reg::A4), 3u);
        EXPECT_EQ(instance.reg(Reg::A5), 52u * 150);
        EXPECT_EQ(instance.reg(Reg::T0), 50u * 150);
        // 6 + 1 instructions to l2, l1 (152) 52 times, l2 (152) 50 times, t and s (2 each) 3 times, the
        // dynamic jump (2) twice, the return.
        const uint32_t executed = 7 + 52 * 152 + 50 * 152 + 3 * 2 + 3 * 2 + 2 * 2 + 1;
        EXPECT_EQ(steps, step ? executed : 0);
        EXPECT_EQ(instance.gas(), gas ? 100000 - static_cast<Gas>(executed) : 100000);
      }
    }
  }
}

// Machine code that can fill a huge page starts at a 2 MiB boundary in memory advised for transparent huge
// pages, read-only and executable. Code too small for one, or under a memory limit without room for a whole
// huge page, asks for none.
TEST(CompilerMemory, MachineCodeAsksForHugePagesWhereItCanFillOne) {
  if (!compiler_available()) GTEST_SKIP() << "the compiler does not run on this host";
  if (!detail::huge_pages_available()) GTEST_SKIP() << "the kernel gives no transparent huge pages here";
  auto program = [](int instructions) {
    CodeBuilder b(InstructionSet::Latest64);
    for (int i = 0; i < instructions; ++i) emit_add_imm_32(b, Reg::A0, Reg::A0, 1);
    emit_ret(b);
    return b.finish().code;
  };
  const CodeAndJumpTable large = program(100'000), small = program(1000);
  struct Case {
    const CodeAndJumpTable& code;
    uint64_t limit;
    bool huge;
  };
  for (const Case& c : {Case{large, 0, true}, Case{large, uint64_t{4} << 20, false}, Case{small, 0, false}}) {
    SCOPED_TRACE(fmt::format("{} bytes of code, memory limit {}", c.code.code.size(), c.limit));
    auto engine = std::make_shared<detail::EngineState>();
    engine->config.compile_memory_limit = c.limit;
    detail::ModuleState module;
    module.engine = engine;
    module.blob = make_blob(InstructionSet::Latest64, c.code);
    module.memory_map = unwrap(MemoryMap::build(0x1000, 0, 0, 0, 0));
    module.gas_model = make_simple_gas_model(CostModel::naive());
    auto code = unwrap(detail::compiler::CompiledCode::compile(module, false));
    const auto* base = reinterpret_cast<const void*>(code->base());
    const std::string flags = vm_flags_at(base);
    EXPECT_NE(flags.find(" ex "), std::string::npos) << flags;
    EXPECT_EQ(flags.find(" wr "), std::string::npos) << flags;
    EXPECT_EQ(flags.find(" hg ") != std::string::npos, c.huge) << flags;
    if (c.huge) {
      EXPECT_EQ(code->base() % detail::kHugePage, 0u);
    }
  }
}

}  // namespace
}  // namespace polkavm::test
