// The compiler's direct encoder (src/compiler/x86_encoder.hpp) against asmjit: every form it has, over every
// register and a range of immediates and displacements, must encode to asmjit's bytes.
#include <asmjit/x86.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "compiler/x86_encoder.hpp"

namespace polkavm::detail::compiler {
namespace {

using namespace asmjit;

std::string hex(const uint8_t* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += {' ', kDigits[p[i] >> 4], kDigits[p[i] & 15]};
  return s;
}

template <typename F>
std::vector<uint8_t> asmjit_bytes(F emit) {
  CodeHolder holder;
  holder.init(Environment::host());
  x86::Assembler a(&holder);
  emit(a);
  const CodeBuffer& buffer = holder.textSection()->buffer();
  return {buffer.data(), buffer.data() + a.offset()};
}

// Counts the comparisons, so that a loop that ran over nothing cannot pass.
int g_compared = 0;

template <typename F>
void expect_same(const enc::Insn& ours, F emit, const std::string& what) {
  const std::vector<uint8_t> theirs = asmjit_bytes(emit);
  ++g_compared;
  uint8_t bytes[sizeof(enc::Insn::Bits)];
  ours.write_to(bytes);
  ASSERT_EQ(hex(bytes, ours.size()), hex(theirs.data(), theirs.size())) << what;
}

const int32_t kImm32[] = {0, 1, -1, 5, 127, 128, -128, -129, 1000, 0x12345678, INT32_MAX, INT32_MIN};
const int32_t kDisp[] = {0, 1, -1, 127, 128, -128, -129, 0x12345, INT32_MAX, INT32_MIN};

x86::Mem mem_of(const enc::Mem& m, uint32_t size) {
  x86::Mem out;
  if (m.base < 0) out = x86::ptr_abs(static_cast<uint64_t>(static_cast<uint32_t>(m.disp)), size);
  else if (m.index >= 0) out = x86::ptr(x86::gpq(m.base), x86::gpq(m.index), 0, m.disp, size);
  else if (m.addr32) out = x86::ptr(x86::gpd(m.base), m.disp, size);
  else out = x86::ptr(x86::gpq(m.base), m.disp, size);
  if (m.gs) out.setSegment(x86::gs);
  return out;
}

// The memory operands the compiler uses: gs:[base32 + disp], gs:[disp] (below 2 GiB), gs:[rcx] and
// [rsp + disp], plus [base + index + disp] for lea.
std::vector<enc::Mem> guest_mems() {
  std::vector<enc::Mem> out;
  for (int base = 0; base < 16; ++base) {
    if (base == 4) continue;
    for (const int32_t disp : kDisp) out.push_back({static_cast<int8_t>(base), -1, disp, true, true});
  }
  for (const int32_t disp : {0, 1, 0x1000, 0x12345678, INT32_MAX}) out.push_back({-1, -1, disp, true, false});
  out.push_back({1, -1, 0, true, false});
  for (const int32_t disp : {0, 8, 16, 24}) out.push_back({4, -1, disp, false, false});
  return out;
}

std::string describe(const enc::Mem& m) {
  return "base " + std::to_string(m.base) + " index " + std::to_string(m.index) + " disp " + std::to_string(m.disp) +
         (m.gs ? " gs" : "") + (m.addr32 ? " addr32" : "");
}

TEST(X86EncoderTest, RegisterToRegisterFormsEncodeAsAsmjitDoes) {
  g_compared = 0;
  const std::pair<enc::Alu, InstId> alus[] = {{enc::Alu::Add, x86::Inst::kIdAdd}, {enc::Alu::Or, x86::Inst::kIdOr},
                                              {enc::Alu::And, x86::Inst::kIdAnd}, {enc::Alu::Sub, x86::Inst::kIdSub},
                                              {enc::Alu::Xor, x86::Inst::kIdXor}, {enc::Alu::Cmp, x86::Inst::kIdCmp}};
  for (uint8_t d = 0; d < 16; ++d) {
    for (uint8_t s = 0; s < 16; ++s) {
      const std::string regs = " d=" + std::to_string(d) + " s=" + std::to_string(s);
      for (const bool w : {false, true}) {
        auto r = [w](uint8_t id) { return w ? x86::Gp(x86::gpq(id)) : x86::Gp(x86::gpd(id)); };
        for (const auto& [op, id] : alus)
          expect_same(enc::alu_rr(op, w, d, s), [&](x86::Assembler& a) { a.emit(id, r(d), r(s)); }, "alu" + regs);
        expect_same(enc::mov_rr(w, d, s), [&](x86::Assembler& a) { a.mov(r(d), r(s)); }, "mov" + regs);
        expect_same(enc::test_rr(w, d, s), [&](x86::Assembler& a) { a.test(r(d), r(s)); }, "test" + regs);
        expect_same(enc::imul_rr(w, d, s), [&](x86::Assembler& a) { a.imul(r(d), r(s)); }, "imul" + regs);
      }
      expect_same(enc::movsxd_rr(d, s), [&](x86::Assembler& a) { a.movsxd(x86::gpq(d), x86::gpd(s)); }, "movsxd" + regs);
    }
  }
  EXPECT_EQ(g_compared, 16 * 16 * (2 * 9 + 1));
}

TEST(X86EncoderTest, ImmediateFormsEncodeAsAsmjitDoes) {
  g_compared = 0;
  const std::pair<enc::Alu, InstId> alus[] = {{enc::Alu::Add, x86::Inst::kIdAdd}, {enc::Alu::Or, x86::Inst::kIdOr},
                                              {enc::Alu::And, x86::Inst::kIdAnd}, {enc::Alu::Sub, x86::Inst::kIdSub},
                                              {enc::Alu::Xor, x86::Inst::kIdXor}, {enc::Alu::Cmp, x86::Inst::kIdCmp}};
  const std::pair<enc::Shift, InstId> shifts[] = {{enc::Shift::Rol, x86::Inst::kIdRol}, {enc::Shift::Ror, x86::Inst::kIdRor},
                                                  {enc::Shift::Shl, x86::Inst::kIdShl}, {enc::Shift::Shr, x86::Inst::kIdShr},
                                                  {enc::Shift::Sar, x86::Inst::kIdSar}};
  const int64_t imm64s[] = {0, 1, -1, INT32_MAX, INT32_MIN, 0x80000000LL, 0xFFFFFFFFLL, int64_t(1) << 40,
                            -0x80000001LL, INT64_MIN, INT64_MAX};
  for (uint8_t d = 0; d < 16; ++d) {
    const std::string reg = " d=" + std::to_string(d);
    for (const bool w : {false, true}) {
      auto r = [w](uint8_t id) { return w ? x86::Gp(x86::gpq(id)) : x86::Gp(x86::gpd(id)); };
      for (const int32_t imm : kImm32)
        for (const auto& [op, id] : alus)
          expect_same(enc::alu_ri(op, w, d, imm), [&](x86::Assembler& a) { a.emit(id, r(d), imm); },
                      "alu imm " + std::to_string(imm) + reg);
      for (const uint8_t amount : {0, 1, 2, 31, 32, 63})
        for (const auto& [op, id] : shifts)
          expect_same(enc::shift_ri(op, w, d, amount), [&](x86::Assembler& a) { a.emit(id, r(d), amount); },
                      "shift " + std::to_string(amount) + reg);
    }
    for (const int32_t imm : kImm32)
      expect_same(enc::mov_r32_imm(d, static_cast<uint32_t>(imm)),
                  [&](x86::Assembler& a) { a.mov(x86::gpd(d), static_cast<uint32_t>(imm)); }, "mov r32 imm" + reg);
    for (const int64_t imm : imm64s)
      expect_same(enc::mov_r64_imm(d, imm), [&](x86::Assembler& a) { a.mov(x86::gpq(d), imm); },
                  "mov r64 imm " + std::to_string(imm) + reg);
  }
  EXPECT_EQ(g_compared, 16 * (2 * 12 * 6 + 2 * 6 * 5 + 12 + 11));
}

TEST(X86EncoderTest, MemoryFormsEncodeAsAsmjitDoes) {
  g_compared = 0;
  const std::vector<enc::Mem> mems = guest_mems();
  for (const enc::Mem& m : mems) {
    const std::string where = " at " + describe(m);
    for (uint8_t r = 0; r < 16; ++r) {
      const std::string reg = " r=" + std::to_string(r) + where;
      expect_same(enc::load(enc::Load::U8, r, m), [&](x86::Assembler& a) { a.movzx(x86::gpd(r), mem_of(m, 1)); }, "u8" + reg);
      expect_same(enc::load(enc::Load::I8, r, m), [&](x86::Assembler& a) { a.movsx(x86::gpq(r), mem_of(m, 1)); }, "i8" + reg);
      expect_same(enc::load(enc::Load::U16, r, m), [&](x86::Assembler& a) { a.movzx(x86::gpd(r), mem_of(m, 2)); }, "u16" + reg);
      expect_same(enc::load(enc::Load::I16, r, m), [&](x86::Assembler& a) { a.movsx(x86::gpq(r), mem_of(m, 2)); }, "i16" + reg);
      expect_same(enc::load(enc::Load::U32, r, m), [&](x86::Assembler& a) { a.mov(x86::gpd(r), mem_of(m, 4)); }, "u32" + reg);
      expect_same(enc::load(enc::Load::I32, r, m), [&](x86::Assembler& a) { a.movsxd(x86::gpq(r), mem_of(m, 4)); }, "i32" + reg);
      expect_same(enc::load(enc::Load::U64, r, m), [&](x86::Assembler& a) { a.mov(x86::gpq(r), mem_of(m, 8)); }, "u64" + reg);
      expect_same(enc::store(1, r, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 1), x86::gpb(r)); }, "st8" + reg);
      expect_same(enc::store(2, r, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 2), x86::gpw(r)); }, "st16" + reg);
      expect_same(enc::store(4, r, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 4), x86::gpd(r)); }, "st32" + reg);
      expect_same(enc::store(8, r, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 8), x86::gpq(r)); }, "st64" + reg);
      expect_same(enc::lea(true, r, m), [&](x86::Assembler& a) { a.lea(x86::gpq(r), mem_of(m, 0)); }, "lea" + reg);
    }
    for (const int32_t imm : kImm32) {
      const std::string what = " imm " + std::to_string(imm) + where;
      expect_same(enc::store_imm(1, imm, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 1), int8_t(imm)); }, "sti8" + what);
      expect_same(enc::store_imm(2, imm, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 2), int16_t(imm)); }, "sti16" + what);
      expect_same(enc::store_imm(4, imm, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 4), imm); }, "sti32" + what);
      expect_same(enc::store_imm(8, imm, m), [&](x86::Assembler& a) { a.mov(mem_of(m, 8), imm); }, "sti64" + what);
    }
  }
  EXPECT_EQ(g_compared, static_cast<int>(mems.size()) * (16 * 12 + 12 * 4));
}

TEST(X86EncoderTest, LeaOfTwoRegistersEncodesAsAsmjitDoes) {
  g_compared = 0;
  for (int8_t base = 0; base < 16; ++base) {
    for (int8_t index = 0; index < 16; ++index) {
      if (index == 4) continue;  // rsp cannot be an index
      for (const int32_t disp : kDisp) {
        const enc::Mem m{base, index, disp};
        for (const bool w : {false, true}) {
          const x86::Gp d = w ? x86::Gp(x86::gpq(2)) : x86::Gp(x86::gpd(9));
          expect_same(enc::lea(w, static_cast<uint8_t>(d.id()), m), [&](x86::Assembler& a) { a.lea(d, mem_of(m, 0)); },
                      "lea" + describe(m));
        }
      }
    }
  }
  EXPECT_EQ(g_compared, 16 * 15 * 10 * 2);
}

}  // namespace
}  // namespace polkavm::detail::compiler
