// RISC-V decoding, written from the ISA manual (unprivileged spec: RV32I/RV64I, M, A, C, Zbb) and the
// T-Head XTheadCondMov extension.
#include "linker/riscv.hpp"

#include <fmt/format.h>

#include <array>

namespace polkavm::linker {

namespace {

constexpr std::array<const char*, 32> kRegNames = {"zero", "ra", "sp", "gp", "tp",  "t0",  "t1", "t2",
                                                   "s0",   "s1", "a0", "a1", "a2",  "a3",  "a4", "a5",
                                                   "a6",   "a7", "s2", "s3", "s4",  "s5",  "s6", "s7",
                                                   "s8",   "s9", "s10", "s11", "t3", "t4", "t5", "t6"};

constexpr std::array<const char*, static_cast<size_t>(RvOp::TH_MVNEZ) + 1> kOpNames = {
#define X(op, name) name,
    POLKAVM_RISCV_OPS(X)
#undef X
};

// Bit `from` of `value` moved to bit `to`.
constexpr uint32_t bit(uint32_t value, uint32_t from, uint32_t to) { return ((value >> from) & 1) << to; }
// Bits [from_hi:from_lo] of `value`, placed at `to_lo`.
constexpr uint32_t bits(uint32_t value, uint32_t from_hi, uint32_t from_lo, uint32_t to_lo) {
  return ((value >> from_lo) & ((1u << (from_hi - from_lo + 1)) - 1)) << to_lo;
}
constexpr int64_t sext(uint32_t value, uint32_t width) {
  const uint32_t shift = 32 - width;
  return static_cast<int32_t>(value << shift) >> shift;
}

RvDecoded ok(RvOp op, uint32_t rd, uint32_t rs1, uint32_t rs2, int64_t imm) {
  RvInst inst;
  inst.op = op;
  inst.rd = static_cast<uint8_t>(rd);
  inst.rs1 = static_cast<uint8_t>(rs1);
  inst.rs2 = static_cast<uint8_t>(rs2);
  inst.imm = imm;
  return RvDecoded{inst, RvDecodeError::Unknown};
}

RvDecoded fail(RvDecodeError error) { return RvDecoded{std::nullopt, error}; }

RvDecoded decode_compressed(uint32_t raw, bool rv64) {
  const uint32_t quadrant = raw & 3;
  const uint32_t funct3 = (raw >> 13) & 7;
  const uint32_t rd = (raw >> 7) & 31;      // rd / rs1 in the CR and CI formats
  const uint32_t rs2 = (raw >> 2) & 31;     // rs2 in the CR and CSS formats
  const uint32_t rdp = 8 + ((raw >> 2) & 7);   // rd' / rs2'
  const uint32_t rs1p = 8 + ((raw >> 7) & 7);  // rs1' / rd'
  const int64_t imm6 = sext(bit(raw, 12, 5) | bits(raw, 6, 2, 0), 6);
  const uint32_t shamt = bit(raw, 12, 5) | bits(raw, 6, 2, 0);
  const uint32_t lw_offset = bits(raw, 12, 10, 3) | bit(raw, 6, 2) | bit(raw, 5, 6);
  const uint32_t ld_offset = bits(raw, 12, 10, 3) | bits(raw, 6, 5, 6);
  const int64_t cj_offset = sext(bit(raw, 12, 11) | bit(raw, 11, 4) | bits(raw, 10, 9, 8) | bit(raw, 8, 10) |
                                     bit(raw, 7, 6) | bit(raw, 6, 7) | bits(raw, 5, 3, 1) | bit(raw, 2, 5),
                                 12);

  switch (quadrant << 3 | funct3) {
    // Quadrant 0.
    case 0b00'000: {
      if (raw == 0) return ok(RvOp::UNIMP, 0, 0, 0, 0);
      const uint32_t imm = bits(raw, 12, 11, 4) | bits(raw, 10, 7, 6) | bit(raw, 6, 2) | bit(raw, 5, 3);
      if (imm == 0) return fail(RvDecodeError::Unknown);
      return ok(RvOp::ADDI, rdp, 2, 0, imm);  // c.addi4spn
    }
    case 0b00'001: return fail(RvDecodeError::FloatingPoint);  // c.fld
    case 0b00'010: return ok(RvOp::LW, rdp, rs1p, 0, lw_offset);
    case 0b00'011: return rv64 ? ok(RvOp::LD, rdp, rs1p, 0, ld_offset) : fail(RvDecodeError::FloatingPoint);  // c.flw
    case 0b00'101: return fail(RvDecodeError::FloatingPoint);  // c.fsd
    case 0b00'110: return ok(RvOp::SW, 0, rs1p, rdp, lw_offset);
    case 0b00'111: return rv64 ? ok(RvOp::SD, 0, rs1p, rdp, ld_offset) : fail(RvDecodeError::FloatingPoint);  // c.fsw

    // Quadrant 1.
    case 0b01'000: return ok(RvOp::ADDI, rd, rd, 0, imm6);  // c.addi, c.nop
    case 0b01'001:
      if (!rv64) return ok(RvOp::JAL, 1, 0, 0, cj_offset);  // c.jal
      return rd == 0 ? fail(RvDecodeError::Unknown) : ok(RvOp::ADDIW, rd, rd, 0, imm6);  // c.addiw
    case 0b01'101: return ok(RvOp::JAL, 0, 0, 0, cj_offset);  // c.j
    case 0b01'010: return ok(RvOp::ADDI, rd, 0, 0, imm6);  // c.li
    case 0b01'011: {
      if (rd == 2) {  // c.addi16sp
        const uint32_t imm = bit(raw, 12, 9) | bit(raw, 6, 4) | bit(raw, 5, 6) | bits(raw, 4, 3, 7) | bit(raw, 2, 5);
        if (imm == 0) return fail(RvDecodeError::Unknown);
        return ok(RvOp::ADDI, 2, 2, 0, sext(imm, 10));
      }
      const uint32_t imm = bit(raw, 12, 17) | bits(raw, 6, 2, 12);  // c.lui
      if (imm == 0) return fail(RvDecodeError::Unknown);
      return ok(RvOp::LUI, rd, 0, 0, sext(imm, 18));
    }
    case 0b01'100: {
      const uint32_t funct2 = (raw >> 10) & 3;
      if (funct2 == 0 || funct2 == 1) {  // c.srli, c.srai
        if (!rv64 && (shamt & 32)) return fail(RvDecodeError::Unknown);
        return ok(funct2 == 0 ? RvOp::SRLI : RvOp::SRAI, rs1p, rs1p, 0, shamt);
      }
      if (funct2 == 2) return ok(RvOp::ANDI, rs1p, rs1p, 0, imm6);
      static constexpr RvOp kOps[2][4] = {{RvOp::SUB, RvOp::XOR, RvOp::OR, RvOp::AND},
                                          {RvOp::SUBW, RvOp::ADDW, RvOp::UNIMP, RvOp::UNIMP}};
      const uint32_t high = (raw >> 12) & 1;
      const RvOp op = kOps[high][(raw >> 5) & 3];
      if (high && (!rv64 || op == RvOp::UNIMP)) return fail(RvDecodeError::Unknown);
      return ok(op, rs1p, rs1p, rdp, 0);
    }
    case 0b01'110:
    case 0b01'111: {  // c.beqz, c.bnez
      const uint32_t imm = bit(raw, 12, 8) | bits(raw, 11, 10, 3) | bits(raw, 6, 5, 6) | bits(raw, 4, 3, 1) | bit(raw, 2, 5);
      return ok(funct3 == 0b110 ? RvOp::BEQ : RvOp::BNE, 0, rs1p, 0, sext(imm, 9));
    }

    // Quadrant 2.
    case 0b10'000:
      if (!rv64 && (shamt & 32)) return fail(RvDecodeError::Unknown);
      return ok(RvOp::SLLI, rd, rd, 0, shamt);
    case 0b10'001: return fail(RvDecodeError::FloatingPoint);  // c.fldsp
    case 0b10'010:
      if (rd == 0) return fail(RvDecodeError::Unknown);
      return ok(RvOp::LW, rd, 2, 0, bit(raw, 12, 5) | bits(raw, 6, 4, 2) | bits(raw, 3, 2, 6));
    case 0b10'011:
      if (!rv64) return fail(RvDecodeError::FloatingPoint);  // c.flwsp
      if (rd == 0) return fail(RvDecodeError::Unknown);
      return ok(RvOp::LD, rd, 2, 0, bit(raw, 12, 5) | bits(raw, 6, 5, 3) | bits(raw, 4, 2, 6));
    case 0b10'100:
      if (((raw >> 12) & 1) == 0) {
        if (rs2 == 0) return rd == 0 ? fail(RvDecodeError::Unknown) : ok(RvOp::JALR, 0, rd, 0, 0);  // c.jr
        return ok(RvOp::ADD, rd, 0, rs2, 0);                                                          // c.mv
      }
      if (rs2 == 0) return rd == 0 ? ok(RvOp::EBREAK, 0, 0, 0, 0) : ok(RvOp::JALR, 1, rd, 0, 0);  // c.ebreak, c.jalr
      return ok(RvOp::ADD, rd, rd, rs2, 0);                                                         // c.add
    case 0b10'101: return fail(RvDecodeError::FloatingPoint);  // c.fsdsp
    case 0b10'110: return ok(RvOp::SW, 0, 2, rs2, bits(raw, 12, 9, 2) | bits(raw, 8, 7, 6));
    case 0b10'111:
      if (!rv64) return fail(RvDecodeError::FloatingPoint);  // c.fswsp
      return ok(RvOp::SD, 0, 2, rs2, bits(raw, 12, 10, 3) | bits(raw, 9, 7, 6));
    default: return fail(RvDecodeError::Unknown);
  }
}

