// The interpreter backend.
//
// Code is translated lazily, one chain of basic blocks at a time, into a flat vector of 16-byte Ops with
// operands already unpacked. Blocks that fall through into each other are laid out back to back, so a
// not-taken branch is just the next op. With gas metering, the first op of each block is the "charged"
// variant of its handler, which pays for the whole block before running its own instruction, so charging
// costs no extra dispatch. An add that feeds the branch closing its block is fused with it. Step tracing
// adds a step op before every instruction (and turns fusion off), so the hot loop never pays for it.
// Handler bodies live in handlers.inc and are compiled under one of three dispatch modes: computed goto
// (GCC/Clang), tail calls with [[clang::musttail]], or a portable switch.
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "polkavm/code.hpp"
#include "runtime/backend.hpp"
#include "runtime/huge_pages.hpp"

#if !defined(POLKAVM_DISPATCH_GOTO) && !defined(POLKAVM_DISPATCH_MUSTTAIL) && !defined(POLKAVM_DISPATCH_SWITCH)
#if defined(__GNUC__)
#define POLKAVM_DISPATCH_GOTO 1
#else
#define POLKAVM_DISPATCH_SWITCH 1
#endif
#endif

#if defined(POLKAVM_DISPATCH_MUSTTAIL) && !(defined(__clang__) && __clang_major__ >= 13)
#error "musttail dispatch needs clang"
#endif

