// RISC-V -> PolkaVM, one instruction at a time.
//
// Most instructions have a direct PolkaVM counterpart (`addw` is `add_32`, which sign-extends like RV64's W
// forms; on Latest32 the same `add_32` is the plain 32-bit add). The work is in the corners:
//   * x0 has no PolkaVM register: an operand that is zero becomes an immediate form, a constant, or, where
//     PolkaVM has no such form, a borrowed register holding 0;
//   * atomics run single-threaded: a load, the operation and a store (LR/SC always succeed);
//   * orc.b has no counterpart and is computed with a few bit operations.
// A borrowed register is saved to a spill slot in RW memory before use and restored after, so every
// translation leaves all other registers exactly as RISC-V would.
#include "linker/lower.hpp"

#include <fmt/format.h>

#include <array>
#include <initializer_list>

namespace polkavm::linker {

namespace {

constexpr uint64_t sext32(uint64_t value) {
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(value))));
}

Instruction make(Opcode op, std::initializer_list<Reg> regs = {}, std::initializer_list<uint32_t> imms = {}) {
  Instruction insn;
  insn.opcode = op;
  insn.valid = true;
  size_t i = 0;
  for (Reg reg : regs) insn.reg[i++] = static_cast<uint8_t>(reg);
  i = 0;
  for (uint32_t imm : imms) insn.imm[i++] = imm;
  return insn;
}

// PolkaVM opcodes for one RISC-V register-register (or unary) operation: the RV64 and the RV32 choice.
struct Pair {
  Opcode op64;
  Opcode op32;
};

class Lowerer {
 public:
  Lowerer(const LowerContext& context, const RvInst& inst, SourceInst& out)
      : ctx_(context), in_(inst), out_(out), rd_(map_register(inst.rd)), rs1_(map_register(inst.rs1)),
        rs2_(map_register(inst.rs2)) {}

  std::optional<std::string> run();

 private:
  Opcode pick(Pair pair) const { return ctx_.rv64 ? pair.op64 : pair.op32; }
  void plain(Opcode op, std::initializer_list<Reg> regs = {}, std::initializer_list<uint32_t> imms = {}) {
    out_.ops.push_back(Op{Op::Kind::Plain, make(op, regs, imms), {}, 0});
  }
  void constant(Reg dst, uint64_t value) { out_.ops.push_back(make_constant(ctx_.rv64, dst, value)); }
  void move(Reg dst, Reg src) {
    if (dst != src) plain(Opcode::move_reg, {dst, src});
  }
  // `dst = sext32(src)`: a plain move on RV32, where registers are 32 bits wide.
  void move_sext32(Reg dst, Reg src) {
    if (ctx_.rv64)
      plain(Opcode::add_imm_32, {dst, src}, {0});
    else
      move(dst, src);
  }
  void terminate(Terminator::Kind kind, Location target = {}, Instruction insn = {}) {
    Terminator term;
    term.kind = kind;
    term.insn = insn;
    term.target = target;
    term.next = out_.location + out_.size;
    term.at = out_.location;
    out_.terminator = term;
  }
  // The target of a jump or branch: the relocation's, else the encoded offset from this instruction.
  Location relative(int64_t delta) const {
    if (ctx_.target) return *ctx_.target;
    return Location{out_.location.section, out_.location.offset + static_cast<uint64_t>(delta)};
  }

  // Borrowed registers: saved to the spill area on acquire, restored (in reverse) by release_all().
  Reg borrow(std::initializer_list<std::optional<Reg>> avoid);
  void release_all();

  void reg_reg(Pair pair);
  void reg_reg_with_zero(Pair pair);
  void reg_imm(Pair pair);
  void unary(Pair pair);
  void load(Opcode op);
  void store(Opcode op);
  void branch();
  void atomic(bool is_64);
  void orc_b();
  std::optional<std::string> jalr();

  const LowerContext& ctx_;
  const RvInst& in_;
  SourceInst& out_;
  std::optional<Reg> rd_, rs1_, rs2_;
  std::vector<Reg> borrowed_;
};

Reg Lowerer::borrow(std::initializer_list<std::optional<Reg>> avoid) {
  static constexpr std::array<Reg, 12> kCandidates = {Reg::T0, Reg::T1, Reg::T2, Reg::S0, Reg::S1, Reg::A0,
                                                      Reg::A1, Reg::A2, Reg::A3, Reg::A4, Reg::A5, Reg::RA};
  for (Reg candidate : kCandidates) {
    bool used = false;
    for (const auto& reg : avoid) used |= reg == candidate;
    for (Reg reg : borrowed_) used |= reg == candidate;
    if (used) continue;
    const uint32_t slot_size = ctx_.rv64 ? 8 : 4;
    Op spill{Op::Kind::StoreAbsolute, make(ctx_.rv64 ? Opcode::store_u64 : Opcode::store_u32, {candidate}), {}, 0};
    spill.target = ctx_.spill_area + slot_size * borrowed_.size();
    out_.ops.push_back(spill);
    borrowed_.push_back(candidate);
    return candidate;
  }
  return Reg::RA;  // unreachable: at most three registers are avoided and three borrowed
}

