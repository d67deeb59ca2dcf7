// One-pass translation of guest code to x86-64 (see compiler.hpp for the register map and the frame).
//
// The code is swept once from pc 0, block by block, as Module::block_gas_costs walks it; the blocks are
// laid out in guest order, so falling through to the next block is falling through in machine code.
// Every exit is `mov ecx, pc; jmp <exit stub>` (ecalli adds its number in the upper half of rcx): the
// host finds where to continue from the pc.
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <asmjit/x86.h>
#include <fmt/format.h>

#include "compiler/compiler.hpp"
#include "polkavm/code.hpp"

namespace polkavm::detail::compiler {
namespace {

using namespace asmjit;
using x86::Gp;

const Gp kGuest[kRegCount] = {x86::rbx, x86::rbp, x86::rax, x86::rdx, x86::rsi, x86::rdi, x86::r8,
                              x86::r9,  x86::r10, x86::r11, x86::r12, x86::r13, x86::r14};
const Gp kTmp = x86::rcx;
// The gas counter while guest code runs. The exit stubs move it to the frame and reuse r15 for the VmCtx.
const Gp kGas = x86::r15;
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

}  // namespace

class Codegen {
 public:
  Codegen(const ModuleState& module, bool step_tracing, CompiledCode& out, x86::Assembler& a)
      : module_(module),
        code_(module.blob),
        is_64_bit_(module.blob.is_64_bit()),
        metering_(module.gas_metering),
        step_tracing_(step_tracing),
        out_(out),
        a_(a) {}

  void emit_all();
  /// Fills the tables that need the final address of the code.
  void finish(uintptr_t base, CodeHolder& holder);

 private:
  struct GasStub {
    Label label;
    uint32_t pc;
    Gas cost;
  };
  // A branch that tests the flags its predecessor set has no test of its own; the host entering at the
  // branch (from the middle of the block) goes through this stub, which sets the flags first.
  struct ReentryStub {
    Label stub, resume;
    uint32_t pc;
    uint8_t reg;
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
    if (is_64_bit_) a_.movsxd(g(d), result);
    else if (result != g32(d)) a_.mov(g32(d), result);
  }
  // Where an instruction that cannot write d in place computes d's 32-bit result before set32: the scratch
  // register on 64-bit programs (set32 sign-extends from it), d itself on 32-bit ones (set32 then does nothing).
  Gp result32(uint8_t d) const { return is_64_bit_ ? Gp(x86::ecx) : g32(d); }
  // The address x + y for lea, based on a register that needs no displacement byte when it can be: rbp and
  // r13 as a base always carry one, and lea with base, index and displacement takes 2 cycles instead of 1.
  x86::Mem sum(uint8_t x, uint8_t y) const {
    const uint32_t id = g(x).id();
    const bool x_needs_displacement = id == x86::Gp::kIdBp || id == x86::Gp::kIdR13;
    return x_needs_displacement ? x86::ptr(g(y), g(x)) : x86::ptr(g(x), g(y));
  }
  uint32_t offset() const { return static_cast<uint32_t>(a_.offset()); }
  Label label_for(uint32_t pc) {
    if (!labels_[pc].isValid()) labels_[pc] = a_.newLabel();
    return labels_[pc];
  }
  void exit_to(const Label& stub, uint32_t pc) {
    a_.mov(x86::ecx, pc);
    a_.jmp(stub);
  }
  void trap(uint32_t pc) { exit_to(trap_, pc); }

  void emit_runtime();
  void find_loop_heads();
  void emit_block(const std::vector<Instruction>& block);
  void emit_charge(uint32_t pc, Gas cost);
  void emit_instruction(const Instruction& insn);
  void emit_dynamic_jump(uint32_t pc);
  void emit_branch(const Instruction& insn, bool with_imm);

  x86::Mem guest_mem(uint32_t size, int base_reg, uint32_t offset);
  void emit_load(const Instruction& insn, uint32_t size, bool is_signed, int base_reg, uint32_t offset);
  void emit_store_reg(uint8_t value, uint32_t size, int base_reg, uint32_t offset);
  void emit_store_imm(uint32_t value, uint32_t size, int base_reg, uint32_t offset);

