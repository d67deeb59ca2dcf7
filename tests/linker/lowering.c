/* Instructions whose translation needs more than one PolkaVM instruction or an immediate form: zero-register
 * operands, atomics whose destination aliases an input, orc.b, XTheadCondMov, traps. Written with inline
 * assembly so that the compiler cannot avoid them; built with Zbb. `reg_t` is a register (32 or 64 bits). */
#include "polkavm_test_guest.h"

typedef long reg_t;

static int32_t cell32;
#if __riscv_xlen == 64
static int64_t cell64;
#endif

/* amoadd.w with rd == rs2: the old value must come back although the operand register is also the output. */
reg_t amo_alias(reg_t a, reg_t b) {
  cell32 = (int32_t)a;
  reg_t r = b;
  __asm__ volatile("amoadd.w %0, %0, (%1)" : "+r"(r) : "r"(&cell32) : "memory");
  return r + ((reg_t)cell32 << 8);
}
TEST_EXPORT(amo_alias, 2, 1);

/* amoor.w with rd == zero: only memory changes. */
reg_t amo_no_result(reg_t a, reg_t b) {
  cell32 = (int32_t)a;
  __asm__ volatile("amoor.w zero, %0, (%1)" : : "r"(b), "r"(&cell32) : "memory");
  return cell32;
}
TEST_EXPORT(amo_no_result, 2, 1);

/* amomax.w/amominu.w compare the low 32 bits of the operand, whatever its upper half holds. */
reg_t amo_max_word(reg_t a, reg_t b) {
  cell32 = (int32_t)a;
  reg_t old;
  __asm__ volatile("amomax.w %0, %1, (%2)" : "=&r"(old) : "r"(b), "r"(&cell32) : "memory");
  return old + ((reg_t)cell32 << 16);
}
TEST_EXPORT(amo_max_word, 2, 1);

reg_t amo_minu_word(reg_t a, reg_t b) {
  cell32 = (int32_t)a;
  reg_t old;
  __asm__ volatile("amominu.w %0, %1, (%2)" : "=&r"(old) : "r"(b), "r"(&cell32) : "memory");
  return old ^ (reg_t)cell32;
}
TEST_EXPORT(amo_minu_word, 2, 1);

/* amoswap.w with rd == rs2. */
reg_t amo_swap_alias(reg_t a, reg_t b) {
  cell32 = (int32_t)a;
  reg_t r = b;
  __asm__ volatile("amoswap.w %0, %0, (%1)" : "+r"(r) : "r"(&cell32) : "memory");
  return r - cell32;
}
TEST_EXPORT(amo_swap_alias, 2, 1);

#if __riscv_xlen == 64
/* amomin.d where rd == the address register. */
reg_t amo_min_dword(reg_t a, reg_t b) {
  cell64 = a;
  reg_t r = (reg_t)&cell64;
  __asm__ volatile("amomin.d %0, %1, (%0)" : "+r"(r) : "r"(b) : "memory");
  return r ^ cell64;
}
TEST_EXPORT(amo_min_dword, 2, 1);
#endif

/* lr/sc: the store-conditional always succeeds (rd = 0). */
reg_t lr_sc(reg_t a, reg_t b) {
  cell32 = (int32_t)a;
  reg_t loaded, failed;
  __asm__ volatile("lr.w %0, (%2)\n sc.w %1, %3, (%2)" : "=&r"(loaded), "=&r"(failed) : "r"(&cell32), "r"(b) : "memory");
  return loaded + failed * 1000 + ((reg_t)cell32 << 4);
}
TEST_EXPORT(lr_sc, 2, 1);

reg_t orc_b(reg_t a, reg_t b) {
  reg_t r;
  __asm__("orc.b %0, %1" : "=r"(r) : "r"(a));
  return r;
}
TEST_EXPORT(orc_b, 2, 1);

