// Table-driven semantics test of every opcode in every instruction set.
//
// Each opcode has a case below: a small program built with CodeBuilder, run over a set of interesting
// operands, and compared against an expected-value function written here independently of the VM
// (explicit 32/64-bit arithmetic, per the reference's interpreter.rs and operation.rs).
// The parameter list comes from kOpcodeInfo, so an opcode without a case fails instead of being skipped.
#include <bit>
#include <cstring>
#include <functional>
#include <sstream>

#include "test_util.hpp"

namespace polkavm::test {
namespace {

using u32 = uint32_t;
using u64 = uint64_t;
using i32 = int32_t;
using i64 = int64_t;

// Register-width view used by the expected-value functions. On Latest32 every input is already
// reduced to 32 bits and every result is read back as 32 bits.
struct W {
  bool is64;
  u64 r32(u32 v) const { return is64 ? sext32(v) : v; }  // a *_32 result (sign-extended on 64-bit ISAs)
  u64 full(u64 v) const { return is64 ? v : (v & 0xFFFFFFFFu); }
  i64 s(u64 v) const { return is64 ? static_cast<i64>(v) : static_cast<i32>(static_cast<u32>(v)); }
  u64 u(u64 v) const { return full(v); }
  u64 b(bool v) const { return v ? 1 : 0; }
};

using Alu3Fn = u64 (*)(W, u64 a, u64 b, u64 old_dst);
using Alu2Fn = u64 (*)(W, u64 a);
using CondFn = bool (*)(W, u64 a, u64 b);

struct Ctx {
  TestBackend backend;
  InstructionSet isa;
  Opcode op;
  W w() const { return W{is_64_bit(isa)}; }
};
using Runner = std::function<void(const Ctx&)>;

constexpr u64 kSentinel = 0x5A5A5A5AA5A5A5A5ull;

const std::vector<u64> kRegValues64 = {
    0, 1, 2, 3, 7, 31, 32, 33, 63, 64, 65, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF,
    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000ull, 0x123456789ABCDEF0ull, 0xFFFFFFFF80000000ull,
    0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, 0xFFFFFFFFFFFFFFFEull, 0xFFFFFFFFFFFFFFFFull};

const std::vector<u32> kImmValues = {0,  1,    2,    5,          31,         32,         33,         63,        64,
                                     65, 0x7F, 0x80, 0xFFFFFF80, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x12345678};

// The interesting register values as the ISA sees them (deduplicated on Latest32).
std::vector<u64> reg_values(InstructionSet isa) {
  std::vector<u64> out;
  for (u64 v : kRegValues64) {
    u64 n = reg_view(isa, v);
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  return out;
}

// An immediate operand as the instruction sees it: sign-extended to the register width.
u64 imm_value(W w, u32 imm) { return w.is64 ? sext32(imm) : imm; }

std::string hex(u64 v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// Collects value mismatches and reports the first few, so one wrong opcode doesn't flood the log.
class Mismatches {
 public:
  explicit Mismatches(const Ctx& ctx) : ctx_(ctx) {}
  ~Mismatches() {
    if (count_ > kShown) ADD_FAILURE() << name(ctx_.op) << ": " << (count_ - kShown) << " more mismatches";
  }
  void check(u64 actual, u64 expected, const std::string& inputs) {
    if (actual == expected) return;
    if (++count_ <= kShown)
      ADD_FAILURE() << instruction_set_name(ctx_.isa) << " " << name(ctx_.op) << " " << inputs << ": got " << hex(actual)
                    << ", expected " << hex(expected);
  }

 private:
  static constexpr int kShown = 6;
  const Ctx& ctx_;
  int count_ = 0;
};

// Runs a program that ends in `jump_indirect ra, 0` and requires it to finish.
bool run_to_finish(Vm& vm, uint32_t pc = 0) {
  Interrupt r = call(vm.instance, pc);
  EXPECT_EQ(r, Interrupt::finished());
  return r == Interrupt::finished();
}

// ---- generic drivers ----

Runner alu3(Alu3Fn f) {
  return [f](const Ctx& c) {
    const W w = c.w();
    const auto values = reg_values(c.isa);
    for (bool dst_is_src1 : {false, true}) {
      CodeBuilder b(c.isa);
      const Reg dst = dst_is_src1 ? Reg::A0 : Reg::A2;
      b.emit(insn(c.op, {dst, Reg::A0, Reg::A1}));
      emit_ret(b);
      Vm vm = make_vm(c.backend, c.isa, b);
      Mismatches m(c);
      for (u64 a : values) {
        for (u64 bv : values) {
          vm.instance.set_reg(Reg::A0, a);
          vm.instance.set_reg(Reg::A1, bv);
          vm.instance.set_reg(Reg::A2, kSentinel);
          if (!run_to_finish(vm)) return;
          const u64 old = dst_is_src1 ? a : reg_view(c.isa, kSentinel);
          m.check(vm.instance.reg(dst), f(w, a, bv, old),
                  std::string(dst_is_src1 ? "a0 <- a0, a1" : "a2 <- a0, a1") + " with a0=" + hex(a) + " a1=" + hex(bv));
        }
      }
    }
  };
}

Runner alu_imm(Alu3Fn f) {
  return [f](const Ctx& c) {
    const W w = c.w();
    const auto values = reg_values(c.isa);
    for (u32 imm : kImmValues) {
      for (bool dst_is_src : {false, true}) {
        CodeBuilder b(c.isa);
        const Reg dst = dst_is_src ? Reg::A0 : Reg::A2;
        b.emit(insn(c.op, {dst, Reg::A0}, {imm}));
        emit_ret(b);
        Vm vm = make_vm(c.backend, c.isa, b);
        Mismatches m(c);
        for (u64 a : values) {
          vm.instance.set_reg(Reg::A0, a);
          vm.instance.set_reg(Reg::A2, kSentinel);
          if (!run_to_finish(vm)) return;
          const u64 old = dst_is_src ? a : reg_view(c.isa, kSentinel);
          m.check(vm.instance.reg(dst), f(w, a, imm_value(w, imm), old), "a0=" + hex(a) + " imm=" + hex(imm));
        }
      }
    }
  };
}

Runner alu2(Alu2Fn f) {
  return [f](const Ctx& c) {
    const W w = c.w();
    for (bool dst_is_src : {false, true}) {
      CodeBuilder b(c.isa);
      const Reg dst = dst_is_src ? Reg::A0 : Reg::A2;
      b.emit(insn(c.op, {dst, Reg::A0}));
      emit_ret(b);
      Vm vm = make_vm(c.backend, c.isa, b);
      Mismatches m(c);
      for (u64 a : reg_values(c.isa)) {
        vm.instance.set_reg(Reg::A0, a);
        if (!run_to_finish(vm)) return;
        m.check(vm.instance.reg(dst), f(w, a), "a0=" + hex(a));
      }
    }
  };
}

// Branch programs: a2 = 2 when taken, 1 when not.
void check_branch(const Ctx& c, Vm& vm, Mismatches& m, bool expected_taken, const std::string& inputs) {
  if (!run_to_finish(vm)) return;
  m.check(vm.instance.reg(Reg::A2), expected_taken ? 2 : 1, inputs);
}

void emit_branch_targets(CodeBuilder& b, CodeBuilder::Label taken) {
  emit_load_imm(b, Reg::A2, 1);
  emit_ret(b);
  b.bind(taken);
  emit_load_imm(b, Reg::A2, 2);
  emit_ret(b);
}

Runner branch(CondFn cond) {
  return [cond](const Ctx& c) {
    const W w = c.w();
    const auto values = reg_values(c.isa);
    CodeBuilder b(c.isa);
    auto taken = b.new_label();
    b.emit(insn(c.op, {Reg::A0, Reg::A1}), taken);
    emit_branch_targets(b, taken);
    Vm vm = make_vm(c.backend, c.isa, b);
    Mismatches m(c);
    for (u64 a : values) {
      for (u64 bv : values) {
        vm.instance.set_reg(Reg::A0, a);
        vm.instance.set_reg(Reg::A1, bv);
        check_branch(c, vm, m, cond(w, a, bv), "a0=" + hex(a) + " a1=" + hex(bv));
      }
    }
  };
}

Runner branch_imm(CondFn cond) {
  return [cond](const Ctx& c) {
    const W w = c.w();
    const auto values = reg_values(c.isa);
    for (u32 imm : kImmValues) {
      CodeBuilder b(c.isa);
      auto taken = b.new_label();
      b.emit(insn(c.op, {Reg::A0}, {imm, 0}), taken);
      emit_branch_targets(b, taken);
      Vm vm = make_vm(c.backend, c.isa, b);
      Mismatches m(c);
      for (u64 a : values) {
        vm.instance.set_reg(Reg::A0, a);
        check_branch(c, vm, m, cond(w, a, imm_value(w, imm)), "a0=" + hex(a) + " imm=" + hex(imm));
      }
    }
  };
}

// ---- loads and stores ----

// Memory layout of the load/store programs (digest §3): RO at 0x10000, RW at 0x30000 (RO < 64 KiB).
constexpr u32 kRoAddress = 0x10000;
constexpr u32 kRwAddress = 0x30000;
constexpr u32 kDataSize = 0x100;

enum class Addressing { Absolute, Indirect };

struct MemOp {
  u32 width;
  bool is_signed;
  Addressing addressing;
};

// Bytes placed in memory for the loads: the first pattern has the sign bit of every width set, the
// second has it clear.
constexpr uint8_t kPatternNeg[8] = {0x81, 0x92, 0xA3, 0xB4, 0xC5, 0xD6, 0xE7, 0xF8};
constexpr uint8_t kPatternPos[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x08};

u64 expected_load(W w, const uint8_t* bytes, MemOp op) {
  u64 v = 0;
  for (u32 i = 0; i < op.width; ++i) v |= u64(bytes[i]) << (8 * i);
  if (op.is_signed && op.width < 8) {
    const u32 shift = 64 - 8 * op.width;
    v = static_cast<u64>(static_cast<i64>(v << shift) >> shift);
  }
  return w.full(v);
}

// Base/offset pairs that all address `target` ((base + sext(offset)) mod 2^32).
std::vector<std::pair<u64, u32>> base_offsets(InstructionSet isa, u32 target) {
  std::vector<std::pair<u64, u32>> out = {{target, 0}, {target - 0x10, 0x10}, {target + 0x10, 0xFFFFFFF0}};
  // The address is truncated to 32 bits, so upper register bits are ignored.
  if (is_64_bit(isa)) out.push_back({(u64(1) << 32) + target, 0});
  return out;
}

Runner load(MemOp op) {
  return [op](const Ctx& c) {
    const W w = c.w();
    DataLayout data;
    data.ro_data_size = kDataSize;
    data.ro_data.assign(kDataSize, 0);
    std::memcpy(&data.ro_data[0x21], kPatternNeg, 8);  // unaligned on purpose
    data.rw_data_size = kDataSize;
    Mismatches m(c);
    struct Source {
      u32 address;
      const uint8_t* bytes;
    };
    for (Source src : {Source{kRoAddress + 0x21, kPatternNeg}, Source{kRwAddress + 0x43, kPatternPos},
                       Source{kRwAddress + 0x43, kPatternNeg}}) {
      std::vector<std::pair<u64, u32>> operands =
          op.addressing == Addressing::Absolute ? std::vector<std::pair<u64, u32>>{{0, src.address}}
                                                : base_offsets(c.isa, src.address);
      for (auto [base, offset] : operands) {
        CodeBuilder b(c.isa);
        if (op.addressing == Addressing::Absolute)
          b.emit(insn(c.op, {Reg::A2}, {offset}));
        else
          b.emit(insn(c.op, {Reg::A2, Reg::A0}, {offset}));
        emit_ret(b);
        Vm vm = make_vm(c.backend, c.isa, b, VmOptions{.data = data});
        if (src.address >= kRwAddress)
          unwrap(vm.instance.write_memory(src.address, std::span<const uint8_t>(src.bytes, 8)), "write_memory");
        vm.instance.set_reg(Reg::A0, base);
        vm.instance.set_reg(Reg::A2, kSentinel);
        if (!run_to_finish(vm)) return;
        m.check(vm.instance.reg(Reg::A2), expected_load(w, src.bytes, op),
                "address=" + hex(src.address) + " base=" + hex(base) + " offset=" + hex(offset));
      }
    }
  };
}

// Kinds of store operand: a register value or an immediate (sign-extended for 64-bit stores).
enum class StoreSource { Reg, Imm };

Runner store(MemOp op, StoreSource source) {
  return [op, source](const Ctx& c) {
    constexpr u32 kTarget = kRwAddress + 0x31;
    constexpr uint8_t kFill = 0xEE;
    DataLayout data;
    data.ro_data_size = 1;  // keeps RW at kRwAddress
    data.rw_data_size = kDataSize;
    data.rw_data.assign(kDataSize, kFill);
    const std::vector<u64> values = source == StoreSource::Reg
                                        ? std::vector<u64>{0x8877665544332211ull, 0x0102030405060708ull}
                                        : std::vector<u64>{0x80112233, 0x11223344, 0xFFFFFFFF};
    for (u64 value : values) {
      std::vector<std::pair<u64, u32>> operands = op.addressing == Addressing::Absolute
                                                      ? std::vector<std::pair<u64, u32>>{{0, kTarget}}
                                                      : base_offsets(c.isa, kTarget);
      for (auto [base, offset] : operands) {
        CodeBuilder b(c.isa);
        const u32 imm = static_cast<u32>(value);
        if (source == StoreSource::Reg) {
          if (op.addressing == Addressing::Absolute)
            b.emit(insn(c.op, {Reg::A1}, {offset}));
          else
            b.emit(insn(c.op, {Reg::A1, Reg::A0}, {offset}));
        } else {
          if (op.addressing == Addressing::Absolute)
            b.emit(insn(c.op, {}, {offset, imm}));
          else
            b.emit(insn(c.op, {Reg::A0}, {offset, imm}));
        }
        emit_ret(b);
        Vm vm = make_vm(c.backend, c.isa, b, VmOptions{.data = data});
        vm.instance.set_reg(Reg::A0, base);
        vm.instance.set_reg(Reg::A1, value);
        if (!run_to_finish(vm)) return;

        // What lands in memory: the low `width` bytes of the register (as the ISA holds it) or of
        // the sign-extended immediate; the bytes around it stay untouched.
        const u64 stored = source == StoreSource::Reg ? reg_view(c.isa, value) : sext32(imm);
        std::vector<uint8_t> expected(op.width + 2, kFill);
        for (u32 i = 0; i < op.width; ++i) expected[i + 1] = static_cast<uint8_t>(stored >> (8 * i));
        auto actual = unwrap(vm.instance.read_memory(kTarget - 1, op.width + 2), "read_memory");
        EXPECT_EQ(actual, expected) << name(c.op) << " value=" << hex(value) << " base=" << hex(base)
                                    << " offset=" << hex(offset);
      }
    }
  };
}

// ---- opcodes with their own programs ----

void run_trap(const Ctx& c) {
  CodeBuilder b(c.isa);
  emit_load_imm(b, Reg::A0, 5);
  auto at = b.new_label();
  b.bind(at);
  emit_trap(b);
  Vm vm = make_vm(c.backend, c.isa, b);
  EXPECT_EQ(call(vm.instance, 0), Interrupt::trap());
  EXPECT_EQ(vm.instance.program_counter(), vm.at(at));
  EXPECT_EQ(vm.instance.next_program_counter(), std::nullopt);
  EXPECT_EQ(vm.instance.reg(Reg::A0), 5u);
}

// `no_op` between two instructions changes nothing but the block structure: fallthrough ends a block (two
// blocks of two instructions), unlikely does not (one block of four). Either way, four gas.
void run_block_structure_no_op(const Ctx& c, Opcode no_op, size_t blocks) {
  CodeBuilder b(c.isa);
  emit_load_imm(b, Reg::A0, 1);
  b.emit(insn(no_op));
  emit_add_imm_32(b, Reg::A0, Reg::A0, 2);
  emit_ret(b);
  Vm vm = make_vm(c.backend, c.isa, b, VmOptions{.module_config = gas_config(GasMeteringKind::Sync)});
  EXPECT_EQ(vm.module.block_gas_costs().size(), blocks);
  vm.instance.set_gas(10);
  ASSERT_TRUE(run_to_finish(vm));
  EXPECT_EQ(vm.instance.reg(Reg::A0), 3u);
  EXPECT_EQ(vm.instance.gas(), 6);
}

void run_fallthrough(const Ctx& c) { run_block_structure_no_op(c, Opcode::fallthrough, 2); }
void run_unlikely(const Ctx& c) { run_block_structure_no_op(c, Opcode::unlikely, 1); }

void run_memset(const Ctx& c) {
  CodeBuilder b(c.isa);
  b.emit(insn(Opcode::memset));
  emit_ret(b);
  VmOptions options{.data = {.rw_data_size = 16}, .module_config = gas_config(GasMeteringKind::Sync)};
  Vm vm = make_vm(c.backend, c.isa, b, options);
  const u32 rw = vm.module.memory_map().rw_data_address;
  vm.instance.set_gas(100);
  vm.instance.set_reg(Reg::A0, rw + 1);
  vm.instance.set_reg(Reg::A1, 0x1234567A);
  vm.instance.set_reg(Reg::A2, 3);
  ASSERT_TRUE(run_to_finish(vm));
  EXPECT_EQ(unwrap(vm.instance.read_memory(rw, 5)), (std::vector<uint8_t>{0, 0x7A, 0x7A, 0x7A, 0}));
  EXPECT_EQ(vm.instance.reg(Reg::A0), rw + 4u);  // advanced past the written bytes
  EXPECT_EQ(vm.instance.reg(Reg::A1), 0x1234567Au);
  EXPECT_EQ(vm.instance.reg(Reg::A2), 0u);
  EXPECT_EQ(vm.instance.gas(), 100 - 2 - 3);  // block + 1 per byte

  // A zero count writes nothing and keeps a0 intact.
  vm.instance.set_gas(100);
  vm.instance.set_reg(Reg::A0, rw + 8);
  vm.instance.set_reg(Reg::A2, 0);
  ASSERT_TRUE(run_to_finish(vm));
  EXPECT_EQ(vm.instance.reg(Reg::A0), rw + 8u);
  EXPECT_EQ(unwrap(vm.instance.read_memory(rw + 8, 1)), std::vector<uint8_t>{0});
  EXPECT_EQ(vm.instance.gas(), 98);
}

void run_ecalli(const Ctx& c) {
  for (u32 number : {0u, 7u, 0xFFFFFF80u, 0x12345678u}) {
    CodeBuilder b(c.isa);
    b.emit(insn(Opcode::ecalli, {}, {number}));
    auto next = b.new_label();
    b.bind(next);
    emit_load_imm(b, Reg::A0, 9);
    emit_ret(b);
    Vm vm = make_vm(c.backend, c.isa, b);
    EXPECT_EQ(call(vm.instance, 0), Interrupt::ecalli(number));
    EXPECT_EQ(vm.instance.program_counter(), 0u);
    EXPECT_EQ(vm.instance.next_program_counter(), vm.at(next));
    EXPECT_EQ(resume(vm.instance), Interrupt::finished());
    EXPECT_EQ(vm.instance.reg(Reg::A0), 9u);
  }
}

void run_load_imm(const Ctx& c) {
  Mismatches m(c);
  for (u32 imm : kImmValues) {
    CodeBuilder b(c.isa);
    emit_load_imm(b, Reg::A2, imm);
    emit_ret(b);
    Vm vm = make_vm(c.backend, c.isa, b);
    vm.instance.set_reg(Reg::A2, kSentinel);
    if (!run_to_finish(vm)) return;
    m.check(vm.instance.reg(Reg::A2), imm_value(c.w(), imm), "imm=" + hex(imm));
  }
}

void run_load_imm64(const Ctx& c) {
  Mismatches m(c);
  for (u64 value : kRegValues64) {
    CodeBuilder b(c.isa);
    b.emit(make_load_imm64(Reg::A2, value));
    emit_ret(b);
    Vm vm = make_vm(c.backend, c.isa, b);
    if (!run_to_finish(vm)) return;
    m.check(vm.instance.reg(Reg::A2), value, "value=" + hex(value));
  }
}

void run_jump(const Ctx& c) {
  CodeBuilder b(c.isa);
  auto target = b.new_label();
  b.emit(insn(Opcode::jump), target);
  emit_load_imm(b, Reg::A0, 1);
  emit_trap(b);
  b.bind(target);
  emit_load_imm(b, Reg::A0, 2);
  emit_ret(b);
  Vm vm = make_vm(c.backend, c.isa, b);
  ASSERT_TRUE(run_to_finish(vm));
  EXPECT_EQ(vm.instance.reg(Reg::A0), 2u);
}

// Programs for the dynamic jumps: a jump table with entries to `first` (address 2) and `second`
// (address 4), which set a0 to 11 and 22.
struct JumpTableProgram {
  CodeBuilder builder;
  CodeBuilder::Label first, second;
};

JumpTableProgram jump_table_program(InstructionSet isa, const Instruction& jump) {
  JumpTableProgram p{CodeBuilder(isa), 0, 0};
  CodeBuilder& b = p.builder;
  p.first = b.new_label();
  p.second = b.new_label();
  b.emit(jump);
  b.bind(p.first);
  emit_load_imm(b, Reg::A0, 11);
  emit_ret(b);
  b.bind(p.second);
  emit_load_imm(b, Reg::A0, 22);
  emit_ret(b);
  b.add_jump_table_entry(p.first);
  b.add_jump_table_entry(p.second);
  return p;
}

void run_jump_indirect(const Ctx& c) {
  // djump(a1 + imm) with the address split between register and immediate, including wrap-around.
  struct Operands {
    u64 base;
    u32 offset;
    u64 expected_a0;
  };
  for (Operands o : {Operands{4, 0, 22}, Operands{0, 2, 11}, Operands{6, 0xFFFFFFFE, 22}, Operands{2, 2, 22}}) {
    auto p = jump_table_program(c.isa, insn(Opcode::jump_indirect, {Reg::A1}, {o.offset}));
    Vm vm = make_vm(c.backend, c.isa, p.builder);
    vm.instance.set_reg(Reg::A1, o.base);
    ASSERT_TRUE(run_to_finish(vm)) << "base=" << o.base << " offset=" << o.offset;
    EXPECT_EQ(vm.instance.reg(Reg::A0), o.expected_a0) << "base=" << o.base << " offset=" << o.offset;
  }
}

void run_load_imm_and_jump(const Ctx& c) {
  CodeBuilder b(c.isa);
  auto target = b.new_label();
  b.emit(insn(Opcode::load_imm_and_jump, {Reg::A0}, {0xFFFFFF85, 0}), target);
  emit_trap(b);
  b.bind(target);
  emit_ret(b);
  Vm vm = make_vm(c.backend, c.isa, b);
  ASSERT_TRUE(run_to_finish(vm));
  EXPECT_EQ(vm.instance.reg(Reg::A0), imm_value(c.w(), 0xFFFFFF85));
}

void run_load_imm_and_jump_indirect(const Ctx& c) {
  {
    // Distinct registers: a1 = value, jump to a0 + offset = 6 - 2 = 4 (second entry).
    auto p = jump_table_program(c.isa, insn(Opcode::load_imm_and_jump_indirect, {Reg::A1, Reg::A0}, {0x80000000, 0xFFFFFFFE}));
    Vm vm = make_vm(c.backend, c.isa, p.builder);
    vm.instance.set_reg(Reg::A0, 6);
    ASSERT_TRUE(run_to_finish(vm));
    EXPECT_EQ(vm.instance.reg(Reg::A0), 22u);
    EXPECT_EQ(vm.instance.reg(Reg::A1), imm_value(c.w(), 0x80000000));
  }
  {
    // Same register as destination and base: the target uses the old base (0 + 2 -> first entry);
    // using the new value (0x1234 + 2) would be an out-of-range jump.
    auto p = jump_table_program(c.isa, insn(Opcode::load_imm_and_jump_indirect, {Reg::A2, Reg::A2}, {0x1234, 2}));
    Vm vm = make_vm(c.backend, c.isa, p.builder);
    vm.instance.set_reg(Reg::A2, 0);
    ASSERT_TRUE(run_to_finish(vm));
    EXPECT_EQ(vm.instance.reg(Reg::A0), 11u);
    EXPECT_EQ(vm.instance.reg(Reg::A2), 0x1234u);
  }
}

void run_sbrk(const Ctx& c) {
  CodeBuilder b(c.isa);
  b.emit(insn(Opcode::sbrk, {Reg::A2, Reg::A0}));
  emit_ret(b);
  Vm vm = make_vm(c.backend, c.isa, b, VmOptions{.data = {.rw_data_size = 1}});
  const MemoryMap& map = vm.module.memory_map();
  auto sbrk = [&](u64 size) {
    vm.instance.set_reg(Reg::A0, size);
    EXPECT_TRUE(run_to_finish(vm));
    return vm.instance.reg(Reg::A2);
  };
  EXPECT_EQ(sbrk(0), map.heap_base);  // sbrk 0 = the current top
  EXPECT_EQ(sbrk(0x100), map.heap_base + 0x100u);  // the new top, not the old break
  EXPECT_EQ(sbrk(0), map.heap_base + 0x100u);
  EXPECT_EQ(vm.instance.heap_size(), 0x100u);
  EXPECT_EQ(sbrk(map.max_heap_size), 0u);  // beyond the maximum: fails and leaves the heap alone
  EXPECT_EQ(sbrk(0xFFFFFFFF), 0u);         // overflow
  EXPECT_EQ(sbrk(0), map.heap_base + 0x100u);
  // Exactly the maximum. Only the low 32 bits are compared: for tops >= 2^31 the reference's interpreter
  // sign-extends the result on 64-bit ISAs while its recompiler zero-extends (digest §12.7).
  EXPECT_EQ(sbrk(map.max_heap_size - 0x100) & 0xFFFFFFFFu, map.heap_base + map.max_heap_size);
  EXPECT_EQ(sbrk(1), 0u);
}

// ---- the table ----

struct OpcodeCase {
  Opcode op;
  Runner run;
};

u64 div_u32(W w, u32 a, u32 b) { return w.r32(b == 0 ? 0xFFFFFFFFu : a / b); }
u64 rem_u32(W w, u32 a, u32 b) { return w.r32(b == 0 ? a : a % b); }
u64 div_s32(W w, u32 a, u32 b) {
  const i32 x = static_cast<i32>(a), y = static_cast<i32>(b);
  if (y == 0) return w.r32(0xFFFFFFFFu);
  if (x == INT32_MIN && y == -1) return w.r32(static_cast<u32>(INT32_MIN));
  return w.r32(static_cast<u32>(x / y));
}
u64 rem_s32(W w, u32 a, u32 b) {
  const i32 x = static_cast<i32>(a), y = static_cast<i32>(b);
  if (y == 0) return w.r32(a);
  if (x == INT32_MIN && y == -1) return 0;
  return w.r32(static_cast<u32>(x % y));
}
u64 div_s64(u64 a, u64 b) {
  const i64 x = static_cast<i64>(a), y = static_cast<i64>(b);
  if (y == 0) return ~u64(0);
  if (x == INT64_MIN && y == -1) return a;
  return static_cast<u64>(x / y);
}
u64 rem_s64(u64 a, u64 b) {
  const i64 x = static_cast<i64>(a), y = static_cast<i64>(b);
  if (y == 0) return a;
  if (x == INT64_MIN && y == -1) return 0;
  return static_cast<u64>(x % y);
}
u32 sra32(u32 v, u64 amount) { return static_cast<u32>(static_cast<i32>(v) >> (amount & 31)); }
u64 sra64(u64 v, u64 amount) { return static_cast<u64>(static_cast<i64>(v) >> (amount & 63)); }
u64 mulh_ss(W w, u64 a, u64 b) {
  if (!w.is64) return static_cast<u32>((i64(i32(a)) * i64(i32(b))) >> 32);
  return static_cast<u64>((static_cast<__int128>(i64(a)) * static_cast<__int128>(i64(b))) >> 64);
}
u64 mulh_uu(W w, u64 a, u64 b) {
  if (!w.is64) return static_cast<u32>((u64(u32(a)) * u64(u32(b))) >> 32);
  return static_cast<u64>((static_cast<unsigned __int128>(a) * b) >> 64);
}
u64 mulh_su(W w, u64 a, u64 b) {
  if (!w.is64) return static_cast<u32>((i64(i32(a)) * i64(u32(b))) >> 32);
  return static_cast<u64>((static_cast<__int128>(i64(a)) * static_cast<__int128>(b)) >> 64);
}
u64 bswap(W w, u64 a) {
  if (!w.is64) return __builtin_bswap32(static_cast<u32>(a));
  return __builtin_bswap64(a);
}

#define ALU3(op, expr) {Opcode::op, alu3(+[](W w, u64 a, u64 b, u64 old) -> u64 { (void)w; (void)old; return (expr); })}
#define ALUI(op, expr) {Opcode::op, alu_imm(+[](W w, u64 a, u64 b, u64 old) -> u64 { (void)w; (void)old; return (expr); })}
#define ALU2(op, expr) {Opcode::op, alu2(+[](W w, u64 a) -> u64 { (void)w; return (expr); })}
#define BR(op, expr) {Opcode::op, branch(+[](W w, u64 a, u64 b) -> bool { (void)w; return (expr); })}
#define BRI(op, expr) {Opcode::op, branch_imm(+[](W w, u64 a, u64 b) -> bool { (void)w; return (expr); })}
#define LOAD(op, width, sign, mode) {Opcode::op, load(MemOp{width, sign, Addressing::mode})}
#define STORE(op, width, mode, source) {Opcode::op, store(MemOp{width, false, Addressing::mode}, StoreSource::source)}

const std::vector<OpcodeCase>& opcode_cases() {
  static const std::vector<OpcodeCase> kCases = {
      {Opcode::trap, run_trap},
      {Opcode::fallthrough, run_fallthrough},
      {Opcode::memset, run_memset},
      {Opcode::unlikely, run_unlikely},
      {Opcode::ecalli, run_ecalli},
      {Opcode::load_imm64, run_load_imm64},
      {Opcode::load_imm, run_load_imm},
      {Opcode::jump, run_jump},
      {Opcode::jump_indirect, run_jump_indirect},
      {Opcode::load_imm_and_jump, run_load_imm_and_jump},
      {Opcode::load_imm_and_jump_indirect, run_load_imm_and_jump_indirect},
      {Opcode::sbrk, run_sbrk},

      STORE(store_imm_u8, 1, Absolute, Imm),
      STORE(store_imm_u16, 2, Absolute, Imm),
      STORE(store_imm_u32, 4, Absolute, Imm),
      STORE(store_imm_u64, 8, Absolute, Imm),
      STORE(store_u8, 1, Absolute, Reg),
      STORE(store_u16, 2, Absolute, Reg),
      STORE(store_u32, 4, Absolute, Reg),
      STORE(store_u64, 8, Absolute, Reg),
      STORE(store_imm_indirect_u8, 1, Indirect, Imm),
      STORE(store_imm_indirect_u16, 2, Indirect, Imm),
      STORE(store_imm_indirect_u32, 4, Indirect, Imm),
      STORE(store_imm_indirect_u64, 8, Indirect, Imm),
      STORE(store_indirect_u8, 1, Indirect, Reg),
      STORE(store_indirect_u16, 2, Indirect, Reg),
      STORE(store_indirect_u32, 4, Indirect, Reg),
      STORE(store_indirect_u64, 8, Indirect, Reg),
      LOAD(load_u8, 1, false, Absolute),
      LOAD(load_i8, 1, true, Absolute),
      LOAD(load_u16, 2, false, Absolute),
      LOAD(load_i16, 2, true, Absolute),
      LOAD(load_u32, 4, false, Absolute),
      LOAD(load_i32, 4, true, Absolute),
      LOAD(load_u64, 8, false, Absolute),
      LOAD(load_indirect_u8, 1, false, Indirect),
      LOAD(load_indirect_i8, 1, true, Indirect),
      LOAD(load_indirect_u16, 2, false, Indirect),
      LOAD(load_indirect_i16, 2, true, Indirect),
      LOAD(load_indirect_u32, 4, false, Indirect),
      LOAD(load_indirect_i32, 4, true, Indirect),
      LOAD(load_indirect_u64, 8, false, Indirect),

      BRI(branch_eq_imm, w.u(a) == w.u(b)),
      BRI(branch_not_eq_imm, w.u(a) != w.u(b)),
      BRI(branch_less_unsigned_imm, w.u(a) < w.u(b)),
      BRI(branch_less_or_equal_unsigned_imm, w.u(a) <= w.u(b)),
      BRI(branch_greater_or_equal_unsigned_imm, w.u(a) >= w.u(b)),
      BRI(branch_greater_unsigned_imm, w.u(a) > w.u(b)),
      BRI(branch_less_signed_imm, w.s(a) < w.s(b)),
      BRI(branch_less_or_equal_signed_imm, w.s(a) <= w.s(b)),
      BRI(branch_greater_or_equal_signed_imm, w.s(a) >= w.s(b)),
      BRI(branch_greater_signed_imm, w.s(a) > w.s(b)),
      BR(branch_eq, w.u(a) == w.u(b)),
      BR(branch_not_eq, w.u(a) != w.u(b)),
      BR(branch_less_unsigned, w.u(a) < w.u(b)),
      BR(branch_less_signed, w.s(a) < w.s(b)),
      BR(branch_greater_or_equal_unsigned, w.u(a) >= w.u(b)),
      BR(branch_greater_or_equal_signed, w.s(a) >= w.s(b)),

      ALU2(move_reg, w.full(a)),
      ALU2(count_set_bits_64, u64(std::popcount(a))),
      ALU2(count_set_bits_32, u64(std::popcount(u32(a)))),
      ALU2(count_leading_zero_bits_64, u64(std::countl_zero(a))),
      ALU2(count_leading_zero_bits_32, u64(std::countl_zero(u32(a)))),
      ALU2(count_trailing_zero_bits_64, u64(std::countr_zero(a))),
      ALU2(count_trailing_zero_bits_32, u64(std::countr_zero(u32(a)))),
      ALU2(sign_extend_8, w.full(u64(i64(int8_t(uint8_t(a)))))),
      ALU2(sign_extend_16, w.full(u64(i64(int16_t(uint16_t(a)))))),
      ALU2(zero_extend_16, a & 0xFFFF),
      ALU2(reverse_byte, bswap(w, a)),

      ALUI(add_imm_32, w.r32(u32(a) + u32(b))),
      ALUI(and_imm, w.full(a & b)),
      ALUI(xor_imm, w.full(a ^ b)),
      ALUI(or_imm, w.full(a | b)),
      ALUI(mul_imm_32, w.r32(u32(a) * u32(b))),
      ALUI(set_less_than_unsigned_imm, w.b(w.u(a) < w.u(b))),
      ALUI(set_less_than_signed_imm, w.b(w.s(a) < w.s(b))),
      ALUI(shift_logical_left_imm_32, w.r32(u32(a) << (b & 31))),
      ALUI(shift_logical_right_imm_32, w.r32(u32(a) >> (b & 31))),
      ALUI(shift_arithmetic_right_imm_32, w.r32(sra32(u32(a), b))),
      ALUI(negate_and_add_imm_32, w.r32(u32(b) - u32(a))),
      ALUI(set_greater_than_unsigned_imm, w.b(w.u(a) > w.u(b))),
      ALUI(set_greater_than_signed_imm, w.b(w.s(a) > w.s(b))),
      ALUI(shift_logical_left_imm_alt_32, w.r32(u32(b) << (a & 31))),
      ALUI(shift_logical_right_imm_alt_32, w.r32(u32(b) >> (a & 31))),
      ALUI(shift_arithmetic_right_imm_alt_32, w.r32(sra32(u32(b), a))),
      ALUI(cmov_if_zero_imm, w.u(a) == 0 ? w.full(b) : old),
      ALUI(cmov_if_not_zero_imm, w.u(a) != 0 ? w.full(b) : old),
      ALUI(add_imm_64, a + b),
      ALUI(mul_imm_64, a * b),
      ALUI(shift_logical_left_imm_64, a << (b & 63)),
      ALUI(shift_logical_right_imm_64, a >> (b & 63)),
      ALUI(shift_arithmetic_right_imm_64, sra64(a, b)),
      ALUI(negate_and_add_imm_64, b - a),
      ALUI(shift_logical_left_imm_alt_64, b << (a & 63)),
      ALUI(shift_logical_right_imm_alt_64, b >> (a & 63)),
      ALUI(shift_arithmetic_right_imm_alt_64, sra64(b, a)),
      ALUI(rotate_right_imm_64, std::rotr(a, int(b & 63))),
      ALUI(rotate_right_imm_alt_64, std::rotr(b, int(a & 63))),
      ALUI(rotate_right_imm_32, w.r32(std::rotr(u32(a), int(b & 31)))),
      ALUI(rotate_right_imm_alt_32, w.r32(std::rotr(u32(b), int(a & 31)))),

      ALU3(add_32, w.r32(u32(a) + u32(b))),
      ALU3(sub_32, w.r32(u32(a) - u32(b))),
      ALU3(mul_32, w.r32(u32(a) * u32(b))),
      ALU3(div_unsigned_32, div_u32(w, u32(a), u32(b))),
      ALU3(div_signed_32, div_s32(w, u32(a), u32(b))),
      ALU3(rem_unsigned_32, rem_u32(w, u32(a), u32(b))),
      ALU3(rem_signed_32, rem_s32(w, u32(a), u32(b))),
      ALU3(shift_logical_left_32, w.r32(u32(a) << (b & 31))),
      ALU3(shift_logical_right_32, w.r32(u32(a) >> (b & 31))),
      ALU3(shift_arithmetic_right_32, w.r32(sra32(u32(a), b))),
      ALU3(add_64, a + b),
      ALU3(sub_64, a - b),
      ALU3(mul_64, a * b),
      ALU3(div_unsigned_64, b == 0 ? ~u64(0) : a / b),
      ALU3(div_signed_64, div_s64(a, b)),
      ALU3(rem_unsigned_64, b == 0 ? a : a % b),
      ALU3(rem_signed_64, rem_s64(a, b)),
      ALU3(shift_logical_left_64, a << (b & 63)),
      ALU3(shift_logical_right_64, a >> (b & 63)),
      ALU3(shift_arithmetic_right_64, sra64(a, b)),
      ALU3(and_, w.full(a & b)),
      ALU3(xor_, w.full(a ^ b)),
      ALU3(or_, w.full(a | b)),
      ALU3(mul_upper_signed_signed, w.full(mulh_ss(w, a, b))),
      ALU3(mul_upper_unsigned_unsigned, w.full(mulh_uu(w, a, b))),
      ALU3(mul_upper_signed_unsigned, w.full(mulh_su(w, a, b))),
      ALU3(set_less_than_unsigned, w.b(w.u(a) < w.u(b))),
      ALU3(set_less_than_signed, w.b(w.s(a) < w.s(b))),
      ALU3(cmov_if_zero, w.u(b) == 0 ? w.full(a) : old),  // dst = src1 when src2 == 0
      ALU3(cmov_if_not_zero, w.u(b) != 0 ? w.full(a) : old),
      ALU3(rotate_left_64, std::rotl(a, int(b & 63))),
      ALU3(rotate_left_32, w.r32(std::rotl(u32(a), int(b & 31)))),
      ALU3(rotate_right_64, std::rotr(a, int(b & 63))),
      ALU3(rotate_right_32, w.r32(std::rotr(u32(a), int(b & 31)))),
      ALU3(and_inverted, w.full(a & ~b)),
      ALU3(or_inverted, w.full(a | ~b)),
      ALU3(xnor, w.full(~(a ^ b))),
      ALU3(maximum, w.s(a) > w.s(b) ? a : b),
      ALU3(maximum_unsigned, w.u(a) > w.u(b) ? a : b),
      ALU3(minimum, w.s(a) < w.s(b) ? a : b),
      ALU3(minimum_unsigned, w.u(a) < w.u(b) ? a : b),
  };
  return kCases;
}

#undef ALU3
#undef ALUI
#undef ALU2
#undef BR
#undef BRI
#undef LOAD
#undef STORE

const OpcodeCase* find_case(Opcode op) {
  for (const OpcodeCase& c : opcode_cases())
    if (c.op == op) return &c;
  return nullptr;
}

std::vector<Opcode> opcodes_of(InstructionSet isa) {
  std::vector<Opcode> out;
  for (size_t i = 0; i < kOpcodeInfo.size(); ++i)
    if (opcode_number(isa, static_cast<Opcode>(i)) >= 0) out.push_back(static_cast<Opcode>(i));
  return out;
}

TEST(OpcodeCoverage, EveryOpcodeOfEveryIsaHasACase) {
  for (InstructionSet isa : kAllIsas)
    for (Opcode op : opcodes_of(isa))
      EXPECT_NE(find_case(op), nullptr) << name(op) << " exists in " << instruction_set_name(isa) << " but has no test case";
}

TEST(OpcodeCoverage, NoOpcodeIsListedTwice) {
  for (size_t i = 0; i < opcode_cases().size(); ++i)
    for (size_t j = i + 1; j < opcode_cases().size(); ++j)
      EXPECT_NE(opcode_cases()[i].op, opcode_cases()[j].op) << name(opcode_cases()[i].op);
}

TEST(OpcodeCoverage, IsaOpcodeCountsMatchTheReference) {
  // Counts from the reference's four define_instruction_set! blocks (digest §2.3).
  EXPECT_EQ(opcodes_of(InstructionSet::JamV1).size(), 139u);
  EXPECT_EQ(opcodes_of(InstructionSet::Latest64).size(), 141u);
  EXPECT_EQ(opcodes_of(InstructionSet::Latest32).size(), 106u);
  EXPECT_EQ(opcodes_of(InstructionSet::ReviveV1).size(), 138u);
}

struct OpcodeParam {
  TestBackend backend;
  InstructionSet isa;
  Opcode op;
  friend void PrintTo(const OpcodeParam& p, std::ostream* os) {
    *os << test_backend_name(p.backend) << " " << instruction_set_name(p.isa) << " " << name(p.op);
  }
};

std::vector<OpcodeParam> all_opcode_params() {
  std::vector<OpcodeParam> out;
  for (const TestBackend& backend : backends())
    for (InstructionSet isa : kAllIsas)
      for (Opcode op : opcodes_of(isa)) out.push_back({backend, isa, op});
  return out;
}

class OpcodeTest : public ::testing::TestWithParam<OpcodeParam> {};

TEST_P(OpcodeTest, Semantics) {
  const OpcodeParam& p = GetParam();
  const OpcodeCase* c = find_case(p.op);
  ASSERT_NE(c, nullptr) << "no test case for " << name(p.op);
  c->run(Ctx{p.backend, p.isa, p.op});
}

INSTANTIATE_TEST_SUITE_P(Opcode, OpcodeTest, ::testing::ValuesIn(all_opcode_params()),
                         [](const ::testing::TestParamInfo<OpcodeParam>& info) {
                           return test_backend_name(info.param.backend) + "_" +
                                  std::string(instruction_set_name(info.param.isa)) + "_" +
                                  std::string(name(info.param.op));
                         });

}  // namespace
}  // namespace polkavm::test
