// One-pass translation of guest code to x86-64 (see compiler.hpp for the register map and the frame).
//
// The code is swept once from pc 0, block by block, as Module::block_gas_costs walks it; the blocks are
// laid out in guest order, so falling through to the next block is falling through in machine code.
//
// An exit inside an instruction's code is `call <exit stub>`: the stub turns the return address into a
// native offset, from which the host finds the guest pc (CompiledCode::pc_at). Cold code laid out away from
// its instruction exits with `mov ecx, pc; jmp <exit stub>`.
//
// Memory (issue 15: compiling must not amplify guest code). Nothing is allocated per block or instruction:
// no asmjit label but the runtime's few. Jumps to guest code are encoded here: a backward one to its known
// offset, a forward one with a rel32 that, until its target is bound, holds the previous reference to the
// same target (the chain's head is the target's entry slot). Jumps within an instruction's code are
// patched in place. The cold code of a block or instruction (running out of gas, the dynamic paging check,
// a branch's reentry) waits in a short queue and is laid out after the next block that does not fall
// through, or behind a jump when the queue is full. A block of a lone trap has no charge of its own (the
// host charges it: Exit::BlockTrap). Loop-head alignment pads at most about one byte per byte of guest
// code. Long blocks are decoded in bounded pieces when the gas model is a simple one.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <new>
#include <optional>
#include <system_error>
#include <thread>

#include <asmjit/x86.h>
#include <fmt/format.h>

#include "compiler/compiler.hpp"
#include "compiler/x86_encoder.hpp"
#include "polkavm/code.hpp"

namespace polkavm::detail::compiler {
namespace {

using namespace asmjit;
using x86::Gp;

const Gp kGuest[kRegCount] = {x86::rbx, x86::rbp, x86::rax, x86::rdx, x86::rsi, x86::rdi, x86::r8,
                              x86::r9,  x86::r10, x86::r11, x86::r12, x86::r13, x86::r14};
constexpr uint8_t kTmpId = x86::Gp::kIdCx;
const Gp kTmp = x86::gpq(kTmpId);
// The gas counter while guest code runs. The exit stubs move it to the frame and reuse r15 for the VmCtx.
constexpr uint8_t kGasId = x86::Gp::kIdR15;
const Gp kGas = x86::gpq(kGasId);
const Gp kCtx = x86::r15;
const Gp kCalleeSaved[] = {x86::rbx, x86::rbp, x86::r12, x86::r13, x86::r14, x86::r15};

// The frame on the stack while guest code runs.
constexpr int32_t kFrameCtx = 0;
constexpr int32_t kFrameGas = 8;
constexpr int32_t kFrameJumpTable = 16;
constexpr int32_t kFrameZero = 24;  // always 0: the dynamic jump's speculation clamp reads it
constexpr int32_t kFrameSize = 32;

constexpr int32_t off_reg(int i) { return static_cast<int32_t>(offsetof(VmCtx, regs) + 8 * i); }
#define CTX_OFF(field) static_cast<int32_t>(offsetof(VmCtx, field))

// x86 condition codes, as jcc encodes them (0x70 + cc, or 0x0F 0x80 + cc); kAlways: jmp.
enum Cond : int {
  kAlways = -1, kCondB = 2, kCondAE = 3, kCondE = 4, kCondNE = 5, kCondBE = 6, kCondA = 7, kCondS = 8,
  kCondL = 12, kCondGE = 13, kCondLE = 14, kCondG = 15,
};

// A step stop is `call step` (E8 rel32): the block's charge follows it at a fixed distance.
constexpr uint32_t kStepLength = 5;
// Cold code waiting to be laid out: at most this many items (then it goes behind a jump).
constexpr size_t kMaxDeferred = 1024;
// Blocks longer than this (in instructions) are decoded in pieces of this size when the gas model is simple.
constexpr size_t kBlockPiece = 4096;

class ErrorRecorder : public ErrorHandler {
 public:
  void handleError(asmjit::Error err, const char* message, BaseEmitter*) override {
    if (error == kErrorOk) {
      error = err;
      text = message;
    }
  }
  asmjit::Error error = kErrorOk;
  std::string text;
};

inline int64_t sx(uint32_t v) { return static_cast<int32_t>(v); }

/// The simple model's per-opcode costs when `module` charges by one, else null.
const CostModel* simple_model(const ModuleState& module) { return module.gas_model->simple_cost_model(); }

/// Decodes at most `limit` instructions of a block from `pc` into `out` (replacing it), as
/// CodeView::decode_block does; returns whether the block ended.
bool decode_piece(const CodeView& code, uint32_t pc, size_t limit, std::vector<Instruction>& out) {
  out.clear();
  while (out.size() < limit) {
    Instruction& insn = out.emplace_back();
    code.decode(pc, insn);
    if (!insn.valid || ends_block(insn.opcode)) return true;
    pc = insn.next_pc();
  }
  return false;
}

/// The simple model's cost of `insns` added to `total` (as SimpleGasModel sums: saturated at the end).
uint64_t add_simple_cost(const CostModel& model, std::span<const Instruction> insns, uint64_t total) {
  for (const Instruction& insn : insns) total += insn.valid ? model[insn.opcode] : model.invalid;
  return total;
}

}  // namespace

uint32_t block_cost_at(const ModuleState& module, uint32_t pc, std::vector<Instruction>& scratch) {
  const CodeView code(module.blob);
  const CostModel* simple = simple_model(module);
  if (!simple) {
    code.decode_block(pc, scratch);
    return module.gas_model->block_cost(code, scratch);
  }
  // In bounded pieces: a block may be as long as the code.
  uint64_t total = 0;
  for (;;) {
    const bool ended = decode_piece(code, pc, kBlockPiece, scratch);
    total = add_simple_cost(*simple, scratch, total);
    if (ended) break;
    pc = scratch.back().next_pc();
  }
  // The simple model's own sum, for a short block; the same as the pieces' for a long one.
  return total > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(total);
}

/// What the code generator needs to know about the whole code before it starts, by pc: the loop heads
/// (targets of backward branches and jumps) and the valid jump targets (CodeView::is_jump_target_valid).
struct CodeScan {
  /// Walks the whole code; with `in_two_halves`, the second half on a thread of its own (where one starts).
  CodeScan(const CodeView& code, bool in_two_halves);
  bool is_jump_target(uint32_t pc) const { return pc <= size && ((jump_targets[pc >> 6] >> (pc & 63)) & 1); }
  bool is_loop_head(uint32_t pc) const { return pc <= size && ((loop_heads[pc >> 6] >> (pc & 63)) & 1); }
  uint32_t size;  // of the code
  std::vector<uint64_t> loop_heads, jump_targets;  // bits by pc, size + 1 of them
  /// What the two take.
  static uint64_t bytes(uint64_t code_size) { return 2 * ((code_size + 8) / 8); }

 private:
  /// The instruction starts in bitmask words [first, last) (64 pcs each): their jump targets, and the loop
  /// heads their branches make (anywhere in the code) in `heads`.
  void walk(const CodeView& code, size_t first, size_t last, std::vector<uint64_t>& heads);
};

/// Translates the blocks that start in [begin, end) of the code (both block starts, or end = code size + 1),
/// with exit stubs of its own, into one buffer. A jump out of the range is left for the caller to patch
/// (fixups()); a module is translated as one such part, or as two in parallel.
class Codegen {
 public:
  Codegen(const ModuleState& module, bool step_tracing, CompiledCode& out, x86::Assembler& a, uint64_t memory_limit,
          uint64_t table_bytes, const asmjit::Error& asm_error, const CodeScan& scan, uint32_t begin, uint32_t end)
      : module_(module),
        code_(module.blob),
        is_64_bit_(module.blob.is_64_bit()),
        metering_(module.gas_metering),
        step_tracing_(step_tracing),
        out_(out),
        a_(a),
        memory_limit_(memory_limit),
        table_bytes_(table_bytes),
        asm_error_(asm_error),
        buffer_(a.code()->textSection()->buffer()),
        scan_(scan),
        begin_(begin),
        end_(end),
        filled_(begin) {}

  /// false: the memory limit was reached (memory_needed() says how far), or the assembler failed.
  bool emit_all();
  /// Fills the tables that need the final address of the code.
  void finish(uintptr_t base, CodeHolder& holder);
  /// A module of at least compile_in_parts_from() bytes of code translated in two parts in parallel, one
  /// of them on a thread of its own; null when it cannot be (one core, no second thread, a part that does
  /// not fit its half of the mapping, nowhere to split), which the caller takes as "translate it in one
  /// part".
  static std::unique_ptr<CompiledCode> compile_in_parts(const ModuleState& module, bool step_tracing,
                                                        const CodeScan& scan, uint64_t id);
  /// Whether compile_in_parts is worth trying: enough code, and a second core.
  static bool may_compile_in_parts(const ModuleState& module);
  /// What the compilation held when it stopped or finished: machine code, tables and working memory.
  uint64_t memory_needed() const;
  /// A bug in this file (a short jump that does not reach), or empty.
  const std::string& internal_error() const { return internal_error_; }
  /// Jumps out of the range: (native offset of the rel32, target pc), for the caller to point at the
  /// target's entry.
  const std::vector<std::pair<uint32_t, uint32_t>>& fixups() const { return fixups_; }
  /// Where the host enters branches through reentry stubs: (pc, native offset), by pc.
  std::vector<std::pair<uint32_t, uint32_t>>& reentries() { return reentries_; }
  /// The pcs from here to the end of the range hold no entry yet: that of the range's end, which the next
  /// part has (set by the caller).
  uint32_t tail() const { return tail_; }

 private:
  // A jump whose target is not known yet: where its displacement is.
  struct Fwd {
    uint32_t site;
    bool is_short;
  };
  // Cold code laid out later.
  struct Deferred {
    enum Kind : uint8_t { OutOfGas, Access, Reentry };
    uint32_t site;  // OutOfGas, Access: the jump to patch
    uint32_t pc;
    Kind kind;
    uint8_t reg;    // Reentry: the register whose test sets the flags
    bool is_short;  // the jump is a rel8
  };

  Gp g(uint8_t r) const { return kGuest[r]; }
  Gp g32(uint8_t r) const { return kGuest[r].r32(); }
  // A register as comparisons and tests read it. 32-bit programs keep only the low half of a register
  // meaningful (see set32): they compare 32-bit values, which order the same way as their sign extensions.
  Gp gc(uint8_t r) const { return is_64_bit_ ? g(r) : g32(r); }
  // d = the sign extension of a 32-bit result. 64-bit programs need the upper half; 32-bit programs never
  // read it (every instruction they have uses only the low 32 bits of its inputs, and the host sign-extends
  // the registers at every exit), so the result is only moved into place.
  void set32(uint8_t d, const Gp& result) {
    const uint8_t r = static_cast<uint8_t>(result.id());
    if (is_64_bit_) emit(enc::movsxd_rr(id(d), r));
    else if (r != id(d)) emit(enc::mov_rr(false, id(d), r));
  }
  // Where an instruction that cannot write d in place computes d's 32-bit result before set32: the scratch
  // register on 64-bit programs (set32 sign-extends from it), d itself on 32-bit ones (set32 then does nothing).
  Gp result32(uint8_t d) const { return is_64_bit_ ? Gp(x86::ecx) : g32(d); }
  // The address x + y for lea, based on a register that needs no displacement byte when it can be: rbp and
  // r13 as a base always carry one, and lea with base, index and displacement takes 2 cycles instead of 1.
  enc::Mem sum(uint8_t x, uint8_t y) const {
    const bool x_needs_displacement = id(x) == x86::Gp::kIdBp || id(x) == x86::Gp::kIdR13;
    const auto base = static_cast<int8_t>(id(x_needs_displacement ? y : x));
    const auto index = static_cast<int8_t>(id(x_needs_displacement ? x : y));
    return {base, index};
  }
  uint32_t offset() const { return static_cast<uint32_t>(a_.offset()); }
  // The hardware number of guest register r.
  uint8_t id(uint8_t r) const { return static_cast<uint8_t>(kGuest[r].id()); }

