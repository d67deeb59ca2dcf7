// Block-local constant folding and dead constant-load removal; address-load + jump fusion.
//
// The folder evaluates an instruction only when it is in the table below, with the VM's own semantics
// (src/interpreter/handlers.inc, the reference interpreter's): 32-bit operations sign-extend their result, and
// on Latest32 every register value is kept sign-extended from 32 bits, which makes the same formulas hold for
// 32-bit registers. Anything not in the table makes its destination unknown; anything whose effect on
// registers is not known (an ecalli, memset) forgets every register.
#include "linker/optimize.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <optional>

#include "linker/lower.hpp"

namespace polkavm::linker {

namespace {

uint64_t sx(uint32_t v) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v))); }
uint32_t u32(uint64_t v) { return static_cast<uint32_t>(v); }
int64_t i64(uint64_t v) { return static_cast<int64_t>(v); }
int32_t i32(uint32_t v) { return static_cast<int32_t>(v); }

// `op` applied to a register value `s` and the immediate `i`, if it is a pure register-immediate operation.
std::optional<uint64_t> eval_reg_imm(Opcode op, uint64_t s, uint32_t i) {
  using O = Opcode;
  switch (op) {
    case O::add_imm_32: return sx(u32(s) + i);
    case O::add_imm_64: return s + sx(i);
    case O::and_imm: return s & sx(i);
    case O::xor_imm: return s ^ sx(i);
    case O::or_imm: return s | sx(i);
    case O::mul_imm_32: return sx(u32(s) * i);
    case O::mul_imm_64: return s * sx(i);
    case O::set_less_than_unsigned_imm: return s < sx(i);
    case O::set_less_than_signed_imm: return i64(s) < i64(sx(i));
    case O::set_greater_than_unsigned_imm: return s > sx(i);
    case O::set_greater_than_signed_imm: return i64(s) > i64(sx(i));
    case O::shift_logical_left_imm_32: return sx(u32(s) << (i & 31));
    case O::shift_logical_right_imm_32: return sx(u32(s) >> (i & 31));
    case O::shift_arithmetic_right_imm_32: return sx(static_cast<uint32_t>(i32(u32(s)) >> (i & 31)));
    case O::shift_logical_left_imm_alt_32: return sx(i << (s & 31));
    case O::shift_logical_right_imm_alt_32: return sx(i >> (s & 31));
    case O::shift_arithmetic_right_imm_alt_32: return sx(static_cast<uint32_t>(i32(i) >> (s & 31)));
    case O::shift_logical_left_imm_64: return s << (i & 63);
    case O::shift_logical_right_imm_64: return s >> (i & 63);
    case O::shift_arithmetic_right_imm_64: return static_cast<uint64_t>(i64(s) >> (i & 63));
    case O::shift_logical_left_imm_alt_64: return sx(i) << (s & 63);
    case O::shift_logical_right_imm_alt_64: return sx(i) >> (s & 63);
    case O::shift_arithmetic_right_imm_alt_64: return static_cast<uint64_t>(i64(sx(i)) >> (s & 63));
    case O::negate_and_add_imm_32: return sx(i - u32(s));
    case O::negate_and_add_imm_64: return sx(i) - s;
    case O::rotate_right_imm_32: return sx(std::rotr(u32(s), static_cast<int>(i & 31)));
    case O::rotate_right_imm_64: return std::rotr(s, static_cast<int>(i & 63));
    default: return std::nullopt;
  }
}

std::optional<uint64_t> eval_reg_reg(Opcode op, uint64_t x, uint64_t y) {
  using O = Opcode;
  switch (op) {
    case O::add_32: return sx(u32(x) + u32(y));
    case O::sub_32: return sx(u32(x) - u32(y));
    case O::mul_32: return sx(u32(x) * u32(y));
    case O::shift_logical_left_32: return sx(u32(x) << (y & 31));
    case O::shift_logical_right_32: return sx(u32(x) >> (y & 31));
    case O::shift_arithmetic_right_32: return sx(static_cast<uint32_t>(i32(u32(x)) >> (y & 31)));
    case O::add_64: return x + y;
    case O::sub_64: return x - y;
    case O::mul_64: return x * y;
    case O::shift_logical_left_64: return x << (y & 63);
    case O::shift_logical_right_64: return x >> (y & 63);
    case O::shift_arithmetic_right_64: return static_cast<uint64_t>(i64(x) >> (y & 63));
    case O::and_: return x & y;
    case O::xor_: return x ^ y;
    case O::or_: return x | y;
    case O::set_less_than_unsigned: return x < y;
    case O::set_less_than_signed: return i64(x) < i64(y);
    case O::and_inverted: return x & ~y;
    case O::or_inverted: return x | ~y;
    case O::xnor: return ~(x ^ y);
    default: return std::nullopt;
  }
}