void Lowerer::release_all() {
  const uint32_t slot_size = ctx_.rv64 ? 8 : 4;
  for (size_t i = borrowed_.size(); i-- > 0;) {
    Op reload{Op::Kind::LoadAbsolute, make(ctx_.rv64 ? Opcode::load_u64 : Opcode::load_i32, {borrowed_[i]}), {}, 0};
    reload.target = ctx_.spill_area + slot_size * i;
    out_.ops.push_back(reload);
  }
  borrowed_.clear();
}

// The value of `op` when both operands are zero.
uint64_t fold_zero_zero(RvOp op) {
  switch (op) {
    case RvOp::DIV: case RvOp::DIVU: case RvOp::DIVW: case RvOp::DIVUW:  // x / 0 = all ones
    case RvOp::ORN: case RvOp::XNOR:
      return ~uint64_t{0};
    default:
      return 0;
  }
}

void Lowerer::reg_reg(Pair pair) {
  if (!rd_) return;  // writes to x0 are dropped
  if (rs1_ && rs2_) {
    plain(pick(pair), {*rd_, *rs1_, *rs2_});
    return;
  }
  if (!rs1_ && !rs2_) {
    constant(*rd_, fold_zero_zero(in_.op));
    return;
  }
  reg_reg_with_zero(pair);
}

// Exactly one operand is x0.
void Lowerer::reg_reg_with_zero(Pair pair) {
  const Reg dst = *rd_;
  const bool zero_first = !rs1_;  // 0 OP x, else x OP 0
  const Reg x = zero_first ? *rs2_ : *rs1_;
  const bool w = in_.op == RvOp::ADDW || in_.op == RvOp::SUBW || in_.op == RvOp::SLLW || in_.op == RvOp::SRLW ||
                 in_.op == RvOp::SRAW || in_.op == RvOp::MULW || in_.op == RvOp::DIVW || in_.op == RvOp::DIVUW ||
                 in_.op == RvOp::REMW || in_.op == RvOp::REMUW || in_.op == RvOp::ROLW || in_.op == RvOp::RORW;
  auto copy = [&] { w ? move_sext32(dst, x) : move(dst, x); };
  auto zero = [&] { constant(dst, 0); };
  auto all_ones = [&] { constant(dst, ~uint64_t{0}); };
  auto invert = [&] { plain(Opcode::xor_imm, {dst, x}, {0xFFFFFFFFu}); };
  // The operations with an immediate form take the zero as an immediate (as the reference's linker
  // does, so that the same ELF gives the same code): `x OP 0` uses the plain form, `0 OP x` the
  // mirrored one (`0 - x` is negate_and_add, `0 << x` shift_*_imm_alt, `0 < x` set_greater_than).
  const bool narrow = w || !ctx_.rv64;
  auto with_imm = [&](Opcode x_op_zero, Opcode zero_op_x) { plain(zero_first ? zero_op_x : x_op_zero, {dst, x}, {0}); };
  auto sized = [&](Opcode op32, Opcode op64) { return narrow ? op32 : op64; };
  using O = Opcode;
  switch (in_.op) {
    case RvOp::ADD: case RvOp::ADDW: {
      const Opcode add = sized(O::add_imm_32, O::add_imm_64);
      return with_imm(add, add);
    }
    case RvOp::SUB: case RvOp::SUBW:
      return with_imm(sized(O::add_imm_32, O::add_imm_64), sized(O::negate_and_add_imm_32, O::negate_and_add_imm_64));
    case RvOp::SLL: case RvOp::SLLW:
      return with_imm(sized(O::shift_logical_left_imm_32, O::shift_logical_left_imm_64),
                      sized(O::shift_logical_left_imm_alt_32, O::shift_logical_left_imm_alt_64));
    case RvOp::SRL: case RvOp::SRLW:
      return with_imm(sized(O::shift_logical_right_imm_32, O::shift_logical_right_imm_64),
                      sized(O::shift_logical_right_imm_alt_32, O::shift_logical_right_imm_alt_64));
    case RvOp::SRA: case RvOp::SRAW:
      return with_imm(sized(O::shift_arithmetic_right_imm_32, O::shift_arithmetic_right_imm_64),
                      sized(O::shift_arithmetic_right_imm_alt_32, O::shift_arithmetic_right_imm_alt_64));
    case RvOp::ROR: case RvOp::RORW:
      return with_imm(sized(O::rotate_right_imm_32, O::rotate_right_imm_64),
                      sized(O::rotate_right_imm_alt_32, O::rotate_right_imm_alt_64));
    case RvOp::SLT: return with_imm(O::set_less_than_signed_imm, O::set_greater_than_signed_imm);
    case RvOp::SLTU: return with_imm(O::set_less_than_unsigned_imm, O::set_greater_than_unsigned_imm);
    case RvOp::XOR: return with_imm(O::xor_imm, O::xor_imm);
    case RvOp::OR: return with_imm(O::or_imm, O::or_imm);
    case RvOp::AND: return with_imm(O::and_imm, O::and_imm);
    case RvOp::MUL: case RvOp::MULW: {
      const Opcode mul = sized(O::mul_imm_32, O::mul_imm_64);
      return with_imm(mul, mul);
    }
    case RvOp::ROL: case RvOp::ROLW: return zero_first ? zero() : copy();  // 0 rotated is 0; x rotated by 0 is x
    case RvOp::MULH: case RvOp::MULHU: case RvOp::MULHSU: return zero();
    case RvOp::REM: case RvOp::REMU: case RvOp::REMW: case RvOp::REMUW:
      return zero_first ? zero() : copy();  // 0 % x = 0, x % 0 = x
    case RvOp::DIV: case RvOp::DIVU: case RvOp::DIVW: case RvOp::DIVUW:
      if (!zero_first) return all_ones();  // x / 0
      break;                               // 0 / x is 0, unless x is 0: let the VM divide
    case RvOp::ANDN: return zero_first ? zero() : copy();
    case RvOp::ORN: return zero_first ? invert() : all_ones();
    case RvOp::XNOR: return invert();
    case RvOp::MINU: return zero();
    case RvOp::MAXU: return copy();
    default: break;  // MIN, MAX: compute with a zero register
  }
  const Reg zero_reg = borrow({dst, x});
  plain(Opcode::load_imm, {zero_reg}, {0});
  plain(pick(pair), {dst, zero_first ? zero_reg : x, zero_first ? x : zero_reg});
  release_all();
}

