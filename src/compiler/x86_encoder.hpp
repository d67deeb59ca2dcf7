// Encodes the few x86-64 instruction forms the compiler emits most: register and immediate moves, ALU
// operations, lea, shifts by a constant and guest memory accesses. A Doom compile spent 29% of its
// time in asmjit's generic encoder, which looks every instruction up in its tables; these functions build
// the bytes directly. Every form encodes exactly as asmjit does (tests/x86_encoder_test.cpp compares them
// over every register and a range of immediates and displacements), so the machine code is the same
// whichever of the two wrote it. The rest of what the compiler emits goes through asmjit.
//
// Registers are hardware numbers: 0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp, 5 rbp, 6 rsi, 7 rdi, 8..15 r8..r15.
#pragma once

#include <cstdint>
#include <cstring>

// Every function here is inlined where it is called: the operands are mostly constants there, and most of
// the prefix and ModRM logic folds away (a Doom compile executed about 220 instructions per memory access
// through the out-of-line forms).
#define POLKAVM_ENC inline __attribute__((always_inline))

namespace polkavm::detail::compiler::enc {

/// One encoded instruction (at most 15 bytes), little-endian in a 128-bit integer: built in registers, it
/// is written out with two 8-byte stores. (Built byte by byte in memory and copied out whole, every
/// instruction would wait for a store-forwarding stall.)
class Insn {
 public:
  __extension__ using Bits = unsigned __int128;

  /// The bytes, in the first size() bytes.
  Bits bits() const { return bits_; }
  uint32_t size() const { return size_; }
  /// Writes the 16 bytes of bits() at `to` (size() of them matter).
  void write_to(uint8_t* to) const { std::memcpy(to, &bits_, sizeof(bits_)); }

  __attribute__((always_inline)) void put8(uint8_t v) { put(v, 1); }
  __attribute__((always_inline)) void put16(uint16_t v) { put(v, 2); }
  __attribute__((always_inline)) void put32(uint32_t v) { put(v, 4); }
  __attribute__((always_inline)) void put64(uint64_t v) { put(v, 8); }