  // ---- machine code encoded here (x86_encoder.hpp) rather than by asmjit
  void emit(const enc::Insn& insn) {
    if (a_.remainingSpace() >= sizeof(enc::Insn::Bits)) [[likely]] {
      insn.write_to(a_._bufferPtr);
      a_._bufferPtr += insn.size();
      // The section's size, as asmjit keeps it after each instruction it writes (it flattens and grows
      // the buffer by it).
      buffer_._size = a_.offset();
    } else {
      uint8_t bytes[sizeof(enc::Insn::Bits)];
      insn.write_to(bytes);
      a_.embed(bytes, insn.size());  // grows the buffer, or fails as asmjit's own instructions would
    }
  }
  void put(std::initializer_list<uint8_t> bytes) {
    enc::Insn insn;
    for (const uint8_t b : bytes) insn.put8(b);
    emit(insn);
  }
  // d op= s, 32- or 64-bit (`w`), for the two-operand instruction `op`: add, sub, imul, and, or or xor.
  enc::Insn op_rr(InstId op, bool w, uint8_t d, uint8_t s) const {
    switch (op) {
      case x86::Inst::kIdImul: return enc::imul_rr(w, d, s);
      case x86::Inst::kIdSub: return enc::alu_rr(enc::Alu::Sub, w, d, s);
      case x86::Inst::kIdAnd: return enc::alu_rr(enc::Alu::And, w, d, s);
      case x86::Inst::kIdOr: return enc::alu_rr(enc::Alu::Or, w, d, s);
      case x86::Inst::kIdXor: return enc::alu_rr(enc::Alu::Xor, w, d, s);
      default: return enc::alu_rr(enc::Alu::Add, w, d, s);
    }
  }
  uint32_t read32(uint32_t at) const {
    uint32_t v;
    std::memcpy(&v, a_.bufferData() + at, 4);
    return v;
  }
  void write32(uint32_t at, uint32_t v) { std::memcpy(a_.bufferData() + at, &v, 4); }
  /// A jump (cc = kAlways) or jcc whose target comes later (bind or patch it); rel8 when `is_short`.
  Fwd jump_forward(int cc, bool is_short);
  void patch(Fwd f, uint32_t target);
  void bind(Fwd f) { patch(f, offset()); }
  /// A jump or jcc to an offset already emitted, in the shortest form (as asmjit encodes a bound label).
  void jump_back(int cc, uint32_t target);
  /// A jump or jcc to the entry of guest pc `target` (a block start).
  void jump_to_pc(int cc, uint32_t target);
  /// Points the chain of forward jumps starting at `site` at `target`.
  void resolve(uint32_t site, uint32_t target);
  /// The code of `pc` starts here; a block start resolves the jumps waiting for it.
  void bind_pc(uint32_t pc, bool block_start);
  /// The pcs without code from filled_ to `end` take the entry `here` (a chain waiting on one is unbound_).
  void fill_to(uint32_t end, uint32_t here);

  // ---- exits
  // Every stub is bound before guest code.
  uint32_t at(const Label& stub) const { return static_cast<uint32_t>(a_.code()->labelOffset(stub)); }
  void exit_call(const Label& stub) {  // E8 rel32
    const uint32_t d = at(stub) - (offset() + 5);
    put({0xE8, uint8_t(d), uint8_t(d >> 8), uint8_t(d >> 16), uint8_t(d >> 24)});
  }
  void exit_pc(const Label& stub, uint32_t pc) {
    emit(enc::mov_r32_imm(kTmpId, pc));
    jump_back(kAlways, at(stub));
  }
  void trap() { exit_call(trap_call_); }

  void emit_runtime();
  bool is_jump_target(uint32_t pc) const { return scan_.is_jump_target(pc); }
  /// Emits the block starting at `start`; false when the memory limit stops the compilation.
  bool emit_block(uint32_t start);
  /// Emits the block's charge; returns its length.
  uint32_t emit_charge(uint32_t pc, Gas cost, bool stub_is_near);
  void emit_instruction(const Instruction& insn);
  void emit_dynamic_jump();
  void emit_branch(const Instruction& insn, bool with_imm);
  void defer(Deferred d);
  /// Lays out the queued cold code here (where nothing falls through).
  void flush_deferred();
  bool over_limit() const { return memory_limit_ != 0 && memory_needed() > memory_limit_; }
  bool failed() const { return asm_error_ != kErrorOk || over_limit(); }

  enc::Mem guest_mem(uint32_t size, int base_reg, uint32_t offset);
  void emit_load(const Instruction& insn, uint32_t size, bool is_signed, int base_reg, uint32_t offset);
  void emit_store_reg(uint8_t value, uint32_t size, int base_reg, uint32_t offset);
  void emit_store_imm(uint32_t value, uint32_t size, int base_reg, uint32_t offset);

  // d = x op y (64-bit, two-operand instruction `op`).
  void binop64(InstId op, uint8_t d, uint8_t x, uint8_t y);
  // d = sx32(x op y).
  void binop32(InstId op, uint8_t d, uint8_t x, uint8_t y);
  void binop_imm64(enc::Alu op, uint8_t d, uint8_t s, uint32_t imm);
  void shift_imm(enc::Shift op, uint8_t d, uint8_t s, uint32_t amount, bool is32);
  void shift_imm_alt(InstId id, uint8_t d, uint8_t s, uint32_t value, bool is32);
  void shift_var(InstId id, uint8_t d, uint8_t x, uint8_t y, bool is32);
  void rotate_var(InstId id, uint8_t d, uint8_t x, uint8_t y, bool is32);
  void set_cc(InstId setcc, uint8_t d, uint8_t x, const Operand& y);
  void select(InstId cmovcc, uint8_t d, uint8_t x, uint8_t y);
  void divrem(uint8_t d, uint8_t x, uint8_t y, bool is32, bool is_signed, bool is_rem);
  void mul_upper(uint8_t d, uint8_t x, uint8_t y, bool x_signed, bool y_signed);
  void mul_upper32(uint8_t d, uint8_t x, uint8_t y, bool x_signed, bool y_signed);

  const ModuleState& module_;
  CodeView code_;
  bool is_64_bit_;
  GasMeteringKind metering_;
  bool step_tracing_;
  CompiledCode& out_;
  x86::Assembler& a_;
  uint64_t memory_limit_;  // 0: none
  uint64_t table_bytes_;   // what the tables take (allocated up front)
  // The assembler's first error (it stops growing its buffer: nothing more is emitted or patched).
  const asmjit::Error& asm_error_;
  CodeBuffer& buffer_;  // the assembler's
  std::string internal_error_;

