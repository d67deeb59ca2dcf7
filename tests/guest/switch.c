/* Large switch tables. `sw_dense` is a dense switch of 80 cases whose bodies differ in shape (so clang
 * emits a jump table and cannot turn it into lookup tables); `sw_interp` is a bytecode interpreter whose
 * dispatch switch has 72 opcodes and runs in a loop. Built as position-independent code (the table holds
 * 32-bit offsets relative to the table: R_RISCV_ADD32 + R_RISCV_SUB32) and as absolute code (-fno-pic,
 * linked as an executable: the table holds code addresses, R_RISCV_64 / R_RISCV_32). */
#include "suite_guest.h"

static const uint32_t sw_table[16] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3};

__attribute__((noinline)) static uint32_t sw_helper(uint32_t a, uint32_t b) { return (a * 2654435761u) ^ (b + 0x1234u); }

__attribute__((noinline)) static uint32_t sw_dense(uint32_t op, uint32_t a, uint32_t b) {
  switch (op) {
    case 0: return a * 3u + b;
    case 1: return (a ^ 0x9e37u) - (b >> 2);
    case 2: return (a << 3) | (b & 0x3c6eu);
    case 3: return sw_helper(a + 22u, b);
    case 4: return b - a * 11u;
    case 5: return (a >> 6) + (b << 3) + 36u;
    case 6: return (a | b) * 15u - 43u;
    case 7: return sw_table[(a + 50u) & 15] ^ b;
    case 8: return a % 10u + b;
    case 9: return (a & b) + (64u ^ (a >> 1));
    case 10: return a * 23u + b;
    case 11: return (a ^ 0xcc5du) - (b >> 12);
    case 12: return (a << 13) | (b & 0x6a94u);
    case 13: return sw_helper(a + 92u, b);
    case 14: return b - a * 31u;
    case 15: return (a >> 16) + (b << 3) + 106u;
    case 16: return (a | b) * 35u - 113u;
    case 17: return sw_table[(a + 120u) & 15] ^ b;
    case 18: return a % 20u + b;
    case 19: return (a & b) + (134u ^ (a >> 1));
    case 20: return a * 43u + b;
    case 21: return (a ^ 0xfa83u) - (b >> 22);
    case 22: return (a << 23) | (b & 0x98bau);
    case 23: return sw_helper(a + 162u, b);
    case 24: return b - a * 51u;
    case 25: return (a >> 26) + (b << 3) + 176u;
    case 26: return (a | b) * 55u - 183u;
    case 27: return sw_table[(a + 190u) & 15] ^ b;
    case 28: return a % 30u + b;
    case 29: return (a & b) + (204u ^ (a >> 1));
    case 30: return a * 63u + b;
    case 31: return (a ^ 0x28a9u) - (b >> 3);
    case 32: return (a << 4) | (b & 0xc6e0u);
    case 33: return sw_helper(a + 232u, b);
    case 34: return b - a * 71u;
    case 35: return (a >> 7) + (b << 3) + 246u;
    case 36: return (a | b) * 75u - 253u;
    case 37: return sw_table[(a + 260u) & 15] ^ b;
    case 38: return a % 40u + b;
    case 39: return (a & b) + (274u ^ (a >> 1));
    case 40: return a * 83u + b;
    case 41: return (a ^ 0x56cfu) - (b >> 13);
    case 42: return (a << 14) | (b & 0xf506u);
    case 43: return sw_helper(a + 302u, b);
    case 44: return b - a * 91u;
    case 45: return (a >> 17) + (b << 3) + 316u;
    case 46: return (a | b) * 95u - 323u;
    case 47: return sw_table[(a + 330u) & 15] ^ b;
    case 48: return a % 50u + b;
    case 49: return (a & b) + (344u ^ (a >> 1));
    case 50: return a * 103u + b;
    case 51: return (a ^ 0x84f5u) - (b >> 23);
    case 52: return (a << 24) | (b & 0x232cu);
    case 53: return sw_helper(a + 372u, b);
    case 54: return b - a * 111u;
    case 55: return (a >> 27) + (b << 3) + 386u;
    case 56: return (a | b) * 115u - 393u;
    case 57: return sw_table[(a + 400u) & 15] ^ b;
    case 58: return a % 60u + b;
    case 59: return (a & b) + (414u ^ (a >> 1));
    case 60: return a * 123u + b;
    case 61: return (a ^ 0xb31bu) - (b >> 4);
    case 62: return (a << 5) | (b & 0x5152u);
    case 63: return sw_helper(a + 442u, b);
    case 64: return b - a * 131u;
    case 65: return (a >> 8) + (b << 3) + 456u;
    case 66: return (a | b) * 135u - 463u;
    case 67: return sw_table[(a + 470u) & 15] ^ b;
    case 68: return a % 70u + b;
    case 69: return (a & b) + (484u ^ (a >> 1));
    case 70: return a * 143u + b;
    case 71: return (a ^ 0xe141u) - (b >> 14);
    case 72: return (a << 15) | (b & 0x7f78u);
    case 73: return sw_helper(a + 512u, b);
    case 74: return b - a * 151u;
    case 75: return (a >> 18) + (b << 3) + 526u;
    case 76: return (a | b) * 155u - 533u;
    case 77: return sw_table[(a + 540u) & 15] ^ b;
    case 78: return a % 80u + b;
    case 79: return (a & b) + (554u ^ (a >> 1));
    default: return ~a;
  }
}