// The value of `op` with x0 as its register operand.
uint64_t fold_zero_imm(RvOp op, int64_t imm) {
  const uint64_t value = static_cast<uint64_t>(imm);
  switch (op) {
    case RvOp::ADDI: case RvOp::ADDIW: case RvOp::XORI: case RvOp::ORI: return value;
    case RvOp::SLTI: return 0 < imm ? 1 : 0;
    case RvOp::SLTIU: return value != 0 ? 1 : 0;
    default: return 0;  // and, shifts and rotates of zero
  }
}

void Lowerer::reg_imm(Pair pair) {
  if (!rd_) return;
  if (!rs1_) {
    constant(*rd_, fold_zero_imm(in_.op, in_.imm));
    return;
  }
  if (in_.op == RvOp::ADDI && in_.imm == 0) {
    move(*rd_, *rs1_);
    return;
  }
  plain(pick(pair), {*rd_, *rs1_}, {static_cast<uint32_t>(in_.imm)});
}

void Lowerer::unary(Pair pair) {
  if (!rd_) return;
  if (!rs1_) {
    uint64_t value = 0;
    if (in_.op == RvOp::CLZ || in_.op == RvOp::CTZ) value = ctx_.rv64 ? 64 : 32;
    if (in_.op == RvOp::CLZW || in_.op == RvOp::CTZW) value = 32;
    constant(*rd_, value);
    return;
  }
  plain(pick(pair), {*rd_, *rs1_});
}

void Lowerer::load(Opcode op) {
  if (!rs1_ && !rd_ && in_.imm == 0) return terminate(Terminator::Kind::Trap);  // `lw zero, 0(zero)`: a trap
  if (!rd_) return;
  plain(op, {*rd_, *rs1_}, {static_cast<uint32_t>(in_.imm)});
}

void Lowerer::store(Opcode op) {
  if (!rs1_ && !rs2_ && in_.imm == 0) return terminate(Terminator::Kind::Trap);
  if (rs2_) {
    plain(op, {*rs2_, *rs1_}, {static_cast<uint32_t>(in_.imm)});
    return;
  }
  Opcode imm_op = Opcode::store_imm_indirect_u8;
  if (op == Opcode::store_indirect_u16) imm_op = Opcode::store_imm_indirect_u16;
  if (op == Opcode::store_indirect_u32) imm_op = Opcode::store_imm_indirect_u32;
  if (op == Opcode::store_indirect_u64) imm_op = Opcode::store_imm_indirect_u64;
  plain(imm_op, {*rs1_}, {static_cast<uint32_t>(in_.imm), 0});
}