  // d = x op y (64-bit, two-operand instruction `id`).
  void binop64(InstId id, uint8_t d, uint8_t x, uint8_t y);
  // d = sx32(x op y).
  void binop32(InstId id, uint8_t d, uint8_t x, uint8_t y);
  void binop_imm64(InstId id, uint8_t d, uint8_t s, uint32_t imm);
  void shift_imm(InstId id, uint8_t d, uint8_t s, uint32_t amount, bool is32);
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

  std::vector<Label> labels_;  // block starts by guest pc, created on first use
  std::vector<GasStub> gas_stubs_;
  std::vector<ReentryStub> reentry_stubs_;
  // The cold end of a dynamic jump: the return-to-host address, or a trap at `pc`.
  struct DynamicJumpStub {
    Label out_of_range, bad;
    uint32_t pc;
  };
  std::vector<DynamicJumpStub> dynamic_jump_stubs_;
  std::vector<bool> loop_heads_;  // by pc: targets of backward branches and jumps, aligned in machine code
  // The guest register whose full 64-bit value the flags (ZF, SF) reflect after the previous instruction's
  // code, or -1; valid only within a block.
  int flags_reg_ = -1;
  int prev_flags_reg_ = -1;
  std::vector<std::pair<Label, uint32_t>> access_stubs_;  // accesses the host must check (by guest pc)
  uint32_t pc_ = 0;                                        // of the instruction being translated
  Label enter_, save_, fault_stub_;
  Label trap_, halt_, ecalli_, out_of_gas_, sbrk_, memset_, step_, access_;
};

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

  auto stub = [&](Label& label, Exit kind) {
    label = a_.newLabel();
    a_.bind(label);
    a_.mov(x86::qword_ptr(x86::rsp, kFrameGas), kGas);
    a_.mov(kCtx, x86::qword_ptr(x86::rsp, kFrameCtx));
    a_.mov(x86::dword_ptr(kCtx, CTX_OFF(pc)), kTmp.r32());
    a_.mov(x86::dword_ptr(kCtx, CTX_OFF(exit)), static_cast<uint32_t>(kind));
    a_.jmp(save_);
  };
  stub(trap_, Exit::Trap);
  stub(halt_, Exit::Halt);
  stub(ecalli_, Exit::Ecalli);
  stub(out_of_gas_, Exit::OutOfGas);
  stub(sbrk_, Exit::Sbrk);
  stub(memset_, Exit::Memset);
  stub(step_, Exit::Step);
  stub(access_, Exit::Access);
}

void Codegen::emit_all() {
  enter_ = a_.newLabel();
  save_ = a_.newLabel();
  fault_stub_ = a_.newLabel();
  emit_runtime();

  const uint32_t size = code_.size();
  out_.entry_.assign(size + 1, kNoCode);
  out_.charge_.assign(size + 1, kNoCode);
  out_.body_.assign(size + 1, kNoCode);
  out_.insn_at_.reserve(size / 2 + 1);
  labels_.assign(size + 1, Label());
  gas_stubs_.reserve(size / 8 + 1);

  find_loop_heads();
  std::vector<Instruction> block;
  for (uint32_t pc = 0; pc <= size;) {
    if (pc < size && !code_.is_instruction_boundary(pc)) {
      ++pc;
      continue;
    }
    code_.decode_block(pc, block);
    emit_block(block);
    const Instruction& last = block.back();
    pc = last.valid ? last.next_pc() : last.pc + 1;
  }

  // Out of gas: sync gives the charge back (the block is retried), async keeps it.
  for (const GasStub& s : gas_stubs_) {
    a_.bind(s.label);
    if (metering_ == GasMeteringKind::Sync) {
      if (s.cost <= INT32_MAX) {
        a_.add(kGas, static_cast<int32_t>(s.cost));
      } else {
        a_.mov(kTmp, s.cost);
        a_.add(kGas, kTmp);
      }
    }
    exit_to(out_of_gas_, s.pc);
  }
  static_assert(kReturnToHost % 2 == 0);
  for (const DynamicJumpStub& s : dynamic_jump_stubs_) {
    a_.bind(s.out_of_range);
    a_.cmp(x86::ecx, static_cast<int32_t>(kReturnToHost / 2));
    a_.je(halt_);
    a_.bind(s.bad);
    trap(s.pc);
  }
  for (const auto& [label, pc] : access_stubs_) {
    a_.bind(label);
    exit_to(access_, pc);
  }
  for (const ReentryStub& s : reentry_stubs_) {
    a_.bind(s.stub);
    out_.entry_[s.pc] = out_.charge_[s.pc] = out_.body_[s.pc] = offset();
    a_.test(gc(s.reg), gc(s.reg));
    a_.jmp(s.resume);
  }
  // Jump targets the sweep did not start a block at (not reached with valid code) trap there.
  for (uint32_t pc = 0; pc <= size; ++pc) {
    if (labels_[pc].isValid() && !a_.code()->isLabelBound(labels_[pc])) {
      a_.bind(labels_[pc]);
      trap(pc);
    }
  }
}

