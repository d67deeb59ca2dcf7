// The reference's "full" gas cost model: a basic block costs the cycles an out-of-order core needs to
// run it, minus a small slack. The core decodes 4 slots per cycle into a 32-entry reorder buffer (ROB);
// an entry waits for the entries producing its source registers, starts when its execution units are
// free (at most 5 starts per cycle), runs for its latency, and retires in order. The block ends by
// draining the ROB. Every rule below (including when idle cycles are skipped) mirrors
// crates/polkavm-common/src/simulator.rs of the reference so that costs match bit for bit.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

#include "polkavm/gas.hpp"

namespace polkavm {

namespace {

constexpr uint32_t kDecodeWidth = 4;
constexpr uint32_t kRobSize = 32;
constexpr uint32_t kMaxStartsPerCycle = 5;
constexpr uint32_t kGasCostSlack = 3;  // cycles refunded per block

constexpr int8_t kStoreLatency = 25;
constexpr int8_t kBranchHitLatency = 1;
constexpr int8_t kBranchMissLatency = 20;

// ---- Execution units ------------------------------------------------------------------------------
// Unit counts are packed one per nibble: three value bits and a guard bit, so `free - need` leaves every
// guard bit set exactly when each unit has enough capacity.
enum Unit : uint32_t { kAlu, kLoad, kStore, kMul, kDiv };
constexpr uint32_t units(Unit unit, uint32_t count = 1) { return count << (4 * unit); }
constexpr uint32_t kGuardBits = 0x88888;
constexpr uint32_t kAllUnitsFree =
    kGuardBits | units(kAlu, 4) | units(kLoad, 4) | units(kStore, 4) | units(kMul, 1) | units(kDiv, 1);
constexpr bool fits(uint32_t free, uint32_t need) { return ((free - need) & kGuardBits) == kGuardBits; }

// ---- Per-opcode costs -----------------------------------------------------------------------------
enum class Latency : uint8_t { Fixed, Memory, Branch };
// Extra decode slot when the destination differs from the sources (the native code needs a move).
enum class MoveRule : uint8_t { None, DstNotSrcA, DstNotAnySrc };

// Which Instruction::reg[] operands the pipeline tracks; -1 = none.
struct Operands {
  int8_t dst = -1, src_a = -1, src_b = -1;
};
constexpr Operands kNoRegs{};
constexpr Operands kDst{0, -1, -1};
constexpr Operands kSrc{-1, 0, -1};
constexpr Operands kSrcSrc{-1, 0, 1};
constexpr Operands kDstSrc{0, 1, -1};
constexpr Operands kDstSrcSrc{0, 1, 2};

struct OpCost {
  Operands regs;
  int8_t latency = 0;
  uint8_t slots = 1;  // decode slots
  uint32_t units = 0;
  MoveRule move_rule = MoveRule::None;
  Latency latency_kind = Latency::Fixed;
  bool narrow = false;   // 32-bit result: one more cycle and decode slot on 64-bit ISAs (sign extension)
  bool is_move = false;  // register renaming only: no ROB entry
};

constexpr OpCost op(Operands regs, int latency, int slots, uint32_t unit_need = 0, MoveRule rule = MoveRule::None) {
  return {regs, static_cast<int8_t>(latency), static_cast<uint8_t>(slots), unit_need, rule};
}
constexpr OpCost narrowed(OpCost cost) {
  cost.narrow = true;
  return cost;
}
constexpr OpCost with_latency(OpCost cost, Latency kind) {
  cost.latency_kind = kind;
  return cost;
}
constexpr OpCost with_regs(OpCost cost, Operands regs) {
  cost.regs = regs;
  return cost;
}

constexpr OpCost op_cost(Opcode opcode) {
  using enum Opcode;
  using enum MoveRule;
  constexpr uint32_t alu = units(kAlu);
  constexpr uint32_t alu_mul = units(kAlu) | units(kMul);
  constexpr OpCost memory_load = with_latency(op(kDst, 0, 1, units(kAlu) | units(kLoad)), Latency::Memory);
  constexpr uint32_t alu_store = units(kAlu) | units(kStore);
  constexpr OpCost branch = with_latency(op(kSrcSrc, 0, 1, alu), Latency::Branch);
  switch (opcode) {
    case xor_: case and_: case or_: case add_64: case sub_64:
      return op(kDstSrcSrc, 1, 1, alu, DstNotAnySrc);
    case add_32: case sub_32:
      return narrowed(op(kDstSrcSrc, 1, 1, alu, DstNotAnySrc));
    case xor_imm: case and_imm: case or_imm: case add_imm_64: case shift_logical_right_imm_64:
    case shift_arithmetic_right_imm_64: case shift_logical_left_imm_64: case rotate_right_imm_64: case reverse_byte:
      return op(kDstSrc, 1, 1, alu, DstNotSrcA);
    case add_imm_32: case shift_logical_right_imm_32: case shift_arithmetic_right_imm_32:
    case shift_logical_left_imm_32: case rotate_right_imm_32:
      return narrowed(op(kDstSrc, 1, 1, alu, DstNotSrcA));
    case count_leading_zero_bits_32: case count_leading_zero_bits_64: case count_set_bits_32:
    case count_set_bits_64: case sign_extend_8: case sign_extend_16: case zero_extend_16:
      return op(kDstSrc, 1, 1, alu);
    case count_trailing_zero_bits_32: case count_trailing_zero_bits_64:
      return op(kDstSrc, 2, 1, units(kAlu, 2));
    case shift_logical_right_64: case shift_arithmetic_right_64: case shift_logical_left_64: case rotate_left_64:
    case rotate_right_64:
      return op(kDstSrcSrc, 1, 2, alu, DstNotSrcA);
    case shift_logical_right_32: case shift_arithmetic_right_32: case shift_logical_left_32: case rotate_left_32:
    case rotate_right_32:
      return narrowed(op(kDstSrcSrc, 1, 2, alu, DstNotSrcA));
    case shift_logical_right_imm_alt_64: case shift_arithmetic_right_imm_alt_64: case shift_logical_left_imm_alt_64:
    case rotate_right_imm_alt_64:
      return op(kDstSrc, 1, 3, alu);
    case shift_logical_right_imm_alt_32: case shift_arithmetic_right_imm_alt_32: case shift_logical_left_imm_alt_32:
    case rotate_right_imm_alt_32:
      return op(kDstSrc, 2, 4, alu);
    case set_less_than_unsigned: case set_less_than_signed:
      return op(kDstSrcSrc, 3, 3, alu);
    case set_less_than_unsigned_imm: case set_less_than_signed_imm: case set_greater_than_unsigned_imm:
    case set_greater_than_signed_imm:
      return op(kDstSrc, 3, 3, alu);
    case cmov_if_zero: case cmov_if_not_zero:
      return op(kDstSrcSrc, 2, 2, alu);
    case cmov_if_zero_imm: case cmov_if_not_zero_imm:
      return op(kDstSrc, 2, 3, alu);
    case maximum: case maximum_unsigned: case minimum: case minimum_unsigned:
      return op(kDstSrcSrc, 3, 2, alu, DstNotAnySrc);
    case and_inverted: case or_inverted:
      return op(kDstSrcSrc, 2, 3, alu);
    case xnor:
      return op(kDstSrcSrc, 2, 2, alu, DstNotAnySrc);
    case negate_and_add_imm_64:
      return op(kDstSrc, 2, 3, alu);
    case negate_and_add_imm_32:
      return op(kDstSrc, 3, 4, alu);
    case div_unsigned_32: case div_signed_32: case rem_unsigned_32: case rem_signed_32: case div_unsigned_64:
    case div_signed_64: case rem_unsigned_64: case rem_signed_64:
      return op(kDstSrcSrc, 60, 4, units(kAlu) | units(kDiv));
    case mul_32:
      return op(kDstSrcSrc, 4, 2, alu_mul, DstNotAnySrc);
    case mul_64:
      return op(kDstSrcSrc, 3, 1, alu_mul, DstNotAnySrc);
    case mul_imm_32:
      return op(kDstSrc, 4, 2, alu_mul, DstNotSrcA);
    case mul_imm_64:
      return op(kDstSrc, 3, 1, alu_mul, DstNotSrcA);
    case mul_upper_signed_signed: case mul_upper_unsigned_unsigned:
      return op(kDstSrcSrc, 4, 4, alu_mul);
    case mul_upper_signed_unsigned:
      return op(kDstSrcSrc, 6, 4, alu_mul);
    case load_imm:
      return op(kDst, 1, 1);
    case load_imm64:
      return op(kDst, 1, 2);
    case move_reg: {
      OpCost rename = op(kDstSrc, 0, 1);
      rename.is_move = true;
      return rename;
    }
    case load_u8: case load_i8: case load_u16: case load_i16: case load_u32: case load_i32: case load_u64:
      return memory_load;
    case load_indirect_u8: case load_indirect_i8: case load_indirect_u16: case load_indirect_i16:
    case load_indirect_u32: case load_indirect_i32: case load_indirect_u64:
      return with_regs(memory_load, kDstSrc);
    case store_imm_u8: case store_imm_u16: case store_imm_u32: case store_imm_u64:
      return op(kNoRegs, kStoreLatency, 1, alu_store);
    case store_u8: case store_u16: case store_u32: case store_u64:  // the value register
    case store_imm_indirect_u8: case store_imm_indirect_u16: case store_imm_indirect_u32:
    case store_imm_indirect_u64:  // the base register
      return op(kSrc, kStoreLatency, 1, alu_store);
    case store_indirect_u8: case store_indirect_u16: case store_indirect_u32: case store_indirect_u64:
      return op(kSrcSrc, kStoreLatency, 1, alu_store);
    case branch_eq: case branch_not_eq: case branch_less_unsigned: case branch_less_signed:
    case branch_greater_or_equal_unsigned: case branch_greater_or_equal_signed:
      return branch;
    case branch_eq_imm: case branch_not_eq_imm: case branch_less_unsigned_imm: case branch_less_signed_imm:
    case branch_greater_or_equal_unsigned_imm: case branch_greater_or_equal_signed_imm:
    case branch_less_or_equal_unsigned_imm: case branch_less_or_equal_signed_imm: case branch_greater_unsigned_imm:
    case branch_greater_signed_imm:
      return with_regs(branch, kSrc);
    case trap: case fallthrough:
      return op(kNoRegs, 2, 1);
    case jump: case load_imm_and_jump:  // the return address write is not modelled
      return op(kNoRegs, 15, 1);
    case jump_indirect:
      return op(kSrc, 22, 1);
    case load_imm_and_jump_indirect:  // reg[1] is the base
      return op(Operands{-1, 1, -1}, 22, 1);
    case unlikely:
      return op(kNoRegs, 40, 1);
    case ecalli: case memset:  // registers used by the host call / memset are not modelled
      return op(kNoRegs, 100, 4, alu);
    case sbrk:
      return op(kDstSrc, 100, 4, alu);
  }
  return {};
}

constexpr auto kOpCosts = [] {
  std::array<OpCost, kOpcodeCount> table{};
  for (size_t i = 0; i < table.size(); ++i) table[i] = op_cost(static_cast<Opcode>(i));
  return table;
}();

// What an invalid instruction (including the implicit one past the end of code) costs: like a trap.
constexpr OpCost kInvalidCost = op(kNoRegs, 2, 1);

// ---- The pipeline ---------------------------------------------------------------------------------
struct PipelineParams {
  int8_t load_latency;
  bool is_64_bit;
  std::span<const uint8_t> code;  // for static branch prediction
  uint8_t trap_byte;
  uint8_t unlikely_byte;
};

constexpr int8_t load_latency(CacheModel cache) {
  switch (cache) {
    case CacheModel::L1Hit: return 4;
    case CacheModel::L2Hit: return 25;
    case CacheModel::L3Hit: return 37;
  }
  return 25;
}

// The reference compares against 255 (a byte no instruction set uses) when `op` is absent, so a 255
// byte in the code then counts as `unlikely`.
constexpr uint8_t opcode_byte(InstructionSet isa, Opcode op) {
  const int number = opcode_number(isa, op);
  return number >= 0 ? static_cast<uint8_t>(number) : 255;
}

constexpr uint32_t slot_bit(uint32_t slot) { return 1u << slot; }

/// Sets of ROB slots keyed by a cycle modulo 128, with an occupancy bitmap to find the next non-empty
/// key. Every pending key lies less than 128 cycles ahead (latencies are at most 100), so keys never alias.
class CycleWheel {
 public:
  static constexpr uint32_t kSize = 128;

