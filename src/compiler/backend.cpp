// The compiler backend's architecture-neutral half: where a run starts and resumes (entry, charge or body of
// an instruction), what each exit of the generated code means, and the host side of ecalli, sbrk, memset,
// steps, gas and memory faults. Running the code itself is the sandbox's job (src/sandbox/).
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "compiler/compiler.hpp"
#include "polkavm/code.hpp"
#include "sandbox/sandbox.hpp"

namespace polkavm::detail {

namespace compiler {
namespace {

uint64_t sx(uint32_t v) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v))); }

/// A guest memory access, as the interpreter checks it.
struct Access {
  uint32_t address, size;
  bool is_write;
};

std::optional<Access> access_of(const Instruction& insn, const uint64_t* regs) {
  auto indirect = [&](int r, uint32_t offset) { return static_cast<uint32_t>(regs[r] + sx(offset)); };
  const uint32_t imm = insn.imm[0];
  switch (insn.opcode) {
    case Opcode::load_u8: case Opcode::load_i8: return Access{imm, 1, false};
    case Opcode::load_u16: case Opcode::load_i16: return Access{imm, 2, false};
    case Opcode::load_u32: case Opcode::load_i32: return Access{imm, 4, false};
    case Opcode::load_u64: return Access{imm, 8, false};
    case Opcode::load_indirect_u8: case Opcode::load_indirect_i8: return Access{indirect(insn.reg[1], imm), 1, false};
    case Opcode::load_indirect_u16: case Opcode::load_indirect_i16: return Access{indirect(insn.reg[1], imm), 2, false};
    case Opcode::load_indirect_u32: case Opcode::load_indirect_i32: return Access{indirect(insn.reg[1], imm), 4, false};
    case Opcode::load_indirect_u64: return Access{indirect(insn.reg[1], imm), 8, false};
    case Opcode::store_u8: case Opcode::store_imm_u8: return Access{imm, 1, true};
    case Opcode::store_u16: case Opcode::store_imm_u16: return Access{imm, 2, true};
    case Opcode::store_u32: case Opcode::store_imm_u32: return Access{imm, 4, true};
    case Opcode::store_u64: case Opcode::store_imm_u64: return Access{imm, 8, true};
    case Opcode::store_indirect_u8: return Access{indirect(insn.reg[1], imm), 1, true};
    case Opcode::store_indirect_u16: return Access{indirect(insn.reg[1], imm), 2, true};
    case Opcode::store_indirect_u32: return Access{indirect(insn.reg[1], imm), 4, true};
    case Opcode::store_indirect_u64: return Access{indirect(insn.reg[1], imm), 8, true};
    case Opcode::store_imm_indirect_u8: return Access{indirect(insn.reg[0], imm), 1, true};
    case Opcode::store_imm_indirect_u16: return Access{indirect(insn.reg[0], imm), 2, true};
    case Opcode::store_imm_indirect_u32: return Access{indirect(insn.reg[0], imm), 4, true};
    case Opcode::store_imm_indirect_u64: return Access{indirect(insn.reg[0], imm), 8, true};
    default: return std::nullopt;
  }
}

/// Where the next run continues, as a guest pc and which of its native addresses.
struct Resume {
  enum class At : uint8_t { None, Entry, Charge, Body } at = At::None;
  uint32_t pc = 0;
};

class CompilerBackend final : public InstanceBackend {
 public:
  CompilerBackend(std::shared_ptr<const ModuleState> module, std::unique_ptr<Sandbox> sandbox)
      : module_(std::move(module)),
        view_(module_->blob),
        code_(module_->compiled_code),
        compiled_tracing_(module_->config.step_tracing),
        sandbox_(std::move(sandbox)) {}
  // The memory's backing may live in the sandbox (a worker's memfd): it goes first.
  ~CompilerBackend() override { memory_.reset(); }

  Result<void> init() {
    Result<std::unique_ptr<MemoryBacking>> backing = sandbox_->make_memory_backing(module_->config.dynamic_paging);
    if (!backing) return backing.error();
    Result<std::unique_ptr<GuestMemory>> memory = GuestMemory::create(
        module_->memory_map, module_->blob, module_->config.dynamic_paging, std::move(backing).value());
    if (!memory) return memory.error();
    memory_ = std::move(memory).value();
    state_.step_tracing = module_->config.step_tracing;
    return {};
  }

  Result<Interrupt> run() override;
  void invalidate() override { code_.reset(); }
  Sandbox* sandbox() override { return sandbox_.get(); }