  std::vector<Instruction> block_;  // the block (or the piece of it) being translated
  std::vector<Deferred> deferred_;
  std::vector<std::pair<uint32_t, uint32_t>> orphans_;  // (pc, chain): jumps to a pc inside a block
  const CodeScan& scan_;
  uint32_t begin_, end_;  // the range of pcs translated
  // Pcs without code below this one hold the entry of the next pc with code (bind_pc fills them in).
  uint32_t filled_;
  uint32_t tail_ = 0;
  bool falls_through_ = false;  // the last instruction translated can fall through
  std::vector<std::pair<uint32_t, uint32_t>> unbound_;  // (pc, chain): jumps to a pc that never got code
  std::vector<std::pair<uint32_t, uint32_t>> fixups_;
  std::vector<std::pair<uint32_t, uint32_t>> reentries_;
  uint64_t padding_ = 0;          // bytes of loop-head alignment so far
  // The guest register whose full 64-bit value the flags (ZF, SF) reflect after the previous instruction's
  // code, or -1; valid only within a block.
  int flags_reg_ = -1;
  int prev_flags_reg_ = -1;
  uint32_t pc_ = 0;  // of the instruction being translated
  Label enter_, save_, fault_stub_;
  // Exit stubs: *_call_ are reached with a call (the pc from the return address), *_pc_ with the pc in ecx.
  Label trap_call_, trap_pc_, halt_, ecalli_call_, out_of_gas_pc_, sbrk_call_, memset_call_, step_call_;
  Label access_call_, access_pc_, block_trap_call_, out_of_gas_call_, dynamic_jump_miss_call_;
};

// ------------------------------------------------------------------------------------------------
// Jumps

Codegen::Fwd Codegen::jump_forward(int cc, bool is_short) {
  const uint8_t op = static_cast<uint8_t>(cc);
  if (is_short) {
    put({cc == kAlways ? uint8_t(0xEB) : uint8_t(0x70 + op), 0});
    return {offset() - 1, true};
  }
  if (cc == kAlways) put({0xE9, 0, 0, 0, 0});
  else put({0x0F, uint8_t(0x80 + op), 0, 0, 0, 0});
  return {offset() - 4, false};
}

void Codegen::patch(Fwd f, uint32_t target) {
  if (uint64_t(f.site) + (f.is_short ? 1 : 4) > a_.offset()) return;  // the assembler failed before emitting it
  if (f.is_short) {
    const int64_t distance = int64_t(target) - (int64_t(f.site) + 1);
    if (distance < INT8_MIN || distance > INT8_MAX) {
      if (internal_error_.empty())
        internal_error_ = fmt::format("a short jump at native offset {} does not reach {}", f.site, target);
      return;
    }
    a_.bufferData()[f.site] = static_cast<uint8_t>(static_cast<int8_t>(distance));
    return;
  }
  write32(f.site, static_cast<uint32_t>(target - (f.site + 4)));
}

void Codegen::jump_back(int cc, uint32_t target) {
  const uint8_t op = static_cast<uint8_t>(cc);
  const int64_t short_distance = int64_t(target) - (int64_t(offset()) + 2);
  if (short_distance >= INT8_MIN) {
    put({cc == kAlways ? uint8_t(0xEB) : uint8_t(0x70 + op), static_cast<uint8_t>(static_cast<int8_t>(short_distance))});
    return;
  }
  const uint32_t length = cc == kAlways ? 5 : 6;
  const uint32_t d = target - (offset() + length);
  if (cc == kAlways) put({0xE9, uint8_t(d), uint8_t(d >> 8), uint8_t(d >> 16), uint8_t(d >> 24)});
  else put({0x0F, uint8_t(0x80 + op), uint8_t(d), uint8_t(d >> 8), uint8_t(d >> 16), uint8_t(d >> 24)});
}

void Codegen::jump_to_pc(int cc, uint32_t target) {
  if (target < begin_ || target >= end_) {
    const Fwd f = jump_forward(cc, false);
    fixups_.emplace_back(f.site, target);
    return;
  }
  if (out_.info_[target] & CompiledCode::kHasCode) {
    jump_back(cc, out_.entry_[target]);
    return;
  }
  // Not emitted yet: this jump becomes the head of the target's chain.
  const Fwd f = jump_forward(cc, false);
  write32(f.site, out_.entry_[target]);
  out_.entry_[target] = f.site;
}

void Codegen::resolve(uint32_t site, uint32_t target) {
  while (site != kNoCode && uint64_t(site) + 4 <= a_.offset()) {
    const uint32_t next = read32(site);
    write32(site, static_cast<uint32_t>(target - (site + 4)));
    site = next;
  }
}

void Codegen::fill_to(uint32_t end, uint32_t here) {
  uint32_t* const entry = out_.entry_.data();
  for (; filled_ < end; ++filled_) {
    if (entry[filled_] != kNoCode) [[unlikely]]
      unbound_.emplace_back(filled_, entry[filled_]);
    entry[filled_] = here;
  }
}

void Codegen::bind_pc(uint32_t pc, bool block_start) {
  // The pcs since the last one with code (an instruction's operand bytes) take this entry: entry_ stays
  // non-decreasing, so that pc_at can search it. One that a jump waits for never gets code (the sweep binds
  // every valid jump target, so this is not expected): that jump traps there (emit_all).
  const uint32_t here = offset();
  fill_to(pc, here);
  filled_ = pc + 1;
  uint32_t* const entry = out_.entry_.data();
  const uint32_t chain = entry[pc];
  if (chain != kNoCode) {
    // Jumps only go to valid jump targets, which the sweep starts blocks at; any other target traps, as
    // one the sweep never reaches.
    if (block_start) resolve(chain, here);
    else orphans_.emplace_back(pc, chain);
  }
  entry[pc] = here;
  out_.info_[pc] |= CompiledCode::kHasCode;
}

// ------------------------------------------------------------------------------------------------
// Entry, exits

void Codegen::emit_runtime() {
  // enter(VmCtx* rdi): save the host's callee-saved registers, build the frame, load the guest state.
  a_.bind(enter_);
  for (const Gp& r : kCalleeSaved) a_.push(r);
  a_.push(asmjit::imm(0));
  a_.push(x86::qword_ptr(x86::rdi, CTX_OFF(djump_table)));
  a_.push(x86::qword_ptr(x86::rdi, CTX_OFF(gas)));
  a_.push(x86::rdi);
  a_.mov(kTmp, x86::rdi);
  a_.mov(kGas, x86::qword_ptr(kTmp, CTX_OFF(gas)));
  for (int i = 0; i < kRegCount; ++i) a_.mov(kGuest[i], x86::qword_ptr(kTmp, off_reg(i)));
  a_.jmp(x86::qword_ptr(kTmp, CTX_OFF(target)));

  // save: r15 = VmCtx, the gas in the frame; store the guest state and return to the host.
  a_.bind(save_);
  for (int i = 0; i < kRegCount; ++i) a_.mov(x86::qword_ptr(kCtx, off_reg(i)), kGuest[i]);
  a_.mov(kTmp, x86::qword_ptr(x86::rsp, kFrameGas));
  a_.mov(x86::qword_ptr(kCtx, CTX_OFF(gas)), kTmp);
  a_.add(x86::rsp, kFrameSize);
  for (auto it = std::rbegin(kCalleeSaved); it != std::rend(kCalleeSaved); ++it) a_.pop(*it);
  a_.ret();

  // The signal handler resumes here after a guest memory fault (it has set VmCtx::exit itself).
  a_.bind(fault_stub_);
  a_.mov(x86::qword_ptr(x86::rsp, kFrameGas), kGas);
  a_.mov(kCtx, x86::qword_ptr(x86::rsp, kFrameCtx));
  a_.jmp(save_);

  // ecx = the pc.
  auto stub_pc = [&](Label& label, Exit kind) {
    label = a_.newLabel();
    a_.bind(label);
    a_.mov(x86::qword_ptr(x86::rsp, kFrameGas), kGas);
    a_.mov(kCtx, x86::qword_ptr(x86::rsp, kFrameCtx));
    a_.mov(x86::dword_ptr(kCtx, CTX_OFF(pc)), kTmp.r32());
    a_.mov(x86::dword_ptr(kCtx, CTX_OFF(exit)), static_cast<uint32_t>(kind));
    a_.jmp(save_);
  };
  // Reached with a call from inside an instruction's code: the pc field gets the native offset the call
  // returns to (position-independent: relative to VmCtx::code_begin, where the code runs).
  auto stub_call = [&](Label& label, Exit kind) {
    label = a_.newLabel();
    a_.bind(label);
    a_.pop(kTmp);
    a_.mov(x86::qword_ptr(x86::rsp, kFrameGas), kGas);
    a_.mov(kCtx, x86::qword_ptr(x86::rsp, kFrameCtx));
    a_.sub(kTmp, x86::qword_ptr(kCtx, CTX_OFF(code_begin)));
    a_.mov(x86::dword_ptr(kCtx, CTX_OFF(pc)), kTmp.r32());
    a_.mov(x86::dword_ptr(kCtx, CTX_OFF(exit)), static_cast<uint32_t>(kind) | kExitAtReturnOffset);
    a_.jmp(save_);
  };
  stub_call(trap_call_, Exit::Trap);
  stub_pc(trap_pc_, Exit::Trap);
  stub_pc(halt_, Exit::Halt);
  stub_call(ecalli_call_, Exit::Ecalli);
  stub_pc(out_of_gas_pc_, Exit::OutOfGas);
  stub_call(sbrk_call_, Exit::Sbrk);
  stub_call(memset_call_, Exit::Memset);
  stub_call(step_call_, Exit::Step);
  stub_call(access_call_, Exit::Access);
  stub_pc(access_pc_, Exit::Access);
  stub_call(block_trap_call_, Exit::BlockTrap);
  stub_call(out_of_gas_call_, Exit::OutOfGas);

  // A dynamic jump that missed the table calls this: ecx = its rotated address, or 0 (an empty entry).
  // The return-to-host address halts; anything else traps at the jump (named by the return address).
  static_assert(kReturnToHost % 2 == 0);
  dynamic_jump_miss_call_ = a_.newLabel();
  a_.bind(dynamic_jump_miss_call_);
  a_.cmp(x86::ecx, static_cast<int32_t>(kReturnToHost / 2));
  a_.jne(trap_call_);
  a_.add(x86::rsp, 8);
  a_.jmp(halt_);
}

uint64_t Codegen::memory_needed() const {
  return uint64_t(a_.offset()) + table_bytes_ + block_.capacity() * sizeof(Instruction) +
         deferred_.capacity() * sizeof(Deferred) + orphans_.capacity() * sizeof(orphans_[0]) +
         unbound_.capacity() * sizeof(unbound_[0]) + fixups_.capacity() * sizeof(fixups_[0]) +
         reentries_.capacity() * sizeof(reentries_[0]);
}

bool Codegen::emit_all() {
  enter_ = a_.newLabel();
  save_ = a_.newLabel();
  fault_stub_ = a_.newLabel();
  emit_runtime();

  const uint32_t size = code_.size();
  deferred_.reserve(kMaxDeferred + 2);

  for (uint32_t pc = begin_; pc < end_;) {
    if (pc < size && !code_.is_instruction_boundary(pc)) {
      ++pc;
      continue;
    }
    if (!emit_block(pc)) return false;
    const Instruction& last = block_.back();
    pc = last.valid ? last.next_pc() : last.pc + 1;
  }
  // A range that ends before the code does ends at a block start, which the last block may fall into.
  if (end_ <= size && falls_through_) jump_to_pc(kAlways, end_);
  flush_deferred();
  // The pcs after the last instruction (its operands) take the entry of the next part's first.
  tail_ = filled_;
  fill_to(std::min(end_, size + 1), offset());
  if (failed()) return false;

  // Jump targets the sweep did not start a block at, and those never reached with code, trap there.
  for (const auto& [pc, chain] : orphans_) {
    resolve(chain, offset());
    exit_pc(trap_pc_, pc);
  }
  for (const auto& [pc, chain] : unbound_) {
    resolve(chain, offset());
    exit_pc(trap_pc_, pc);
  }
  return !failed();
}

// Loops run faster when their first instruction does not sit just before a 32-byte boundary (the fetch
// and micro-op cache windows): the targets of backward branches and jumps start 32-byte aligned.
//
// The same walk over the instruction starts finds the valid jump targets as CodeView::is_jump_target_valid
// does, for all of them at once: an instruction start at most 24 bits after the previous one, which ends a
// block (or pc 0).
CodeScan::CodeScan(const CodeView& code, bool in_two_halves) : size(code.size()) {
  const size_t words = size / 64 + 1;
  loop_heads.assign(words, 0);
  jump_targets.assign(words, 0);
  const size_t half = words / 2;
  if (in_two_halves && half > 0) {
    // Each half writes its own words of jump_targets; the second half's loop heads (which may lie in the
    // first) go to a bitmap of their own, or'ed in after.
    std::vector<uint64_t> heads(words, 0);
    try {
      std::thread second([&] { walk(code, half, words, heads); });
      walk(code, 0, half, loop_heads);
      second.join();
      for (size_t i = 0; i < words; ++i) loop_heads[i] |= heads[i];
      return;
    } catch (const std::system_error&) {
      // No thread (none started): the whole walk in this one.
    }
  }
  walk(code, 0, words, loop_heads);
}

void CodeScan::walk(const CodeView& code, size_t first, size_t last, std::vector<uint64_t>& heads) {
  // What the walk needs of each opcode byte: whether it is an instruction that ends a block, and whether
  // it has a target.
  constexpr uint8_t kEndsBlock = 1, kHasTarget = 2;
  uint8_t kinds[256] = {};
  for (int byte = 0; byte < 256; ++byte) {
    const std::optional<Opcode> op = opcode_from_byte(code.isa(), static_cast<uint8_t>(byte));
    if (!op) continue;
    const Format f = format(*op);
    kinds[byte] = static_cast<uint8_t>((ends_block(*op) ? kEndsBlock : 0) |
                                       (f == Format::Offset || f == Format::RegImmOffset || f == Format::RegRegOffset ? kHasTarget : 0));
  }
  const std::span<const uint8_t> bitmask = code.bitmask();
  // The instruction start before the first word, if it is near enough to make a jump target of the first
  // start in it (at most kBitmaskMaxSkip + 1 pcs before).
  uint64_t previous = 0;
  bool previous_ends_block = false;
  for (uint64_t pc = first * 64; pc-- > 0 && first * 64 - pc <= kBitmaskMaxSkip + 1;) {
    if (!code.is_instruction_boundary(static_cast<uint32_t>(pc))) continue;
    previous = pc;
    previous_ends_block = kinds[code.code()[pc]] & kEndsBlock;
    break;
  }
  // Instruction starts, a bitmask word (64 pcs) at a time.
  const size_t bytes = std::min<size_t>(bitmask.size(), (size_t{size} + 7) / 8);
  for (size_t byte = first * 8; byte < std::min(bytes, last * 8); byte += 8) {
    uint64_t word = 0;
    std::memcpy(&word, bitmask.data() + byte, std::min<size_t>(8, bytes - byte));
    if (byte * 8 + 64 > size) word &= (uint64_t(1) << (size % 64)) - 1;  // pcs below size only
    uint64_t targets = 0;
    for (; word != 0; word &= word - 1) {
      const int bit = std::countr_zero(word);
      const uint64_t pc = byte * 8 + static_cast<uint64_t>(bit);
      if (pc == 0 || (previous_ends_block && pc - previous - 1 <= kBitmaskMaxSkip)) targets |= uint64_t(1) << bit;
      const uint8_t kind = kinds[code.code()[pc]];
      previous = pc;
      previous_ends_block = kind & kEndsBlock;
      if (!(kind & kHasTarget)) continue;
      const Instruction insn = code.decode(static_cast<uint32_t>(pc));
      if (insn.valid && insn.target <= pc) heads[insn.target >> 6] |= uint64_t(1) << (insn.target & 63);
    }
    jump_targets[byte / 8] = targets;
  }
}

bool Codegen::emit_block(uint32_t start) {
  if (failed()) return false;
  // The block is translated piece by piece; its cost comes before its first instruction. A long block is
  // summed piece by piece under a simple gas model (a sum over the instructions, see CostModel) and decoded
  // again as it is translated; any other model needs the whole block at once.
  bool ended = decode_piece(code_, start, kBlockPiece, block_);
  Gas cost = 0;
  if (metering_ != GasMeteringKind::None) {
    if (ended) {
      cost = module_.gas_model->block_cost(code_, block_);
    } else if (simple_model(module_)) {
      cost = block_cost_at(module_, start, block_);
      decode_piece(code_, start, kBlockPiece, block_);
    } else {
      code_.decode_block(start, block_);
      ended = true;
      cost = module_.gas_model->block_cost(code_, block_);
    }
  }
  if (failed()) return false;

  if (scan_.is_loop_head(start)) {
    // Aligned while the padding stays within about one byte per byte of guest code.
    const uint32_t pad = (32 - offset() % 32) % 32;
    if (padding_ + pad <= uint64_t(start) + 32) {
      padding_ += pad;
      a_.align(AlignMode::kCode, 32);
    }
  }
  flags_reg_ = -1;
  const Instruction& lone = block_.front();  // when the block has one instruction
  // A block of a lone trap: the host charges it (Exit::BlockTrap).
  const bool block_trap = metering_ != GasMeteringKind::None && ended && block_.size() == 1 &&
                          (!lone.valid || lone.opcode == Opcode::trap);
  // A single jump: its out-of-gas exit follows it, within a short jump (flush_deferred lays it out first).
  const bool near_stub = ended && block_.size() == 1 && lone.valid &&
                         (lone.opcode == Opcode::jump || lone.opcode == Opcode::load_imm_and_jump ||
                          lone.opcode == Opcode::jump_indirect || lone.opcode == Opcode::load_imm_and_jump_indirect);
  bool falls_through = true;
  for (size_t i = 0;; ++i) {
    if (i == block_.size()) {
      if (ended) break;
      // The next piece of a long block.
      ended = decode_piece(code_, block_.back().next_pc(), kBlockPiece, block_);
      i = 0;
      if (failed()) return false;
    }
    const Instruction& insn = block_[i];
    const uint32_t pc = insn.pc;
    const bool block_start = pc == start;
    bind_pc(pc, block_start);
    if (step_tracing_) {
      exit_call(step_call_);
      if (offset() - out_.entry_[pc] != kStepLength && internal_error_.empty())
        internal_error_ = fmt::format("the step stop at native offset {} is not {} bytes", out_.entry_[pc], kStepLength);
    }
    if (block_start && block_trap) {
      out_.info_[pc] |= CompiledCode::kBlockTrap;
      exit_call(block_trap_call_);
      falls_through = false;
      continue;
    }
    if (block_start && metering_ != GasMeteringKind::None)
      out_.info_[pc] |= static_cast<uint8_t>(emit_charge(pc, cost, near_stub) << CompiledCode::kChargeShift);
    pc_ = pc;
    // Step tracing stops (and the host may resume) between any two instructions: nothing carries over.
    prev_flags_reg_ = step_tracing_ ? -1 : std::exchange(flags_reg_, -1);
    emit_instruction(insn);
    falls_through = insn.valid && can_fallthrough(insn.opcode);
    // A long queue goes behind a jump (flags and registers are untouched on the way).
    if (deferred_.size() >= kMaxDeferred && (falls_through || i + 1 < block_.size() || !ended)) {
      const Fwd over = jump_forward(kAlways, false);
      flush_deferred();
      bind(over);
    }
  }
  if (!falls_through) flush_deferred();
  falls_through_ = falls_through;
  return true;
}

uint32_t Codegen::emit_charge(uint32_t pc, Gas cost, bool stub_is_near) {
  const uint32_t start = offset();
  if (cost <= INT32_MAX) {
    emit(enc::alu_ri(enc::Alu::Sub, true, kGasId, static_cast<int32_t>(cost)));
  } else {
    emit(enc::mov_r64_imm(kTmpId, static_cast<int64_t>(cost)));
    emit(enc::alu_rr(enc::Alu::Sub, true, kGasId, kTmpId));
  }
  const Fwd js = jump_forward(kCondS, stub_is_near);
  defer({js.site, pc, Deferred::OutOfGas, 0, js.is_short});
  const uint32_t length = offset() - start;
  if (length >= (1u << (8 - CompiledCode::kChargeShift)) && internal_error_.empty())
    internal_error_ = fmt::format("the charge at native offset {} is {} bytes long", start, length);
  return length;
}

void Codegen::defer(Deferred d) { deferred_.push_back(d); }

void Codegen::flush_deferred() {
  auto lay_out = [&](const Deferred& d) {
    switch (d.kind) {
      case Deferred::OutOfGas:
        // Nothing is given back here: under sync metering the host gives the block's charge back (the
        // block is retried), under async it keeps it. Right after a block of one instruction (a short
        // jump reaches it), the call names that instruction, the block's start.
        patch({d.site, d.is_short}, offset());
        if (d.is_short) exit_call(out_of_gas_call_);
        else exit_pc(out_of_gas_pc_, d.pc);
        break;
      case Deferred::Access:
        patch({d.site, d.is_short}, offset());
        exit_pc(access_pc_, d.pc);
        break;
      case Deferred::Reentry:
        // The host enters the branch here: the flags its predecessor set are set first.
        reentries_.emplace_back(d.pc, offset());
        emit(enc::test_rr(is_64_bit_, id(d.reg), id(d.reg)));
        jump_back(kAlways, out_.entry_[d.pc]);
        break;
    }
  };
  // What a short jump reaches (only the charge of the block just translated) comes first.
  for (const Deferred& d : deferred_)
    if (d.is_short) lay_out(d);
  for (const Deferred& d : deferred_)
    if (!d.is_short) lay_out(d);
  deferred_.clear();
}

// ------------------------------------------------------------------------------------------------
// Control flow

void Codegen::emit_dynamic_jump() {
  // ecx = the guest address; jump-table entry k has address 2 * k (k >= 1). Rotating right by one turns a
  // valid address into k and an odd one into a number of 2^31 or more, far out of range; the native table
  // has an empty entry 0 (address 0 traps). The return-to-host address is rare, so it is told apart only
  // once the range check has failed, by a call after the indirect jump: the hot path ends with it.
  emit(enc::shift_ri(enc::Shift::Ror, false, kTmpId, 1));
  emit(enc::alu_ri(enc::Alu::Cmp, false, kTmpId, static_cast<int32_t>(module_.blob.jump_table().size() + 1)));
  const Fwd out_of_range = jump_forward(kCondAE, true);
  // Spectre v1: while the range check is mispredicted, the load below must not reach past the table. The
  // flags still hold the comparison, and cmov is not predicted: an out-of-range index becomes 0, the empty
  // entry, whatever the prediction.
  a_.cmovae(x86::ecx, x86::dword_ptr(x86::rsp, kFrameZero));
  emit(enc::shift_ri(enc::Shift::Shl, true, kTmpId, 3));
  a_.add(kTmp, x86::qword_ptr(x86::rsp, kFrameJumpTable));
  emit(enc::load(enc::Load::U64, kTmpId, enc::base_disp(kTmpId, 0)));
  emit(enc::test_rr(true, kTmpId, kTmpId));
  const Fwd bad = jump_forward(kCondE, true);
  a_.jmp(kTmp);
  // Cold: the return-to-host address halts, anything else traps here.
  bind(out_of_range);
  bind(bad);
  exit_call(dynamic_jump_miss_call_);
}

void Codegen::emit_branch(const Instruction& insn, bool with_imm) {
  // A branch with an invalid target (taken or not) traps unconditionally, as in the reference.
  if (!is_jump_target(insn.target) || !is_jump_target(insn.next_pc())) {
    trap();
    return;
  }
  const bool eq_or_ne = insn.opcode == Opcode::branch_eq_imm || insn.opcode == Opcode::branch_not_eq_imm;
  if (!with_imm) {
    emit(enc::alu_rr(enc::Alu::Cmp, is_64_bit_, id(insn.reg[0]), id(insn.reg[1])));
  } else if (insn.imm[0] == 0 && eq_or_ne && prev_flags_reg_ == insn.reg[0]) {
    // ZF already tells whether the register is zero: `add r, imm; jnz` fuses into one macro-op. The host
    // entering at the branch (from the middle of the block) goes through a reentry stub, which sets the
    // flags first.
    out_.info_[insn.pc] |= CompiledCode::kReentry;
    defer({0, insn.pc, Deferred::Reentry, insn.reg[0], false});
  } else if (insn.imm[0] == 0) {
    emit(enc::test_rr(is_64_bit_, id(insn.reg[0]), id(insn.reg[0])));  // the same flags as cmp with 0
  } else {
    emit(enc::alu_ri(enc::Alu::Cmp, is_64_bit_, id(insn.reg[0]), static_cast<int32_t>(insn.imm[0])));
  }
  int cc = kAlways;
  switch (insn.opcode) {
    case Opcode::branch_eq:
    case Opcode::branch_eq_imm: cc = kCondE; break;
    case Opcode::branch_not_eq:
    case Opcode::branch_not_eq_imm: cc = kCondNE; break;
    case Opcode::branch_less_unsigned:
    case Opcode::branch_less_unsigned_imm: cc = kCondB; break;
    case Opcode::branch_less_signed:
    case Opcode::branch_less_signed_imm: cc = kCondL; break;
    case Opcode::branch_greater_or_equal_unsigned:
    case Opcode::branch_greater_or_equal_unsigned_imm: cc = kCondAE; break;
    case Opcode::branch_greater_or_equal_signed:
    case Opcode::branch_greater_or_equal_signed_imm: cc = kCondGE; break;
    case Opcode::branch_less_or_equal_unsigned_imm: cc = kCondBE; break;
    case Opcode::branch_greater_unsigned_imm: cc = kCondA; break;
    case Opcode::branch_less_or_equal_signed_imm: cc = kCondLE; break;
    case Opcode::branch_greater_signed_imm: cc = kCondG; break;
    default: break;
  }
  jump_to_pc(cc, insn.target);
}

// ------------------------------------------------------------------------------------------------
// Memory

// gs:[zero-extended 32-bit address] (the host points the gs base at guest memory); base_reg < 0 for an
// absolute address.
enc::Mem Codegen::guest_mem(uint32_t size, int base_reg, uint32_t offset) {
  const enc::Mem at_rcx{kTmpId, -1, 0, true};
  // The reference rejects an access that reaches the last byte below 4 GiB, which the hardware cannot
  // tell apart; that page is mapped only with dynamic paging, so only such modules check.
  if (base_reg < 0 && offset > UINT32_MAX - size) {
    exit_call(access_call_);
    return at_rcx;  // not reached
  }
  if (base_reg >= 0 && module_.config.dynamic_paging) {
    emit(enc::lea(false, kTmpId, enc::base_disp(id(static_cast<uint8_t>(base_reg)), static_cast<int32_t>(offset))));
    emit(enc::alu_ri(enc::Alu::Cmp, false, kTmpId, static_cast<int32_t>(UINT32_MAX - size)));
    const Fwd slow = jump_forward(kCondA, false);  // to cold code: the host checks the access
    defer({slow.site, pc_, Deferred::Access, 0, false});
    return at_rcx;
  }
  if (base_reg < 0) {
    // An absolute displacement is sign-extended by the CPU: addresses from 2 GiB up go through rcx.
    if (offset <= INT32_MAX) return {-1, -1, static_cast<int32_t>(offset), true};
    emit(enc::mov_r32_imm(kTmpId, offset));
    return at_rcx;
  }
  // 32-bit addressing (the 0x67 prefix): the CPU computes base + offset modulo 2^32, as the guest does.
  return {static_cast<int8_t>(id(static_cast<uint8_t>(base_reg))), -1, static_cast<int32_t>(offset), true, true};
}

void Codegen::emit_load(const Instruction& insn, uint32_t size, bool is_signed, int base_reg, uint32_t offset) {
  const enc::Mem m = guest_mem(size, base_reg, offset);
  using enc::Load;
  const Load kind = size == 8   ? Load::U64
                    : size == 4 ? (is_signed ? Load::I32 : Load::U32)
                    : size == 2 ? (is_signed ? Load::I16 : Load::U16)
                                : (is_signed ? Load::I8 : Load::U8);
  emit(enc::load(kind, id(insn.reg[0]), m));
}

void Codegen::emit_store_reg(uint8_t value, uint32_t size, int base_reg, uint32_t offset) {
  const enc::Mem m = guest_mem(size, base_reg, offset);
  emit(enc::store(size, id(value), m));
}

void Codegen::emit_store_imm(uint32_t value, uint32_t size, int base_reg, uint32_t offset) {
  const enc::Mem m = guest_mem(size, base_reg, offset);
  emit(enc::store_imm(size, static_cast<int32_t>(value), m));  // qword: sign-extended, as the guest's
}

// ------------------------------------------------------------------------------------------------
// Arithmetic helpers

void Codegen::binop64(InstId op, uint8_t d, uint8_t x, uint8_t y) {
  const bool commutative = op != x86::Inst::kIdSub;
  if (d == x) {
    emit(op_rr(op, true, id(d), id(y)));
  } else if (d == y && commutative) {
    emit(op_rr(op, true, id(d), id(x)));
  } else if (op == x86::Inst::kIdAdd) {
    emit(enc::lea(true, id(d), sum(x, y)));
  } else if (d == y) {
    emit(enc::mov_rr(true, kTmpId, id(x)));
    emit(op_rr(op, true, kTmpId, id(y)));
    emit(enc::mov_rr(true, id(d), kTmpId));
  } else {
    emit(enc::mov_rr(true, id(d), id(x)));
    emit(op_rr(op, true, id(d), id(y)));
  }
}

void Codegen::binop32(InstId op, uint8_t d, uint8_t x, uint8_t y) {
  // The 32-bit result goes straight into d's low half when that does not clobber an operand first.
  const bool commutative = op != x86::Inst::kIdSub;
  Gp r = g32(d);
  if (d == x) {
    emit(op_rr(op, false, id(d), id(y)));
  } else if (d == y && commutative) {
    emit(op_rr(op, false, id(d), id(x)));
  } else if (op == x86::Inst::kIdAdd) {
    emit(enc::lea(false, id(d), sum(x, y)));
  } else if (d != y) {
    emit(enc::mov_rr(false, id(d), id(x)));
    emit(op_rr(op, false, id(d), id(y)));
  } else {
    r = x86::ecx;
    emit(enc::mov_rr(false, kTmpId, id(x)));
    emit(op_rr(op, false, kTmpId, id(y)));
  }
  set32(d, r);
}

void Codegen::binop_imm64(enc::Alu op, uint8_t d, uint8_t s, uint32_t imm) {
  if (d != s) emit(enc::mov_rr(true, id(d), id(s)));
  // 32-bit programs: the flags then describe the low half, which branches test.
  emit(enc::alu_ri(op, is_64_bit_, id(d), static_cast<int32_t>(imm)));
  flags_reg_ = d;
}

void Codegen::shift_imm(enc::Shift op, uint8_t d, uint8_t s, uint32_t amount, bool is32) {
  if (is32) {
    if (d != s) emit(enc::mov_rr(false, id(d), id(s)));
    emit(enc::shift_ri(op, false, id(d), static_cast<uint8_t>(amount & 31)));
    // A logical right shift by 1..31 clears bit 31, so the zero extension of the 32-bit write is already
    // the sign extension.
    if (op != enc::Shift::Shr || (amount & 31) == 0) set32(d, g32(d));
  } else {
    if (d != s) emit(enc::mov_rr(true, id(d), id(s)));
    emit(enc::shift_ri(op, true, id(d), static_cast<uint8_t>(amount & 63)));
  }
}

// d = value shifted by s (BMI2 takes the count from any register and masks it itself).
void Codegen::shift_imm_alt(InstId id, uint8_t d, uint8_t s, uint32_t value, bool is32) {
  if (is32) {
    a_.mov(x86::ecx, value);
    a_.emit(id, x86::ecx, x86::ecx, g32(s));
    set32(d, x86::ecx);
  } else {
    a_.mov(kTmp, sx(value));
    a_.emit(id, g(d), kTmp, g(s));
  }
}

void Codegen::shift_var(InstId id, uint8_t d, uint8_t x, uint8_t y, bool is32) {
  if (is32) {
    a_.emit(id, result32(d), g32(x), g32(y));
    set32(d, result32(d));
  } else {
    a_.emit(id, g(d), g(x), g(y));
  }
}

// Rotations by a register need the count in cl.
void Codegen::rotate_var(InstId id, uint8_t d, uint8_t x, uint8_t y, bool is32) {
  if (is32) {
    a_.mov(x86::ecx, g32(y));
    a_.mov(g32(d), g32(x));
    a_.emit(id, g32(d), x86::cl);
    set32(d, g32(d));
  } else {
    a_.mov(kTmp, g(y));
    if (d != x) a_.mov(g(d), g(x));
    a_.emit(id, g(d), x86::cl);
  }
}

void Codegen::set_cc(InstId setcc, uint8_t d, uint8_t x, const Operand& y) {
  a_.xor_(x86::ecx, x86::ecx);
  a_.emit(x86::Inst::kIdCmp, gc(x), y);
  a_.emit(setcc, x86::cl);
  a_.mov(g(d), kTmp);
}

// d = cmovcc(x, y) after comparing x with y: max/min.
void Codegen::select(InstId cmovcc, uint8_t d, uint8_t x, uint8_t y) {
  a_.mov(kTmp, g(x));
  a_.cmp(is_64_bit_ ? kTmp : Gp(x86::ecx), gc(y));
  a_.emit(cmovcc, kTmp, g(y));
  a_.mov(g(d), kTmp);
}

// Division without hardware faults: /0 and INT_MIN / -1 are handled before `div`, with the reference's
// results. rax and rdx (guest registers) are saved around the instruction.
void Codegen::divrem(uint8_t d, uint8_t x, uint8_t y, bool is32, bool is_signed, bool is_rem) {
  const Gp gx = is32 ? g32(x) : g(x), gy = is32 ? g32(y) : g(y);
  // Every jump here stays within this instruction's code: short ones.
  Fwd overflow_done{0, true};
  a_.test(gy, gy);
  const Fwd by_zero = jump_forward(kCondE, true);
  if (is_signed) {
    a_.cmp(gy, -1);
    const Fwd normal = jump_forward(kCondNE, true);
    if (is32) {
      a_.cmp(gx, static_cast<int32_t>(INT32_MIN));
    } else {
      a_.mov(kTmp, INT64_MIN);
      a_.cmp(gx, kTmp);
    }
    const Fwd normal2 = jump_forward(kCondNE, true);
    if (is_rem) a_.xor_(g32(d), g32(d));
    else is32 ? a_.movsxd(g(d), gx) : a_.mov(g(d), gx);
    overflow_done = jump_forward(kAlways, true);
    bind(normal);
    bind(normal2);
  }
  a_.push(x86::rax);
  a_.push(x86::rdx);
  if (is32) {
    a_.mov(x86::ecx, gy);
    a_.mov(x86::eax, gx);
    if (is_signed) a_.cdq(x86::edx, x86::eax);
    else a_.xor_(x86::edx, x86::edx);
    if (is_signed) a_.idiv(x86::edx, x86::eax, x86::ecx);
    else a_.div(x86::edx, x86::eax, x86::ecx);
    a_.mov(x86::ecx, is_rem ? x86::edx : x86::eax);
  } else {
    a_.mov(kTmp, gy);
    a_.mov(x86::rax, gx);
    if (is_signed) a_.cqo(x86::rdx, x86::rax);
    else a_.xor_(x86::edx, x86::edx);
    if (is_signed) a_.idiv(x86::rdx, x86::rax, kTmp);
    else a_.div(x86::rdx, x86::rax, kTmp);
    a_.mov(kTmp, is_rem ? x86::rdx : x86::rax);
  }
  a_.pop(x86::rdx);
  a_.pop(x86::rax);
  if (is32) set32(d, x86::ecx);
  else a_.mov(g(d), kTmp);
  const Fwd done = jump_forward(kAlways, true);
  bind(by_zero);
  if (!is_rem) a_.mov(g(d), -1);  // all ones, signed or not
  else if (is32) a_.movsxd(g(d), gx);
  else if (d != x) a_.mov(g(d), gx);
  if (is_signed) bind(overflow_done);
  bind(done);
}

// The high 64 bits of the 128-bit product.
void Codegen::mul_upper(uint8_t d, uint8_t x, uint8_t y, bool x_signed, bool y_signed) {
  a_.push(x86::rax);
  a_.push(x86::rdx);
  a_.mov(kTmp, g(y));
  a_.mov(x86::rax, g(x));
  if (x_signed && y_signed) {
    a_.imul(x86::rdx, x86::rax, kTmp);
  } else if (!x_signed) {
    a_.mul(x86::rdx, x86::rax, kTmp);
  } else {
    // signed x unsigned: the unsigned product's high half, less y when x is negative.
    a_.mov(x86::rdx, x86::rax);
    a_.sar(x86::rdx, 63);
    a_.and_(x86::rdx, kTmp);
    a_.push(x86::rdx);
    a_.mul(x86::rdx, x86::rax, kTmp);
    a_.pop(kTmp);
    a_.sub(x86::rdx, kTmp);
  }
  a_.mov(kTmp, x86::rdx);
  a_.pop(x86::rdx);
  a_.pop(x86::rax);
  a_.mov(g(d), kTmp);
}

// 32-bit programs: the high 32 bits of the 64-bit product, sign-extended.
void Codegen::mul_upper32(uint8_t d, uint8_t x, uint8_t y, bool x_signed, bool y_signed) {
  if (y_signed) a_.movsxd(kTmp, g32(y));
  else a_.mov(x86::ecx, g32(y));
  a_.push(kTmp);
  if (x_signed) a_.movsxd(kTmp, g32(x));
  else a_.mov(x86::ecx, g32(x));
  a_.imul(kTmp, x86::qword_ptr(x86::rsp));
  a_.lea(x86::rsp, x86::ptr(x86::rsp, 8));
  a_.shr(kTmp, 32);
  set32(d, x86::ecx);
}

// ------------------------------------------------------------------------------------------------
// Instructions

void Codegen::emit_instruction(const Instruction& insn) {
  if (!insn.valid) {
    trap();
    return;
  }
  const uint8_t r0 = insn.reg[0], r1 = insn.reg[1], r2 = insn.reg[2];
  const uint32_t imm = insn.imm[0], imm2 = insn.imm[1];
  namespace I = x86::Inst;
  switch (insn.opcode) {
    // ---- control flow and system ----
    case Opcode::trap: trap(); break;
    case Opcode::fallthrough:
      // The next block is laid out right after this one.
      if (!module_.fallthrough_continues(code_, insn.next_pc())) trap();
      break;
    case Opcode::unlikely: break;
    case Opcode::memset: exit_call(memset_call_); break;
    case Opcode::ecalli: exit_call(ecalli_call_); break;  // the host reads the number from the code
    case Opcode::sbrk: exit_call(sbrk_call_); break;
    case Opcode::jump:
      if (is_jump_target(insn.target)) jump_to_pc(kAlways, insn.target);
      else trap();
      break;
    case Opcode::jump_indirect:
      if (imm == 0) emit(enc::mov_rr(false, kTmpId, id(r0)));
      else emit(enc::lea(false, kTmpId, enc::base_disp(id(r0), static_cast<int32_t>(imm))));
      emit_dynamic_jump();
      break;
    case Opcode::load_imm_and_jump:
      emit(enc::mov_r64_imm(id(r0), sx(imm)));  // written before a trap too, as in the reference
      if (is_jump_target(insn.target)) jump_to_pc(kAlways, insn.target);
      else trap();
      break;
    case Opcode::load_imm_and_jump_indirect:
      // Before r0 changes: r0 may be r1.
      emit(enc::lea(false, kTmpId, enc::base_disp(id(r1), static_cast<int32_t>(imm2))));
      emit(enc::mov_r64_imm(id(r0), sx(imm)));
      emit_dynamic_jump();
      break;
    case Opcode::branch_eq:
    case Opcode::branch_not_eq:
    case Opcode::branch_less_unsigned:
    case Opcode::branch_less_signed:
    case Opcode::branch_greater_or_equal_unsigned:
    case Opcode::branch_greater_or_equal_signed: emit_branch(insn, false); break;
    case Opcode::branch_eq_imm:
    case Opcode::branch_not_eq_imm:
    case Opcode::branch_less_unsigned_imm:
    case Opcode::branch_less_or_equal_unsigned_imm:
    case Opcode::branch_greater_or_equal_unsigned_imm:
    case Opcode::branch_greater_unsigned_imm:
    case Opcode::branch_less_signed_imm:
    case Opcode::branch_less_or_equal_signed_imm:
    case Opcode::branch_greater_or_equal_signed_imm:
    case Opcode::branch_greater_signed_imm: emit_branch(insn, true); break;

    // ---- loads and stores ----
    case Opcode::load_u8: emit_load(insn, 1, false, -1, imm); break;
    case Opcode::load_i8: emit_load(insn, 1, true, -1, imm); break;
    case Opcode::load_u16: emit_load(insn, 2, false, -1, imm); break;
    case Opcode::load_i16: emit_load(insn, 2, true, -1, imm); break;
    case Opcode::load_u32: emit_load(insn, 4, false, -1, imm); break;
    case Opcode::load_i32: emit_load(insn, 4, true, -1, imm); break;
    case Opcode::load_u64: emit_load(insn, 8, false, -1, imm); break;
    case Opcode::load_indirect_u8: emit_load(insn, 1, false, r1, imm); break;
    case Opcode::load_indirect_i8: emit_load(insn, 1, true, r1, imm); break;
    case Opcode::load_indirect_u16: emit_load(insn, 2, false, r1, imm); break;
    case Opcode::load_indirect_i16: emit_load(insn, 2, true, r1, imm); break;
    case Opcode::load_indirect_u32: emit_load(insn, 4, false, r1, imm); break;
    case Opcode::load_indirect_i32: emit_load(insn, 4, true, r1, imm); break;
    case Opcode::load_indirect_u64: emit_load(insn, 8, false, r1, imm); break;
    case Opcode::store_u8: emit_store_reg(r0, 1, -1, imm); break;
    case Opcode::store_u16: emit_store_reg(r0, 2, -1, imm); break;
    case Opcode::store_u32: emit_store_reg(r0, 4, -1, imm); break;
    case Opcode::store_u64: emit_store_reg(r0, 8, -1, imm); break;
    case Opcode::store_indirect_u8: emit_store_reg(r0, 1, r1, imm); break;
    case Opcode::store_indirect_u16: emit_store_reg(r0, 2, r1, imm); break;
    case Opcode::store_indirect_u32: emit_store_reg(r0, 4, r1, imm); break;
    case Opcode::store_indirect_u64: emit_store_reg(r0, 8, r1, imm); break;
    case Opcode::store_imm_u8: emit_store_imm(imm2, 1, -1, imm); break;
    case Opcode::store_imm_u16: emit_store_imm(imm2, 2, -1, imm); break;
    case Opcode::store_imm_u32: emit_store_imm(imm2, 4, -1, imm); break;
    case Opcode::store_imm_u64: emit_store_imm(imm2, 8, -1, imm); break;
    case Opcode::store_imm_indirect_u8: emit_store_imm(imm2, 1, r0, imm); break;
    case Opcode::store_imm_indirect_u16: emit_store_imm(imm2, 2, r0, imm); break;
    case Opcode::store_imm_indirect_u32: emit_store_imm(imm2, 4, r0, imm); break;
    case Opcode::store_imm_indirect_u64: emit_store_imm(imm2, 8, r0, imm); break;

    // ---- moves ----
    case Opcode::load_imm:  // a non-negative value: the shorter 32-bit move zero-extends
      if (sx(imm) >= 0) emit(enc::mov_r32_imm(id(r0), imm));
      else emit(enc::mov_r64_imm(id(r0), sx(imm)));
      break;
    case Opcode::load_imm64: emit(enc::mov_r64_imm(id(r0), static_cast<int64_t>(insn.imm64))); break;
    case Opcode::move_reg:
      if (r0 != r1) emit(enc::mov_rr(true, id(r0), id(r1)));
      break;

    // ---- one source register ----
    case Opcode::count_set_bits_64: a_.popcnt(g(r0), g(r1)); break;
    case Opcode::count_set_bits_32: a_.popcnt(g32(r0), g32(r1)); break;
    case Opcode::count_leading_zero_bits_64: a_.lzcnt(g(r0), g(r1)); break;
    case Opcode::count_leading_zero_bits_32: a_.lzcnt(g32(r0), g32(r1)); break;
    case Opcode::count_trailing_zero_bits_64: a_.tzcnt(g(r0), g(r1)); break;
    case Opcode::count_trailing_zero_bits_32: a_.tzcnt(g32(r0), g32(r1)); break;
    case Opcode::sign_extend_8: a_.movsx(g(r0), g(r1).r8()); break;
    case Opcode::sign_extend_16: a_.movsx(g(r0), g(r1).r16()); break;
    case Opcode::zero_extend_16: a_.movzx(g32(r0), g(r1).r16()); break;
    case Opcode::reverse_byte:
      if (is_64_bit_) {
        if (r0 != r1) a_.mov(g(r0), g(r1));
        a_.bswap(g(r0));
      } else {
        a_.mov(x86::ecx, g32(r1));
        a_.bswap(x86::ecx);
        set32(r0, x86::ecx);
      }
      break;

    // ---- register and immediate ----
    case Opcode::add_imm_32:
      if (r0 == r1 && imm != 0) {
        // The flags of the 32-bit sum describe its sign extension too: a following branch on r0 uses them.
        emit(enc::alu_ri(enc::Alu::Add, false, id(r0), static_cast<int32_t>(imm)));
        set32(r0, g32(r0));
        flags_reg_ = r0;
      } else if (imm == 0) {  // the linker's 32-bit move: a sign extension, or a move the CPU can eliminate
        if (is_64_bit_) emit(enc::movsxd_rr(id(r0), id(r1)));
        else if (r0 != r1) emit(enc::mov_rr(false, id(r0), id(r1)));
      } else {
        emit(enc::lea(false, static_cast<uint8_t>(result32(r0).id()), enc::base_disp(id(r1), static_cast<int32_t>(imm))));
        set32(r0, result32(r0));
      }
      break;
    case Opcode::add_imm_64:
      if (r0 == r1 && imm != 0) {  // sets the flags for a following branch on r0
        emit(enc::alu_ri(enc::Alu::Add, true, id(r0), static_cast<int32_t>(imm)));
        flags_reg_ = r0;
      } else if (imm == 0) {  // the linker's move: a register move the CPU can eliminate, unlike lea
        if (r0 != r1) emit(enc::mov_rr(true, id(r0), id(r1)));
      } else {
        emit(enc::lea(true, id(r0), enc::base_disp(id(r1), static_cast<int32_t>(imm))));
      }
      break;
    case Opcode::and_imm: binop_imm64(enc::Alu::And, r0, r1, imm); break;
    case Opcode::xor_imm: binop_imm64(enc::Alu::Xor, r0, r1, imm); break;
    case Opcode::or_imm: binop_imm64(enc::Alu::Or, r0, r1, imm); break;
    case Opcode::mul_imm_32:
      a_.imul(result32(r0), g32(r1), static_cast<int32_t>(imm));
      set32(r0, result32(r0));
      break;
    case Opcode::mul_imm_64: a_.imul(g(r0), g(r1), static_cast<int32_t>(imm)); break;
    case Opcode::set_less_than_unsigned_imm: set_cc(I::kIdSetb, r0, r1, Imm(sx(imm))); break;
    case Opcode::set_less_than_signed_imm: set_cc(I::kIdSetl, r0, r1, Imm(sx(imm))); break;
    case Opcode::set_greater_than_unsigned_imm: set_cc(I::kIdSeta, r0, r1, Imm(sx(imm))); break;
    case Opcode::set_greater_than_signed_imm: set_cc(I::kIdSetg, r0, r1, Imm(sx(imm))); break;
    case Opcode::shift_logical_left_imm_32: shift_imm(enc::Shift::Shl, r0, r1, imm, true); break;
    case Opcode::shift_logical_right_imm_32: shift_imm(enc::Shift::Shr, r0, r1, imm, true); break;
    case Opcode::shift_arithmetic_right_imm_32: shift_imm(enc::Shift::Sar, r0, r1, imm, true); break;
    case Opcode::shift_logical_left_imm_64: shift_imm(enc::Shift::Shl, r0, r1, imm, false); break;
    case Opcode::shift_logical_right_imm_64: shift_imm(enc::Shift::Shr, r0, r1, imm, false); break;
    case Opcode::shift_arithmetic_right_imm_64: shift_imm(enc::Shift::Sar, r0, r1, imm, false); break;
    case Opcode::shift_logical_left_imm_alt_32: shift_imm_alt(I::kIdShlx, r0, r1, imm, true); break;
    case Opcode::shift_logical_right_imm_alt_32: shift_imm_alt(I::kIdShrx, r0, r1, imm, true); break;
    case Opcode::shift_arithmetic_right_imm_alt_32: shift_imm_alt(I::kIdSarx, r0, r1, imm, true); break;
    case Opcode::shift_logical_left_imm_alt_64: shift_imm_alt(I::kIdShlx, r0, r1, imm, false); break;
    case Opcode::shift_logical_right_imm_alt_64: shift_imm_alt(I::kIdShrx, r0, r1, imm, false); break;
    case Opcode::shift_arithmetic_right_imm_alt_64: shift_imm_alt(I::kIdSarx, r0, r1, imm, false); break;
    case Opcode::negate_and_add_imm_32:
      a_.mov(x86::ecx, imm);
      a_.sub(x86::ecx, g32(r1));
      set32(r0, x86::ecx);
      break;
    case Opcode::negate_and_add_imm_64:
      a_.mov(kTmp, sx(imm));
      a_.sub(kTmp, g(r1));
      a_.mov(g(r0), kTmp);
      break;
    case Opcode::rotate_right_imm_32:
      a_.rorx(result32(r0), g32(r1), imm & 31);
      set32(r0, result32(r0));
      break;
    case Opcode::rotate_right_imm_64: a_.rorx(g(r0), g(r1), imm & 63); break;
    case Opcode::rotate_right_imm_alt_32:
      a_.mov(x86::ecx, g32(r1));
      a_.mov(g32(r0), imm);
      a_.ror(g32(r0), x86::cl);
      set32(r0, g32(r0));
      break;
    case Opcode::rotate_right_imm_alt_64:
      a_.mov(kTmp, g(r1));
      a_.mov(g(r0), sx(imm));
      a_.ror(g(r0), x86::cl);
      break;
    case Opcode::cmov_if_zero_imm:
    case Opcode::cmov_if_not_zero_imm:
      a_.mov(kTmp, sx(imm));
      a_.test(gc(r1), gc(r1));
      if (insn.opcode == Opcode::cmov_if_zero_imm) a_.cmovz(g(r0), kTmp);
      else a_.cmovnz(g(r0), kTmp);
      break;

    // ---- two source registers ----
    case Opcode::add_32: binop32(I::kIdAdd, r0, r1, r2); break;
    case Opcode::sub_32: binop32(I::kIdSub, r0, r1, r2); break;
    case Opcode::mul_32: binop32(I::kIdImul, r0, r1, r2); break;
    case Opcode::div_unsigned_32: divrem(r0, r1, r2, true, false, false); break;
    case Opcode::div_signed_32: divrem(r0, r1, r2, true, true, false); break;
    case Opcode::rem_unsigned_32: divrem(r0, r1, r2, true, false, true); break;
    case Opcode::rem_signed_32: divrem(r0, r1, r2, true, true, true); break;
    case Opcode::shift_logical_left_32: shift_var(I::kIdShlx, r0, r1, r2, true); break;
    case Opcode::shift_logical_right_32: shift_var(I::kIdShrx, r0, r1, r2, true); break;
    case Opcode::shift_arithmetic_right_32: shift_var(I::kIdSarx, r0, r1, r2, true); break;
    case Opcode::add_64: binop64(I::kIdAdd, r0, r1, r2); break;
    case Opcode::sub_64: binop64(I::kIdSub, r0, r1, r2); break;
    case Opcode::mul_64: binop64(I::kIdImul, r0, r1, r2); break;
    case Opcode::div_unsigned_64: divrem(r0, r1, r2, false, false, false); break;
    case Opcode::div_signed_64: divrem(r0, r1, r2, false, true, false); break;
    case Opcode::rem_unsigned_64: divrem(r0, r1, r2, false, false, true); break;
    case Opcode::rem_signed_64: divrem(r0, r1, r2, false, true, true); break;
    case Opcode::shift_logical_left_64: shift_var(I::kIdShlx, r0, r1, r2, false); break;
    case Opcode::shift_logical_right_64: shift_var(I::kIdShrx, r0, r1, r2, false); break;
    case Opcode::shift_arithmetic_right_64: shift_var(I::kIdSarx, r0, r1, r2, false); break;
    case Opcode::and_: binop64(I::kIdAnd, r0, r1, r2); break;
    case Opcode::xor_: binop64(I::kIdXor, r0, r1, r2); break;
    case Opcode::or_: binop64(I::kIdOr, r0, r1, r2); break;
    case Opcode::mul_upper_signed_signed:
      is_64_bit_ ? mul_upper(r0, r1, r2, true, true) : mul_upper32(r0, r1, r2, true, true);
      break;
    case Opcode::mul_upper_unsigned_unsigned:
      is_64_bit_ ? mul_upper(r0, r1, r2, false, false) : mul_upper32(r0, r1, r2, false, false);
      break;
    case Opcode::mul_upper_signed_unsigned:
      is_64_bit_ ? mul_upper(r0, r1, r2, true, false) : mul_upper32(r0, r1, r2, true, false);
      break;
    case Opcode::set_less_than_unsigned: set_cc(I::kIdSetb, r0, r1, gc(r2)); break;
    case Opcode::set_less_than_signed: set_cc(I::kIdSetl, r0, r1, gc(r2)); break;
    case Opcode::cmov_if_zero:
      a_.test(gc(r2), gc(r2));
      a_.cmovz(g(r0), g(r1));
      break;
    case Opcode::cmov_if_not_zero:
      a_.test(gc(r2), gc(r2));
      a_.cmovnz(g(r0), g(r1));
      break;
    case Opcode::rotate_left_32: rotate_var(I::kIdRol, r0, r1, r2, true); break;
    case Opcode::rotate_left_64: rotate_var(I::kIdRol, r0, r1, r2, false); break;
    case Opcode::rotate_right_32: rotate_var(I::kIdRor, r0, r1, r2, true); break;
    case Opcode::rotate_right_64: rotate_var(I::kIdRor, r0, r1, r2, false); break;
    case Opcode::and_inverted: a_.andn(g(r0), g(r2), g(r1)); break;  // ~y & x
    case Opcode::or_inverted:
      a_.mov(kTmp, g(r2));
      a_.not_(kTmp);
      a_.or_(kTmp, g(r1));
      a_.mov(g(r0), kTmp);
      break;
    case Opcode::xnor:
      a_.mov(kTmp, g(r1));
      a_.xor_(kTmp, g(r2));
      a_.not_(kTmp);
      a_.mov(g(r0), kTmp);
      break;
    case Opcode::maximum: select(I::kIdCmovl, r0, r1, r2); break;
    case Opcode::maximum_unsigned: select(I::kIdCmovb, r0, r1, r2); break;
    case Opcode::minimum: select(I::kIdCmovg, r0, r1, r2); break;
    case Opcode::minimum_unsigned: select(I::kIdCmova, r0, r1, r2); break;
  }
}

// ------------------------------------------------------------------------------------------------

void Codegen::finish(uintptr_t base, CodeHolder& holder) {
  const auto& table = module_.blob.jump_table();
  out_.djump_offsets_.assign(table.size() + 1, 0);  // indexed by address / 2: entry 0 (address 0) traps
  for (size_t i = 0; i < table.size(); ++i) {
    const uint32_t target = table[i];
    if (!is_jump_target(target) || !out_.has_code(target)) continue;
    out_.djump_offsets_[i + 1] = out_.entry_[target] + 1;
  }
  out_.djump_ = out_.djump_table(base);
  out_.enter_ = static_cast<uint32_t>(holder.labelOffset(enter_));
  out_.fault_stub_ = static_cast<uint32_t>(holder.labelOffset(fault_stub_));
}

namespace {

/// Copies the assembler's buffer into the final mapping, handing each copied piece of a large buffer back
/// to the kernel as it goes: the machine code is not held twice.
void copy_releasing(uint8_t* to, uint8_t* from, size_t size) {
  constexpr size_t kPiece = size_t(256) << 10;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (size_t done = 0; done < size;) {
    const size_t n = std::min(kPiece, size - done);
    std::memcpy(to + done, from + done, n);
    if (size >= 16 * kPiece) {
      // Whole pages of the copied piece only: the allocator's own bytes around the buffer stay.
      const uintptr_t begin = (reinterpret_cast<uintptr_t>(from + done) + page - 1) & ~(page - 1);
      const uintptr_t end = (reinterpret_cast<uintptr_t>(from + done + n)) & ~(page - 1);
      if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }
    done += n;
  }
}

}  // namespace

namespace {

// About 2 ms of work in one part: far more than starting a thread takes (tens of microseconds).
std::atomic<uint32_t> g_parts_from{64 << 10};

}  // namespace

uint32_t compile_in_parts_from() { return g_parts_from.load(std::memory_order_relaxed); }
void set_compile_in_parts_from(uint32_t code_bytes) { g_parts_from.store(code_bytes, std::memory_order_relaxed); }

bool Codegen::may_compile_in_parts(const ModuleState& module) {
  static const unsigned cores = std::thread::hardware_concurrency();
  return module.blob.code().size() >= compile_in_parts_from() && cores >= 2;
}

std::unique_ptr<CompiledCode> Codegen::compile_in_parts(const ModuleState& module, bool step_tracing,
                                                        const CodeScan& scan, uint64_t id) {
  const uint32_t size = static_cast<uint32_t>(module.blob.code().size());
  if (!may_compile_in_parts(module)) return nullptr;
  // The second part starts at the first valid jump target from the middle on: a block start of the sweep
  // from pc 0, after an instruction that ends a block.
  uint32_t split = size / 2;
  while (split < size && !scan.is_jump_target(split)) ++split;
  if (split == 0 || split >= size) return nullptr;

  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto round_up = [](size_t n, size_t to) { return (n + to - 1) & ~(to - 1); };
  // Each part gets the room one part would (8 bytes per byte of guest code); the second is moved down
  // to follow the first once both are done.
  const size_t capacity_a = round_up(8 * size_t{split} + 65536, page);
  const size_t capacity_b = round_up(8 * size_t{size - split} + 65536, page);
  const bool huge = huge_pages_available() && capacity_a + capacity_b >= kHugePage;
  const size_t offset_b = round_up(capacity_a, huge ? kHugePage : page);
  const size_t capacity = offset_b + capacity_b;
  void* memory = huge ? map_huge_aligned(capacity)
                      : mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == nullptr || memory == MAP_FAILED) return nullptr;
  std::unique_ptr<CompiledCode> out(new CompiledCode());
  out->memory_ = memory;  // unmapped with `out` on every way out below
  out->mapped_ = capacity;
  out->size_ = capacity;
  out->id_ = id;
  out->parts_ = 2;
  out->entry_.assign(size + 1, kNoCode);
  out->info_.assign(size + 1, 0);
  out->step_length_ = step_tracing ? kStepLength : 0;
  auto* bytes = static_cast<uint8_t*>(memory);
  if (!huge) {
    (void)madvise(bytes, std::min(capacity_a, round_up(4 * size_t{split} + 65536, page)), MADV_POPULATE_WRITE);
    (void)madvise(bytes + offset_b, std::min(capacity_b, round_up(4 * size_t{size - split} + 65536, page)),
                  MADV_POPULATE_WRITE);
  }