// The immediate form of a register-register operation whose second operand (`second`) or first operand is a
// constant: {opcode, whether the constant replaces the first operand}.
struct ImmForm {
  Opcode op;
  bool ok = false;
};

ImmForm imm_form(Opcode op, bool constant_is_second) {
  using O = Opcode;
  // Commutative operations take the constant from either side.
  switch (op) {
    case O::add_32: return {O::add_imm_32, true};
    case O::add_64: return {O::add_imm_64, true};
    case O::mul_32: return {O::mul_imm_32, true};
    case O::mul_64: return {O::mul_imm_64, true};
    case O::and_: return {O::and_imm, true};
    case O::or_: return {O::or_imm, true};
    case O::xor_: return {O::xor_imm, true};
    default: break;
  }
  if (constant_is_second) {
    switch (op) {
      case O::shift_logical_left_32: return {O::shift_logical_left_imm_32, true};
      case O::shift_logical_right_32: return {O::shift_logical_right_imm_32, true};
      case O::shift_arithmetic_right_32: return {O::shift_arithmetic_right_imm_32, true};
      case O::shift_logical_left_64: return {O::shift_logical_left_imm_64, true};
      case O::shift_logical_right_64: return {O::shift_logical_right_imm_64, true};
      case O::shift_arithmetic_right_64: return {O::shift_arithmetic_right_imm_64, true};
      case O::set_less_than_unsigned: return {O::set_less_than_unsigned_imm, true};
      case O::set_less_than_signed: return {O::set_less_than_signed_imm, true};
      default: return {};
    }
  }
  switch (op) {
    case O::sub_32: return {O::negate_and_add_imm_32, true};
    case O::sub_64: return {O::negate_and_add_imm_64, true};
    case O::shift_logical_left_32: return {O::shift_logical_left_imm_alt_32, true};
    case O::shift_logical_right_32: return {O::shift_logical_right_imm_alt_32, true};
    case O::shift_arithmetic_right_32: return {O::shift_arithmetic_right_imm_alt_32, true};
    case O::shift_logical_left_64: return {O::shift_logical_left_imm_alt_64, true};
    case O::shift_logical_right_64: return {O::shift_logical_right_imm_alt_64, true};
    case O::shift_arithmetic_right_64: return {O::shift_arithmetic_right_imm_alt_64, true};
    case O::set_less_than_unsigned: return {O::set_greater_than_unsigned_imm, true};
    case O::set_less_than_signed: return {O::set_greater_than_signed_imm, true};
    default: return {};
  }
}

using RegMask = uint32_t;
constexpr RegMask kAllRegs = (1u << kRegCount) - 1;
RegMask bit(uint8_t reg) { return reg < kRegCount ? 1u << reg : 0; }

// Registers an op reads and writes. `known` says whether the answer is exact; when it is not, the op is
// treated as reading and writing everything.
struct Effects {
  RegMask reads = kAllRegs;
  RegMask writes = kAllRegs;
  bool pure = false;  // no effect but writing `writes` (may be removed when its result is dead)
};