 private:
  /// Enters at native offset `target` and runs until an exit that needs the embedder.
  Result<Interrupt> execute(uint32_t target);
  Interrupt stop_at(uint32_t pc, Resume::At at, Interrupt interrupt) {
    state_.program_counter = pc;
    state_.next_program_counter = pc;
    resume_ = {at, pc};
    return interrupt;
  }
  Interrupt trap_at(uint32_t pc) {
    state_.program_counter = pc;
    state_.next_program_counter.reset();
    return Interrupt::trap();
  }
  Interrupt out_of_gas(uint32_t pc, Resume::At at);
  Interrupt memory_fault(uint32_t pc, uint32_t address, uint32_t size, bool is_write);
  Result<Interrupt> on_fault();
  /// For an ecalli, sbrk or memset exit, `insn` becomes the instruction at `pc`.
  bool exit_is_plausible(Exit exit, uint32_t pc, Instruction& insn) const {
    auto is = [&](Opcode opcode) {
      if (!code_->has_code(pc)) return false;
      insn = view_.decode(pc);
      return insn.opcode == opcode;
    };
    switch (exit) {
      case Exit::Halt:
      case Exit::Fault: return true;
      case Exit::Ecalli: return is(Opcode::ecalli);
      case Exit::Sbrk: return is(Opcode::sbrk);
      case Exit::Memset: return is(Opcode::memset);
      case Exit::OutOfGas: return code_->charge_length(pc) != 0;  // a block that pays in code
      case Exit::BlockTrap: return code_->is_block_trap(pc);
      default: return code_->has_code(pc);
    }
  }
  /// The gas cost of the block starting at `pc`, as the compiled code charges it.
  Gas block_cost(uint32_t pc) const {
    std::vector<Instruction> scratch;
    return compiler::block_cost_at(*module_, pc, scratch);
  }
  /// A block of a lone trap: the host charges it (the code has no charge of its own), then traps.
  Interrupt block_trap(uint32_t pc);
  /// Runs memset on the host: nothing when it completed, else the interrupt that stopped it.
  std::optional<Interrupt> memset(uint32_t pc);
  void sbrk(uint32_t pc);
  uint32_t native(Resume r) const {
    switch (r.at) {
      case Resume::At::Charge: return code_->charge(r.pc);
      case Resume::At::Body: return code_->body(r.pc);
      default: return code_->entry(r.pc);
    }
  }

  std::shared_ptr<const ModuleState> module_;
  CodeView view_;
  std::shared_ptr<const CompiledCode> code_;
  bool compiled_tracing_;
  Resume resume_;
  bool step_skips_charge_ = false;  // the next step stop resumes at the instruction's body
  std::unique_ptr<Sandbox> sandbox_;
  bool broken_ = false;  // the sandbox failed: nothing runs any more
  VmCtx ctx_{};
};

Result<Interrupt> CompilerBackend::run() {
  VmState& state = state_;
  if (broken_) return Error("this instance's sandbox failed earlier; create a new instance", ErrorKind::Sandbox);
  // Compiled code relies on the hardware protection: memory mapped when first needed is mapped now (before
  // anything of the run changes, so that a refusal leaves the instance as it was).
  if (memory_->lazy())
    if (Result<void> mapped = memory_->materialise(); !mapped) return mapped.error();
  if (!code_ || compiled_tracing_ != state.step_tracing) {
    // Step tracing was switched: this instance needs the other variant of the code.
    code_.reset();
    if (state.step_tracing == module_->config.step_tracing) {
      code_ = module_->compiled_code;
    } else {
      Result<std::unique_ptr<CompiledCode>> compiled = CompiledCode::compile(*module_, state.step_tracing);
      // Only running out of memory gets here (the module's code compiled already).
      if (!compiled) return compiled.error();
      code_ = std::move(compiled).value();
    }
    compiled_tracing_ = state.step_tracing;
    // Tracing was switched on: the instruction the run resumes at stops with a Step first (none was given
    // under it yet), whatever the interrupt was. Its charge stays as it was: retried after running out of
    // gas, not made again after a fault (its block is paid for).
    if (state.step_tracing && (resume_.at == Resume::At::Charge || resume_.at == Resume::At::Body)) {
      step_skips_charge_ = resume_.at == Resume::At::Body;
      resume_.at = Resume::At::Entry;
    }
  }

  Resume start = resume_;
  if (state.next_pc_changed || start.at == Resume::At::None) {
    const uint32_t pc = *state.next_program_counter;
    if (!view_.is_instruction_boundary(pc) || !code_->has_code(pc) || !view_.find_start_of_basic_block(pc)) {
      state.next_pc_changed = false;
      return trap_at(pc);
    }
    // Entering in the middle of a block from the host pays for the whole block first, as the
    // reference does; resuming after an interrupt does not.
    if (state.next_pc_changed && module_->gas_metering != GasMeteringKind::None && !view_.is_jump_target_valid(pc)) {
      std::vector<Instruction> block;
      view_.decode_block(*view_.find_start_of_basic_block(pc), block);
      const Gas cost = module_->gas_model->block_cost(view_, block);
      if (cost > state.gas) return Interrupt::not_enough_gas();
      state.gas -= cost;
    }
    state.next_pc_changed = false;
    state.program_counter = pc;
    step_skips_charge_ = false;
    start = {Resume::At::Entry, pc};
  }
  resume_ = {};
  state.next_program_counter.reset();
  return execute(native(start));
}