  struct Part {
    CodeHolder holder;
    ErrorRecorder errors;
    std::optional<x86::Assembler> a;
    std::optional<Codegen> gen;
    bool ok = false;
  };
  Part parts[2];
  const uint32_t begin[2] = {0, split}, end[2] = {split, size + 1};
  uint8_t* const buffer_at[2] = {bytes, bytes + offset_b};
  const size_t capacities[2] = {capacity_a, capacity_b};
  for (int i = 0; i < 2; ++i) {
    Part& part = parts[i];
    part.holder.init(Environment::host());
    CodeBuffer& buffer = part.holder.textSection()->buffer();
    buffer._data = buffer_at[i];
    buffer._capacity = capacities[i];
    buffer._flags = CodeBufferFlags::kIsExternal | CodeBufferFlags::kIsFixed;
    part.holder.setErrorHandler(&part.errors);
    part.a.emplace(&part.holder);
    part.a->addEncodingOptions(EncodingOptions::kOptimizedAlign);
    // No memory limit of their own: the caller admits the parts only where the limit leaves room for
    // both buffers whole and their working memory.
    part.gen.emplace(module, step_tracing, *out, *part.a, 0, 0, part.errors.error, scan, begin[i], end[i]);
  }
  auto translate = [](Part& part) noexcept {
    try {
      part.ok = part.gen->emit_all();
    } catch (...) {
      part.ok = false;
    }
  };
  try {
    std::thread second(translate, std::ref(parts[1]));
    translate(parts[0]);
    second.join();
  } catch (const std::system_error&) {
    return nullptr;  // no thread (the second part did not start)
  }
  for (Part& part : parts) {
    if (!part.ok || part.errors.error != kErrorOk || !part.gen->internal_error().empty() ||
        part.holder.sectionCount() != 1)
      return nullptr;
    part.holder.flatten();
    part.holder.resolveUnresolvedLinks();
    if (part.errors.error != kErrorOk || !part.holder.relocEntries().empty()) return nullptr;
  }