// Loops run faster when their first instruction does not sit just before a 32-byte boundary (the fetch
// and micro-op cache windows): the targets of backward branches and jumps start 32-byte aligned.
void Codegen::find_loop_heads() {
  const uint32_t size = code_.size();
  loop_heads_.assign(size + 1, false);
  for (uint32_t pc = code_.next_instruction_start(0); pc < size; pc = code_.next_instruction_start(pc + 1)) {
    const std::optional<Opcode> op = opcode_from_byte(code_.isa(), code_.code()[pc]);
    if (!op) continue;
    const Format f = format(*op);
    if (f != Format::Offset && f != Format::RegImmOffset && f != Format::RegRegOffset) continue;
    const Instruction insn = code_.decode(pc);
    if (insn.valid && insn.target <= pc) loop_heads_[insn.target] = true;
  }
}

void Codegen::emit_block(const std::vector<Instruction>& block) {
  const uint32_t start = block.front().pc;
  const Gas cost = metering_ != GasMeteringKind::None ? module_.gas_model->block_cost(code_, block) : 0;
  if (loop_heads_[start]) a_.align(AlignMode::kCode, 32);
  a_.bind(label_for(start));
  flags_reg_ = -1;
  for (size_t i = 0; i < block.size(); ++i) {
    const Instruction& insn = block[i];
    const uint32_t pc = insn.pc;
    out_.entry_[pc] = offset();
    if (step_tracing_) exit_to(step_, pc);
    out_.charge_[pc] = offset();
    if (i == 0 && metering_ != GasMeteringKind::None) emit_charge(pc, cost);
    out_.body_[pc] = offset();
    out_.insn_at_.emplace_back(offset(), pc);
    pc_ = pc;
    // Step tracing stops (and the host may resume) between any two instructions: nothing carries over.
    prev_flags_reg_ = step_tracing_ ? -1 : std::exchange(flags_reg_, -1);
    emit_instruction(insn);
  }
}

void Codegen::emit_charge(uint32_t pc, Gas cost) {
  GasStub s{a_.newLabel(), pc, cost};
  if (cost <= INT32_MAX) {
    a_.sub(kGas, static_cast<int32_t>(cost));
  } else {
    a_.mov(kTmp, cost);
    a_.sub(kGas, kTmp);
  }
  a_.js(s.label);
  gas_stubs_.push_back(s);
}

// ------------------------------------------------------------------------------------------------
// Control flow

void Codegen::emit_dynamic_jump(uint32_t pc) {
  // ecx = the guest address; jump-table entry k has address 2 * k (k >= 1). Rotating right by one turns a
  // valid address into k and an odd one into a number of 2^31 or more, far out of range; the native table
  // has an empty entry 0 (address 0 traps). The return-to-host address is rare, so it is told apart only
  // once the range check has failed, in a stub out of line: the hot path ends with its indirect jump.
  DynamicJumpStub s{a_.newLabel(), a_.newLabel(), pc};
  a_.ror(x86::ecx, 1);
  a_.cmp(x86::ecx, static_cast<uint32_t>(module_.blob.jump_table().size() + 1));
  a_.jae(s.out_of_range);
  // Spectre v1: while the range check is mispredicted, the load below must not reach past the table. The
  // flags still hold the comparison, and cmov is not predicted: an out-of-range index becomes 0, the empty
  // entry, whatever the prediction.
  a_.cmovae(x86::ecx, x86::dword_ptr(x86::rsp, kFrameZero));
  a_.shl(kTmp, 3);
  a_.add(kTmp, x86::qword_ptr(x86::rsp, kFrameJumpTable));
  a_.mov(kTmp, x86::qword_ptr(kTmp));
  a_.test(kTmp, kTmp);
  a_.jz(s.bad);
  a_.jmp(kTmp);
  dynamic_jump_stubs_.push_back(s);
}