Result<Interrupt> CompilerBackend::execute(uint32_t target) {
  VmState& state = state_;
  std::memcpy(ctx_.regs, state.regs.data(), sizeof(ctx_.regs));
  ctx_.gas = state.gas;
  for (;;) {
    const Gas gas_at_entry = ctx_.gas;
    if (Result<void> ran = sandbox_->execute(*code_, ctx_, target); !ran) {
      broken_ = true;
      return ran.error();
    }
    std::memcpy(state.regs.data(), ctx_.regs, sizeof(ctx_.regs));
    // An exit reached with a call reports the native offset it would return to: the pc is the instruction
    // whose code holds the call.
    const uint32_t raw_exit = static_cast<uint32_t>(ctx_.exit);
    const Exit exit = static_cast<Exit>(raw_exit & ~kExitAtReturnOffset);
    uint32_t pc = ctx_.pc;
    if (raw_exit & kExitAtReturnOffset) pc = ctx_.pc != 0 && ctx_.pc <= code_->size() ? code_->pc_at(ctx_.pc - 1) : kNoCode;
    // 32-bit programs' code keeps only the low half of a register meaningful; the state holds them
    // sign-extended, as the interpreter does.
    if (!module_->blob.is_64_bit())
      for (uint64_t& r : state.regs) r = sx(static_cast<uint32_t>(r));
    state.gas = ctx_.gas;
    // Sync metering gives the charge of a block that ran out of gas back: the block is retried.
    Instruction insn;
    bool plausible = exit_is_plausible(exit, pc, insn);
    if (plausible && exit == Exit::OutOfGas && module_->gas_metering == GasMeteringKind::Sync)
      plausible = !__builtin_add_overflow(state.gas, block_cost(pc), &state.gas);
    // What a sandbox reports is not trusted (a Linux worker may be compromised): an exit names an
    // instruction of this code that can exit that way, and the code only ever spends gas.
    if (!plausible || state.gas > gas_at_entry) {
      broken_ = true;
      sandbox_->abandon();
      return Error(fmt::format("the sandbox reported an impossible exit ({} at 0x{:x})",
                               static_cast<uint32_t>(ctx_.exit), ctx_.pc), ErrorKind::Sandbox);
    }
    switch (exit) {
      case Exit::Trap: return trap_at(pc);
      case Exit::BlockTrap: return block_trap(pc);
      case Exit::Halt:
        state.program_counter.reset();
        state.next_program_counter.reset();
        return Interrupt::finished();
      case Exit::Ecalli: {
        const uint32_t next = insn.next_pc();
        state.program_counter = pc;
        state.next_program_counter = next;
        resume_ = {Resume::At::Entry, next};
        return Interrupt::ecalli(insn.imm[0]);
      }
      case Exit::Step:
        return stop_at(pc, std::exchange(step_skips_charge_, false) ? Resume::At::Body : Resume::At::Charge,
                       Interrupt::step());
      case Exit::OutOfGas: return out_of_gas(pc, Resume::At::Charge);
      case Exit::Fault: return on_fault();
      case Exit::Access: {
        const std::optional<Access> access = access_of(view_.decode(pc), state.regs.data());
        return access ? memory_fault(pc, access->address, access->size, access->is_write) : trap_at(pc);
      }
      case Exit::Sbrk:
        sbrk(pc);
        target = code_->entry(insn.next_pc());
        break;
      case Exit::Memset:
        if (std::optional<Interrupt> interrupt = memset(pc)) return *interrupt;
        target = code_->entry(insn.next_pc());
        break;
      default:
        broken_ = true;
        return Error(fmt::format("the sandbox reported an unknown exit ({})", static_cast<uint32_t>(ctx_.exit)));
    }
    std::memcpy(ctx_.regs, state.regs.data(), sizeof(ctx_.regs));
    ctx_.gas = state.gas;
  }
}

Interrupt CompilerBackend::block_trap(uint32_t pc) {
  // As the code charges a block: sync runs out of gas (charging nothing) when the cost is more than is left;
  // async charges, and runs out when the counter goes negative.
  if (module_->gas_metering != GasMeteringKind::None) {
    const Gas cost = block_cost(pc);
    if (module_->gas_metering == GasMeteringKind::Sync && state_.gas < cost) return out_of_gas(pc, Resume::At::Charge);
    state_.gas -= cost;
    if (state_.gas < 0) return out_of_gas(pc, Resume::At::Charge);
  }
  return trap_at(pc);
}