RvDecoded decode_full(uint32_t raw, bool rv64) {
  const uint32_t opcode = raw & 0x7f;
  const uint32_t rd = (raw >> 7) & 31;
  const uint32_t funct3 = (raw >> 12) & 7;
  const uint32_t rs1 = (raw >> 15) & 31;
  const uint32_t rs2 = (raw >> 20) & 31;
  const uint32_t funct7 = raw >> 25;
  const int64_t imm_i = static_cast<int32_t>(raw) >> 20;
  const int64_t imm_s = (static_cast<int32_t>(raw & 0xfe000000) >> 20) | ((raw >> 7) & 0x1f);
  const uint32_t shamt = rv64 ? (raw >> 20) & 63 : (raw >> 20) & 31;
  const uint32_t funct6 = raw >> 26;
  // RV32 shifts have a 5-bit shift amount: bit 25 must be clear.
  const bool shift_ok = rv64 || ((raw >> 25) & 1) == 0;

  switch (opcode) {
    case 0x37: return ok(RvOp::LUI, rd, 0, 0, static_cast<int32_t>(raw & 0xfffff000));
    case 0x17: return ok(RvOp::AUIPC, rd, 0, 0, static_cast<int32_t>(raw & 0xfffff000));
    case 0x6f: {
      const uint32_t imm = bit(raw, 31, 20) | bits(raw, 30, 21, 1) | bit(raw, 20, 11) | bits(raw, 19, 12, 12);
      return ok(RvOp::JAL, rd, 0, 0, sext(imm, 21));
    }
    case 0x67:
      if (funct3 != 0) return fail(RvDecodeError::Unknown);
      return ok(RvOp::JALR, rd, rs1, 0, imm_i);
    case 0x63: {
      static constexpr RvOp kOps[8] = {RvOp::BEQ, RvOp::BNE, RvOp::UNIMP, RvOp::UNIMP,
                                       RvOp::BLT, RvOp::BGE, RvOp::BLTU,  RvOp::BGEU};
      if (funct3 == 2 || funct3 == 3) return fail(RvDecodeError::Unknown);
      const uint32_t imm = bit(raw, 31, 12) | bit(raw, 7, 11) | bits(raw, 30, 25, 5) | bits(raw, 11, 8, 1);
      return ok(kOps[funct3], 0, rs1, rs2, sext(imm, 13));
    }
    case 0x03: {
      static constexpr RvOp kOps[8] = {RvOp::LB, RvOp::LH, RvOp::LW, RvOp::LD, RvOp::LBU, RvOp::LHU, RvOp::LWU, RvOp::UNIMP};
      if (funct3 == 7) return fail(RvDecodeError::Unknown);
      if (!rv64 && (funct3 == 3 || funct3 == 6)) return fail(RvDecodeError::Wrong64);
      return ok(kOps[funct3], rd, rs1, 0, imm_i);
    }
    case 0x23: {
      static constexpr RvOp kOps[4] = {RvOp::SB, RvOp::SH, RvOp::SW, RvOp::SD};
      if (funct3 > 3) return fail(RvDecodeError::Unknown);
      if (!rv64 && funct3 == 3) return fail(RvDecodeError::Wrong64);
      return ok(kOps[funct3], 0, rs1, rs2, imm_s);
    }
    case 0x13:
      switch (funct3) {
        case 0: return ok(RvOp::ADDI, rd, rs1, 0, imm_i);
        case 2: return ok(RvOp::SLTI, rd, rs1, 0, imm_i);
        case 3: return ok(RvOp::SLTIU, rd, rs1, 0, imm_i);
        case 4: return ok(RvOp::XORI, rd, rs1, 0, imm_i);
        case 6: return ok(RvOp::ORI, rd, rs1, 0, imm_i);
        case 7: return ok(RvOp::ANDI, rd, rs1, 0, imm_i);
        case 1:
          if (funct6 == 0 && shift_ok) return ok(RvOp::SLLI, rd, rs1, 0, shamt);
          if (funct7 == 0x30) {
            static constexpr RvOp kUnary[6] = {RvOp::CLZ, RvOp::CTZ, RvOp::CPOP, RvOp::UNIMP, RvOp::SEXT_B, RvOp::SEXT_H};
            if (rs2 < 6 && rs2 != 3) return ok(kUnary[rs2], rd, rs1, 0, 0);
          }
          return fail(RvDecodeError::Unknown);
        case 5:
          if ((raw >> 20) == 0x287) return ok(RvOp::ORC_B, rd, rs1, 0, 0);
          if ((raw >> 20) == (rv64 ? 0x6b8u : 0x698u)) return ok(RvOp::REV8, rd, rs1, 0, 0);
          if (funct6 == 0x00 && shift_ok) return ok(RvOp::SRLI, rd, rs1, 0, shamt);
          if (funct6 == 0x10 && shift_ok) return ok(RvOp::SRAI, rd, rs1, 0, shamt);
          if (funct6 == 0x18 && shift_ok) return ok(RvOp::RORI, rd, rs1, 0, shamt);
          return fail(RvDecodeError::Unknown);
      }
      return fail(RvDecodeError::Unknown);
    case 0x1b:
      if (!rv64) return fail(RvDecodeError::Wrong64);
      if (funct3 == 0) return ok(RvOp::ADDIW, rd, rs1, 0, imm_i);
      if (funct3 == 1 && funct7 == 0) return ok(RvOp::SLLIW, rd, rs1, 0, rs2);
      if (funct3 == 1 && funct7 == 0x30 && rs2 <= 2) {
        static constexpr RvOp kUnary[3] = {RvOp::CLZW, RvOp::CTZW, RvOp::CPOPW};
        return ok(kUnary[rs2], rd, rs1, 0, 0);
      }
      if (funct3 == 5 && funct7 == 0x00) return ok(RvOp::SRLIW, rd, rs1, 0, rs2);
      if (funct3 == 5 && funct7 == 0x20) return ok(RvOp::SRAIW, rd, rs1, 0, rs2);
      if (funct3 == 5 && funct7 == 0x30) return ok(RvOp::RORIW, rd, rs1, 0, rs2);
      return fail(RvDecodeError::Unknown);
    case 0x33: {
      if (!rv64 && funct7 == 0x04 && funct3 == 4 && rs2 == 0) return ok(RvOp::ZEXT_H, rd, rs1, 0, 0);
      RvOp op = RvOp::UNIMP;
      switch (funct7 << 3 | funct3) {
        case 0x00 << 3 | 0: op = RvOp::ADD; break;
        case 0x20 << 3 | 0: op = RvOp::SUB; break;
        case 0x00 << 3 | 1: op = RvOp::SLL; break;
        case 0x00 << 3 | 2: op = RvOp::SLT; break;
        case 0x00 << 3 | 3: op = RvOp::SLTU; break;
        case 0x00 << 3 | 4: op = RvOp::XOR; break;
        case 0x00 << 3 | 5: op = RvOp::SRL; break;
        case 0x20 << 3 | 5: op = RvOp::SRA; break;
        case 0x00 << 3 | 6: op = RvOp::OR; break;
        case 0x00 << 3 | 7: op = RvOp::AND; break;
        case 0x01 << 3 | 0: op = RvOp::MUL; break;
        case 0x01 << 3 | 1: op = RvOp::MULH; break;
        case 0x01 << 3 | 2: op = RvOp::MULHSU; break;
        case 0x01 << 3 | 3: op = RvOp::MULHU; break;
        case 0x01 << 3 | 4: op = RvOp::DIV; break;
        case 0x01 << 3 | 5: op = RvOp::DIVU; break;
        case 0x01 << 3 | 6: op = RvOp::REM; break;
        case 0x01 << 3 | 7: op = RvOp::REMU; break;
        case 0x20 << 3 | 7: op = RvOp::ANDN; break;
        case 0x20 << 3 | 6: op = RvOp::ORN; break;
        case 0x20 << 3 | 4: op = RvOp::XNOR; break;
        case 0x05 << 3 | 4: op = RvOp::MIN; break;
        case 0x05 << 3 | 5: op = RvOp::MINU; break;
        case 0x05 << 3 | 6: op = RvOp::MAX; break;
        case 0x05 << 3 | 7: op = RvOp::MAXU; break;
        case 0x30 << 3 | 1: op = RvOp::ROL; break;
        case 0x30 << 3 | 5: op = RvOp::ROR; break;
        default: return fail(RvDecodeError::Unknown);
      }
      return ok(op, rd, rs1, rs2, 0);
    }
    case 0x3b: {
      if (!rv64) return fail(RvDecodeError::Wrong64);
      if (funct7 == 0x04 && funct3 == 4 && rs2 == 0) return ok(RvOp::ZEXT_H, rd, rs1, 0, 0);
      RvOp op = RvOp::UNIMP;
      switch (funct7 << 3 | funct3) {
        case 0x00 << 3 | 0: op = RvOp::ADDW; break;
        case 0x20 << 3 | 0: op = RvOp::SUBW; break;
        case 0x00 << 3 | 1: op = RvOp::SLLW; break;
        case 0x00 << 3 | 5: op = RvOp::SRLW; break;
        case 0x20 << 3 | 5: op = RvOp::SRAW; break;
        case 0x01 << 3 | 0: op = RvOp::MULW; break;
        case 0x01 << 3 | 4: op = RvOp::DIVW; break;
        case 0x01 << 3 | 5: op = RvOp::DIVUW; break;
        case 0x01 << 3 | 6: op = RvOp::REMW; break;
        case 0x01 << 3 | 7: op = RvOp::REMUW; break;
        case 0x30 << 3 | 1: op = RvOp::ROLW; break;
        case 0x30 << 3 | 5: op = RvOp::RORW; break;
        default: return fail(RvDecodeError::Unknown);
      }
      return ok(op, rd, rs1, rs2, 0);
    }
    case 0x0f:
      if (funct3 == 0) return ok(RvOp::FENCE, 0, 0, 0, 0);
      if (funct3 == 1) return ok(RvOp::FENCE_I, 0, 0, 0, 0);
      return fail(RvDecodeError::Unknown);
    case 0x73: {
      if (raw == 0x00000073) return ok(RvOp::ECALL, 0, 0, 0, 0);
      if (raw == 0x00100073) return ok(RvOp::EBREAK, 0, 0, 0, 0);
      if (raw == 0xc0001073) return ok(RvOp::UNIMP, 0, 0, 0, 0);  // `csrrw zero, cycle, zero`, the assembler's unimp
      if (funct3 == 0 || funct3 == 4) return fail(RvDecodeError::Unknown);
      const uint32_t csr = raw >> 20;
      return fail(csr >= 1 && csr <= 3 ? RvDecodeError::FloatingPoint : RvDecodeError::Csr);
    }
    case 0x2f: {
      if (funct3 != 2 && funct3 != 3) return fail(RvDecodeError::Unknown);
      const bool is_64 = funct3 == 3;
      if (is_64 && !rv64) return fail(RvDecodeError::Wrong64);
      const uint32_t funct5 = raw >> 27;
      RvOp op = RvOp::UNIMP;
      switch (funct5) {
        case 0x02:
          if (rs2 != 0) return fail(RvDecodeError::Unknown);
          op = is_64 ? RvOp::LR_D : RvOp::LR_W;
          break;
        case 0x03: op = is_64 ? RvOp::SC_D : RvOp::SC_W; break;
        case 0x01: op = is_64 ? RvOp::AMOSWAP_D : RvOp::AMOSWAP_W; break;
        case 0x00: op = is_64 ? RvOp::AMOADD_D : RvOp::AMOADD_W; break;
        case 0x04: op = is_64 ? RvOp::AMOXOR_D : RvOp::AMOXOR_W; break;
        case 0x0c: op = is_64 ? RvOp::AMOAND_D : RvOp::AMOAND_W; break;
        case 0x08: op = is_64 ? RvOp::AMOOR_D : RvOp::AMOOR_W; break;
        case 0x10: op = is_64 ? RvOp::AMOMIN_D : RvOp::AMOMIN_W; break;
        case 0x14: op = is_64 ? RvOp::AMOMAX_D : RvOp::AMOMAX_W; break;
        case 0x18: op = is_64 ? RvOp::AMOMINU_D : RvOp::AMOMINU_W; break;
        case 0x1c: op = is_64 ? RvOp::AMOMAXU_D : RvOp::AMOMAXU_W; break;
        default: return fail(RvDecodeError::Unknown);
      }
      return ok(op, rd, rs1, rs2, 0);
    }
    case 0x0b:  // custom-0: XTheadCondMov
      if (funct3 == 1 && funct7 == 0x20) return ok(RvOp::TH_MVEQZ, rd, rs1, rs2, 0);
      if (funct3 == 1 && funct7 == 0x21) return ok(RvOp::TH_MVNEZ, rd, rs1, rs2, 0);
      return fail(RvDecodeError::Unknown);
    case 0x07:  // LOAD-FP
    case 0x27:  // STORE-FP
    case 0x43:  // FMADD
    case 0x47:  // FMSUB
    case 0x4b:  // FNMSUB
    case 0x4f:  // FNMADD
    case 0x53:  // OP-FP
      return fail(RvDecodeError::FloatingPoint);
    default: return fail(RvDecodeError::Unknown);
  }
}