void Codegen::emit_branch(const Instruction& insn, bool with_imm) {
  // A branch with an invalid target (taken or not) traps unconditionally, as in the reference.
  if (!code_.is_jump_target_valid(insn.target) || !code_.is_jump_target_valid(insn.next_pc())) {
    trap(insn.pc);
    return;
  }
  const bool eq_or_ne = insn.opcode == Opcode::branch_eq_imm || insn.opcode == Opcode::branch_not_eq_imm;
  if (!with_imm) {
    a_.cmp(gc(insn.reg[0]), gc(insn.reg[1]));
  } else if (insn.imm[0] == 0 && eq_or_ne && prev_flags_reg_ == insn.reg[0]) {
    // ZF already tells whether the register is zero: `add r, imm; jnz` fuses into one macro-op.
    ReentryStub s{a_.newLabel(), a_.newLabel(), insn.pc, insn.reg[0]};
    a_.bind(s.resume);
    reentry_stubs_.push_back(s);
  } else if (insn.imm[0] == 0) {
    a_.test(gc(insn.reg[0]), gc(insn.reg[0]));  // the same flags as cmp with 0
  } else {
    a_.cmp(gc(insn.reg[0]), static_cast<int32_t>(insn.imm[0]));
  }
  InstId jcc = x86::Inst::kIdJmp;
  switch (insn.opcode) {
    case Opcode::branch_eq:
    case Opcode::branch_eq_imm: jcc = x86::Inst::kIdJe; break;
    case Opcode::branch_not_eq:
    case Opcode::branch_not_eq_imm: jcc = x86::Inst::kIdJne; break;
    case Opcode::branch_less_unsigned:
    case Opcode::branch_less_unsigned_imm: jcc = x86::Inst::kIdJb; break;
    case Opcode::branch_less_signed:
    case Opcode::branch_less_signed_imm: jcc = x86::Inst::kIdJl; break;
    case Opcode::branch_greater_or_equal_unsigned:
    case Opcode::branch_greater_or_equal_unsigned_imm: jcc = x86::Inst::kIdJae; break;
    case Opcode::branch_greater_or_equal_signed:
    case Opcode::branch_greater_or_equal_signed_imm: jcc = x86::Inst::kIdJge; break;
    case Opcode::branch_less_or_equal_unsigned_imm: jcc = x86::Inst::kIdJbe; break;
    case Opcode::branch_greater_unsigned_imm: jcc = x86::Inst::kIdJa; break;
    case Opcode::branch_less_or_equal_signed_imm: jcc = x86::Inst::kIdJle; break;
    case Opcode::branch_greater_signed_imm: jcc = x86::Inst::kIdJg; break;
    default: break;
  }
  a_.emit(jcc, label_for(insn.target));
}

// ------------------------------------------------------------------------------------------------
// Memory

// gs:[zero-extended 32-bit address] (the host points the gs base at guest memory); base_reg < 0 for an
// absolute address.
x86::Mem Codegen::guest_mem(uint32_t size, int base_reg, uint32_t offset) {
  auto in_guest = [&](x86::Mem m) {
    m.setSegment(x86::gs);
    return m;
  };
  // The reference rejects an access that reaches the last byte below 4 GiB, which the hardware cannot
  // tell apart; that page is mapped only with dynamic paging, so only such modules check.
  if (base_reg < 0 && offset > UINT32_MAX - size) {
    exit_to(access_, pc_);
    return in_guest(x86::ptr(kTmp, 0, size));  // not reached
  }
  if (base_reg >= 0 && module_.config.dynamic_paging) {
    Label slow = a_.newLabel();
    a_.lea(x86::ecx, x86::ptr(g(static_cast<uint8_t>(base_reg)), static_cast<int32_t>(offset)));
    a_.cmp(x86::ecx, static_cast<int32_t>(UINT32_MAX - size));
    a_.ja(slow);
    access_stubs_.push_back({slow, pc_});
    return in_guest(x86::ptr(kTmp, 0, size));
  }
  if (base_reg < 0) {
    // An absolute displacement is sign-extended by the CPU: addresses from 2 GiB up go through rcx.
    if (offset <= INT32_MAX) return in_guest(x86::ptr_abs(offset, size));
    a_.mov(x86::ecx, offset);
    return in_guest(x86::ptr(kTmp, 0, size));
  }
  // 32-bit addressing (the 0x67 prefix): the CPU computes base + offset modulo 2^32, as the guest does.
  return in_guest(x86::ptr(g32(static_cast<uint8_t>(base_reg)), static_cast<int32_t>(offset), size));
}