/* One zero-register form per export; `which` selects it. */
reg_t zero_operand(reg_t which, reg_t x) {
  reg_t r = 0;
  switch (which) {
    case 0: __asm__("sub %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 1: __asm__("sltu %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 2: __asm__("slt %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 3: __asm__("slt %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 4: __asm__("sll %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 5: __asm__("srl %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 6: __asm__("max %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 7: __asm__("min %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 8: __asm__("maxu %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 9: __asm__("minu %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 10: __asm__("div %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 11: __asm__("div %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 12: __asm__("divu %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 13: __asm__("rem %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 14: __asm__("remu %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 15: __asm__("andn %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 16: __asm__("andn %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 17: __asm__("orn %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 18: __asm__("orn %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 19: __asm__("xnor %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 20: __asm__("mulh %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 21: __asm__("rol %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 22: __asm__("ror %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 23: __asm__("and %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 24: __asm__("mul %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 25: __asm__("add %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 26: __asm__("sra %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 27: __asm__("sltu %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 28: __asm__("div %0, zero, zero" : "=r"(r)); break;
    case 29: __asm__("orn %0, zero, zero" : "=r"(r)); break;
    case 30: __asm__("clz %0, zero" : "=r"(r)); break;
    case 31: __asm__("cpop %0, zero" : "=r"(r)); break;
#if __riscv_xlen == 64
    case 32: __asm__("divw %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 33: __asm__("remw %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 34: __asm__("remuw %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 35: __asm__("subw %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 36: __asm__("rorw %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 37: __asm__("addw %0, %1, zero" : "=r"(r) : "r"(x)); break;
    case 38: __asm__("sllw %0, zero, %1" : "=r"(r) : "r"(x)); break;
    case 39: __asm__("clzw %0, zero" : "=r"(r)); break;
#endif
    default: r = -12345; break;
  }
  return r;
}
TEST_EXPORT(zero_operand, 2, 1);

/* Branches against the zero register, as both operands. Bit n is set when branch n is not taken (the last
 * one adds 2047). */
reg_t zero_branches(reg_t a, reg_t b) {
  reg_t r = 0;
  __asm__("bgez %1, 1f\n addi %0, %0, 1\n1:\n"
          "blez %1, 2f\n addi %0, %0, 2\n2:\n"
          "bgtz %1, 3f\n addi %0, %0, 4\n3:\n"
          "bltz %1, 4f\n addi %0, %0, 8\n4:\n"
          "bgeu zero, %1, 5f\n addi %0, %0, 16\n5:\n"
          "bltu zero, %1, 6f\n addi %0, %0, 32\n6:\n"
          "beq zero, zero, 7f\n addi %0, %0, 64\n7:\n"
          "bne zero, zero, 8f\n addi %0, %0, 128\n8:\n"
          "bltu %1, zero, 9f\n addi %0, %0, 256\n9:\n"
          "bgeu %1, zero, 10f\n addi %0, %0, 512\n10:\n"
          "beqz %1, 11f\n addi %0, %0, 1024\n11:\n"
          "bnez %1, 12f\n addi %0, %0, 2047\n12:\n"
          : "+r"(r)
          : "r"(a));
  return r;
}
TEST_EXPORT(zero_branches, 2, 1);

/* th.mveqz rd, rs1, rs2: rd = rs1 if rs2 == 0; th.mvnez: if rs2 != 0 (XTheadCondMov, the reference's Rust target). */
reg_t conditional_move(reg_t a, reg_t b) {
  reg_t eqz = 111, nez = 222;
  __asm__(".insn r 0x0b, 1, 0x20, %0, %1, %2" : "+r"(eqz) : "r"(a), "r"(b));
  __asm__(".insn r 0x0b, 1, 0x21, %0, %1, %2" : "+r"(nez) : "r"(a), "r"(b));
  return eqz * 1000 + nez;
}
TEST_EXPORT(conditional_move, 2, 1);

/* Fences are no-ops; ebreak and unimp trap. */
reg_t fences(reg_t a, reg_t b) {
  __asm__ volatile("fence\n fence rw, rw\n fence.i" ::: "memory");
  return a + b;
}
TEST_EXPORT(fences, 2, 1);

reg_t trap_ebreak(reg_t a, reg_t b) {
  if (a == 1) __asm__ volatile("ebreak");
  return b;
}
TEST_EXPORT(trap_ebreak, 2, 1);

reg_t trap_unimp(reg_t a, reg_t b) {
  if (a == 1) __builtin_trap();
  return b;
}
TEST_EXPORT(trap_unimp, 2, 1);

reg_t trap_null_load(reg_t a, reg_t b) {
  if (a == 1) __asm__ volatile("lw zero, 0(zero)");
  return b;
}
TEST_EXPORT(trap_null_load, 2, 1);