void Lowerer::branch() {
  const Location taken = relative(in_.imm);
  struct Choice {
    Opcode reg_reg;   // x OP y
    Opcode reg_zero;  // x OP 0
    Opcode zero_reg;  // 0 OP y, written as y OP' 0
  };
  Choice c{};
  bool equal_taken = false;  // the outcome when both operands are zero
  switch (in_.op) {
    case RvOp::BEQ: c = {Opcode::branch_eq, Opcode::branch_eq_imm, Opcode::branch_eq_imm}; equal_taken = true; break;
    case RvOp::BNE: c = {Opcode::branch_not_eq, Opcode::branch_not_eq_imm, Opcode::branch_not_eq_imm}; break;
    case RvOp::BLT:
      c = {Opcode::branch_less_signed, Opcode::branch_less_signed_imm, Opcode::branch_greater_signed_imm};
      break;
    case RvOp::BGE:
      c = {Opcode::branch_greater_or_equal_signed, Opcode::branch_greater_or_equal_signed_imm,
           Opcode::branch_less_or_equal_signed_imm};
      equal_taken = true;
      break;
    case RvOp::BLTU:
      c = {Opcode::branch_less_unsigned, Opcode::branch_less_unsigned_imm, Opcode::branch_greater_unsigned_imm};
      break;
    default:  // BGEU
      c = {Opcode::branch_greater_or_equal_unsigned, Opcode::branch_greater_or_equal_unsigned_imm,
           Opcode::branch_less_or_equal_unsigned_imm};
      equal_taken = true;
      break;
  }
  if (!rs1_ && !rs2_) {
    terminate(Terminator::Kind::Jump, equal_taken ? taken : out_.location + out_.size);
    return;
  }
  Instruction insn;
  if (rs1_ && rs2_)
    insn = make(c.reg_reg, {*rs1_, *rs2_});
  else if (rs1_)
    insn = make(c.reg_zero, {*rs1_}, {0});
  else
    insn = make(c.zero_reg, {*rs2_}, {0});
  terminate(Terminator::Kind::Branch, taken, insn);
}

std::optional<std::string> Lowerer::jalr() {
  if (!rs1_) return "an absolute jump through the zero register (an unrelocated jalr)";
  if (!rd_) {
    terminate(Terminator::Kind::JumpIndirect, {}, make(Opcode::jump_indirect, {*rs1_}, {static_cast<uint32_t>(in_.imm)}));
  } else {
    terminate(Terminator::Kind::CallIndirect, {},
              make(Opcode::load_imm_and_jump_indirect, {*rd_, *rs1_}, {0, static_cast<uint32_t>(in_.imm)}));
  }
  return std::nullopt;
}

// amoOP rd, rs2, (rs1): rd = [rs1]; [rs1] = rd OP rs2, as one step (the guest is single-threaded).
void Lowerer::atomic(bool is_64) {
  const Reg base = *rs1_;
  const Opcode load_op = is_64 ? Opcode::load_indirect_u64 : Opcode::load_indirect_i32;
  const Opcode store_op = is_64 ? Opcode::store_indirect_u64 : Opcode::store_indirect_u32;
  const Opcode store_zero_op = is_64 ? Opcode::store_imm_indirect_u64 : Opcode::store_imm_indirect_u32;
  const bool swap = in_.op == RvOp::AMOSWAP_W || in_.op == RvOp::AMOSWAP_D;
  // The old value goes straight to rd unless rd is needed as an input (or is x0).
  const bool direct = rd_ && *rd_ != base && rd_ != rs2_;
  const Reg old = direct ? *rd_ : borrow({rd_, base, rs2_});
  plain(load_op, {old, base}, {0});
  if (swap) {
    if (rs2_)
      plain(store_op, {*rs2_, base}, {0});
    else
      plain(store_zero_op, {base}, {0, 0});
  } else {
    const Reg result = borrow({rd_, base, rs2_, old});
    const bool wide = is_64 || !ctx_.rv64;  // operate on whole registers
    Reg operand = result;
    if (rs2_) {
      operand = *rs2_;
    } else {
      plain(Opcode::load_imm, {result}, {0});
    }
    switch (in_.op) {
      case RvOp::AMOADD_W: case RvOp::AMOADD_D:
        plain(wide && ctx_.rv64 ? Opcode::add_64 : Opcode::add_32, {result, old, operand});
        break;
      case RvOp::AMOAND_W: case RvOp::AMOAND_D: plain(Opcode::and_, {result, old, operand}); break;
      case RvOp::AMOOR_W: case RvOp::AMOOR_D: plain(Opcode::or_, {result, old, operand}); break;
      case RvOp::AMOXOR_W: case RvOp::AMOXOR_D: plain(Opcode::xor_, {result, old, operand}); break;
      default: {
        // min/max compare whole registers: a 32-bit operand must be sign-extended like the loaded value.
        if (!wide && rs2_) {
          plain(Opcode::add_imm_32, {result, *rs2_}, {0});
          operand = result;
        }
        Opcode op = Opcode::minimum;
        if (in_.op == RvOp::AMOMAX_W || in_.op == RvOp::AMOMAX_D) op = Opcode::maximum;
        if (in_.op == RvOp::AMOMINU_W || in_.op == RvOp::AMOMINU_D) op = Opcode::minimum_unsigned;
        if (in_.op == RvOp::AMOMAXU_W || in_.op == RvOp::AMOMAXU_D) op = Opcode::maximum_unsigned;
        plain(op, {result, old, operand});
        break;
      }
    }
    plain(store_op, {result, base}, {0});
  }
  if (!direct && rd_) move(*rd_, old);
  release_all();
}