Effects effects(const Op& op) {
  Effects e;
  const Instruction& insn = op.insn;
  switch (op.kind) {
    case Op::Kind::LoadAddress:
    case Op::Kind::HeapBase: return {0, bit(insn.reg[0]), true};
    case Op::Kind::LoadAbsolute: return {0, bit(insn.reg[0]), false};  // a load can fault
    case Op::Kind::StoreAbsolute: return {format(insn.opcode) == Format::RegImm ? bit(insn.reg[0]) : 0u, 0, false};
    case Op::Kind::Ecalli: return e;
    case Op::Kind::Plain: break;
  }
  const Opcode opcode = insn.opcode;
  if (opcode == Opcode::load_imm || opcode == Opcode::load_imm64) return {0, bit(insn.reg[0]), true};
  if (opcode == Opcode::move_reg) return {bit(insn.reg[1]), bit(insn.reg[0]), true};
  if (opcode == Opcode::sbrk) return {bit(insn.reg[1]), bit(insn.reg[0]), false};
  switch (format(opcode)) {
    case Format::RegRegImm: {
      const bool is_store = opcode == Opcode::store_indirect_u8 || opcode == Opcode::store_indirect_u16 ||
                            opcode == Opcode::store_indirect_u32 || opcode == Opcode::store_indirect_u64;
      if (is_store) return {bit(insn.reg[0]) | bit(insn.reg[1]), 0, false};
      const bool is_cmov = opcode == Opcode::cmov_if_zero_imm || opcode == Opcode::cmov_if_not_zero_imm;
      if (is_cmov) return {bit(insn.reg[0]) | bit(insn.reg[1]), bit(insn.reg[0]), true};
      const bool is_load = eval_reg_imm(opcode, 0, 0) == std::nullopt;  // the loads are the non-ALU ops here
      return {bit(insn.reg[1]), bit(insn.reg[0]), !is_load};
    }
    case Format::RegRegReg: {
      const bool is_cmov = opcode == Opcode::cmov_if_zero || opcode == Opcode::cmov_if_not_zero;
      return {bit(insn.reg[1]) | bit(insn.reg[2]) | (is_cmov ? bit(insn.reg[0]) : 0), bit(insn.reg[0]), true};
    }
    case Format::RegReg: return {bit(insn.reg[1]), bit(insn.reg[0]), true};  // count_*, sign/zero extensions, ...
    case Format::RegImmImm: return {bit(insn.reg[0]), 0, false};  // store_imm_indirect
    case Format::ImmImm: return {0, 0, false};                    // store_imm
    case Format::RegImm: {
      // Absolute loads write, absolute stores read.
      const bool is_store = opcode == Opcode::store_u8 || opcode == Opcode::store_u16 || opcode == Opcode::store_u32 ||
                            opcode == Opcode::store_u64;
      return is_store ? Effects{bit(insn.reg[0]), 0, false} : Effects{0, bit(insn.reg[0]), false};
    }
    default: return e;  // memset, ecalli and anything else: unknown
  }
}

}  // namespace

