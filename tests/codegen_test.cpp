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
