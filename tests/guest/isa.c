/* Instruction forms clang does not reliably emit from C: every compressed form written out in inline
 * assembly (on a0/a1, which every compressed format can name), and the rarer full-size instructions
 * (slti/sltiu/xori/ori immediates, byte and halfword loads and stores, lwu, fences, the T-Head conditional
 * moves, rori). Each operation computes a value the native build computes in C. ebreak and unimp (and
 * their compressed forms) only sit on a path no operation takes: they trap. Built with Zbb. */
#include "suite_guest.h"

#define ISA_OPS 41
#define ISA_OPS32 35  /* 35-40 are RV64 forms */

#if defined(__riscv)
/* One instruction sequence on a0 (in and out) and a1 (in). */
#define ISA_A0(text, x, y)                                                        \
  ({                                                                              \
    register unsigned long a0_ __asm__("a0") = (unsigned long)(x);                \
    register unsigned long a1_ __asm__("a1") = (unsigned long)(y);                \
    __asm__ volatile(text : "+r"(a0_) : "r"(a1_) : "memory");                     \
    (uint64_t)a0_;                                                                \
  })
#define ISA_XLEN(v) ((uint64_t)(unsigned long)(v))
#define ISA_SX(v) ((uint64_t)(long)(v))
#else
#define ISA_XLEN(v) ((uint64_t)(v))
#define ISA_SX(v) ((uint64_t)(int64_t)(v))
#endif

/* Results on the native side are 64-bit; on RV32, 32-bit registers: keep the low 32 bits, sign-extended. */
#if defined(__riscv) && __riscv_xlen == 32
#define ISA_RESULT(v) SUITE_I32(v)
#else
#define ISA_RESULT(v) ((uint64_t)(v))
#endif