void fold_constants(Block& block, bool rv64) {
  std::array<std::optional<uint64_t>, kRegCount> known;
  // On Latest32 values are kept sign-extended from 32 bits, as the VM keeps them.
  auto normalise = [&](uint64_t value) { return rv64 ? value : sx(u32(value)); };
  // Only constants that load_imm can load are worth an immediate form (or a move's replacement).
  auto fits_imm = [&](uint64_t value) { return !rv64 || sx(u32(value)) == value; };

  for (Op& op : block.ops) {
    if (op.kind != Op::Kind::Plain) {
      const Effects e = effects(op);
      for (int r = 0; r < kRegCount; ++r)
        if (e.writes & (1u << r)) known[r].reset();
      continue;
    }
    Instruction& insn = op.insn;
    const uint8_t d = insn.reg[0];
    std::optional<uint64_t> result;
    bool handled = true;
    switch (format(insn.opcode)) {
      case Format::RegImm:
        if (insn.opcode == Opcode::load_imm) {
          result = normalise(sx(insn.imm[0]));
        } else {
          handled = false;
        }
        break;
      case Format::RegImm64:
        result = insn.imm64;
        break;
      case Format::RegReg:
        if (insn.opcode == Opcode::move_reg) {
          result = known[insn.reg[1]];
          if (result && fits_imm(*result)) op = make_constant(rv64, static_cast<Reg>(d), *result);
        } else {
          handled = false;
        }
        break;
      case Format::RegRegImm: {
        const auto& source = known[insn.reg[1]];
        if (source && eval_reg_imm(insn.opcode, *source, insn.imm[0])) {
          result = normalise(*eval_reg_imm(insn.opcode, *source, insn.imm[0]));
          op = make_constant(rv64, static_cast<Reg>(d), *result);
        } else {
          handled = false;
        }
        break;
      }
      case Format::RegRegReg: {
        const auto& x = known[insn.reg[1]];
        const auto& y = known[insn.reg[2]];
        if (x && y && eval_reg_reg(insn.opcode, *x, *y)) {
          result = normalise(*eval_reg_reg(insn.opcode, *x, *y));
          op = make_constant(rv64, static_cast<Reg>(d), *result);
        } else if ((x || y) && !(x && y)) {
          // One constant operand: use the immediate form when there is one and the constant fits.
          const bool second = y.has_value();
          const uint64_t value = second ? *y : *x;
          const ImmForm form = imm_form(insn.opcode, second);
          if (form.ok && fits_imm(value)) {
            const uint8_t other = second ? insn.reg[1] : insn.reg[2];
            Instruction replaced;
            replaced.opcode = form.op;
            replaced.valid = true;
            replaced.reg[0] = d;
            replaced.reg[1] = other;
            replaced.imm[0] = u32(value);
            insn = replaced;
          }
          handled = false;
        } else {
          handled = false;
        }
        break;
      }
      default:
        handled = false;
        break;
    }
    if (handled) {
      known[d] = result;
      continue;
    }
    const Effects e = effects(op);
    for (int r = 0; r < kRegCount; ++r)
      if (e.writes & (1u << r)) known[r].reset();
  }

  // Remove pure instructions whose result is overwritten, in this block, before anything reads it. What is
  // live after the block is not known, so every register counts as live at its end.
  RegMask live = kAllRegs;
  std::vector<bool> dead(block.ops.size(), false);
  for (size_t i = block.ops.size(); i-- > 0;) {
    const Effects e = effects(block.ops[i]);
    if (e.pure && e.writes != 0 && (e.writes & live) == 0) {
      dead[i] = true;
      continue;
    }
    live = (live & ~e.writes) | e.reads;
  }
  std::vector<Op> kept;
  kept.reserve(block.ops.size());
  for (size_t i = 0; i < block.ops.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(block.ops[i]));
  block.ops = std::move(kept);
}

