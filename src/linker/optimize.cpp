// Block-local constant folding and dead constant-load removal; address-load + jump fusion.
//
// The folder evaluates an instruction only when it is in the table below, with the VM's own semantics
// (src/interpreter/handlers.inc, the reference interpreter's): 32-bit operations sign-extend their result, and
// on Latest32 every register value is kept sign-extended from 32 bits, which makes the same formulas hold for
// 32-bit registers. Anything not in the table makes its destination unknown; anything whose effect on
// registers is not known (an ecalli, memset) forgets every register.
#include "linker/optimize.hpp"

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