#define POLKAVM_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace polkavm::detail {
namespace {

// An add that feeds the two-register branch closing its block (a loop counter and its test) runs as one
// fused op: `alu##__##branch`.
#define POLKAVM_FUSED_WITH(X, alu)          \
  X(alu##__branch_eq)                       \
  X(alu##__branch_not_eq)                   \
  X(alu##__branch_less_unsigned)            \
  X(alu##__branch_less_signed)              \
  X(alu##__branch_greater_or_equal_unsigned) \
  X(alu##__branch_greater_or_equal_signed)

// Ops that are not ISA instructions (or are width-specific variants or fusions of some).
#define POLKAVM_INTERNAL_HANDLERS(X)      \
  X(charge_gas)                           \
  X(step)                                 \
  X(resolve)                              \
  X(reverse_byte_32)                      \
  X(mul_upper_signed_signed_32)           \
  X(mul_upper_unsigned_unsigned_32)       \
  X(mul_upper_signed_unsigned_32)         \
  POLKAVM_FUSED_WITH(X, add_imm_64)       \
  POLKAVM_FUSED_WITH(X, add_imm_32)       \
  POLKAVM_FUSED_WITH(X, add_64)

enum Handler : uint16_t {
#define X(name, ...) H_##name,
#include "polkavm/isa_table.def"
#undef X
#define X(name) H_##name,
  POLKAVM_INTERNAL_HANDLERS(X)
#undef X
  kHandlerCount
};
// Handler ids from kHandlerCount on are the charged variants: charge Op::cost, then run handler id - kHandlerCount.
constexpr uint16_t kChargedHandlerCount = 2 * kHandlerCount;
constexpr uint16_t uncharged_id(uint16_t id) { return id >= kHandlerCount ? id - kHandlerCount : id; }
constexpr uint32_t kMaxFoldedCost = UINT16_MAX;  // larger block costs get a separate charge_gas op

constexpr Handler handler_for(Opcode op) { return static_cast<Handler>(op); }

struct Op {
  uint16_t handler;
  uint8_t a, b;
  uint8_t c, d;
  uint16_t cost;  // charged variants: the gas of the block this op starts
  uint32_t imm;
  uint32_t target;
};
static_assert(sizeof(Op) == 16);

constexpr uint32_t kNone = UINT32_MAX;

inline uint32_t u32(uint64_t v) { return static_cast<uint32_t>(v); }
inline uint64_t u64(int64_t v) { return static_cast<uint64_t>(v); }
inline int32_t i32(uint32_t v) { return static_cast<int32_t>(v); }
inline int64_t i64(uint64_t v) { return static_cast<int64_t>(v); }
/// Sign-extends a 32-bit value to 64 bits (how 32-bit results and immediates land in registers).
inline uint64_t sx(uint32_t v) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v))); }
template <class T>
inline auto widen(T v) {
  if constexpr (std::is_signed_v<T>) return static_cast<int64_t>(v);
  else return static_cast<uint64_t>(v);
}

// Division never faults: the reference defines every case (crates/polkavm-common/src/operation.rs).
template <class U>
inline U divu(U x, U y) { return y == 0 ? ~U(0) : x / y; }
template <class U>
inline U remu(U x, U y) { return y == 0 ? x : x % y; }
template <class S>
inline S divs(S x, S y) {
  if (y == 0) return -1;
  if (x == std::numeric_limits<S>::min() && y == -1) return x;
  return x / y;
}
template <class S>
inline S rems(S x, S y) {
  if (y == 0) return x;
  if (x == std::numeric_limits<S>::min() && y == -1) return 0;
  return x % y;
}

class Interpreter;

#if defined(POLKAVM_DISPATCH_MUSTTAIL)
#define POLKAVM_HANDLER_ARGS Interpreter *self, const Op *op, uint64_t *regs, uint8_t *mem
// Handlers only tail-call each other, so no register needs saving across them.
#if __has_attribute(preserve_none)
#define POLKAVM_HANDLER_CC __attribute__((preserve_none))
#else
#define POLKAVM_HANDLER_CC
#endif
using HandlerFn = Interrupt(POLKAVM_HANDLER_CC*)(POLKAVM_HANDLER_ARGS);
#endif

class Interpreter final : public InstanceBackend {
 public:
  explicit Interpreter(std::shared_ptr<const ModuleState> module)
      : module_(std::move(module)),
        code_(module_->blob),
        is_64_bit_(module_->blob.is_64_bit()),
        gas_metering_(module_->gas_metering != GasMeteringKind::None) {}

  /// Creates the instance's guest memory, in this process.
  Result<void> init() {
    Result<std::unique_ptr<GuestMemory>> memory =
        GuestMemory::create(module_->memory_map, module_->blob, module_->config.dynamic_paging);
    if (!memory) return memory.error();
    InstanceBackend::memory_ = std::move(memory).value();
    InstanceBackend::state_.step_tracing = module_->config.step_tracing;
    return {};
  }

  // The hot paths reach the state and memory through the pointers below, set by run(state, memory).
  Result<Interrupt> run() override {
    Interrupt interrupt = run(InstanceBackend::state_, *InstanceBackend::memory_);
    if (POLKAVM_UNLIKELY(error_.has_value())) return *std::exchange(error_, std::nullopt);
    return interrupt;
  }
  void invalidate() override {
    drop_translations();
    resume_ = kNone;  // run() finds its way back from the next program counter
  }

  size_t translation_bytes() const override { return ops_.size() * kBytesPerOp; }

  Result<void> set_translation_cache_limit(std::optional<size_t> max_bytes) override {
    if (max_bytes && *max_bytes / kBytesPerOp < kMinCacheOps)
      return Error(fmt::format("an interpreter cache limit of {} bytes is too small (at least {})", *max_bytes,
                               kMinCacheOps * kBytesPerOp),
                   ErrorKind::InvalidArgument);
    cache_limit_ops_ = max_bytes ? *max_bytes / kBytesPerOp : SIZE_MAX;
    return {};
  }

 private:
#if defined(POLKAVM_DISPATCH_MUSTTAIL)
#define X(name, ...) \
  friend Interrupt POLKAVM_HANDLER_CC h_##name(POLKAVM_HANDLER_ARGS); \
  friend Interrupt POLKAVM_HANDLER_CC hc_##name(POLKAVM_HANDLER_ARGS);
#include "polkavm/isa_table.def"
#undef X
#define X(name) \
  friend Interrupt POLKAVM_HANDLER_CC h_##name(POLKAVM_HANDLER_ARGS); \
  friend Interrupt POLKAVM_HANDLER_CC hc_##name(POLKAVM_HANDLER_ARGS);
  POLKAVM_INTERNAL_HANDLERS(X)
#undef X
#endif

  Interrupt run(VmState& state, GuestMemory& memory);
  /// Runs from op `start`; `uncharged` runs a charged op without charging (resuming inside a paid block).
  Interrupt execute(uint32_t start, bool uncharged);

  // Translation.
  /// What an op costs in the cache: the Op and its guest pc.
  static constexpr size_t kBytesPerOp = sizeof(Op) + sizeof(uint32_t);
  /// The smallest cache limit: room for a few blocks, so that a reset is not needed at every block.
  static constexpr size_t kMinCacheOps = 4096;
  /// compile() lays blocks that fall through into each other out back to back, up to this many
  /// instructions (the first block always whole): translation stays proportional to what runs.
  static constexpr uint32_t kMaxChainInstructions = 512;
  void ensure_tables();
  /// Forgets every translation (the tables keep their size; only the entries that were set are cleared).
  void drop_translations();
  /// Whether translating more would pass the cache limit (the cache is then dropped first).
  bool over_cache_limit() const { return ops_.size() > cache_limit_ops_; }
  /// Drops the translations and translates the block holding `pc` again; the op of `pc` (past its step
  /// and charge ops), for a slow path whose op index died with the old translations. The instruction at
  /// `pc` runs again: it is the one whose op was interrupted (a jump or branch, which changed nothing yet),
  /// or a block's last instruction before a `resolve` of its fall-through: a branch not taken (run again,
  /// not taken again) or a fallthrough (no op of its own).
  uint32_t retranslate_at(uint32_t pc);
  /// Translates from `block`, the start of the basic block holding `pc`, so that an op starts at `pc` (no
  /// fusing into it: an entry there may be at a branch that would be fused); the op of `pc`.
  uint32_t translate_for_entry(uint32_t block, uint32_t pc);
  /// The start of the basic block holding the instruction at `pc`, if one starts there. With `end_of_code`
  /// (pc is the code size), the block holding the implicit trap there: the one before it when that falls
  /// through into it, else its own.
  std::optional<uint32_t> block_of(uint32_t pc, bool end_of_code) const;
  uint32_t compile(uint32_t pc);
  uint32_t emit(uint16_t handler, uint32_t pc, uint8_t a = 0, uint8_t b = 0, uint8_t c = 0, uint32_t imm = 0,
                uint32_t target = 0);
  bool emit_instruction(const Instruction& insn);
  void emit_jump_to(uint16_t handler, uint32_t pc, uint8_t a, uint32_t imm, uint32_t target_pc);
  void fuse_branch(uint32_t add_index, const Instruction& branch);
  /// Step tracing needs an op per instruction; a host entry may start at any instruction.
  bool can_fuse() const { return fuse_ && !state_->step_tracing; }
  std::optional<uint32_t> resolve_jump(uint32_t pc);

  // Slow paths called from handlers. They return the op index to continue at, or kNone to stop with
  // `pending_` as the result.
  uint32_t stop(Interrupt interrupt) {
    store_whole(pending_, interrupt);
    return kNone;
  }
  /// Writes `interrupt` as one 16-byte and one 4-byte store, the pieces the run's result is copied from
  /// `pending_` in right after: the processor then forwards the stores to that copy. Written field by field
  /// and read back whole, it stalled every host call's round trip for about 5 ns.
  static void store_whole(Interrupt& to, const Interrupt& interrupt) {
#if defined(__SSE2__)
    static_assert(sizeof(Interrupt) == 20 && offsetof(Interrupt, hostcall) == 4 && offsetof(Interrupt, segfault) == 8 &&
                  offsetof(Segfault, page_size) == 4 && offsetof(Segfault, is_write_protected) == 8);
    const uint64_t low = uint64_t{static_cast<uint8_t>(interrupt.kind)} | uint64_t{interrupt.hostcall} << 32;
    const uint64_t high = uint64_t{interrupt.segfault.page_address} | uint64_t{interrupt.segfault.page_size} << 32;
    const uint32_t tail = interrupt.segfault.is_write_protected;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(&to), _mm_set_epi64x(static_cast<int64_t>(high), static_cast<int64_t>(low)));
    std::memcpy(reinterpret_cast<unsigned char*>(&to) + 16, &tail, sizeof(tail));
#else
    to = interrupt;
#endif
  }
  uint32_t trap(uint32_t index);
  uint32_t trap_at_pc(uint32_t pc);
  uint32_t ecalli(uint32_t index);
  uint32_t step(uint32_t index);
  uint32_t not_enough_gas(uint32_t index, int64_t remaining);
  uint32_t resolve(uint32_t index);
  uint32_t dynamic_jump(uint32_t index, uint32_t address);
  uint32_t memory_fault(uint32_t index, uint32_t address, uint32_t size, bool is_write);
  /// Guest memory to be mapped when first needed could not be: the run ends with `error`, and the op at
  /// `index` runs again (uncharged) on the next.
  uint32_t memory_unavailable(uint32_t index, Error error);
  uint32_t sbrk(uint32_t index);
  uint32_t memset(uint32_t index);

  std::shared_ptr<const ModuleState> module_;
  CodeView code_;
  bool is_64_bit_;
  bool gas_metering_;

  std::vector<Op> ops_;
  std::vector<uint32_t> op_pcs_;    // guest pc of every op
  // guest pc -> first op of its instruction (kNone: not translated); for large programs in huge pages (an
  // instance of Doom took about 500 page faults to fill it in fresh memory)
  std::vector<uint32_t, TableAllocator<uint32_t>> pc_to_op_;
  std::vector<uint32_t> opless_pcs_;  // translated instructions with no op of their own (in pc_to_op_, not op_pcs_)
  std::vector<uint32_t> djump_;     // jump-table entry -> op index (kNone: not resolved yet)
  std::vector<uint32_t> djump_set_;  // the djump_ entries that are resolved
  size_t cache_limit_ops_ = SIZE_MAX;  // set_translation_cache_limit, in ops
  std::unordered_map<uint32_t, uint16_t> unresolved_;  // `resolve` op -> the handler it becomes
  std::vector<Instruction> block_;  // scratch
  uint32_t fusible_ = kNone;        // the op of the previous instruction, when an add that can fuse
  bool fuse_ = true;                // off while translating for a host entry (it may enter at any pc)
  uint32_t resume_ = kNone;         // where an interrupted run continues
  bool resume_uncharged_ = false;   // the block of op `resume_` is already paid for
  Interrupt pending_;
  std::optional<Error> error_;      // what ends the run instead of pending_ (see memory_unavailable)

  VmState* state_ = nullptr;  // valid during run()
  GuestMemory* memory_ = nullptr;
};

// ------------------------------------------------------------------------------------------------
// Translation

void Interpreter::ensure_tables() {
  if (!pc_to_op_.empty()) return;
  pc_to_op_.assign(code_.size() + 1, kNone);
  djump_.assign(module_->blob.jump_table().size(), kNone);
}

void Interpreter::drop_translations() {
  if (!pc_to_op_.empty())
    for (const std::vector<uint32_t>* pcs : {&op_pcs_, &opless_pcs_})
      for (uint32_t pc : *pcs) pc_to_op_[pc] = kNone;
  opless_pcs_.clear();
  for (uint32_t entry : djump_set_) djump_[entry] = kNone;
  djump_set_.clear();
  ops_.clear();
  op_pcs_.clear();
  unresolved_.clear();
}

uint32_t Interpreter::translate_for_entry(uint32_t block, uint32_t pc) {
  fuse_ = block == pc;
  compile(block);
  fuse_ = true;
  return pc_to_op_[pc];
}

std::optional<uint32_t> Interpreter::block_of(uint32_t pc, bool end_of_code) const {
  if (!end_of_code) return code_.find_start_of_basic_block(pc);
  uint32_t last = pc;
  while (last > 0 && !code_.is_instruction_boundary(--last)) {
  }
  const std::optional<uint32_t> start = code_.find_start_of_basic_block(last);
  if (!start) return pc;
  std::vector<Instruction> block;
  code_.decode_block(*start, block);
  return block.back().pc == pc ? *start : pc;
}

uint32_t Interpreter::retranslate_at(uint32_t pc) {
  drop_translations();
  uint32_t index = translate_for_entry(code_.find_start_of_basic_block(pc).value_or(pc), pc);
  if (ops_[index].handler == H_step) ++index;        // its step already stopped
  if (ops_[index].handler == H_charge_gas) ++index;  // and its block is paid for
  return index;
}

uint32_t Interpreter::emit(uint16_t handler, uint32_t pc, uint8_t a, uint8_t b, uint8_t c, uint32_t imm,
                           uint32_t target) {
  ops_.push_back(Op{handler, a, b, c, 0, 0, imm, target});
  op_pcs_.push_back(pc);
  return static_cast<uint32_t>(ops_.size() - 1);
}

// A static control transfer: direct when the target is already translated, else through `resolve`.
void Interpreter::emit_jump_to(uint16_t handler, uint32_t pc, uint8_t a, uint32_t imm, uint32_t target_pc) {
  uint32_t index = pc_to_op_[target_pc];
  if (index != kNone) {
    emit(handler, pc, a, 0, 0, imm, index);
  } else {
    uint32_t at = emit(H_resolve, pc, a, 0, 0, imm, target_pc);
    unresolved_.emplace(at, handler);
  }
}

// Emits the ops of one instruction. Returns whether execution can continue at insn.next_pc().
bool Interpreter::emit_instruction(const Instruction& insn) {
  const uint32_t pc = insn.pc;
  const uint32_t fusible = std::exchange(fusible_, kNone);
  if (!insn.valid) {
    emit(H_trap, pc);
    return false;
  }
  const Opcode opc = insn.opcode;
  const uint16_t h = handler_for(opc);
  const uint8_t r0 = insn.reg[0], r1 = insn.reg[1], r2 = insn.reg[2];
  switch (format(opc)) {
    case Format::None:
      switch (opc) {
        case Opcode::trap: emit(H_trap, pc); return false;
        case Opcode::memset: emit(H_memset, pc); return true;
        case Opcode::fallthrough:
          // The next block is laid out right after this one (see compile()).
          if (module_->fallthrough_continues(code_, insn.next_pc())) return true;
          emit(H_trap, pc);
          return false;
        default: return true;  // unlikely: only a gas hint
      }
    case Format::Imm: emit(H_ecalli, pc, 0, 0, 0, insn.imm[0], insn.next_pc()); return true;
    case Format::Offset:
      if (code_.is_jump_target_valid(insn.target)) emit_jump_to(H_jump, pc, 0, 0, insn.target);
      else emit(H_trap, pc);
      return false;
    case Format::RegImm: emit(h, pc, r0, 0, 0, insn.imm[0]); return opc != Opcode::jump_indirect;
    case Format::RegImm64:
      emit(h, pc, r0, 0, 0, static_cast<uint32_t>(insn.imm64), static_cast<uint32_t>(insn.imm64 >> 32));
      return true;
    case Format::ImmImm: emit(h, pc, 0, 0, 0, insn.imm[1], insn.imm[0]); return true;
    case Format::RegImmImm: emit(h, pc, r0, 0, 0, insn.imm[1], insn.imm[0]); return true;
    case Format::RegImmOffset:
      if (opc == Opcode::load_imm_and_jump) {
        if (code_.is_jump_target_valid(insn.target)) {
          emit_jump_to(h, pc, r0, insn.imm[0], insn.target);
        } else {  // the register is written before the trap, as in the reference
          emit(H_load_imm, pc, r0, 0, 0, insn.imm[0]);
          emit(H_trap, pc);
        }
        return false;
      }
      [[fallthrough]];
    case Format::RegRegOffset:
      // A branch with an invalid target (taken or not) traps unconditionally, like the reference.
      if (!code_.is_jump_target_valid(insn.target) || !code_.is_jump_target_valid(insn.next_pc())) {
        emit(H_trap, pc);
        return false;
      }
      if (format(opc) == Format::RegRegOffset) {
        if (fusible != kNone) {
          fuse_branch(fusible, insn);
          return true;
        }
        emit_jump_to(h, pc, r0, 0, insn.target);
        ops_.back().b = r1;
        return true;
      }
      emit_jump_to(h, pc, r0, insn.imm[0], insn.target);
      return true;
    case Format::RegReg:
      if (!is_64_bit_ && opc == Opcode::reverse_byte) emit(H_reverse_byte_32, pc, r0, r1);
      else emit(h, pc, r0, r1);
      return true;
    case Format::RegRegImm: {
      const uint32_t at = emit(h, pc, r0, r1, 0, insn.imm[0]);
      if (can_fuse() && (opc == Opcode::add_imm_64 || opc == Opcode::add_imm_32)) fusible_ = at;
      return true;
    }
    case Format::RegRegReg: {
      uint16_t handler = h;
      if (!is_64_bit_) {
        if (opc == Opcode::mul_upper_signed_signed) handler = H_mul_upper_signed_signed_32;
        if (opc == Opcode::mul_upper_unsigned_unsigned) handler = H_mul_upper_unsigned_unsigned_32;
        if (opc == Opcode::mul_upper_signed_unsigned) handler = H_mul_upper_signed_unsigned_32;
      }
      const uint32_t at = emit(handler, pc, r0, r1, r2);
      if (can_fuse() && opc == Opcode::add_64 && r0 == r1) fusible_ = at;  // d = d + s
      return true;
    }
    case Format::RegRegImmImm: emit(h, pc, r0, r1, 0, insn.imm[0], insn.imm[1]); return false;
  }
  return false;
}

// Turns the add at `add_index` and the two-register `branch` right after it into one fused op.
void Interpreter::fuse_branch(uint32_t add_index, const Instruction& branch) {
  static_assert(H_add_imm_64__branch_greater_or_equal_signed - H_add_imm_64__branch_eq ==
                    static_cast<int>(Opcode::branch_greater_or_equal_signed) - static_cast<int>(Opcode::branch_eq),
                "the fused handlers follow the order of the two-register branches");
  Op& op = ops_[add_index];
  const uint16_t charged = op.handler - uncharged_id(op.handler);
  uint16_t first;
  switch (uncharged_id(op.handler)) {
    case H_add_imm_64: first = H_add_imm_64__branch_eq; break;
    case H_add_imm_32: first = H_add_imm_32__branch_eq; break;
    default:  // add_64 d, d, s: keep d in `a` and s in `b`
      first = H_add_64__branch_eq;
      op.b = op.c;
      break;
  }
  const uint16_t fused = static_cast<uint16_t>(first + static_cast<int>(branch.opcode) - static_cast<int>(Opcode::branch_eq));
  op.c = branch.reg[0];
  op.d = branch.reg[1];
  // No op starts at the branch: a host entry there translates the block again, unfused.
  pc_to_op_[branch.pc] = kNone;
  if (const uint32_t target = pc_to_op_[branch.target]; target != kNone) {
    op.handler = static_cast<uint16_t>(fused + charged);
    op.target = target;
  } else {
    op.handler = static_cast<uint16_t>(H_resolve + charged);
    op.target = branch.target;
    unresolved_.emplace(add_index, fused);
  }
}

// Translates the block at `pc` and every block it falls into, back to back. Returns the first op.
uint32_t Interpreter::compile(uint32_t pc) {
  const uint32_t first = static_cast<uint32_t>(ops_.size());
  for (uint32_t translated = 0;;) {
    code_.decode_block(pc, block_);
    translated += static_cast<uint32_t>(block_.size());

    const uint32_t cost = gas_metering_ ? module_->gas_model->block_cost(code_, block_) : 0;
    bool continues = false;
    for (size_t i = 0; i < block_.size(); ++i) {
      const Instruction& insn = block_[i];
      pc_to_op_[insn.pc] = static_cast<uint32_t>(ops_.size());
      if (state_->step_tracing) emit(H_step, insn.pc);
      const bool charge_here = i == 0 && gas_metering_;
      if (charge_here && cost > kMaxFoldedCost) emit(H_charge_gas, insn.pc, 0, 0, 0, cost);
      const size_t first_op = ops_.size();
      continues = emit_instruction(insn);
      if (charge_here && cost <= kMaxFoldedCost) {
        if (ops_.size() == first_op) {  // nothing to fold into (unlikely, fallthrough)
          emit(H_charge_gas, insn.pc, 0, 0, 0, cost);
        } else {
          ops_[first_op].handler += kHandlerCount;
          ops_[first_op].cost = cost;
        }
      }
      // No op of its own (a fallthrough or unlikely, untraced and uncharged): its pc enters at the next op,
      // and is forgotten with the rest when the translations are dropped.
      if (ops_.size() == pc_to_op_[insn.pc]) opless_pcs_.push_back(insn.pc);
    }

    // Lay out the fall-through successor next, or jump to it if it exists already (or once it is
    // reached, past the chain's bound).
    if (!continues) break;
    const uint32_t next = block_.back().next_pc();
    // (The end of code is laid out whatever the bound: its implicit trap is reached as a block of its own.)
    if (pc_to_op_[next] != kNone || (translated >= kMaxChainInstructions && code_.is_jump_target_valid(next))) {
      emit_jump_to(H_jump, block_.back().pc, 0, 0, next);
      break;
    }
    pc = next;
  }
  return first;
}

// The op index for a jump to `pc`, translating on first use; nothing if `pc` is not a valid target.
// (The caller has dropped the translations first if they are over the cache limit.)
std::optional<uint32_t> Interpreter::resolve_jump(uint32_t pc) {
  if (!code_.is_jump_target_valid(pc)) return std::nullopt;
  if (uint32_t index = pc_to_op_[pc]; index != kNone) return index;
  return compile(pc);
}

// ------------------------------------------------------------------------------------------------
// Slow paths

uint32_t Interpreter::trap_at_pc(uint32_t pc) {
  state_->program_counter = pc;
  state_->next_program_counter.reset();
  return stop(Interrupt::trap());
}

uint32_t Interpreter::trap(uint32_t index) { return trap_at_pc(op_pcs_[index]); }

uint32_t Interpreter::ecalli(uint32_t index) {
  const Op& op = ops_[index];
  state_->program_counter = op_pcs_[index];
  state_->next_program_counter = op.target;
  resume_ = index + 1;
  return stop(Interrupt::ecalli(op.imm));
}

uint32_t Interpreter::step(uint32_t index) {
  state_->program_counter = op_pcs_[index];
  state_->next_program_counter = op_pcs_[index];
  resume_ = index + 1;
  return stop(Interrupt::step());
}

uint32_t Interpreter::not_enough_gas(uint32_t index, int64_t remaining) {
  if (module_->gas_metering == GasMeteringKind::Async) {
    state_->gas = remaining;
    state_->program_counter.reset();
    state_->next_program_counter.reset();
  } else {  // Sync: nothing was charged; set_gas() and run() retry the same block
    state_->program_counter = op_pcs_[index];
    state_->next_program_counter = op_pcs_[index];
    resume_ = index;
    resume_uncharged_ = false;  // the charge is retried
  }
  return stop(Interrupt::not_enough_gas());
}

uint32_t Interpreter::resolve(uint32_t index) {
  const auto it = unresolved_.find(index);
  const uint16_t handler = it->second;
  unresolved_.erase(it);
  // Over the cache limit: start afresh at this op's instruction, which resolves its target when it runs.
  if (pc_to_op_[ops_[index].target] == kNone && over_cache_limit()) return retranslate_at(op_pcs_[index]);
  std::optional<uint32_t> target = resolve_jump(ops_[index].target);
  if (!target) return trap(index);  // not reached: targets are validated when translated
  Op& op = ops_[index];
  op.handler = static_cast<uint16_t>(handler + op.handler - uncharged_id(op.handler));
  op.target = *target;
  return index;  // the `resolve` handler runs it next, without charging again
}

uint32_t Interpreter::dynamic_jump(uint32_t index, uint32_t address) {
  if (address == kReturnToHost) {
    state_->program_counter.reset();
    state_->next_program_counter.reset();
    return stop(Interrupt::finished());
  }
  const uint32_t entry = (address >> 1) - 1;
  if (address == 0 || address % kCodeAddressAlignment != 0 || entry >= djump_.size()) return trap(index);
  const uint32_t target_pc = module_->blob.jump_table()[entry];
  if (!code_.is_jump_target_valid(target_pc)) return trap(index);
  // Nothing of the old translations is needed past this point: the jump lands on a block start.
  if (pc_to_op_[target_pc] == kNone && over_cache_limit()) drop_translations();
  const uint32_t target = *resolve_jump(target_pc);
  djump_[entry] = target;
  djump_set_.push_back(entry);
  return target;
}

uint32_t Interpreter::memory_fault(uint32_t index, uint32_t address, uint32_t size, bool is_write) {
  if (memory_->lazy()) {
    // The first access to memory mapped when first needed: map it, and the access runs again (the load and
    // store handlers go on uncharged: the block is paid for).
    if (Result<void> mapped = memory_->materialise(); !mapped) return memory_unavailable(index, mapped.error());
    return index;
  }
  AccessFault fault = memory_->classify_fault(address, size, is_write);
  if (!fault.is_segfault) return trap(index);
  // The instruction runs again once the host has mapped the page; its block is already paid for.
  state_->program_counter = op_pcs_[index];
  state_->next_program_counter = op_pcs_[index];
  resume_ = index;
  resume_uncharged_ = true;
  return stop(Interrupt::fault(fault.segfault));
}

uint32_t Interpreter::memory_unavailable(uint32_t index, Error error) {
  error_ = std::move(error);
  state_->program_counter = op_pcs_[index];
  state_->next_program_counter = op_pcs_[index];
  resume_ = index;
  resume_uncharged_ = true;
  return stop(Interrupt::trap());  // not seen: run() returns the error
}

uint32_t Interpreter::sbrk(uint32_t index) {
  const Op& op = ops_[index];
  const uint64_t requested = state_->regs[op.b];
  // The reference's interpreter: a 64-bit size that does not fit in u32 counts as 0 (so the current top
  // comes back); 32-bit programs use the low half. The result (the new heap top, 0 on failure) is
  // sign-extended.
  const uint32_t size = is_64_bit_ && requested > UINT32_MAX ? 0 : static_cast<uint32_t>(requested);
  const uint32_t result = memory_->sbrk(size).value_or(0);
  state_->regs[op.a] = sx(result);
  return index + 1;
}

uint32_t Interpreter::memset(uint32_t index) {
  if (memory_->lazy())
    if (Result<void> mapped = memory_->materialise(); !mapped) return memory_unavailable(index, mapped.error());
  uint64_t* regs = state_->regs.data();
  const uint8_t value = static_cast<uint8_t>(regs[static_cast<int>(Reg::A1)]);
  const uint64_t a0 = regs[static_cast<int>(Reg::A0)];
  uint32_t dst = static_cast<uint32_t>(a0);
  uint64_t count = static_cast<uint32_t>(regs[static_cast<int>(Reg::A2)]);
  uint32_t next = index + 1;
  switch (memory_->guest_fill(dst, count, value, gas_metering_ ? &state_->gas : nullptr)) {
    case GuestMemory::FillStop::Done: break;
    case GuestMemory::FillStop::OutOfGas:
      next = not_enough_gas(index, 0);
      resume_uncharged_ = true;  // memset continues where it stopped; its block is paid for
      break;
    case GuestMemory::FillStop::Fault: next = memory_fault(index, dst, 1, true); break;
  }
  uint64_t new_a0 = a0 + static_cast<uint32_t>(dst - static_cast<uint32_t>(a0));
  // A 32-bit program's registers are kept sign-extended (as every 32-bit result is).
  if (!is_64_bit_) {
    new_a0 = sx(static_cast<uint32_t>(new_a0));
    count = sx(static_cast<uint32_t>(count));
  }
  regs[static_cast<int>(Reg::A0)] = new_a0;
  regs[static_cast<int>(Reg::A2)] = count;
  return next;
}

// ------------------------------------------------------------------------------------------------
// Dispatch

#define R(x) regs[x]
#define INDEX static_cast<uint32_t>(op - OPS)
#define MEM mem
#define DJUMP(address_expr)                                                 \
  do {                                                                      \
    uint32_t address_ = (address_expr);                                     \
    uint32_t entry_ = (address_ >> 1) - 1;                                  \
    if ((address_ & 1) == 0 && entry_ < self->djump_.size()) {              \
      uint32_t to_ = self->djump_[entry_];                                  \
      if (to_ != kNone) JUMP(to_);                                          \
    }                                                                       \
    SLOW(self->dynamic_jump(INDEX, address_));                              \
  } while (0)

// Pays `amount` for the block, or stops before it (see not_enough_gas).
#define CHARGE(amount)                                                                   \
  do {                                                                                   \
    const int64_t remaining_ = GAS - static_cast<int64_t>(amount);                      \
    if (POLKAVM_UNLIKELY(remaining_ < 0)) SLOW(self->not_enough_gas(INDEX, remaining_)); \
    GAS = remaining_;                                                                    \
  } while (0)
// The prologue of a charged handler.
#define CHARGE_BLOCK() CHARGE(op->cost)
#define NEXT() do { ++op; DISPATCH(); } while (0)
#define JUMP(i) do { op = OPS + (i); DISPATCH(); } while (0)
#define DISPATCH() DISPATCH_ID(op->handler)
// Runs the op at index `call` returns without its charge (or stops).
#define SLOW_UNCHARGED(call)                                                   \
  do {                                                                         \
    SLOW_CALL(call);                                                           \
    op = OPS + next_;                                                          \
    DISPATCH_ID(uncharged_id(op->handler));                                    \
  } while (0)
#define SLOW(call)      \
  do {                  \
    SLOW_CALL(call);    \
    JUMP(next_);        \
  } while (0)

#if defined(POLKAVM_DISPATCH_MUSTTAIL)

#define OPS (self->ops_.data())
#define PERMS (self->memory_->perms())
#define GAS (self->state_->gas)
#define DISPATCH_ID(id) [[clang::musttail]] return kHandlers[id](self, op, regs, mem)
#define SLOW_CALL(call)                          \
  const uint32_t next_ = (call);                 \
  if (next_ == kNone) return self->pending_
#define HANDLER(name)                                                    \
  [[gnu::noinline]] Interrupt POLKAVM_HANDLER_CC hc_##name(POLKAVM_HANDLER_ARGS) {          \
    CHARGE_BLOCK();                                                      \
    [[clang::musttail]] return h_##name(self, op, regs, mem);            \
  }                                                                      \
  [[gnu::noinline]] Interrupt POLKAVM_HANDLER_CC h_##name(POLKAVM_HANDLER_ARGS)

#define X(name, ...) Interrupt POLKAVM_HANDLER_CC h_##name(POLKAVM_HANDLER_ARGS); Interrupt POLKAVM_HANDLER_CC hc_##name(POLKAVM_HANDLER_ARGS);
#include "polkavm/isa_table.def"
#undef X
#define X(name) Interrupt POLKAVM_HANDLER_CC h_##name(POLKAVM_HANDLER_ARGS); Interrupt POLKAVM_HANDLER_CC hc_##name(POLKAVM_HANDLER_ARGS);
POLKAVM_INTERNAL_HANDLERS(X)
#undef X

constexpr HandlerFn kHandlers[kChargedHandlerCount] = {
#define X(name, ...) &h_##name,
#include "polkavm/isa_table.def"
#undef X
#define X(name) &h_##name,
    POLKAVM_INTERNAL_HANDLERS(X)
#undef X
#define X(name, ...) &hc_##name,
#include "polkavm/isa_table.def"
#undef X
#define X(name) &hc_##name,
    POLKAVM_INTERNAL_HANDLERS(X)
#undef X
};

#include "interpreter/handlers.inc"

Interrupt Interpreter::execute(uint32_t start, bool uncharged) {
  const Op* op = ops_.data() + start;
  const uint16_t id = uncharged ? uncharged_id(op->handler) : op->handler;
  return kHandlers[id](this, op, state_->regs.data(), memory_->base());
}

#else  // computed goto or switch: one function, handlers are labels or cases

Interrupt Interpreter::execute(uint32_t start, bool uncharged) {
  Interpreter* self = this;
  const Op* ops = ops_.data();
  const Op* op = ops + start;
  uint64_t* regs = state_->regs.data();
  uint8_t* mem = memory_->base();
  const uint8_t* perms = memory_->perms();
  // The gas counter lives in a register here; slow paths see it in the state.
  int64_t gas = state_->gas;
#define OPS ops
#define PERMS perms
#define GAS gas
#define SLOW_CALL(call)                           \
  self->state_->gas = gas;                        \
  const uint32_t next_ = (call);                  \
  gas = self->state_->gas;                        \
  if (next_ == kNone) return self->pending_;      \
  ops = self->ops_.data()

#if defined(POLKAVM_DISPATCH_GOTO)
  static const void* const kLabels[kChargedHandlerCount] = {
#define X(name, ...) &&L_##name,
#include "polkavm/isa_table.def"
#undef X
#define X(name) &&L_##name,
      POLKAVM_INTERNAL_HANDLERS(X)
#undef X
#define X(name, ...) &&LC_##name,
#include "polkavm/isa_table.def"
#undef X
#define X(name) &&LC_##name,
      POLKAVM_INTERNAL_HANDLERS(X)
#undef X
  };
#define HANDLER(name) L_##name:
#define DISPATCH_ID(id) goto* kLabels[id]
#else
  uint16_t handler;
#define HANDLER(name)                   \
  case H_##name + kHandlerCount:        \
    CHARGE_BLOCK();                     \
    [[fallthrough]];                    \
  case H_##name:
#define DISPATCH_ID(id) \
  do {                  \
    handler = (id);     \
    goto dispatch;      \
  } while (0)
#endif

  DISPATCH_ID(uncharged ? uncharged_id(op->handler) : op->handler);
#if defined(POLKAVM_DISPATCH_GOTO)
#include "interpreter/handlers.inc"
  // The charged variants live apart from the handlers, which keeps the hot handlers together.
#define X(name, ...)   \
  LC_##name : {        \
    CHARGE_BLOCK();    \
    goto L_##name;     \
  }
#include "polkavm/isa_table.def"
#undef X
#define X(name)        \
  LC_##name : {        \
    CHARGE_BLOCK();    \
    goto L_##name;     \
  }
  POLKAVM_INTERNAL_HANDLERS(X)