  void add(uint64_t cycle, uint32_t slots) {
    const uint32_t key = static_cast<uint32_t>(cycle % kSize);
    slots_[key] |= slots;
    occupied_[key / 64] |= uint64_t{1} << (key % 64);
  }
  uint32_t at(uint64_t cycle) const { return slots_[cycle % kSize]; }
  /// Removes and returns the slots at `cycle`.
  uint32_t take(uint64_t cycle) {
    const uint32_t key = static_cast<uint32_t>(cycle % kSize);
    const uint32_t slots = slots_[key];
    slots_[key] = 0;
    occupied_[key / 64] &= ~(uint64_t{1} << (key % 64));
    return slots;
  }
  /// How many cycles from `cycle` to the next non-empty key (the wheel must not be empty).
  uint32_t distance_to_next(uint64_t cycle) const {
    const uint32_t from = static_cast<uint32_t>(cycle % kSize);
    const uint32_t word = from / 64;
    const uint32_t bit = from % 64;
    uint32_t key;
    if (const uint64_t ahead = occupied_[word] >> bit; ahead != 0) {
      key = from + static_cast<uint32_t>(std::countr_zero(ahead));
    } else if (const uint64_t other = occupied_[word ^ 1]; other != 0) {
      key = (word ^ 1) * 64 + static_cast<uint32_t>(std::countr_zero(other));
    } else {
      key = word * 64 + static_cast<uint32_t>(std::countr_zero(occupied_[word]));
    }
    return (key - from) % kSize;
  }