// orc.b: every non-zero byte becomes 0xFF. With m = 0x7F7F...: ((x & m) + m) | x has the top bit of each byte
// set exactly for the non-zero bytes; isolate those bits, shift them to bit 0 and multiply by 0xFF.
void Lowerer::orc_b() {
  if (!rd_) return;
  if (!rs1_) return constant(*rd_, 0);
  const Reg x = *rs1_;
  const Reg mask = borrow({rd_, x});
  const Reg t = borrow({rd_, x, mask});
  if (ctx_.rv64) {
    out_.ops.push_back(make_constant(true, mask, 0x7F7F7F7F7F7F7F7Full));
    plain(Opcode::and_, {t, x, mask});
    plain(Opcode::add_64, {t, t, mask});
  } else {
    plain(Opcode::load_imm, {mask}, {0x7F7F7F7Fu});
    plain(Opcode::and_, {t, x, mask});
    plain(Opcode::add_32, {t, t, mask});
  }
  plain(Opcode::or_, {t, t, x});
  plain(Opcode::xor_imm, {mask, mask}, {0xFFFFFFFFu});  // 0x8080...
  plain(Opcode::and_, {t, t, mask});
  if (ctx_.rv64) {
    plain(Opcode::shift_logical_right_imm_64, {*rd_, t}, {7});
    plain(Opcode::mul_imm_64, {*rd_, *rd_}, {0xFF});
  } else {
    plain(Opcode::shift_logical_right_imm_32, {*rd_, t}, {7});
    plain(Opcode::mul_imm_32, {*rd_, *rd_}, {0xFF});
  }
  release_all();
}