bool is_store(RvOp op) { return op == RvOp::SB || op == RvOp::SH || op == RvOp::SW || op == RvOp::SD; }
bool is_load(RvOp op) {
  return op == RvOp::LB || op == RvOp::LH || op == RvOp::LW || op == RvOp::LD || op == RvOp::LBU || op == RvOp::LHU ||
         op == RvOp::LWU;
}
bool is_branch(RvOp op) {
  return op == RvOp::BEQ || op == RvOp::BNE || op == RvOp::BLT || op == RvOp::BGE || op == RvOp::BLTU ||
         op == RvOp::BGEU;
}

}  // namespace

const char* rv_name(RvOp op) { return kOpNames[static_cast<size_t>(op)]; }

const char* rv_reg_name(uint32_t reg) { return kRegNames[reg & 31]; }

RvDecoded rv_decode(uint32_t raw, bool rv64) {
  const bool compressed = (raw & 3) != 3;
  RvDecoded decoded = compressed ? decode_compressed(raw & 0xffff, rv64) : decode_full(raw, rv64);
  if (decoded.inst) {
    decoded.inst->raw = compressed ? (raw & 0xffff) : raw;
    decoded.inst->size = compressed ? 2 : 4;
  }
  return decoded;
}

std::string rv_format(const RvInst& inst) {
  const char* name = rv_name(inst.op);
  const char* rd = rv_reg_name(inst.rd);
  const char* rs1 = rv_reg_name(inst.rs1);
  const char* rs2 = rv_reg_name(inst.rs2);
  const RvOp op = inst.op;
  if (op == RvOp::FENCE || op == RvOp::FENCE_I || op == RvOp::ECALL || op == RvOp::EBREAK || op == RvOp::UNIMP)
    return name;
  if (op == RvOp::LUI || op == RvOp::AUIPC)
    return fmt::format("{} {}, 0x{:x}", name, rd, static_cast<uint32_t>(inst.imm) >> 12);
  if (op == RvOp::JAL) return fmt::format("{} {}, {}", name, rd, inst.imm);
  if (op == RvOp::JALR || is_load(op)) return fmt::format("{} {}, {}({})", name, rd, inst.imm, rs1);
  if (is_store(op)) return fmt::format("{} {}, {}({})", name, rs2, inst.imm, rs1);
  if (is_branch(op)) return fmt::format("{} {}, {}, {}", name, rs1, rs2, inst.imm);
  if (op == RvOp::LR_W || op == RvOp::LR_D) return fmt::format("{} {}, ({})", name, rd, rs1);
  if ((op >= RvOp::SC_W && op <= RvOp::AMOMAXU_D) && op != RvOp::LR_D)
    return fmt::format("{} {}, {}, ({})", name, rd, rs2, rs1);
  switch (op) {
    case RvOp::ADDI: case RvOp::SLTI: case RvOp::SLTIU: case RvOp::XORI: case RvOp::ORI: case RvOp::ANDI:
    case RvOp::SLLI: case RvOp::SRLI: case RvOp::SRAI: case RvOp::ADDIW: case RvOp::SLLIW: case RvOp::SRLIW:
    case RvOp::SRAIW: case RvOp::RORI: case RvOp::RORIW:
      return fmt::format("{} {}, {}, {}", name, rd, rs1, inst.imm);
    case RvOp::CLZ: case RvOp::CTZ: case RvOp::CPOP: case RvOp::CLZW: case RvOp::CTZW: case RvOp::CPOPW:
    case RvOp::SEXT_B: case RvOp::SEXT_H: case RvOp::ZEXT_H: case RvOp::ORC_B: case RvOp::REV8:
      return fmt::format("{} {}, {}", name, rd, rs1);
    default:
      return fmt::format("{} {}, {}, {}", name, rd, rs1, rs2);
  }
}

}  // namespace polkavm::linker