 private:
  std::array<uint32_t, kSize> slots_{};
  std::array<uint64_t, kSize / 64> occupied_{};
};

/// One block's simulation. All state is fixed-size; nothing allocates. Each cycle ("tick") costs O(1)
/// plus the work of the entries that change state in it: executing entries are not counted down but
/// filed under the cycle in which they complete.
class Pipeline {
 public:
  explicit Pipeline(const PipelineParams& params) : params_(params) { producer_.fill(-1); }

  /// Feeds one instruction; returns true when it ended the block (the ROB has been drained).
  bool feed(const Instruction& insn);
  /// max(cycles - 3, 1); saturates where the reference's u32 cycle counter would wrap (only blocks of
  /// tens of millions of divisions get there).
  uint32_t cost() const {
    const uint64_t cycles = std::max<uint64_t>(cycles_, kGasCostSlack + 1);
    return static_cast<uint32_t>(std::min<uint64_t>(cycles - kGasCostSlack, UINT32_MAX));
  }

 private:
  // Entry states; every ROB slot is in at most one of these sets.
  uint32_t decoding_ = 0, waiting_ = 0, executing_ = 0, executed_ = 0;
  uint32_t blocked_ = 0;  // entries with a non-empty deps_ (still waiting for an input)
  uint32_t head_ = 0, tail_ = 0, in_flight_ = 0;
  uint64_t cycles_ = 0;
  uint32_t decode_slots_ = kDecodeWidth;
  uint32_t free_units_ = kAllUnitsFree;
  std::array<uint32_t, kRobSize> deps_{};        // ROB slots an entry still waits for
  std::array<uint32_t, kRobSize> dependents_{};  // ROB slots waiting for an entry
  std::array<uint32_t, kRobSize> need_units_{};
  std::array<uint16_t, kRobSize> writes_{};  // registers whose latest value the entry produces
  std::array<int8_t, kRobSize> latency_{};
  std::array<int8_t, kRegCount> producer_{};  // ROB slot producing the register, -1 when ready
  // An entry started in cycle c with latency L produces its result at the end of cycle c + L - 1 (its
  // remaining count reaches 0) and leaves the execution stage one cycle later; it is filed under c + L.
  CycleWheel completions_;
  PipelineParams params_;