  // The second part follows the first, 64-byte aligned (its loop heads are aligned within it).
  const size_t size_a = parts[0].holder.codeSize(), size_b = parts[1].holder.codeSize();
  const uint32_t base_b = static_cast<uint32_t>(round_up(size_a, 64));
  std::memset(bytes + size_a, 0xCC, base_b - size_a);  // int3: never reached
  std::memmove(bytes + base_b, bytes + offset_b, size_b);
  const size_t code_size = base_b + size_b;
  for (uint32_t pc = split; pc <= size; ++pc) out->entry_[pc] += base_b;
  for (uint32_t pc = parts[0].gen->tail(); pc < split; ++pc) out->entry_[pc] = out->entry_[split];
  // Jumps from one part to the other: every valid jump target has code (the sweep binds each).
  const uint32_t part_base[2] = {0, base_b};
  for (int i = 0; i < 2; ++i) {
    for (auto [site, target] : parts[i].gen->fixups()) {
      if (!out->has_code(target)) return nullptr;
      site += part_base[i];
      const uint32_t displacement = out->entry_[target] - (site + 4);
      std::memcpy(bytes + site, &displacement, 4);
    }
  }
  out->reentry_ = std::move(parts[0].gen->reentries());
  for (const auto& [pc, at] : parts[1].gen->reentries()) out->reentry_.emplace_back(pc, at + base_b);