 private:
  __attribute__((always_inline)) void put(uint64_t v, uint32_t n) {
    bits_ |= Bits{v} << (8 * size_);
    size_ += n;
  }
  Bits bits_ = 0;
  uint32_t size_ = 0;
};

/// An instruction with a ModRM byte: its opcode and operand size.
struct Op {
  uint8_t code[2];
  uint8_t length;          // of code
  bool w = false;          // REX.W: a 64-bit operand
  bool o16 = false;        // 0x66: a 16-bit operand
  bool byte_reg = false;   // the reg field is a byte register (spl, bpl, sil and dil need a REX prefix)
};

/// A memory operand: [base + index + disp], optionally gs-relative and computed in 32 bits.
struct Mem {
  int8_t base = -1;   // -1: none (an absolute address)
  int8_t index = -1;  // -1: none
  int32_t disp = 0;
  bool gs = false;      // the 0x65 prefix
  bool addr32 = false;  // the 0x67 prefix: base + index + disp wraps at 4 GiB
};

POLKAVM_ENC Mem base_disp(int base, int32_t disp) { return {static_cast<int8_t>(base), -1, disp}; }

namespace detail {

POLKAVM_ENC bool is_int8(int64_t v) { return v >= INT8_MIN && v <= INT8_MAX; }

POLKAVM_ENC void prefixes_and_rex(Insn& out, const Op& op, uint8_t reg, int index, int base) {
  if (op.o16) out.put8(0x66);
  const uint8_t rex = static_cast<uint8_t>((op.w ? 8 : 0) | ((reg & 8) >> 1) | (index >= 0 ? (index & 8) >> 2 : 0) |
                                           (base >= 0 ? (base & 8) >> 3 : 0));
  if (rex != 0 || (op.byte_reg && reg >= 4 && reg < 8)) out.put8(0x40 | rex);
  for (uint8_t i = 0; i < op.length; ++i) out.put8(op.code[i]);
}

}  // namespace detail

/// op reg, rm (both registers; `reg` may be an opcode extension).
POLKAVM_ENC Insn rr(const Op& op, uint8_t reg, uint8_t rm) {
  Insn out;
  detail::prefixes_and_rex(out, op, reg, -1, rm);
  out.put8(static_cast<uint8_t>(0xC0 | (reg & 7) << 3 | (rm & 7)));
  return out;
}

/// op reg, [mem] (`reg` may be an opcode extension). An immediate, if any, follows.
POLKAVM_ENC Insn rm(const Op& op, uint8_t reg, const Mem& m) {
  Insn out;
  if (m.gs) out.put8(0x65);
  if (m.addr32) out.put8(0x67);
  detail::prefixes_and_rex(out, op, reg, m.index, m.base);
  const uint8_t r = static_cast<uint8_t>((reg & 7) << 3);
  if (m.base < 0 && m.index < 0) {  // [disp32]: a SIB byte with neither base nor index (no RIP-relative)
    out.put8(r | 0x04);
    out.put8(0x25);
    out.put32(static_cast<uint32_t>(m.disp));
    return out;
  }
  // rbp and r13 as a base always take a displacement; rsp and r12 need a SIB byte.
  const uint8_t mod = (m.disp == 0 && (m.base & 7) != 5) ? 0x00 : detail::is_int8(m.disp) ? 0x40 : 0x80;
  if (m.index >= 0) {
    out.put8(mod | r | 0x04);
    out.put8(static_cast<uint8_t>((m.index & 7) << 3 | (m.base & 7)));
  } else {
    out.put8(static_cast<uint8_t>(mod | r | (m.base & 7)));
    if ((m.base & 7) == 4) out.put8(0x24);
  }
  if (mod == 0x40) out.put8(static_cast<uint8_t>(m.disp));
  else if (mod == 0x80) out.put32(static_cast<uint32_t>(m.disp));
  return out;
}

// ---- register to register (ModRM "MR" forms as asmjit picks them: rm is the destination)
enum class Alu : uint8_t { Add = 0, Or = 1, And = 4, Sub = 5, Xor = 6, Cmp = 7 };

/// dst op= src (cmp: compares dst with src).
POLKAVM_ENC Insn alu_rr(Alu op, bool w, uint8_t dst, uint8_t src) {
  return rr({{static_cast<uint8_t>(static_cast<uint8_t>(op) << 3 | 1)}, 1, w}, src, dst);
}
POLKAVM_ENC Insn mov_rr(bool w, uint8_t dst, uint8_t src) { return rr({{0x89}, 1, w}, src, dst); }
POLKAVM_ENC Insn test_rr(bool w, uint8_t a, uint8_t b) { return rr({{0x85}, 1, w}, b, a); }
/// dst = dst * src (the low half).
POLKAVM_ENC Insn imul_rr(bool w, uint8_t dst, uint8_t src) { return rr({{0x0F, 0xAF}, 2, w}, dst, src); }
/// dst = the sign extension of src's low 32 bits.
POLKAVM_ENC Insn movsxd_rr(uint8_t dst, uint8_t src) { return rr({{0x63}, 1, true}, dst, src); }

// ---- register and immediate

/// dst op= imm (sign-extended to 64 bits when `w`).
POLKAVM_ENC Insn alu_ri(Alu op, bool w, uint8_t dst, int32_t imm) {
  const uint8_t ext = static_cast<uint8_t>(op);
  if (detail::is_int8(imm)) {
    Insn out = rr({{0x83}, 1, w}, ext, dst);
    out.put8(static_cast<uint8_t>(imm));
    return out;
  }
  Insn out;
  if (dst == 0) {  // the accumulator's short form
    if (w) out.put8(0x48);
    out.put8(static_cast<uint8_t>(ext << 3 | 5));
  } else {
    out = rr({{0x81}, 1, w}, ext, dst);
  }
  out.put32(static_cast<uint32_t>(imm));
  return out;
}

/// dst = imm, zero-extended to 64 bits.
POLKAVM_ENC Insn mov_r32_imm(uint8_t dst, uint32_t imm) {
  Insn out;
  if (dst >= 8) out.put8(0x41);
  out.put8(static_cast<uint8_t>(0xB8 | (dst & 7)));
  out.put32(imm);
  return out;
}

/// dst = imm (64-bit): a sign-extended 32-bit immediate when it fits, else all 64 bits.
POLKAVM_ENC Insn mov_r64_imm(uint8_t dst, int64_t imm) {
  if (imm >= INT32_MIN && imm <= INT32_MAX) {
    Insn out = rr({{0xC7}, 1, true}, 0, dst);
    out.put32(static_cast<uint32_t>(imm));
    return out;
  }
  Insn out;
  out.put8(dst >= 8 ? 0x49 : 0x48);
  out.put8(static_cast<uint8_t>(0xB8 | (dst & 7)));
  out.put64(static_cast<uint64_t>(imm));
  return out;
}

enum class Shift : uint8_t { Rol = 0, Ror = 1, Shl = 4, Shr = 5, Sar = 7 };

/// dst = dst shifted by `amount` (the CPU masks it).
POLKAVM_ENC Insn shift_ri(Shift op, bool w, uint8_t dst, uint8_t amount) {
  const uint8_t ext = static_cast<uint8_t>(op);
  if (amount == 1) return rr({{0xD1}, 1, w}, ext, dst);
  Insn out = rr({{0xC1}, 1, w}, ext, dst);
  out.put8(amount);
  return out;
}

// ---- memory

/// dst = the address of `m` (w: 64-bit dst, else 32-bit).
POLKAVM_ENC Insn lea(bool w, uint8_t dst, const Mem& m) { return rm({{0x8D}, 1, w}, dst, m); }

/// How a load extends what it reads into its destination.
enum class Load : uint8_t { U8, I8, U16, I16, U32, I32, U64 };

POLKAVM_ENC Insn load(Load kind, uint8_t dst, const Mem& m) {
  switch (kind) {
    case Load::U8: return rm({{0x0F, 0xB6}, 2}, dst, m);  // movzx r32, m8
    case Load::I8: return rm({{0x0F, 0xBE}, 2, true}, dst, m);
    case Load::U16: return rm({{0x0F, 0xB7}, 2}, dst, m);
    case Load::I16: return rm({{0x0F, 0xBF}, 2, true}, dst, m);
    case Load::U32: return rm({{0x8B}, 1}, dst, m);
    case Load::I32: return rm({{0x63}, 1, true}, dst, m);  // movsxd
    case Load::U64: break;
  }
  return rm({{0x8B}, 1, true}, dst, m);
}

/// [m] = the low `size` bytes of src (size 1, 2, 4 or 8).
POLKAVM_ENC Insn store(uint32_t size, uint8_t src, const Mem& m) {
  switch (size) {
    case 1: return rm({{0x88}, 1, false, false, true}, src, m);
    case 2: return rm({{0x89}, 1, false, true}, src, m);
    case 4: return rm({{0x89}, 1}, src, m);
    default: return rm({{0x89}, 1, true}, src, m);
  }
}

/// [m] = imm's low `size` bytes (size 8: imm sign-extended).
POLKAVM_ENC Insn store_imm(uint32_t size, int32_t imm, const Mem& m) {
  switch (size) {
    case 1: {
      Insn out = rm({{0xC6}, 1}, 0, m);
      out.put8(static_cast<uint8_t>(imm));
      return out;
    }
    case 2: {
      Insn out = rm({{0xC7}, 1, false, true}, 0, m);
      out.put16(static_cast<uint16_t>(imm));
      return out;
    }
    default: {
      Insn out = rm({{0xC7}, 1, size == 8}, 0, m);
      out.put32(static_cast<uint32_t>(imm));
      return out;
    }
  }
}

}  // namespace polkavm::detail::compiler::enc

#undef POLKAVM_ENC