  void dispatch(const Instruction& insn, const OpCost& cost, int8_t latency, uint32_t slots);
  void rename(const Instruction& insn);
  int8_t branch_latency(const Instruction& insn) const;
  bool is_predicted_cold(uint32_t pc) const;
  void make_room();
  void drain();
  void tick(bool decoded_pending, bool draining);
  uint32_t retire();
  void start_ready();
  void finish_execution(uint32_t finished);
};

bool Pipeline::feed(const Instruction& insn) {
  const OpCost& cost = insn.valid ? kOpCosts[static_cast<size_t>(insn.opcode)] : kInvalidCost;
  if (cost.is_move) {
    rename(insn);
    return false;
  }
  const bool widen = cost.narrow && params_.is_64_bit;
  uint32_t slots = cost.slots + widen;
  if (cost.move_rule != MoveRule::None) {
    const uint8_t dst = insn.reg[cost.regs.dst];
    const bool differs_a = dst != insn.reg[cost.regs.src_a];
    const bool differs_b =
        cost.move_rule == MoveRule::DstNotSrcA || cost.regs.src_b < 0 || dst != insn.reg[cost.regs.src_b];
    slots += differs_a && differs_b;
  }
  int8_t latency = static_cast<int8_t>(cost.latency + widen);
  if (cost.latency_kind == Latency::Memory) latency = params_.load_latency;
  if (cost.latency_kind == Latency::Branch) latency = branch_latency(insn);

  dispatch(insn, cost, latency, slots);
  if (insn.valid && !ends_block(insn.opcode)) return false;
  drain();
  return true;
}

void Pipeline::dispatch(const Instruction& insn, const OpCost& cost, int8_t latency, uint32_t slots) {
  if (decode_slots_ < slots || in_flight_ == kRobSize) make_room();

  const uint32_t slot = tail_;
  tail_ = (tail_ + 1) % kRobSize;
  latency_[slot] = latency;
  need_units_[slot] = cost.units;
  uint32_t deps = 0;
  for (const int8_t src : {cost.regs.src_a, cost.regs.src_b})
    if (src >= 0)
      if (const int8_t producer = producer_[insn.reg[src]]; producer >= 0) {
        deps |= slot_bit(producer);
        dependents_[producer] |= slot_bit(slot);
      }
  deps_[slot] = deps;
  if (deps != 0) blocked_ |= slot_bit(slot);
  if (cost.regs.dst >= 0) {
    const uint8_t dst = insn.reg[cost.regs.dst];
    if (const int8_t old = producer_[dst]; old >= 0) writes_[old] &= ~(1u << dst);
    writes_[slot] |= 1u << dst;
    producer_[dst] = static_cast<int8_t>(slot);
  }
  decoding_ |= slot_bit(slot);
  ++in_flight_;
  decode_slots_ -= slots;
}

// A register move only renames: the destination takes over the source's producer.
void Pipeline::rename(const Instruction& insn) {
  if (decode_slots_ < 1 || in_flight_ == kRobSize) make_room();
  const uint8_t dst = insn.reg[0];
  const uint8_t src = insn.reg[1];
  if (const int8_t old = producer_[dst]; old >= 0) writes_[old] &= ~(1u << dst);
  const int8_t producer = producer_[src];
  if (producer >= 0) writes_[producer] |= 1u << dst;
  producer_[dst] = producer;
  decode_slots_ -= 1;
}

// Static prediction: a branch whose fall-through or target starts with `unlikely` or `trap` (or lies
// outside the code) is assumed predicted. The bytes are compared raw, without consulting the bitmask.
int8_t Pipeline::branch_latency(const Instruction& insn) const {
  return is_predicted_cold(insn.next_pc()) || is_predicted_cold(insn.target) ? kBranchHitLatency : kBranchMissLatency;
}

bool Pipeline::is_predicted_cold(uint32_t pc) const {
  if (pc >= params_.code.size()) return true;
  const uint8_t byte = params_.code[pc];
  return byte == params_.trap_byte || byte == params_.unlikely_byte;
}

// The decoder stalls: advance until a full decode group is free and the ROB has a free entry.
void Pipeline::make_room() {
  tick(/*decoded_pending=*/true, /*draining=*/false);
  while (in_flight_ > kRobSize - 1) tick(false, false);
}

void Pipeline::drain() {
  tick(/*decoded_pending=*/true, /*draining=*/true);
  while (in_flight_ > 0) tick(false, true);
}

void Pipeline::tick(bool decoded_pending, bool draining) {
  const uint32_t retired = retire();
  start_ready();

  // With nothing being decoded, skip ahead to the first cycle in which an executing entry completes, as the
  // reference does (only while draining or when nothing retired). Skipped cycles start no waiting entries,
  // so the rule is kept exactly as it is rather than skipping whenever possible.
  uint32_t cycle_count = 1;
  if (!decoded_pending && (draining || retired == 0) && executing_ != 0)
    cycle_count = std::max(completions_.distance_to_next(cycles_), 1u);

  // Entries whose result appeared last cycle leave the execution stage; this cycle's results appear.
  // (Skipping never passes over either event: it stops at the first completion.)
  const uint32_t done = completions_.take(cycles_);
  executing_ &= ~done;
  executed_ |= done;
  if (const uint32_t finished = completions_.at(cycles_ + cycle_count); finished != 0) finish_execution(finished);

  if (decoded_pending) {
    waiting_ |= decoding_;
    decoding_ = 0;
    decode_slots_ = kDecodeWidth;
  }
  cycles_ += cycle_count;
}

// Retires the executed entries at the head of the ROB, in order; returns how many.
uint32_t Pipeline::retire() {
  const uint32_t count = static_cast<uint32_t>(std::countr_one(std::rotr(executed_, static_cast<int>(head_))));
  if (count == 0) return 0;
  const uint32_t run = count == kRobSize ? ~0u : (1u << count) - 1;
  executed_ &= ~std::rotl(run, static_cast<int>(head_));
  in_flight_ -= count;
  head_ = (head_ + count) % kRobSize;
  return count;
}

// Starts, oldest first, up to 5 waiting entries whose inputs are ready and whose units are free. An
// entry that does not fit is skipped, not waited for.
void Pipeline::start_ready() {
  const uint32_t ready = waiting_ & ~blocked_;
  uint32_t started = 0;
  uint32_t count = 0;
  for (uint32_t order = std::rotr(ready, static_cast<int>(head_)); order != 0 && count < kMaxStartsPerCycle;
       order &= order - 1) {
    const uint32_t slot = (static_cast<uint32_t>(std::countr_zero(order)) + head_) % kRobSize;
    if (!fits(free_units_, need_units_[slot])) continue;
    free_units_ -= need_units_[slot];
    started |= slot_bit(slot);
    completions_.add(cycles_ + static_cast<uint32_t>(latency_[slot]), slot_bit(slot));
    ++count;
  }
  waiting_ &= ~started;
  executing_ |= started;
}

// Results are available: wake dependants, mark the registers ready and free the units.
void Pipeline::finish_execution(uint32_t finished) {
  for (uint32_t set = finished; set != 0; set &= set - 1) {
    const uint32_t slot = static_cast<uint32_t>(std::countr_zero(set));
    for (uint32_t waiters = dependents_[slot]; waiters != 0; waiters &= waiters - 1) {
      const uint32_t waiter = static_cast<uint32_t>(std::countr_zero(waiters));
      if ((deps_[waiter] &= ~slot_bit(slot)) == 0) blocked_ &= ~slot_bit(waiter);
    }
    dependents_[slot] = 0;
    for (uint32_t regs = writes_[slot]; regs != 0; regs &= regs - 1) producer_[std::countr_zero(regs)] = -1;
    writes_[slot] = 0;
    free_units_ += need_units_[slot];
  }
}

class FullGasModel final : public GasModel {
 public:
  explicit FullGasModel(CacheModel cache) : load_latency_(load_latency(cache)) {}

  uint32_t block_cost(const CodeView& code, std::span<const Instruction> block) const override {
    const PipelineParams params{load_latency_, is_64_bit(code.isa()), code.code(),
                                opcode_byte(code.isa(), Opcode::trap), opcode_byte(code.isa(), Opcode::unlikely)};
    Pipeline pipeline(params);
    for (const Instruction& insn : block)
      if (pipeline.feed(insn)) return pipeline.cost();
    // A block that does not end in a terminator runs into the implicit trap at the end of code.
    pipeline.feed(Instruction{});
    return pipeline.cost();
  }

 private:
  int8_t load_latency_;
};

}  // namespace

std::shared_ptr<const GasModel> make_full_gas_model(CacheModel cache) {
  return std::make_shared<FullGasModel>(cache);
}

}  // namespace polkavm