void Codegen::emit_load(const Instruction& insn, uint32_t size, bool is_signed, int base_reg, uint32_t offset) {
  const uint8_t d = insn.reg[0];
  const x86::Mem m = guest_mem(size, base_reg, offset);
  if (size == 8) a_.mov(g(d), m);
  else if (size == 4) is_signed ? a_.movsxd(g(d), m) : a_.mov(g32(d), m);
  else if (is_signed) a_.movsx(g(d), m);
  else a_.movzx(g32(d), m);
}

void Codegen::emit_store_reg(uint8_t value, uint32_t size, int base_reg, uint32_t offset) {
  const x86::Mem m = guest_mem(size, base_reg, offset);
  switch (size) {
    case 1: a_.mov(m, g(value).r8()); break;
    case 2: a_.mov(m, g(value).r16()); break;
    case 4: a_.mov(m, g32(value)); break;
    default: a_.mov(m, g(value)); break;
  }
}

void Codegen::emit_store_imm(uint32_t value, uint32_t size, int base_reg, uint32_t offset) {
  const x86::Mem m = guest_mem(size, base_reg, offset);
  switch (size) {
    case 1: a_.mov(m, static_cast<int32_t>(static_cast<int8_t>(value))); break;
    case 2: a_.mov(m, static_cast<int32_t>(static_cast<int16_t>(value))); break;
    default: a_.mov(m, static_cast<int32_t>(value)); break;  // qword: sign-extended, as the guest's
  }
}

// ------------------------------------------------------------------------------------------------
// Arithmetic helpers

void Codegen::binop64(InstId id, uint8_t d, uint8_t x, uint8_t y) {
  const bool commutative = id != x86::Inst::kIdSub;
  if (d == x) {
    a_.emit(id, g(d), g(y));
  } else if (d == y && commutative) {
    a_.emit(id, g(d), g(x));
  } else if (id == x86::Inst::kIdAdd) {
    a_.lea(g(d), sum(x, y));
    return;
  } else if (d == y) {
    a_.mov(kTmp, g(x));
    a_.emit(id, kTmp, g(y));
    a_.mov(g(d), kTmp);
  } else {
    a_.mov(g(d), g(x));
    a_.emit(id, g(d), g(y));
  }
}

void Codegen::binop32(InstId id, uint8_t d, uint8_t x, uint8_t y) {
  // The 32-bit result goes straight into d's low half when that does not clobber an operand first.
  const bool commutative = id != x86::Inst::kIdSub;
  Gp r = g32(d);
  if (d == x) {
    a_.emit(id, r, g32(y));
  } else if (d == y && commutative) {
    a_.emit(id, r, g32(x));
  } else if (id == x86::Inst::kIdAdd) {
    a_.lea(r, sum(x, y));
  } else if (d != y) {
    a_.mov(r, g32(x));
    a_.emit(id, r, g32(y));
  } else {
    r = x86::ecx;
    a_.mov(r, g32(x));
    a_.emit(id, r, g32(y));
  }
  set32(d, r);
}

void Codegen::binop_imm64(InstId id, uint8_t d, uint8_t s, uint32_t imm) {
  if (d != s) a_.mov(g(d), g(s));
  a_.emit(id, gc(d), sx(imm));  // 32-bit programs: the flags then describe the low half, which branches test
  flags_reg_ = d;
}