Interrupt CompilerBackend::out_of_gas(uint32_t pc, Resume::At at) {
  if (module_->gas_metering == GasMeteringKind::Async) {
    state_.program_counter.reset();
    state_.next_program_counter.reset();
    return Interrupt::not_enough_gas();
  }
  return stop_at(pc, at, Interrupt::not_enough_gas());  // sync: nothing was charged; the block is retried
}

Interrupt CompilerBackend::memory_fault(uint32_t pc, uint32_t address, uint32_t size, bool is_write) {
  const AccessFault fault = memory_->classify_fault(address, size, is_write);
  if (!fault.is_segfault) return trap_at(pc);
  // The instruction runs again once the host has mapped the page; its block is already paid for.
  return stop_at(pc, Resume::At::Body, Interrupt::fault(fault.segfault));
}

Result<Interrupt> CompilerBackend::on_fault() {
  // Both are relative (to the code and to guest memory), as the sandbox reports them.
  const uint64_t offset = ctx_.fault_rip, address = ctx_.fault_address;
  const bool in_guest_memory = address < (uint64_t(1) << 32) + GuestMemory::kGuardSize;
  const uint32_t pc = offset < code_->size() ? code_->pc_at(static_cast<uint32_t>(offset)) : 0;
  const std::optional<Access> access =
      offset < code_->size() ? access_of(view_.decode(pc), state_.regs.data()) : std::nullopt;
  if (!in_guest_memory || !access) {
    // Not a guest memory access: a bug in the generated code (or a lying sandbox). Nothing can continue.
    broken_ = true;
    sandbox_->abandon();
    return Error(fmt::format("unexpected fault in compiled code at pc {} (native offset 0x{:x}, address 0x{:x})",
                             pc, offset, address));
  }
  return memory_fault(pc, access->address, access->size, access->is_write);
}

void CompilerBackend::sbrk(uint32_t pc) {
  const Instruction insn = view_.decode(pc);
  const uint64_t requested = state_.regs[insn.reg[1]];
  // As the interpreter: a 64-bit size that does not fit in u32 counts as 0; the result is sign-extended.
  const uint32_t size = module_->blob.is_64_bit() && requested > UINT32_MAX ? 0 : static_cast<uint32_t>(requested);
  state_.regs[insn.reg[0]] = sx(memory_->sbrk(size).value_or(0));
}

std::optional<Interrupt> CompilerBackend::memset(uint32_t pc) {
  uint64_t* regs = state_.regs.data();
  const bool metered = module_->gas_metering != GasMeteringKind::None;
  const uint8_t value = static_cast<uint8_t>(regs[static_cast<int>(Reg::A1)]);
  const uint64_t a0 = regs[static_cast<int>(Reg::A0)];
  uint32_t dst = static_cast<uint32_t>(a0);
  uint64_t count = static_cast<uint32_t>(regs[static_cast<int>(Reg::A2)]);
  std::optional<Interrupt> interrupt;
  switch (memory_->guest_fill(dst, count, value, metered ? &state_.gas : nullptr)) {
    case GuestMemory::FillStop::Done: break;
    case GuestMemory::FillStop::OutOfGas:
      interrupt = out_of_gas(pc, Resume::At::Body);  // memset continues where it stopped; its block is paid for
      break;
    case GuestMemory::FillStop::Fault: interrupt = memory_fault(pc, dst, 1, true); break;
  }
  regs[static_cast<int>(Reg::A0)] = a0 + static_cast<uint32_t>(dst - static_cast<uint32_t>(a0));
  regs[static_cast<int>(Reg::A2)] = count;
  return interrupt;
}

}  // namespace
}  // namespace compiler

Result<void> compile_module(ModuleState& module) {
  Result<std::unique_ptr<compiler::CompiledCode>> code =
      compiler::CompiledCode::compile(module, module.config.step_tracing);
  if (!code) return code.error();
  module.compiled_code = std::move(code).value();
  return {};
}

Result<std::unique_ptr<InstanceBackend>> make_compiler(std::shared_ptr<const ModuleState> module) {
  std::unique_ptr<Sandbox> sandbox = module->engine->sandbox == SandboxKind::Linux
                                         ? make_linux_sandbox(*module->engine)
                                         : make_generic_sandbox();
  auto backend = std::make_unique<compiler::CompilerBackend>(std::move(module), std::move(sandbox));
  if (auto r = backend->init(); !r) return r.error();
  return std::unique_ptr<InstanceBackend>(std::move(backend));
}

}  // namespace polkavm::detail