/* A stack machine: each byte of `code` is an opcode (0-71); the operand stack holds 16 values. */
__attribute__((noinline)) static uint32_t sw_interp(const uint8_t* code, uint32_t length, uint32_t a, uint32_t b) {
  uint32_t stack[16];
  for (uint32_t i = 0; i < 16; ++i) stack[i] = i * 0x9E3779B9u;
  uint32_t sp = 2;
  stack[0] = a;
  stack[1] = b;
  for (uint32_t pc = 0; pc < length; ++pc) {
    const uint32_t top = stack[(sp - 1) & 15], next = stack[(sp - 2) & 15];
    uint32_t r;
    switch (code[pc] % 72) {
      case 0: r = top + next; break;
      case 1: r = top - next; break;
      case 2: r = top * next; break;
      case 3: r = top ^ next; break;
      case 4: r = top & next; break;
      case 5: r = top | next; break;
      case 6: r = top << (next & 31); break;
      case 7: r = top >> (next & 31); break;
      case 8: r = (uint32_t)((int32_t)top >> (next & 31)); break;
      case 9: r = next ? top / next : top; break;
      case 10: r = next ? top % next : next; break;
      case 11: r = top < next; break;
      case 12: r = (int32_t)top < (int32_t)next; break;
      case 13: r = top == next; break;
      case 14: r = ~top; break;
      case 15: r = -top; break;
      case 16: stack[sp++ & 15] = top; continue;               /* dup */
      case 17: --sp; continue;                                  /* drop */
      case 18: stack[(sp - 1) & 15] = next; stack[(sp - 2) & 15] = top; continue;  /* swap */
      case 19: stack[sp++ & 15] = pc; continue;
      case 20: r = sw_helper(top, next); break;
      case 21: r = sw_dense(top % 80, next, top); break;
      case 22: r = sw_table[top & 15]; break;
      case 23: if (top & 1) ++pc; continue;                     /* skip the next opcode */
      case 24: r = top * 3 + 1; break;
      case 25: r = top / 2; break;
      case 26: r = top + 0x10001; break;
      case 27: r = (top << 7) | (top >> 25); break;
      case 28: r = top > next ? top : next; break;
      case 29: r = top < next ? top : next; break;
      case 30: r = top * top; break;
      case 31: r = top ^ 0xA5A5A5A5u; break;
      default: r = top + code[pc] * 0x01000193u; break;         /* 32-71: distinct constants */
      case 32: r = top + 32; break;
      case 33: r = top * 33; break;
      case 34: r = top ^ 34; break;
      case 35: r = top - 35; break;
      case 36: r = (top >> 3) + 36; break;
      case 37: r = top * 37 + next; break;
      case 38: r = top | 38; break;
      case 39: r = top & ~39u; break;
      case 40: r = next - top; break;
      case 41: r = top + next * 41; break;
      case 42: r = top << 2; break;
      case 43: r = top >> 2; break;
      case 44: r = top ^ (top >> 16); break;
      case 45: r = top * 0x45d9f3bu; break;
      case 46: r = top + (next >> 4); break;
      case 47: r = (top & 0xFFFF) * (next >> 16); break;
      case 48: r = top != next; break;
      case 49: r = top + 1; break;
      case 50: r = top - 1; break;
      case 51: r = top * 5; break;
      case 52: r = top * 9 + 2; break;
      case 53: r = (uint32_t)(int8_t)top; break;
      case 54: r = (uint16_t)top; break;
      case 55: r = top ^ next ^ 55; break;
      case 56: r = (top + next) >> 1; break;
      case 57: r = top % 57; break;
      case 58: r = top / 58; break;
      case 59: r = top ? 59 : next; break;
      case 60: r = top | (next << 1); break;
      case 61: r = (top & 1) ? top * 3 + 1 : top >> 1; break;
      case 62: r = top + sw_table[next & 15]; break;
      case 63: r = (top ^ next) * 63; break;
      case 64: r = top - (next & 64); break;
      case 65: r = top << (next & 7); break;
      case 66: r = sw_helper(next, top); break;
      case 67: r = top + 67 * next; break;
      case 68: r = top ^ 0x68686868u; break;
      case 69: r = top * 69 - next; break;
      case 70: r = (top >> 24) | (top << 8); break;
      case 71: r = top - next * 71; break;
    }
    stack[(sp - 2) & 15] = r;
    --sp;
    if (sp < 2) sp = 2;
  }
  return stack[(sp - 1) & 15] + stack[(sp - 2) & 15] * 3;
}

static const uint8_t sw_programs[4][24] = {
    {0, 2, 16, 3, 20, 21, 6, 16, 45, 13, 23, 70, 19, 61, 33, 53, 54, 37, 48, 12, 66, 22, 9, 10},
    {71, 70, 69, 68, 67, 66, 65, 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48},
    {47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24},
    {16, 16, 18, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 19, 20, 21, 22, 23},
};

uint64_t switch_run(uint32_t op, uint64_t a, uint64_t b) {
  /* 0-81: sw_dense (80 cases and two defaults); 82-85: the interpreter on each program; 86: a random program
   * made of `a`'s and `b`'s bytes. */
  if (op < 82) return sw_dense(op, (uint32_t)a, (uint32_t)b);
  if (op < 86) return sw_interp(sw_programs[op - 82], 24, (uint32_t)a, (uint32_t)b);
  uint8_t code[16];
  for (int i = 0; i < 8; ++i) {
    code[i] = (uint8_t)(a >> (8 * i));
    code[8 + i] = (uint8_t)(b >> (8 * i));
  }
  return sw_interp(code, 16, (uint32_t)(a >> 32), (uint32_t)b);
}
SUITE_EXPORT(switch_run)

#define SWITCH_OPS 87