void Codegen::shift_imm(InstId id, uint8_t d, uint8_t s, uint32_t amount, bool is32) {
  if (is32) {
    if (d != s) a_.mov(g32(d), g32(s));
    a_.emit(id, g32(d), static_cast<int>(amount & 31));
    // A logical right shift by 1..31 clears bit 31, so the zero extension of the 32-bit write is already
    // the sign extension.
    if (id != x86::Inst::kIdShr || (amount & 31) == 0) set32(d, g32(d));
  } else {
    if (d != s) a_.mov(g(d), g(s));
    a_.emit(id, g(d), static_cast<int>(amount & 63));
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
  Label by_zero = a_.newLabel(), normal = a_.newLabel(), done = a_.newLabel();
  a_.test(gy, gy);
  a_.jz(by_zero);
  if (is_signed) {
    a_.cmp(gy, -1);
    a_.jne(normal);
    if (is32) {
      a_.cmp(gx, static_cast<int32_t>(INT32_MIN));
    } else {
      a_.mov(kTmp, INT64_MIN);
      a_.cmp(gx, kTmp);
    }
    a_.jne(normal);
    if (is_rem) a_.xor_(g32(d), g32(d));
    else is32 ? a_.movsxd(g(d), gx) : a_.mov(g(d), gx);
    a_.jmp(done);
  }
  a_.bind(normal);
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
  a_.jmp(done);
  a_.bind(by_zero);
  if (!is_rem) a_.mov(g(d), -1);  // all ones, signed or not
  else if (is32) a_.movsxd(g(d), gx);
  else if (d != x) a_.mov(g(d), gx);
  a_.bind(done);
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
  const uint32_t pc = insn.pc;
  if (!insn.valid) {
    trap(pc);
    return;
  }
  const uint8_t r0 = insn.reg[0], r1 = insn.reg[1], r2 = insn.reg[2];
  const uint32_t imm = insn.imm[0], imm2 = insn.imm[1];
  namespace I = x86::Inst;
  switch (insn.opcode) {
    // ---- control flow and system ----
    case Opcode::trap: trap(pc); break;
    case Opcode::fallthrough:
      // The next block is laid out right after this one.
      if (!module_.fallthrough_continues(code_, insn.next_pc())) trap(pc);
      break;
    case Opcode::unlikely: break;
    case Opcode::memset: exit_to(memset_, pc); break;
    case Opcode::ecalli: exit_to(ecalli_, pc); break;  // the host reads the number from the code
    case Opcode::sbrk: exit_to(sbrk_, pc); break;
    case Opcode::jump:
      if (code_.is_jump_target_valid(insn.target)) a_.jmp(label_for(insn.target));
      else trap(pc);
      break;
    case Opcode::jump_indirect:
      if (imm == 0) a_.mov(x86::ecx, g32(r0));
      else a_.lea(x86::ecx, x86::ptr(g(r0), static_cast<int32_t>(imm)));
      emit_dynamic_jump(pc);
      break;
    case Opcode::load_imm_and_jump:
      a_.mov(g(r0), sx(imm));  // written before a trap too, as in the reference
      if (code_.is_jump_target_valid(insn.target)) a_.jmp(label_for(insn.target));
      else trap(pc);
      break;
    case Opcode::load_imm_and_jump_indirect:
      a_.lea(x86::ecx, x86::ptr(g(r1), static_cast<int32_t>(imm2)));  // before r0 changes: r0 may be r1
      a_.mov(g(r0), sx(imm));
      emit_dynamic_jump(pc);
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
      if (sx(imm) >= 0) a_.mov(g32(r0), imm);
      else a_.mov(g(r0), sx(imm));
      break;
    case Opcode::load_imm64: a_.mov(g(r0), insn.imm64); break;
    case Opcode::move_reg:
      if (r0 != r1) a_.mov(g(r0), g(r1));
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
        a_.add(g32(r0), static_cast<int32_t>(imm));
        set32(r0, g32(r0));
        flags_reg_ = r0;
      } else if (imm == 0) {  // the linker's 32-bit move: a sign extension, or a move the CPU can eliminate
        if (is_64_bit_) a_.movsxd(g(r0), g32(r1));
        else if (r0 != r1) a_.mov(g32(r0), g32(r1));
      } else {
        a_.lea(result32(r0), x86::ptr(g(r1), static_cast<int32_t>(imm)));
        set32(r0, result32(r0));
      }
      break;
    case Opcode::add_imm_64:
      if (r0 == r1 && imm != 0) {  // sets the flags for a following branch on r0
        a_.add(g(r0), sx(imm));
        flags_reg_ = r0;
      } else if (imm == 0) {  // the linker's move: a register move the CPU can eliminate, unlike lea
        if (r0 != r1) a_.mov(g(r0), g(r1));
      } else {
        a_.lea(g(r0), x86::ptr(g(r1), static_cast<int32_t>(imm)));
      }
      break;
    case Opcode::and_imm: binop_imm64(I::kIdAnd, r0, r1, imm); break;
    case Opcode::xor_imm: binop_imm64(I::kIdXor, r0, r1, imm); break;
    case Opcode::or_imm: binop_imm64(I::kIdOr, r0, r1, imm); break;
    case Opcode::mul_imm_32:
      a_.imul(result32(r0), g32(r1), static_cast<int32_t>(imm));
      set32(r0, result32(r0));
      break;
    case Opcode::mul_imm_64: a_.imul(g(r0), g(r1), static_cast<int32_t>(imm)); break;
    case Opcode::set_less_than_unsigned_imm: set_cc(I::kIdSetb, r0, r1, Imm(sx(imm))); break;
    case Opcode::set_less_than_signed_imm: set_cc(I::kIdSetl, r0, r1, Imm(sx(imm))); break;
    case Opcode::set_greater_than_unsigned_imm: set_cc(I::kIdSeta, r0, r1, Imm(sx(imm))); break;
    case Opcode::set_greater_than_signed_imm: set_cc(I::kIdSetg, r0, r1, Imm(sx(imm))); break;
    case Opcode::shift_logical_left_imm_32: shift_imm(I::kIdShl, r0, r1, imm, true); break;
    case Opcode::shift_logical_right_imm_32: shift_imm(I::kIdShr, r0, r1, imm, true); break;
    case Opcode::shift_arithmetic_right_imm_32: shift_imm(I::kIdSar, r0, r1, imm, true); break;
    case Opcode::shift_logical_left_imm_64: shift_imm(I::kIdShl, r0, r1, imm, false); break;
    case Opcode::shift_logical_right_imm_64: shift_imm(I::kIdShr, r0, r1, imm, false); break;
    case Opcode::shift_arithmetic_right_imm_64: shift_imm(I::kIdSar, r0, r1, imm, false); break;
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
    if (!code_.is_jump_target_valid(target) || out_.entry_[target] == kNoCode) continue;
    out_.djump_offsets_[i + 1] = static_cast<uint32_t>(holder.labelOffset(labels_[target])) + 1;
  }
  out_.djump_ = out_.djump_table(base);
  out_.enter_ = static_cast<uint32_t>(holder.labelOffset(enter_));
  out_.fault_stub_ = static_cast<uint32_t>(holder.labelOffset(fault_stub_));
}