namespace {

// What an op needs of its register operands when `out` is what is needed of its result: 32-bit operations
// and the narrow extensions read only the low halves, an `and` with a mask of the low half needs no more
// than that, and operations whose low result bits depend only on the low operand bits (add, sub, mul, the
// bitwise ones, left shifts, moves) pass the demand on.
Demand operand_demand(const Instruction& insn, Demand out) {
  using O = Opcode;
  switch (insn.opcode) {
    case O::add_32: case O::sub_32: case O::mul_32: case O::add_imm_32: case O::mul_imm_32:
    case O::negate_and_add_imm_32: case O::shift_logical_left_32: case O::shift_logical_right_32:
    case O::shift_arithmetic_right_32: case O::shift_logical_left_imm_32: case O::shift_logical_right_imm_32:
    case O::shift_arithmetic_right_imm_32: case O::rotate_right_imm_32: case O::sign_extend_8:
    case O::sign_extend_16: case O::zero_extend_16:
      return Demand::Low32;
    case O::and_imm: return static_cast<int32_t>(insn.imm[0]) >= 0 ? std::min(out, Demand::Low32) : out;
    case O::add_64: case O::sub_64: case O::mul_64: case O::and_: case O::or_: case O::xor_: case O::add_imm_64:
    case O::or_imm: case O::xor_imm: case O::mul_imm_64: case O::negate_and_add_imm_64:
    case O::shift_logical_left_imm_64: case O::move_reg: case O::and_inverted: case O::or_inverted: case O::xnor:
      return out;
    default: return Demand::Full;
  }
}

// Whether the op's result (in reg[0]) always has a zero upper half.
bool writes_upper_zero(const Instruction& insn) {
  using O = Opcode;
  switch (insn.opcode) {
    case O::load_u8: case O::load_u16: case O::load_u32: case O::load_indirect_u8: case O::load_indirect_u16:
    case O::load_indirect_u32: case O::zero_extend_16:
      return true;
    case O::load_imm:
    case O::and_imm: return static_cast<int32_t>(insn.imm[0]) >= 0;
    case O::shift_logical_right_imm_64: return (insn.imm[0] & 63) >= 32;
    default: return false;
  }
}

// Runs the block backwards from `demand` (what is observed after it) to what is observed at its entry; fills
// `result_demand` (if given) with what is observed of each op's result.
RegDemands demand_at_entry(const Block& block, RegDemands demand, std::vector<Demand>* result_demand) {
  // The terminator reads first (it runs last): a branch compares whole registers.
  const Terminator& t = block.terminator;
  if (t.kind == Terminator::Kind::Branch) {
    demand[t.insn.reg[0]] = Demand::Full;
    if (format(t.insn.opcode) == Format::RegRegOffset) demand[t.insn.reg[1]] = Demand::Full;
  } else if (t.kind != Terminator::Kind::Jump) {
    demand.fill(Demand::Full);
  }
  if (result_demand) result_demand->assign(block.ops.size(), Demand::Full);
  for (size_t i = block.ops.size(); i-- > 0;) {
    const Op& op = block.ops[i];
    const Effects e = effects(op);
    Demand out = Demand::None;
    for (int r = 0; r < kRegCount; ++r)
      if (e.writes & (1u << r)) out = std::max(out, demand[r]);
    if (result_demand) (*result_demand)[i] = out;
    for (int r = 0; r < kRegCount; ++r)
      if (e.writes & (1u << r)) demand[r] = Demand::None;
    const Opcode code = op.insn.opcode;
    const bool plain = op.kind == Op::Kind::Plain;
    const bool narrow_store = plain && (code == Opcode::store_indirect_u8 || code == Opcode::store_indirect_u16 ||
                                        code == Opcode::store_indirect_u32);
    if (narrow_store && op.insn.reg[0] != op.insn.reg[1]) {
      // A narrow store observes the low half of its value, and all of its address register.
      demand[op.insn.reg[0]] = std::max(demand[op.insn.reg[0]], Demand::Low32);
      demand[op.insn.reg[1]] = Demand::Full;
      continue;
    }
    const bool exact = plain && (e.writes & (e.writes - 1)) == 0;
    const Demand in = exact ? operand_demand(op.insn, out) : Demand::Full;
    for (int r = 0; r < kRegCount; ++r)
      if (e.reads & (1u << r)) demand[r] = std::max(demand[r], in);
  }
  return demand;
}

}  // namespace

std::vector<RegDemands> demands_after_blocks(const std::vector<Block>& blocks) {
  RegDemands full;
  full.fill(Demand::Full);
  RegDemands none;
  none.fill(Demand::None);

  // Only jumps and branches continue at known blocks; after anything else (a call, an indirect jump, a trap,
  // the end of code) the host or unknown code may observe every register.
  std::vector<std::vector<size_t>> successors(blocks.size());
  std::vector<bool> open(blocks.size(), false);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const Terminator& t = blocks[i].terminator;
    open[i] = t.kind != Terminator::Kind::Jump && t.kind != Terminator::Kind::Branch;
    if (open[i]) continue;
    for (const Location& next : t.successors()) {
      // The blocks are in order of their start.
      const auto it = std::lower_bound(blocks.begin(), blocks.end(), next,
                                       [](const Block& block, Location wanted) { return block.start < wanted; });
      if (it == blocks.end() || it->start != next) open[i] = true;
      else successors[i].push_back(static_cast<size_t>(it - blocks.begin()));
    }
  }

  // Backward dataflow to a fixed point; demands only grow, so this ends.
  std::vector<RegDemands> after(blocks.size(), none), entry(blocks.size(), none);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = blocks.size(); i-- > 0;) {
      RegDemands out = open[i] ? full : none;
      for (size_t s : successors[i])
        for (int r = 0; r < kRegCount; ++r) out[r] = std::max(out[r], entry[s][r]);
      after[i] = out;
      const RegDemands in = demand_at_entry(blocks[i], out, nullptr);
      if (in != entry[i]) {
        entry[i] = in;
        changed = true;
      }
    }
  }
  return after;
}