#undef X
#else
dispatch:
  switch (handler) {
#include "interpreter/handlers.inc"
    default: break;
  }
  __builtin_unreachable();
#endif
}

#endif

// ------------------------------------------------------------------------------------------------

Interrupt Interpreter::run(VmState& state, GuestMemory& memory) {
  state_ = &state;
  memory_ = &memory;
  ensure_tables();

  uint32_t start = resume_;
  // A resume inside a paid block stays uncharged even when the translation was dropped meanwhile.
  bool uncharged = resume_uncharged_ && !state.next_pc_changed;
  if (state.next_pc_changed || start == kNone) {
    const uint32_t pc = *state.next_program_counter;
    // Resuming after invalidate() may be at the end of code (the implicit trap, not yet charged); a host
    // entry there traps at once.
    const bool end_of_code = !state.next_pc_changed && pc == code_.size();
    uint32_t index = pc < code_.size() || end_of_code ? pc_to_op_[pc] : kNone;
    if (index == kNone) {
      const std::optional<uint32_t> block = block_of(pc, end_of_code);
      if (!block) {
        state.next_pc_changed = false;
        trap_at_pc(pc);
        return pending_;
      }
      if (over_cache_limit()) drop_translations();
      index = translate_for_entry(*block, pc);
    }
    // Entering in the middle of a block from the host pays for the whole block first, as the
    // reference does; resuming after an interrupt does not.
    if (state.next_pc_changed && gas_metering_ && !code_.is_jump_target_valid(pc)) {
      // Priced from the code, not from the translation: the block's start may not be translated (or not
      // where the charge is) when the translation was entered at `pc`.
      std::vector<Instruction> block;
      code_.decode_block(code_.find_start_of_basic_block(pc).value_or(pc), block);
      const Gas cost = module_->gas_model->block_cost(code_, block);
      if (cost > state.gas) return Interrupt::not_enough_gas();
      state.gas -= cost;
    }
    state.next_pc_changed = false;
    state.program_counter = pc;
    start = index;
  }
  resume_ = kNone;
  // Entering uncharged at a step op (tracing was just switched on): the step stops at once, and the
  // instruction after it must still not charge.
  resume_uncharged_ = uncharged && ops_[start].handler == H_step;
  state.next_program_counter.reset();
  return execute(start, uncharged);
}

}  // namespace

Result<std::unique_ptr<InstanceBackend>> make_interpreter(std::shared_ptr<const ModuleState> module) {
  auto backend = std::make_unique<Interpreter>(std::move(module));
  if (auto r = backend->init(); !r) return r.error();
  return std::unique_ptr<InstanceBackend>(std::move(backend));
}

}  // namespace polkavm::detail
