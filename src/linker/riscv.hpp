// RISC-V instruction decoding for the linker: RV32I/RV64I, M, A, C (expanded to the base instruction they
// stand for), Zbb, fences, and the two T-Head conditional moves the reference's Rust target enables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace polkavm::linker {

// Mnemonics of every instruction the decoder knows, in one table.
#define POLKAVM_RISCV_OPS(X)                                                                                       \
  X(LUI, "lui") X(AUIPC, "auipc") X(JAL, "jal") X(JALR, "jalr")                                                    \
  X(BEQ, "beq") X(BNE, "bne") X(BLT, "blt") X(BGE, "bge") X(BLTU, "bltu") X(BGEU, "bgeu")                          \
  X(LB, "lb") X(LH, "lh") X(LW, "lw") X(LD, "ld") X(LBU, "lbu") X(LHU, "lhu") X(LWU, "lwu")                        \
  X(SB, "sb") X(SH, "sh") X(SW, "sw") X(SD, "sd")                                                                  \
  X(ADDI, "addi") X(SLTI, "slti") X(SLTIU, "sltiu") X(XORI, "xori") X(ORI, "ori") X(ANDI, "andi")                  \
  X(SLLI, "slli") X(SRLI, "srli") X(SRAI, "srai")                                                                  \
  X(ADDIW, "addiw") X(SLLIW, "slliw") X(SRLIW, "srliw") X(SRAIW, "sraiw")                                          \
  X(ADD, "add") X(SUB, "sub") X(SLL, "sll") X(SLT, "slt") X(SLTU, "sltu") X(XOR, "xor") X(SRL, "srl")              \
  X(SRA, "sra") X(OR, "or") X(AND, "and")                                                                          \
  X(ADDW, "addw") X(SUBW, "subw") X(SLLW, "sllw") X(SRLW, "srlw") X(SRAW, "sraw")                                  \
  X(MUL, "mul") X(MULH, "mulh") X(MULHSU, "mulhsu") X(MULHU, "mulhu") X(DIV, "div") X(DIVU, "divu")                \
  X(REM, "rem") X(REMU, "remu") X(MULW, "mulw") X(DIVW, "divw") X(DIVUW, "divuw") X(REMW, "remw")                  \
  X(REMUW, "remuw")                                                                                                \
  X(LR_W, "lr.w") X(SC_W, "sc.w") X(LR_D, "lr.d") X(SC_D, "sc.d")                                                  \
  X(AMOSWAP_W, "amoswap.w") X(AMOADD_W, "amoadd.w") X(AMOXOR_W, "amoxor.w") X(AMOAND_W, "amoand.w")                \
  X(AMOOR_W, "amoor.w") X(AMOMIN_W, "amomin.w") X(AMOMAX_W, "amomax.w") X(AMOMINU_W, "amominu.w")                  \
  X(AMOMAXU_W, "amomaxu.w")                                                                                        \
  X(AMOSWAP_D, "amoswap.d") X(AMOADD_D, "amoadd.d") X(AMOXOR_D, "amoxor.d") X(AMOAND_D, "amoand.d")                \
  X(AMOOR_D, "amoor.d") X(AMOMIN_D, "amomin.d") X(AMOMAX_D, "amomax.d") X(AMOMINU_D, "amominu.d")                  \
  X(AMOMAXU_D, "amomaxu.d")                                                                                        \
  X(FENCE, "fence") X(FENCE_I, "fence.i") X(ECALL, "ecall") X(EBREAK, "ebreak") X(UNIMP, "unimp")                  \
  X(ANDN, "andn") X(ORN, "orn") X(XNOR, "xnor") X(MAX, "max") X(MAXU, "maxu") X(MIN, "min") X(MINU, "minu")        \
  X(ROL, "rol") X(ROR, "ror") X(ROLW, "rolw") X(RORW, "rorw") X(RORI, "rori") X(RORIW, "roriw")                    \
  X(CLZ, "clz") X(CTZ, "ctz") X(CPOP, "cpop") X(CLZW, "clzw") X(CTZW, "ctzw") X(CPOPW, "cpopw")                    \
  X(SEXT_B, "sext.b") X(SEXT_H, "sext.h") X(ZEXT_H, "zext.h") X(ORC_B, "orc.b") X(REV8, "rev8")                    \
  X(TH_MVEQZ, "th.mveqz") X(TH_MVNEZ, "th.mvnez")

enum class RvOp : uint8_t {
#define X(op, name) op,
  POLKAVM_RISCV_OPS(X)
#undef X
};

const char* rv_name(RvOp op);

/// One decoded instruction. Registers are x0..x31; compressed forms are expanded (rd/rs1/rs2 and imm as
/// in the 32-bit instruction they stand for), with `size` == 2.
struct RvInst {
  RvOp op = RvOp::UNIMP;
  uint8_t rd = 0;
  uint8_t rs1 = 0;
  uint8_t rs2 = 0;
  int64_t imm = 0;  // sign-extended immediate; for LUI/AUIPC the full value (imm20 << 12, sign-extended)
  uint8_t size = 4;
  uint32_t raw = 0;
};

/// Why a word did not decode.
enum class RvDecodeError : uint8_t {
  Unknown,        // not an instruction of RV32/RV64 IMAC + Zbb
  FloatingPoint,  // an F/D/Q instruction (or a CSR access to fflags/frm/fcsr)
  Csr,            // a CSR access
  Wrong64,        // a 64-bit-only instruction in an RV32 program
};

struct RvDecoded {
  std::optional<RvInst> inst;
  RvDecodeError error = RvDecodeError::Unknown;
};

/// The length of the instruction whose first halfword is `low`: 2 (compressed) or 4. Longer encodings are
/// not RISC-V instructions the linker supports and report 4 (and then fail to decode).
inline uint32_t rv_length(uint16_t low) { return (low & 3) == 3 ? 4 : 2; }

/// Decodes a 16-bit (when `raw & 3 != 3`) or 32-bit instruction.
RvDecoded rv_decode(uint32_t raw, bool rv64);

/// x-register names: "zero", "ra", "sp", "gp", ..., "t6".
const char* rv_reg_name(uint32_t reg);

/// "add a0, a1, a2". Compressed instructions print as the instruction they expand to (c.mv a0, a1 is
/// "add a0, zero, a1").
std::string rv_format(const RvInst& inst);

}  // namespace polkavm::linker