void fuse_rotates(Block& block, const RegDemands& after) {
  // Without Zbb a rotation is `(x >> n) | (x << (w - n))`. The 64-bit form is exactly rotate_right_imm_64. A
  // 32-bit rotation on RV64 is often spelled with a 64-bit left shift (its upper half is garbage that no one
  // reads), so its `or` becomes rotate_right_imm_32 where only the low half of the result is observed.
  const size_t n = block.ops.size();
  if (n < 3) return;
  std::vector<Demand> result_demand;
  demand_at_entry(block, after, &result_demand);

  // Forward: the op that last wrote each register, and a version count to see that `x` did not change.
  struct Def {
    size_t op = SIZE_MAX;
    uint32_t source_version = 0;  // the version of the shift's source register when it ran
  };
  std::array<Def, kRegCount> def;
  std::array<uint32_t, kRegCount> version{};
  std::array<bool, kRegCount> upper_zero{};  // the register's upper 32 bits are known to be zero
  for (size_t i = 0; i < n; ++i) {
    Op& op = block.ops[i];
    Instruction& insn = op.insn;
    if (op.kind == Op::Kind::Plain && insn.opcode == Opcode::or_ && insn.reg[1] != insn.reg[2]) {
      const Def& a = def[insn.reg[1]];
      const Def& b = def[insn.reg[2]];
      if (a.op != SIZE_MAX && b.op != SIZE_MAX) {
        const Instruction& sa = block.ops[a.op].insn;
        const Instruction& sb = block.ops[b.op].insn;
        const bool right_first = sa.opcode == Opcode::shift_logical_right_imm_32 ||
                                 sa.opcode == Opcode::shift_logical_right_imm_64;
        const Instruction& right = right_first ? sa : sb;
        const Instruction& left = right_first ? sb : sa;
        const Def& right_def = right_first ? a : b;
        const Def& left_def = right_first ? b : a;
        const uint8_t x = right.reg[1];
        const bool same_source = left.reg[1] == x && right_def.source_version == version[x] &&
                                 left_def.source_version == version[x] && x != insn.reg[1] && x != insn.reg[2];
        const uint32_t amount = right.imm[0];
        std::optional<Opcode> rotate;
        if (same_source && amount > 0) {
          const bool left32 = left.opcode == Opcode::shift_logical_left_imm_32;
          const bool left64 = left.opcode == Opcode::shift_logical_left_imm_64;
          const bool right64 = right.opcode == Opcode::shift_logical_right_imm_64;
          // The right shift gives lo32(x) >> n with a zero upper half: a 32-bit shift, or a 64-bit one of an x
          // whose upper half is zero.
          const bool right32 = right.opcode == Opcode::shift_logical_right_imm_32 || (right64 && upper_zero[x]);
          if (right64 && left64 && amount < 64 && left.imm[0] == 64 - amount) {
            rotate = Opcode::rotate_right_imm_64;
          } else if (right32 && (left32 || left64) && amount < 32 && left.imm[0] == 32 - amount &&
                     (left32 || result_demand[i] != Demand::Full)) {
            // With a 32-bit left shift the `or` is exactly the sign-extended rotation (the left half carries
            // the sign, the right half's upper bits are zero). With a 64-bit one only the low half agrees.
            rotate = Opcode::rotate_right_imm_32;
          }
        }
        if (rotate) {
          insn.opcode = *rotate;
          insn.reg[1] = x;
          insn.reg[2] = 0;
          insn.imm[0] = amount;
        }
      }
    }
    const Effects e = effects(op);
    for (int r = 0; r < kRegCount; ++r) {
      if (!(e.writes & (1u << r))) continue;
      ++version[r];
      def[r] = {};
      upper_zero[r] = op.kind == Op::Kind::Plain && insn.reg[0] == r && writes_upper_zero(insn);
      const bool shift = op.kind == Op::Kind::Plain && format(insn.opcode) == Format::RegRegImm &&
                         insn.reg[0] == r && insn.reg[1] != r;
      if (shift) def[r] = {i, version[insn.reg[1]]};
    }
  }
}