Result<std::unique_ptr<CompiledCode>> CompiledCode::compile(const ModuleState& module, bool step_tracing) {
  static std::atomic<uint64_t> next_id{1};
  std::unique_ptr<CompiledCode> out(new CompiledCode());
  out->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  CodeHolder holder;
  ErrorRecorder errors;
  holder.init(Environment::host());
  holder.setErrorHandler(&errors);
  x86::Assembler a(&holder);
  a.addEncodingOptions(EncodingOptions::kOptimizedAlign);  // alignment padding as long NOPs
  Codegen gen(module, step_tracing, *out, a);
  gen.emit_all();
  if (errors.error == kErrorOk) holder.flatten();
  if (errors.error == kErrorOk) holder.resolveUnresolvedLinks();
  if (errors.error != kErrorOk) return Error(fmt::format("failed to compile the module: {}", errors.text));

  const size_t size = holder.codeSize();
  void* memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return Error(fmt::format("failed to allocate {} bytes of machine code (errno {})", size, errno));
  out->memory_ = memory;
  out->size_ = size;
  const uintptr_t base = reinterpret_cast<uintptr_t>(memory);
  holder.relocateToBase(base);
  holder.copyFlattenedData(memory, size, CopySectionFlags::kPadSectionBuffer);
  if (errors.error != kErrorOk) return Error(fmt::format("failed to compile the module: {}", errors.text));
  if (mprotect(memory, size, PROT_READ | PROT_EXEC) != 0)
    return Error(fmt::format("failed to make machine code executable (errno {})", errno));
  gen.finish(base, holder);
  return out;
}

CompiledCode::~CompiledCode() {
  if (memory_) munmap(memory_, size_);
}

std::vector<uintptr_t> CompiledCode::djump_table(uintptr_t base) const {
  std::vector<uintptr_t> table(djump_offsets_.size());
  for (size_t i = 0; i < table.size(); ++i) table[i] = djump_offsets_[i] ? base + djump_offsets_[i] - 1 : 0;
  return table;
}

uint32_t CompiledCode::pc_at(uint32_t offset) const {
  auto it = std::upper_bound(insn_at_.begin(), insn_at_.end(), std::make_pair(offset, UINT32_MAX));
  return it == insn_at_.begin() ? 0 : std::prev(it)->second;
}

}  // namespace polkavm::detail::compiler