  const size_t keep = huge ? std::min(capacity, round_up(code_size, kHugePage)) : round_up(code_size, page);
  if (keep < capacity) munmap(bytes + keep, capacity - keep);
  out->mapped_ = keep;
  out->size_ = code_size;
  if (mprotect(memory, keep, PROT_READ | PROT_EXEC) != 0) return nullptr;
  parts[0].gen->finish(reinterpret_cast<uintptr_t>(memory), parts[0].holder);
  return out;
}

Result<std::unique_ptr<CompiledCode>> CompiledCode::compile(const ModuleState& module, bool step_tracing) {
  const uint64_t limit = module.engine ? module.engine->config.compile_memory_limit : 0;
  const uint64_t code_size = module.blob.code().size();
  auto over_limit = [&](uint64_t needed) {
    return Error(fmt::format("compiling the module ({} bytes of code) needs more than {} bytes of memory "
                             "(Config::compile_memory_limit; at least {} bytes)", code_size, limit, needed),
                 ErrorKind::ResourceExhausted);
  };
  // What the tables take: entry_ and info_ by pc, loop heads and jump targets by pc (bits), the jump table
  // twice.
  const uint64_t table_bytes = TableAllocator<uint32_t>::footprint(code_size + 1) +
                               TableAllocator<uint8_t>::footprint(code_size + 1) + CodeScan::bytes(code_size) +
                               (module.blob.jump_table().size() + 1) * (sizeof(uint32_t) + sizeof(uintptr_t));
  if (limit != 0 && table_bytes > limit) return over_limit(table_bytes);

  static std::atomic<uint64_t> next_id{1};
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto round_up = [page](size_t n) { return (n + page - 1) & ~(page - 1); };
  // The machine code is emitted straight into its final mapping: address space for 8 bytes per byte of guest
  // code (typical code takes 3 to 4), of which only the pages written get memory; the tail is unmapped after.
  // That saves copying the code into fresh pages (Doom: 1.8 MB, a sixth of its compile). Code that does not
  // fit (pathological code, such as a block per byte each with its gas check) is compiled again into a
  // buffer that grows, and copied.
  const size_t in_place_capacity = round_up(8 * code_size + 65536);
  // Nothing thrown leaves: running out of memory anywhere here is an error like any other.
  try {
    // Two parts in parallel where the memory limit leaves room for both parts' buffers whole (a part's
    // working memory is at most about 16 bytes per byte of guest code); the walk before them in two halves.
    const uint64_t parts_need = table_bytes + 2 * in_place_capacity + kHugePage + 16 * code_size;
    const bool in_parts = (limit == 0 || parts_need <= limit) && Codegen::may_compile_in_parts(module);
    const CodeScan scan(CodeView(module.blob), in_parts);
    if (in_parts) {
      if (std::unique_ptr<CompiledCode> out = Codegen::compile_in_parts(module, step_tracing, scan,
                                                                         next_id.fetch_add(1, std::memory_order_relaxed)))
        return out;
    }
    for (const bool in_place : {true, false}) {
      std::unique_ptr<CompiledCode> out(new CompiledCode());
      out->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
      out->entry_.assign(code_size + 1, kNoCode);
      out->info_.assign(code_size + 1, 0);
      out->step_length_ = step_tracing ? kStepLength : 0;
      CodeHolder holder;
      ErrorRecorder errors;
      holder.init(Environment::host());
      CodeBuffer& buffer = holder.textSection()->buffer();
      // Huge pages for code that can fill one; one is taken whole: only where the memory limit leaves room.
      const bool huge = in_place && in_place_capacity >= kHugePage && huge_pages_available() &&
                        (limit == 0 || limit - table_bytes >= in_place_capacity + kHugePage);
      if (in_place) {
        void* memory = huge ? map_huge_aligned(in_place_capacity)
                            : mmap(nullptr, in_place_capacity, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (memory == nullptr || memory == MAP_FAILED) continue;
        out->memory_ = memory;  // unmapped with `out` on every error below
        out->mapped_ = in_place_capacity;
        // Pages for the code expected, in one system call rather than a page fault each (where the kernel
        // has no MADV_POPULATE_WRITE, they fault in as written); never more than the memory limit leaves.
        // (Huge pages take a fault each: they are not populated, so that none is taken unused.)
        size_t populate = huge ? 0 : std::min(in_place_capacity, round_up(4 * code_size + 65536));
        if (limit != 0) populate = std::min<uint64_t>(populate, (limit - table_bytes) & ~uint64_t(page - 1));
        if (populate != 0) (void)madvise(memory, populate, MADV_POPULATE_WRITE);
        out->size_ = in_place_capacity;
        buffer._data = static_cast<uint8_t*>(memory);
        buffer._capacity = in_place_capacity;
        buffer._flags = CodeBufferFlags::kIsExternal | CodeBufferFlags::kIsFixed;
      } else {
        // Room taken at once: the buffer grows without copies or holes in the heap, and what stays unused
        // is address space only.
        (void)holder.reserveBuffer(&buffer, 16 * code_size + 65536);
      }
      holder.setErrorHandler(&errors);
      x86::Assembler a(&holder);
      a.addEncodingOptions(EncodingOptions::kOptimizedAlign);  // alignment padding as long NOPs
      Codegen gen(module, step_tracing, *out, a, limit, table_bytes, errors.error, scan, 0,
                  static_cast<uint32_t>(code_size + 1));
      const bool within_limit = gen.emit_all();
      out->reentry_ = std::move(gen.reentries());
      if (in_place && errors.error == kErrorTooLarge) continue;  // did not fit: again, into a buffer that grows
      auto asm_error = [&] {
        return Error(fmt::format("failed to compile the module: {}", errors.text),
                     errors.error == kErrorOutOfMemory ? ErrorKind::ResourceExhausted : ErrorKind::Other);
      };
      if (errors.error != kErrorOk) return asm_error();
      if (!within_limit) return over_limit(gen.memory_needed());
      if (!gen.internal_error().empty()) return Error("failed to compile the module: " + gen.internal_error());
      holder.flatten();
      holder.resolveUnresolvedLinks();
      if (errors.error != kErrorOk) return asm_error();

      const size_t size = holder.codeSize();
      if (in_place) {
        if (holder.sectionCount() != 1) return Error("failed to compile the module: more than one section");
        // The unused tail goes, but for the rest of the last huge page when there can be one (splitting it
        // would give up the iTLB entry it saves; its memory is taken either way).
        const size_t keep = huge ? std::min(in_place_capacity, (size + kHugePage - 1) & ~(kHugePage - 1)) : round_up(size);
        if (keep < in_place_capacity)
          munmap(static_cast<uint8_t*>(out->memory_) + keep, in_place_capacity - keep);
        out->mapped_ = keep;
        out->size_ = size;
      } else {
        void* memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (memory == MAP_FAILED)
          return Error(fmt::format("failed to allocate {} bytes of machine code (errno {})", size, errno),
                       ErrorKind::ResourceExhausted);
        out->memory_ = memory;
        out->mapped_ = size;
        out->size_ = size;
      }
      const uintptr_t base = reinterpret_cast<uintptr_t>(out->memory_);
      holder.relocateToBase(base);
      if (!in_place) {
        Section* text = holder.textSection();
        if (holder.sectionCount() == 1 && holder.relocEntries().empty() && text->bufferSize() == size)
          copy_releasing(static_cast<uint8_t*>(out->memory_), text->data(), size);
        else
          holder.copyFlattenedData(out->memory_, size, CopySectionFlags::kPadSectionBuffer);
      }
      if (errors.error != kErrorOk) return asm_error();
      if (mprotect(out->memory_, out->mapped_, PROT_READ | PROT_EXEC) != 0)
        return Error(fmt::format("failed to make machine code executable (errno {})", errno),
                     ErrorKind::ResourceExhausted);
      gen.finish(base, holder);
      return out;
    }
    return Error(fmt::format("failed to allocate machine code for {} bytes of guest code (errno {})", code_size, errno),
                 ErrorKind::ResourceExhausted);
  } catch (const std::bad_alloc&) {
    return Error(fmt::format("out of memory while compiling the module ({} bytes of code)", code_size),
                 ErrorKind::ResourceExhausted);
  } catch (const std::exception& e) {
    return Error(fmt::format("failed to compile the module: {}", e.what()));
  } catch (...) {
    return Error("failed to compile the module: unknown exception");
  }
}

CompiledCode::~CompiledCode() {
  if (memory_) munmap(memory_, mapped_);
}

std::vector<uintptr_t> CompiledCode::djump_table(uintptr_t base) const {
  std::vector<uintptr_t> table(djump_offsets_.size());
  for (size_t i = 0; i < table.size(); ++i) table[i] = djump_offsets_[i] ? base + djump_offsets_[i] - 1 : 0;
  return table;
}

uint32_t CompiledCode::pc_at(uint32_t offset) const {
  // The last pc whose entry is at or before `offset`: always one with code (entry_ is non-decreasing and a
  // pc without code holds the entry of the next one).
  auto it = std::upper_bound(entry_.begin(), entry_.end(), offset);
  return it == entry_.begin() ? 0 : static_cast<uint32_t>(std::prev(it) - entry_.begin());
}

uint32_t CompiledCode::reentry(uint32_t pc) const {
  auto it = std::lower_bound(reentry_.begin(), reentry_.end(), std::make_pair(pc, uint32_t(0)));
  return it != reentry_.end() && it->first == pc ? it->second : kNoCode;
}

}  // namespace polkavm::detail::compiler