void fuse_inverted_and(Block& block) {
  // Without Zbb, `y & ~x` is `t = x ^ -1; d = t & y`. The `and` becomes and_inverted (x86 andn) reading x
  // itself, as long as x has not changed since the `not`; the `not` then goes with the dead-op removal when
  // nothing else reads t.
  std::array<size_t, kRegCount> not_op;  // the `not` that last wrote each register, or SIZE_MAX
  not_op.fill(SIZE_MAX);
  std::array<uint32_t, kRegCount> not_source_version{};  // the version of its source when it ran
  std::array<uint32_t, kRegCount> version{};
  for (size_t i = 0; i < block.ops.size(); ++i) {
    Op& op = block.ops[i];
    Instruction& insn = op.insn;
    if (op.kind == Op::Kind::Plain && insn.opcode == Opcode::and_ && insn.reg[1] != insn.reg[2]) {
      for (int side = 1; side <= 2; ++side) {
        const uint8_t t = insn.reg[side];
        if (not_op[t] == SIZE_MAX) continue;
        const uint8_t x = block.ops[not_op[t]].insn.reg[1];
        if (version[x] != not_source_version[t]) continue;
        insn.opcode = Opcode::and_inverted;
        insn.reg[1] = insn.reg[3 - side];
        insn.reg[2] = x;
        break;
      }
    }
    const Effects e = effects(op);
    for (int r = 0; r < kRegCount; ++r) {
      if (!(e.writes & (1u << r))) continue;
      ++version[r];
      not_op[r] = SIZE_MAX;
      const bool is_not = op.kind == Op::Kind::Plain && insn.opcode == Opcode::xor_imm && insn.imm[0] == 0xFFFFFFFFu &&
                          insn.reg[0] == r && insn.reg[1] != r;
      if (is_not) {
        not_op[r] = i;
        not_source_version[r] = version[insn.reg[1]];
      }
    }
  }
}

void widen_narrow_ops(Block& block, const RegDemands& after) {
  // On a 64-bit machine a 32-bit operation also sign-extends its result (a `movsxd` on x86-64). Where only
  // the low half of the result is observed, the 64-bit operation gives the same low half for less.
  std::vector<Demand> result_demand;
  demand_at_entry(block, after, &result_demand);
  for (size_t i = 0; i < block.ops.size(); ++i) {
    Op& op = block.ops[i];
    if (op.kind != Op::Kind::Plain || result_demand[i] == Demand::Full) continue;
    Instruction& insn = op.insn;
    using O = Opcode;
    switch (insn.opcode) {
      case O::add_32: insn.opcode = O::add_64; break;
      case O::sub_32: insn.opcode = O::sub_64; break;
      case O::mul_32: insn.opcode = O::mul_64; break;
      case O::add_imm_32: insn.opcode = O::add_imm_64; break;
      case O::mul_imm_32: insn.opcode = O::mul_imm_64; break;
      case O::negate_and_add_imm_32: insn.opcode = O::negate_and_add_imm_64; break;
      case O::shift_logical_left_imm_32:  // the 32-bit shift takes its amount modulo 32, the 64-bit one modulo 64
        if (insn.imm[0] < 32) insn.opcode = O::shift_logical_left_imm_64;
        break;
      default: break;
    }
  }
}

void fuse_address_load_and_jump(Block& block, const std::function<bool(Location)>& is_code) {
  if (block.ops.empty() || block.terminator.kind != Terminator::Kind::Jump) return;
  const Op& last = block.ops.back();
  if (last.kind != Op::Kind::LoadAddress || !is_code(last.target)) return;
  // The loaded address is code: `rX = <address of T>; jump U` is exactly `load_imm_and_jump rX, T, U`, the
  // shape of a call returning to T. Data addresses keep their load (the call form takes a code address).
  Terminator call;
  call.kind = Terminator::Kind::Call;
  call.insn.opcode = Opcode::load_imm_and_jump;
  call.insn.valid = true;
  call.insn.reg[0] = last.insn.reg[0];
  call.target = block.terminator.target;
  call.next = last.target;
  call.at = block.terminator.at;
  block.terminator = call;
  block.ops.pop_back();
}

}  // namespace polkavm::linker
