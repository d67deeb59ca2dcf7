/* Every relocation type the linker accepts, each checked at run time against the address it encodes.
 * Data relocations come from a table written in assembly (the ADD/SUB, SET and ULEB128 families and
 * R_RISCV_32_PCREL; `.reloc` writes the types that clang's assembler only emits inside DWARF), code
 * relocations from C (GOT and PC-relative loads and stores, calls) plus an R_RISCV_CALL written by hand
 * (clang emits R_RISCV_CALL_PLT for every call). Built as position-independent code, and with -fno-pic
 * and linked as an executable, where globals are reached with lui + addi/load/store (R_RISCV_HI20,
 * R_RISCV_LO12_I, R_RISCV_LO12_S). Natively every check passes by definition. */
#include "suite_guest.h"

/* Targets in two sections, so their distance is not known until link time. */
int32_t rl_first __attribute__((section(".data.rl_first"))) = 11;
int32_t rl_second[64] __attribute__((section(".data.rl_second"))) = {22};
int32_t rl_exported __attribute__((visibility("default"))) = 0x5eed;  /* reached through the GOT with -fPIC */
static int32_t rl_store_target;
static int32_t* rl_pointer = &rl_second[3];  /* R_RISCV_64 / R_RISCV_32 in data */

#if defined(__riscv)
#if __riscv_xlen == 64
#define RL_PTR ".8byte"
#else
#define RL_PTR ".4byte"
#endif
/* rl_table: differences rl_second - rl_first in 8, 4, 2, 1 bytes (ADD + SUB pairs), 6 bits (SET6 + SUB6,
 * in the low bits of a byte whose top two bits must survive), ULEB128 (three bytes), 8, 16 and 32 bits
 * (SET + SUB pairs); the address of rl_second (SET32); rl_first relative to the table entry
 * (R_RISCV_32_PCREL). */
__asm__(".pushsection .rodata.rl_table,\"a\",@progbits\n"
        ".p2align 3\n"
        "rl_table:\n"
        ".8byte rl_second - rl_first\n"
        ".4byte rl_second - rl_first\n"
        ".2byte rl_second - rl_first\n"
        ".byte rl_second - rl_first\n"
        ".reloc ., R_RISCV_SET6, rl_second\n"
        ".reloc ., R_RISCV_SUB6, rl_first\n"
        ".byte 0xC0\n"
        ".reloc ., R_RISCV_SET_ULEB128, rl_second\n"
        ".reloc ., R_RISCV_SUB_ULEB128, rl_first\n"
        ".byte 0x80, 0x80, 0x00\n"
        ".reloc ., R_RISCV_SET8, rl_second\n"
        ".reloc ., R_RISCV_SUB8, rl_first\n"
        ".byte 0\n"
        ".reloc ., R_RISCV_SET16, rl_second\n"
        ".reloc ., R_RISCV_SUB16, rl_first\n"
        ".2byte 0\n"
        ".reloc ., R_RISCV_SET32, rl_second\n"
        ".reloc ., R_RISCV_SUB32, rl_first\n"
        ".4byte 0\n"
        ".reloc ., R_RISCV_SET32, rl_second\n"
        ".4byte 0\n"
        ".reloc ., R_RISCV_32_PCREL, rl_first\n"
        ".4byte 0\n"
        ".popsection\n");
extern const uint8_t rl_table[];

__attribute__((noinline, used)) static uint32_t rl_callee(uint32_t x) { return x * 5 + 3; }
/* A tail call through `auipc t0` + `jalr zero` carrying R_RISCV_CALL (without R_RISCV_RELAX, so ld.lld
 * keeps the pair; and without RVC: the relocation patches a 4-byte jalr). */
__attribute__((naked, noinline)) static uint32_t rl_call(uint32_t x) {
  __asm__(".option push\n.option norelax\n.option norvc\n"
          ".reloc ., R_RISCV_CALL, rl_callee\n"
          "auipc t0, 0\n"
          "jalr zero, 0(t0)\n"
          ".option pop\n");
}

static uint64_t rl_read(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= (uint64_t)p[i] << (8 * i);
  return value;
}
/* Code aligned to 8 bytes: in the object file (Mode::Object), R_RISCV_ALIGN marks the padding. */
__attribute__((naked, noinline)) static uint32_t rl_aligned(uint32_t x) {
  __asm__("c.addi a0, 1\n.p2align 3\naddi a0, a0, 2\nret\n");
}