__attribute__((noinline)) static uint64_t isa_op(uint32_t op, uint64_t a, uint64_t b) {
#if defined(__riscv)
  uint32_t memory[4] __attribute__((aligned(8))) = {0x11223344u, 0x8899AABBu, 0xF0E1D2C3u, 0x01020304u};
  switch (op) {
    case 0: return ISA_A0("c.addi a0, -7", a, b);
    case 1: return ISA_A0("c.nop\n c.li a0, -13", a, b);
    case 2: return ISA_A0("c.lui a0, 0x1f", a, b);
    case 3: return ISA_A0("c.srli a0, 3", a, b);
    case 4: return ISA_A0("c.srai a0, 5", a, b);
    case 5: return ISA_A0("c.andi a0, -11", a, b);
    case 6: return ISA_A0("c.sub a0, a1", a, b);
    case 7: return ISA_A0("c.xor a0, a1", a, b);
    case 8: return ISA_A0("c.or a0, a1", a, b);
    case 9: return ISA_A0("c.and a0, a1", a, b);
    case 10: return ISA_A0("c.slli a0, 9", a, b);
    case 11: return ISA_A0("c.mv a0, a1", a, b);
    case 12: return ISA_A0("c.add a0, a1", a, b);
    case 13: return ISA_A0("c.addi4spn a0, sp, 24\n sub a0, a0, sp", a, b);
    case 14: return ISA_A0("c.addi16sp sp, -32\n c.addi16sp sp, 32\n c.addi a0, 1", a, b);
    case 15: return ISA_A0("c.sw a1, 4(a0)\n c.lw a0, 4(a0)", memory, b);
    case 16: return ISA_A0("c.beqz a1, 1f\n c.addi a0, 3\n1: c.bnez a0, 2f\n c.li a0, 9\n2:", a, b);
    case 17: return ISA_A0("c.j 1f\n c.li a0, 0\n1: c.addi a0, 2", a, b);
    case 18: return ISA_A0("slti a0, a0, -5", a, b);
    case 19: return ISA_A0("sltiu a0, a0, 100", a, b);
    case 20: return ISA_A0("xori a0, a0, -1366", a, b);
    case 21: return ISA_A0("ori a0, a0, 0x5a5", a, b);
    case 22: return ISA_A0("andi a0, a0, 0x3f0", a, b);
    case 23: return ISA_A0("sb a1, 1(a0)\n lb a0, 1(a0)", memory, b);
    case 24: return ISA_A0("sh a1, 2(a0)\n lh a0, 2(a0)", memory, b);
    case 25: return ISA_A0("sb a1, 5(a0)\n lbu a0, 5(a0)", memory, b);
    case 26: return ISA_A0("sh a1, 6(a0)\n lhu a0, 6(a0)", memory, b);
    case 27: return ISA_A0("fence\n .insn i 0x0f, 1, zero, zero, 0\n addi a0, a0, 1", a, b);  /* fence; fence.i */
    case 28: return ISA_A0(".insn r 0xb, 1, 0x20, a0, a1, a1", a, b);  /* th.mveqz a0, a1, a1 */
    case 29: return ISA_A0(".insn r 0xb, 1, 0x21, a0, a1, a1", a, b);  /* th.mvnez a0, a1, a1 */
    case 30: return ISA_A0("rori a0, a0, 11", a, b);
    case 31: return ISA_A0("sra a0, a0, a1\n sll a0, a0, a1\n srl a0, a0, a1", a, b);
    case 32: return ISA_A0("slt a1, a0, a1\n sltu a0, a1, a0\n add a0, a0, a1", a, b);
    case 33: return ISA_A0("c.sw a1, 8(a0)\n lw a0, 8(a0)", memory, b);
    case 34: return ISA_A0("c.addi16sp sp, -16\n c.swsp a1, 4(sp)\n c.lwsp a0, 4(sp)\n c.addi16sp sp, 16", a, b);
#if __riscv_xlen == 64
    case 35: return ISA_A0("c.addiw a0, -9", a, b);
    case 36: return ISA_A0("c.subw a0, a1", a, b);
    case 37: return ISA_A0("c.addw a0, a1", a, b);
    case 38: return ISA_A0("c.sd a1, 8(a0)\n c.ld a0, 8(a0)", memory, b);
    case 39: return ISA_A0("sw a1, 12(a0)\n lwu a0, 12(a0)", memory, b);
    case 40: return ISA_A0("slliw a0, a0, 3\n srliw a0, a0, 1\n sraiw a0, a0, 2", a, b);
#endif
    case 0xFFFF: return ISA_A0("c.ebreak\n ebreak\n unimp\n c.unimp", a, b);  /* never taken: traps */
  }
  return 0xDEAD;
#else
  const uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
  switch (op) {
    case 0: return a - 7;
    case 1: return ISA_SX(-13);
    case 2: return ISA_SX((int32_t)(0x1fu << 12));
    case 3: return a >> 3;
    case 4: return (uint64_t)((int64_t)a >> 5);
    case 5: return a & ISA_SX(-11);
    case 6: return a - b;
    case 7: return a ^ b;
    case 8: return a | b;
    case 9: return a & b;
    case 10: return a << 9;
    case 11: return b;
    case 12: return a + b;
    case 13: return 24;
    case 14: return a + 1;
    case 15: return ISA_SX((int32_t)b32);
    case 16: {
      uint64_t x = a;
      if (b != 0) x += 3;
      if (x == 0) x = 9;
      return x;
    }
    case 17: return a + 2;
    case 18: return (int64_t)a < -5;
    case 19: return a < 100;
    case 20: return a ^ ISA_SX(-1366);
    case 21: return a | 0x5a5;
    case 22: return a & 0x3f0;
    case 23: return ISA_SX((int8_t)b);
    case 24: return ISA_SX((int16_t)b);
    case 25: return (uint8_t)b;
    case 26: return (uint16_t)b;
    case 27: return a + 1;
    case 28: return b == 0 ? b : a;
    case 29: return b != 0 ? b : a;
    case 30: return (a >> 11) | (a << 53);
    case 31: {
      const uint32_t s = b & 63;
      return (((uint64_t)((int64_t)a >> s)) << s) >> s;
    }
    case 32: {
      const uint64_t lt = (int64_t)a < (int64_t)b;
      return (uint64_t)(lt < a) + lt;
    }
    case 33: return ISA_SX((int32_t)b32);
    case 34: return ISA_SX((int32_t)b32);
    case 35: return SUITE_I32(a32 - 9);
    case 36: return SUITE_I32(a32 - b32);
    case 37: return SUITE_I32(a32 + b32);
    case 38: return b;
    case 39: return b32;
    case 40: return SUITE_I32((uint32_t)((int32_t)((a32 << 3) >> 1) >> 2));
  }
  return 0xDEAD;
#endif
}

#if !defined(__riscv)
/* The register width the native model imitates: the test sets 32 when it compares with RV32. Most
 * operations give the same low 32 bits on sign-extended operands; the logical right shifts and the
 * rotate do not, and are modelled on 32 bits. */
static int isa_xlen = 64;
#endif

uint64_t isa_run(uint32_t op, uint64_t a, uint64_t b) {
#if defined(__riscv)
  return ISA_RESULT(isa_op(op, a, b));
#else
  if (isa_xlen == 64) return isa_op(op, a, b);
  const uint32_t a32 = (uint32_t)a, b32 = (uint32_t)b;
  switch (op) {
    case 3: return SUITE_I32(a32 >> 3);
    case 30: return SUITE_I32((a32 >> 11) | (a32 << 21));
    case 31: {
      const uint32_t s = b32 & 31;
      return SUITE_I32(((uint32_t)((int32_t)a32 >> s) << s) >> s);
    }
  }
  return SUITE_I32(isa_op(op, SUITE_I32(a32), SUITE_I32(b32)));
#endif
}
SUITE_EXPORT(isa_run)