std::optional<std::string> Lowerer::run() {
  using O = Opcode;
  switch (in_.op) {
    case RvOp::LUI:
      if (rd_) constant(*rd_, static_cast<uint64_t>(in_.imm));
      return std::nullopt;
    case RvOp::AUIPC: return "an auipc without a relocation";
    case RvOp::JAL:
      if (rd_) {
        terminate(Terminator::Kind::Call, relative(in_.imm), make(O::load_imm_and_jump, {*rd_}));
      } else {
        terminate(Terminator::Kind::Jump, relative(in_.imm));
      }
      return std::nullopt;
    case RvOp::JALR: return jalr();
    case RvOp::BEQ: case RvOp::BNE: case RvOp::BLT: case RvOp::BGE: case RvOp::BLTU: case RvOp::BGEU:
      branch();
      return std::nullopt;

    case RvOp::LB: case RvOp::LH: case RvOp::LW: case RvOp::LD: case RvOp::LBU: case RvOp::LHU: case RvOp::LWU:
    case RvOp::SB: case RvOp::SH: case RvOp::SW: case RvOp::SD: {
      const bool is_store = in_.op == RvOp::SB || in_.op == RvOp::SH || in_.op == RvOp::SW || in_.op == RvOp::SD;
      const bool trap = !rs1_ && in_.imm == 0 && (is_store ? !rs2_ : !rd_);
      if (!rs1_ && !trap)
        return fmt::format("an access to the absolute address {} (an unrelocated {})", in_.imm,
                           is_store ? "store" : "load");
      switch (in_.op) {
        case RvOp::LB: load(O::load_indirect_i8); break;
        case RvOp::LH: load(O::load_indirect_i16); break;
        case RvOp::LW: load(O::load_indirect_i32); break;
        case RvOp::LD: load(O::load_indirect_u64); break;
        case RvOp::LBU: load(O::load_indirect_u8); break;
        case RvOp::LHU: load(O::load_indirect_u16); break;
        case RvOp::LWU: load(O::load_indirect_u32); break;
        case RvOp::SB: store(O::store_indirect_u8); break;
        case RvOp::SH: store(O::store_indirect_u16); break;
        case RvOp::SW: store(O::store_indirect_u32); break;
        default: store(O::store_indirect_u64); break;
      }
      return std::nullopt;
    }

    case RvOp::ADDI: reg_imm({O::add_imm_64, O::add_imm_32}); break;
    case RvOp::SLTI: reg_imm({O::set_less_than_signed_imm, O::set_less_than_signed_imm}); break;
    case RvOp::SLTIU: reg_imm({O::set_less_than_unsigned_imm, O::set_less_than_unsigned_imm}); break;
    case RvOp::XORI: reg_imm({O::xor_imm, O::xor_imm}); break;
    case RvOp::ORI: reg_imm({O::or_imm, O::or_imm}); break;
    case RvOp::ANDI: reg_imm({O::and_imm, O::and_imm}); break;
    case RvOp::SLLI: reg_imm({O::shift_logical_left_imm_64, O::shift_logical_left_imm_32}); break;
    case RvOp::SRLI: reg_imm({O::shift_logical_right_imm_64, O::shift_logical_right_imm_32}); break;
    case RvOp::SRAI: reg_imm({O::shift_arithmetic_right_imm_64, O::shift_arithmetic_right_imm_32}); break;
    case RvOp::RORI: reg_imm({O::rotate_right_imm_64, O::rotate_right_imm_32}); break;
    case RvOp::ADDIW: reg_imm({O::add_imm_32, O::add_imm_32}); break;
    case RvOp::SLLIW: reg_imm({O::shift_logical_left_imm_32, O::shift_logical_left_imm_32}); break;
    case RvOp::SRLIW: reg_imm({O::shift_logical_right_imm_32, O::shift_logical_right_imm_32}); break;
    case RvOp::SRAIW: reg_imm({O::shift_arithmetic_right_imm_32, O::shift_arithmetic_right_imm_32}); break;
    case RvOp::RORIW: reg_imm({O::rotate_right_imm_32, O::rotate_right_imm_32}); break;

    case RvOp::ADD: reg_reg({O::add_64, O::add_32}); break;
    case RvOp::SUB: reg_reg({O::sub_64, O::sub_32}); break;
    case RvOp::SLL: reg_reg({O::shift_logical_left_64, O::shift_logical_left_32}); break;
    case RvOp::SLT: reg_reg({O::set_less_than_signed, O::set_less_than_signed}); break;
    case RvOp::SLTU: reg_reg({O::set_less_than_unsigned, O::set_less_than_unsigned}); break;
    case RvOp::XOR: reg_reg({O::xor_, O::xor_}); break;
    case RvOp::SRL: reg_reg({O::shift_logical_right_64, O::shift_logical_right_32}); break;
    case RvOp::SRA: reg_reg({O::shift_arithmetic_right_64, O::shift_arithmetic_right_32}); break;
    case RvOp::OR: reg_reg({O::or_, O::or_}); break;
    case RvOp::AND: reg_reg({O::and_, O::and_}); break;
    case RvOp::ADDW: reg_reg({O::add_32, O::add_32}); break;
    case RvOp::SUBW: reg_reg({O::sub_32, O::sub_32}); break;
    case RvOp::SLLW: reg_reg({O::shift_logical_left_32, O::shift_logical_left_32}); break;
    case RvOp::SRLW: reg_reg({O::shift_logical_right_32, O::shift_logical_right_32}); break;
    case RvOp::SRAW: reg_reg({O::shift_arithmetic_right_32, O::shift_arithmetic_right_32}); break;
    case RvOp::MUL: reg_reg({O::mul_64, O::mul_32}); break;
    case RvOp::MULH: reg_reg({O::mul_upper_signed_signed, O::mul_upper_signed_signed}); break;
    case RvOp::MULHSU: reg_reg({O::mul_upper_signed_unsigned, O::mul_upper_signed_unsigned}); break;
    case RvOp::MULHU: reg_reg({O::mul_upper_unsigned_unsigned, O::mul_upper_unsigned_unsigned}); break;
    case RvOp::DIV: reg_reg({O::div_signed_64, O::div_signed_32}); break;
    case RvOp::DIVU: reg_reg({O::div_unsigned_64, O::div_unsigned_32}); break;
    case RvOp::REM: reg_reg({O::rem_signed_64, O::rem_signed_32}); break;
    case RvOp::REMU: reg_reg({O::rem_unsigned_64, O::rem_unsigned_32}); break;
    case RvOp::MULW: reg_reg({O::mul_32, O::mul_32}); break;
    case RvOp::DIVW: reg_reg({O::div_signed_32, O::div_signed_32}); break;
    case RvOp::DIVUW: reg_reg({O::div_unsigned_32, O::div_unsigned_32}); break;
    case RvOp::REMW: reg_reg({O::rem_signed_32, O::rem_signed_32}); break;
    case RvOp::REMUW: reg_reg({O::rem_unsigned_32, O::rem_unsigned_32}); break;
    case RvOp::ANDN: reg_reg({O::and_inverted, O::and_inverted}); break;
    case RvOp::ORN: reg_reg({O::or_inverted, O::or_inverted}); break;
    case RvOp::XNOR: reg_reg({O::xnor, O::xnor}); break;
    case RvOp::MAX: reg_reg({O::maximum, O::maximum}); break;
    case RvOp::MAXU: reg_reg({O::maximum_unsigned, O::maximum_unsigned}); break;
    case RvOp::MIN: reg_reg({O::minimum, O::minimum}); break;
    case RvOp::MINU: reg_reg({O::minimum_unsigned, O::minimum_unsigned}); break;
    case RvOp::ROL: reg_reg({O::rotate_left_64, O::rotate_left_32}); break;
    case RvOp::ROR: reg_reg({O::rotate_right_64, O::rotate_right_32}); break;
    case RvOp::ROLW: reg_reg({O::rotate_left_32, O::rotate_left_32}); break;
    case RvOp::RORW: reg_reg({O::rotate_right_32, O::rotate_right_32}); break;

    case RvOp::CLZ: unary({O::count_leading_zero_bits_64, O::count_leading_zero_bits_32}); break;
    case RvOp::CTZ: unary({O::count_trailing_zero_bits_64, O::count_trailing_zero_bits_32}); break;
    case RvOp::CPOP: unary({O::count_set_bits_64, O::count_set_bits_32}); break;
    case RvOp::CLZW: unary({O::count_leading_zero_bits_32, O::count_leading_zero_bits_32}); break;
    case RvOp::CTZW: unary({O::count_trailing_zero_bits_32, O::count_trailing_zero_bits_32}); break;
    case RvOp::CPOPW: unary({O::count_set_bits_32, O::count_set_bits_32}); break;
    case RvOp::SEXT_B: unary({O::sign_extend_8, O::sign_extend_8}); break;
    case RvOp::SEXT_H: unary({O::sign_extend_16, O::sign_extend_16}); break;
    case RvOp::ZEXT_H: unary({O::zero_extend_16, O::zero_extend_16}); break;
    case RvOp::REV8: unary({O::reverse_byte, O::reverse_byte}); break;
    case RvOp::ORC_B: orc_b(); break;

    case RvOp::LR_W: case RvOp::LR_D:
      if (!rs1_) return "an atomic access through the zero register";
      if (rd_) plain(in_.op == RvOp::LR_D ? O::load_indirect_u64 : O::load_indirect_i32, {*rd_, *rs1_}, {0});
      break;
    case RvOp::SC_W: case RvOp::SC_D: {
      // Nothing else runs between the load-reserved and this store, so it always succeeds (rd = 0).
      if (!rs1_) return "an atomic access through the zero register";
      const bool wide = in_.op == RvOp::SC_D;
      if (rs2_)
        plain(wide ? O::store_indirect_u64 : O::store_indirect_u32, {*rs2_, *rs1_}, {0});
      else
        plain(wide ? O::store_imm_indirect_u64 : O::store_imm_indirect_u32, {*rs1_}, {0, 0});
      if (rd_) constant(*rd_, 0);
      break;
    }
    case RvOp::AMOSWAP_W: case RvOp::AMOADD_W: case RvOp::AMOXOR_W: case RvOp::AMOAND_W: case RvOp::AMOOR_W:
    case RvOp::AMOMIN_W: case RvOp::AMOMAX_W: case RvOp::AMOMINU_W: case RvOp::AMOMAXU_W:
    case RvOp::AMOSWAP_D: case RvOp::AMOADD_D: case RvOp::AMOXOR_D: case RvOp::AMOAND_D: case RvOp::AMOOR_D:
    case RvOp::AMOMIN_D: case RvOp::AMOMAX_D: case RvOp::AMOMINU_D: case RvOp::AMOMAXU_D:
      if (!rs1_) return "an atomic access through the zero register";
      atomic(in_.op >= RvOp::AMOSWAP_D);
      break;

    case RvOp::FENCE: case RvOp::FENCE_I: break;  // one hart, no caches to synchronise
    case RvOp::ECALL: return "a bare ecall (host calls go through imports)";
    case RvOp::EBREAK: case RvOp::UNIMP: terminate(Terminator::Kind::Trap); break;

    case RvOp::TH_MVEQZ: case RvOp::TH_MVNEZ: {
      // th.mveqz rd, rs1, rs2: if rs2 == 0 then rd = rs1 (th.mvnez: if rs2 != 0).
      if (!rd_) break;
      const bool if_zero = in_.op == RvOp::TH_MVEQZ;
      if (!rs2_) {  // the condition is known
        if (if_zero) rs1_ ? move(*rd_, *rs1_) : constant(*rd_, 0);
        break;
      }
      if (rs1_)
        plain(if_zero ? O::cmov_if_zero : O::cmov_if_not_zero, {*rd_, *rs1_, *rs2_});
      else
        plain(if_zero ? O::cmov_if_zero_imm : O::cmov_if_not_zero_imm, {*rd_, *rs2_}, {0});
      break;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Reg> map_register(uint32_t reg) {
  switch (reg) {
    case 1: return Reg::RA;
    case 2: return Reg::SP;
    case 5: return Reg::T0;
    case 6: return Reg::T1;
    case 7: return Reg::T2;
    case 8: return Reg::S0;
    case 9: return Reg::S1;
    case 10: return Reg::A0;
    case 11: return Reg::A1;
    case 12: return Reg::A2;
    case 13: return Reg::A3;
    case 14: return Reg::A4;
    case 15: return Reg::A5;
    default: return std::nullopt;
  }
}

bool is_supported_register(uint32_t reg) { return reg == 0 || map_register(reg).has_value(); }

Op make_constant(bool rv64, Reg dst, uint64_t value) {
  Op op;
  if (rv64 && sext32(value) != value) {
    op.insn = make_load_imm64(dst, value);
  } else {
    op.insn = make(Opcode::load_imm, {dst}, {static_cast<uint32_t>(value)});
  }
  return op;
}

namespace {

// Which of rd, rs1 and rs2 an instruction reads or writes.
struct Uses {
  bool rd = false, rs1 = false, rs2 = false;
};

Uses register_uses(RvOp op) {
  switch (op) {
    case RvOp::LUI: case RvOp::AUIPC: case RvOp::JAL: return {true, false, false};
    case RvOp::BEQ: case RvOp::BNE: case RvOp::BLT: case RvOp::BGE: case RvOp::BLTU: case RvOp::BGEU:
    case RvOp::SB: case RvOp::SH: case RvOp::SW: case RvOp::SD:
      return {false, true, true};
    case RvOp::FENCE: case RvOp::FENCE_I: case RvOp::ECALL: case RvOp::EBREAK: case RvOp::UNIMP: return {};
    case RvOp::JALR: case RvOp::LB: case RvOp::LH: case RvOp::LW: case RvOp::LD: case RvOp::LBU: case RvOp::LHU:
    case RvOp::LWU: case RvOp::ADDI: case RvOp::SLTI: case RvOp::SLTIU: case RvOp::XORI: case RvOp::ORI:
    case RvOp::ANDI: case RvOp::SLLI: case RvOp::SRLI: case RvOp::SRAI: case RvOp::ADDIW: case RvOp::SLLIW:
    case RvOp::SRLIW: case RvOp::SRAIW: case RvOp::RORI: case RvOp::RORIW: case RvOp::CLZ: case RvOp::CTZ:
    case RvOp::CPOP: case RvOp::CLZW: case RvOp::CTZW: case RvOp::CPOPW: case RvOp::SEXT_B: case RvOp::SEXT_H:
    case RvOp::ZEXT_H: case RvOp::ORC_B: case RvOp::REV8: case RvOp::LR_W: case RvOp::LR_D:
      return {true, true, false};
    default: return {true, true, true};
  }
}

}  // namespace

std::optional<std::string> check_registers(const RvInst& inst) {
  const Uses uses = register_uses(inst.op);
  for (auto [used, reg] : {std::pair{uses.rd, inst.rd}, std::pair{uses.rs1, inst.rs1}, std::pair{uses.rs2, inst.rs2}}) {
    if (used && !is_supported_register(reg))
      return fmt::format("unsupported register '{}' (PolkaVM has only zero, ra, sp, t0-t2, s0, s1 and a0-a5)",
                         rv_reg_name(reg));
  }
  return std::nullopt;
}

std::optional<std::string> lower_instruction(const LowerContext& context, const RvInst& inst, SourceInst& out) {
  if (auto error = check_registers(inst)) return error;
  Lowerer lowerer(context, inst, out);
  return lowerer.run();
}

}  // namespace polkavm::linker
