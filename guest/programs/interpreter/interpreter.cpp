// interpreter: a guest that is itself an interpreter, written in C++ (classes, templates, new/delete,
// no exceptions or RTTI). A small stack machine runs a bytecode program that sums the Collatz step
// counts of 1..n; run(n) returns that sum mixed with the number of bytecode instructions executed.
// run(n) for n = 0 uses 2,000.
#include <polkavm/guest.h>
#include <stddef.h>
#include <stdint.h>

namespace {

enum class Op : uint8_t {
  Push,   // push imm
  Load,   // push locals[imm]
  Store,  // locals[imm] = pop
  Add,
  Sub,
  Mul,
  DivU,
  RemU,
  LessU,   // a < b
  Equal,   // a == b
  JumpIfZero,  // pop; jump to imm if zero
  Jump,        // jump to imm
  Halt,        // result = pop
};

struct Insn {
  Op op;
  uint32_t imm;
};

template <typename T, size_t N>
class FixedStack {
 public:
  void push(T v) {
    if (size_ == N) polkavm_trap();
    items_[size_++] = v;
  }
  T pop() {
    if (size_ == 0) polkavm_trap();
    return items_[--size_];
  }

 private:
  T items_[N];
  size_t size_ = 0;
};

class Machine {
 public:
  Machine(const Insn* code, size_t length) : code_(code), length_(length), locals_(new uint32_t[kLocals]()) {}
  ~Machine() { delete[] locals_; }
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  void set_local(uint32_t index, uint32_t value) { locals_[index] = value; }
  uint64_t executed() const { return executed_; }

  uint32_t execute() {
    size_t pc = 0;
    for (;;) {
      if (pc >= length_) polkavm_trap();
      const Insn& insn = code_[pc++];
      ++executed_;
      switch (insn.op) {
        case Op::Push: stack_.push(insn.imm); break;
        case Op::Load: stack_.push(locals_[insn.imm % kLocals]); break;
        case Op::Store: locals_[insn.imm % kLocals] = stack_.pop(); break;
        case Op::Add: binary([](uint32_t a, uint32_t b) { return a + b; }); break;
        case Op::Sub: binary([](uint32_t a, uint32_t b) { return a - b; }); break;
        case Op::Mul: binary([](uint32_t a, uint32_t b) { return a * b; }); break;
        case Op::DivU: binary([](uint32_t a, uint32_t b) { return b ? a / b : 0; }); break;
        case Op::RemU: binary([](uint32_t a, uint32_t b) { return b ? a % b : a; }); break;
        case Op::LessU: binary([](uint32_t a, uint32_t b) -> uint32_t { return a < b; }); break;
        case Op::Equal: binary([](uint32_t a, uint32_t b) -> uint32_t { return a == b; }); break;
        case Op::JumpIfZero:
          if (stack_.pop() == 0) pc = insn.imm;
          break;
        case Op::Jump: pc = insn.imm; break;
        case Op::Halt: return stack_.pop();
      }
    }
  }

 private:
  static constexpr uint32_t kLocals = 8;

  template <typename F>
  void binary(F f) {
    uint32_t b = stack_.pop();
    uint32_t a = stack_.pop();
    stack_.push(f(a, b));
  }

  const Insn* code_;
  size_t length_;
  uint32_t* locals_;
  FixedStack<uint32_t, 64> stack_;
  uint64_t executed_ = 0;
};

// locals: 0 = n, 1 = i, 2 = x, 3 = total. The number in each comment is the instruction's index.
constexpr Insn kProgram[] = {
    {Op::Push, 1},  {Op::Store, 1},                                       // 0: i = 1
    {Op::Push, 0},  {Op::Store, 3},                                       // 2: total = 0
    {Op::Load, 1},  {Op::Load, 0},  {Op::Push, 1},       {Op::Add, 0},    // 4: outer: i < n + 1 ?
    {Op::LessU, 0}, {Op::JumpIfZero, 37},                                 // 8: no -> 37
    {Op::Load, 1},  {Op::Store, 2},                                       // 10: x = i
    {Op::Load, 2},  {Op::Push, 1},  {Op::Equal, 0},                       // 12: inner: x == 1 ?
    {Op::JumpIfZero, 17}, {Op::Jump, 32},                                 // 15: no -> 17, yes -> 32
    {Op::Load, 3},  {Op::Push, 1},  {Op::Add, 0},        {Op::Store, 3},  // 17: total += 1
    {Op::Load, 2},  {Op::Push, 2},  {Op::RemU, 0},       {Op::JumpIfZero, 39},  // 21: even -> 39
    {Op::Load, 2},  {Op::Push, 3},  {Op::Mul, 0},                         // 25: x = 3x + 1
    {Op::Push, 1},  {Op::Add, 0},   {Op::Store, 2},      {Op::Jump, 12},  // 28
    {Op::Load, 1},  {Op::Push, 1},  {Op::Add, 0},        {Op::Store, 1},  // 32: i += 1
    {Op::Jump, 4},                                                        // 36
    {Op::Load, 3},  {Op::Halt, 0},                                        // 37: return total
    {Op::Load, 2},  {Op::Push, 2},  {Op::DivU, 0},       {Op::Store, 2},  // 39: x = x / 2
    {Op::Jump, 12},                                                       // 43
};
static_assert(sizeof(kProgram) / sizeof(kProgram[0]) == 44, "the jump targets above assume 44 instructions");

}  // namespace

extern "C" uint32_t run(uint32_t n) {
  if (n == 0) n = 2000;
  Machine* machine = new Machine(kProgram, sizeof(kProgram) / sizeof(kProgram[0]));
  machine->set_local(0, n);
  uint32_t total = machine->execute();
  uint32_t executed = static_cast<uint32_t>(machine->executed());
  delete machine;
  return (total * 16777619u) ^ executed;
}
POLKAVM_EXPORT(uint32_t, run, uint32_t)