/* A host function whose stub holds its metadata pointer as an absolute address: R_RISCV_64 / R_RISCV_32
 * in code (the pointer form of the reference's C header). The test's host answers x * 2 + 1. */
static char rl_host_symbol[] __attribute__((section(".polkavm_metadata"))) = "rl_host";
static struct polkavm_metadata_v1 rl_host_metadata __attribute__((section(".polkavm_metadata"), used)) = {
    1, 0, sizeof(rl_host_symbol) - 1, rl_host_symbol, 1, 1};
__attribute__((naked, noinline, section(".text.polkavm_import.rl_host"))) static uint32_t rl_host(uint32_t x) {
  __asm__(".insn r 0xb, 0, 0, zero, zero, zero\n" RL_PTR " rl_host_metadata\n" "ret\n");
}
#else
static uint32_t rl_call(uint32_t x) { return x * 5 + 3; }
static uint32_t rl_host(uint32_t x) { return x * 2 + 1; }
static uint32_t rl_aligned(uint32_t x) { return x + 3; }
#endif

#define RELOCS_OPS 18

uint64_t relocs_run(uint32_t op, uint64_t a, uint64_t b) {
  (void)b;
#if defined(__riscv)
  const uint64_t distance = (uint64_t)((uintptr_t)&rl_second[0] - (uintptr_t)&rl_first);
  const uint8_t* t = rl_table;
  switch (op) {
    case 0: return rl_read(t, 8) == distance;
    case 1: return rl_read(t + 8, 4) == (uint32_t)distance;
    case 2: return rl_read(t + 12, 2) == (uint16_t)distance;
    case 3: return rl_read(t + 14, 1) == (uint8_t)distance;
    case 4: return t[15] == (0xC0 | (distance & 0x3F));
    case 5: return (t[16] & 0x7F) + ((uint64_t)(t[17] & 0x7F) << 7) + ((uint64_t)t[18] << 14) == distance;
    case 6: return rl_read(t + 19, 1) == (uint8_t)distance;
    case 7: return rl_read(t + 20, 2) == (uint16_t)distance;
    case 8: return rl_read(t + 22, 4) == (uint32_t)distance;
    case 9: return rl_read(t + 26, 4) == (uint32_t)(uintptr_t)&rl_second[0];
    case 10: return (uintptr_t)(t + 30) + (uintptr_t)(int64_t)(int32_t)rl_read(t + 30, 4) == (uintptr_t)&rl_first;
    default: break;
  }
#endif
  switch (op) {
    case 11: return rl_call((uint32_t)a);
    /* 32-bit arithmetic wraps through uint32_t: a signed overflow is undefined, and gcc and clang differ on it */
    case 12: return (uint64_t)(int64_t)(int32_t)((uint32_t)rl_exported + (uint32_t)a);
    case 13:  /* a store to a global (R_RISCV_PCREL_LO12_S, or LO12_S), read back after a compiler barrier */
      rl_store_target = (int32_t)((uint32_t)a * 3u);
      __asm__ volatile("" ::: "memory");
      return (uint64_t)(int64_t)rl_store_target;
    case 14: return (uint64_t)(int64_t)(int32_t)((uint32_t)*rl_pointer + (uint32_t)rl_second[(a & 31) + 1] + (uint32_t)rl_first);
    case 15: {  /* stores leave the table as they found it, so later calls see the same data */
      const int32_t saved = rl_second[a & 63];
      rl_second[a & 63] = (int32_t)b;
      __asm__ volatile("" ::: "memory");
      const int32_t value = (int32_t)((uint32_t)rl_second[a & 63] + (uint32_t)rl_second[(a + 1) & 63]);
      rl_second[a & 63] = saved;
      return (uint64_t)(int64_t)value;
    }
    case 16: return (uint64_t)rl_host((uint32_t)a) + rl_host((uint32_t)b);
    case 17: return rl_aligned((uint32_t)a);
    default: return op < 11;  /* natively, checks 0-10 pass */
  }
}
SUITE_EXPORT(relocs_run)
