#include "sample_guests.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "polkavm/code.hpp"
#include "polkavm/memory_map.hpp"

namespace polkavm::guests {
namespace {

using enum Reg;
using L = CodeBuilder::Label;

constexpr InstructionSet kIsa = InstructionSet::Latest64;
constexpr uint32_t kStackSize = 0x4000;

Instruction op(Opcode opcode, std::initializer_list<Reg> regs = {},
               std::initializer_list<uint32_t> imms = {}) {
  return make_instruction(opcode, regs, imms);
}

// A RegImmOffset instruction (branch with immediate, load_imm_and_jump) to be emitted with a label: the
// trailing immediate is the target operand, which the label replaces.
Instruction op_with_target(Opcode opcode, Reg reg, uint32_t value) {
  return make_instruction(opcode, {reg}, {value, 0});
}

// Immediates are sign-extended 32-bit values carried as u32.
constexpr uint32_t imm(int32_t value) { return static_cast<uint32_t>(value); }

// `ret`: jump to the address in RA (0xFFFF0000 when called by the host ends the run).
void emit_return(CodeBuilder& code) { code.emit(op(Opcode::jump_indirect, {RA}, {0})); }

ProgramBlob make_blob(const CodeBuilder& code, L main, uint32_t rw_data_size) {
  CodeBuilder::Output out = code.finish();
  ProgramBlob blob;
  blob.isa = kIsa;
  blob.rw_data_size = rw_data_size;  // zero-filled: no initial RW bytes are stored
  blob.stack_size = kStackSize;
  blob.exports.push_back(ProgramExport{out.label_offsets[main], "main"});
  blob.code_and_jump_table = std::move(out.code);
  return blob;
}

// The RW data address depends only on the RO data size (none here), not on the page size.
uint32_t rw_data_address(uint32_t rw_data_size) {
  return MemoryMap::build(kMinPageSize, 0, rw_data_size, kStackSize).value().rw_data_address;
}

}  // namespace

ProgramBlob prime_sieve_program() {
  // a0 = n, a1 = prime count, a3 = sieve base, t1 = sieve end (base + n), t0 = cursor / candidate i,
  // s0 = address of the next multiple of i to mark. sieve[k] != 0 marks k composite.
  // Every loop tests at its bottom, so each iteration ends in a single branch.
  CodeBuilder code(kIsa);
  const L main = code.new_label(), clear_loop = code.new_label(), clear_done = code.new_label(),
          outer = code.new_label(), mark = code.new_label(), next = code.new_label(), done = code.new_label(),
          too_large = code.new_label();

  code.bind(main);
  code.emit(op_with_target(Opcode::branch_greater_unsigned_imm, A0, kSieveCapacity), too_large);
  code.emit(op(Opcode::load_imm, {A3}, {rw_data_address(kSieveCapacity)}));
  code.emit(op(Opcode::add_64, {T1, A3, A0}));
  code.emit(op(Opcode::move_reg, {T0, A3}));
  code.emit(op(Opcode::load_imm, {A1}, {0}));
  code.emit(op(Opcode::branch_greater_or_equal_unsigned, {T0, T1}), clear_done);

  // The instance's memory outlives a call, so clear what the previous call marked.
  code.bind(clear_loop);
  code.emit(op(Opcode::store_imm_indirect_u8, {T0}, {0, 0}));
  code.emit(op(Opcode::add_imm_64, {T0, T0}, {1}));
  code.emit(op(Opcode::branch_less_unsigned, {T0, T1}), clear_loop);

  code.bind(clear_done);
  code.emit(op(Opcode::load_imm, {T0}, {2}));
  code.emit(op(Opcode::branch_greater_or_equal_unsigned, {T0, A0}), done);

  code.bind(outer);
  code.emit(op(Opcode::add_64, {T2, A3, T0}));
  code.emit(op(Opcode::load_indirect_u8, {A2, T2}, {0}));
  code.emit(op_with_target(Opcode::branch_not_eq_imm, A2, 0), next);
  code.emit(op(Opcode::add_imm_64, {A1, A1}, {1}));
  code.emit(op(Opcode::mul_64, {S0, T0, T0}));
  code.emit(op(Opcode::add_64, {S0, S0, A3}));
  code.emit(op(Opcode::branch_greater_or_equal_unsigned, {S0, T1}), next);

  code.bind(mark);
  code.emit(op(Opcode::store_imm_indirect_u8, {S0}, {0, 1}));
  code.emit(op(Opcode::add_64, {S0, S0, T0}));
  code.emit(op(Opcode::branch_less_unsigned, {S0, T1}), mark);

  code.bind(next);
  code.emit(op(Opcode::add_imm_64, {T0, T0}, {1}));
  code.emit(op(Opcode::branch_less_unsigned, {T0, A0}), outer);

  code.bind(done);
  code.emit(op(Opcode::move_reg, {A0, A1}));
  emit_return(code);

  code.bind(too_large);
  code.emit(op(Opcode::trap));
  return make_blob(code, main, kSieveCapacity);
}

ProgramBlob fibonacci_program() {
  // a0 = remaining steps, (a1, a2) = (fib(k), fib(k + 1)).
  CodeBuilder code(kIsa);
  const L main = code.new_label(), loop = code.new_label(), done = code.new_label();

  code.bind(main);
  code.emit(op(Opcode::load_imm, {A1}, {0}));
  code.emit(op(Opcode::load_imm, {A2}, {1}));
  code.emit(op_with_target(Opcode::branch_eq_imm, A0, 0), done);

  code.bind(loop);
  code.emit(op(Opcode::add_64, {A3, A1, A2}));
  code.emit(op(Opcode::move_reg, {A1, A2}));
  code.emit(op(Opcode::move_reg, {A2, A3}));
  code.emit(op(Opcode::add_imm_64, {A0, A0}, {imm(-1)}));
  code.emit(op_with_target(Opcode::branch_not_eq_imm, A0, 0), loop);

  code.bind(done);
  code.emit(op(Opcode::move_reg, {A0, A1}));
  emit_return(code);
  return make_blob(code, main, 0);
}

ProgramBlob recursive_fibonacci_program() {
  // fib(n) = n < 2 ? n : fib(n - 1) + fib(n - 2). Frame: [sp] = ra, [sp + 8] = n, [sp + 16] = fib(n - 1).
  // A call loads RA with a return address, i.e. a jump-table index: entry i is address (i + 1) * 2.
  CodeBuilder code(kIsa);
  const L fib = code.new_label(), after_first = code.new_label(), after_second = code.new_label(),
          base_case = code.new_label();
  code.add_jump_table_entry(after_first);
  code.add_jump_table_entry(after_second);
  constexpr uint32_t kAfterFirstAddress = 2, kAfterSecondAddress = 4;
  constexpr int32_t kFrameSize = 24;

  code.bind(fib);
  code.emit(op_with_target(Opcode::branch_less_unsigned_imm, A0, 2), base_case);
  code.emit(op(Opcode::add_imm_64, {SP, SP}, {imm(-kFrameSize)}));
  code.emit(op(Opcode::store_indirect_u64, {RA, SP}, {0}));
  code.emit(op(Opcode::store_indirect_u64, {A0, SP}, {8}));
  code.emit(op(Opcode::add_imm_64, {A0, A0}, {imm(-1)}));
  code.emit(op_with_target(Opcode::load_imm_and_jump, RA, kAfterFirstAddress), fib);

  code.bind(after_first);
  code.emit(op(Opcode::store_indirect_u64, {A0, SP}, {16}));
  code.emit(op(Opcode::load_indirect_u64, {A0, SP}, {8}));
  code.emit(op(Opcode::add_imm_64, {A0, A0}, {imm(-2)}));
  code.emit(op_with_target(Opcode::load_imm_and_jump, RA, kAfterSecondAddress), fib);

  code.bind(after_second);
  code.emit(op(Opcode::load_indirect_u64, {A1, SP}, {16}));
  code.emit(op(Opcode::add_64, {A0, A0, A1}));
  code.emit(op(Opcode::load_indirect_u64, {RA, SP}, {0}));
  code.emit(op(Opcode::add_imm_64, {SP, SP}, {kFrameSize}));
  emit_return(code);

  code.bind(base_case);
  emit_return(code);
  return make_blob(code, fib, 0);
}

ProgramBlob xorshift_lanes_program() {
  // a0 = remaining rounds; four independent xorshift64 generators in a1..a4 (seeded 1..4), each with its own
  // temporary (t0, t1, t2, a5). The result is the four states xor-ed together. A compute loop with
  // instruction-level parallelism: 26 instructions a round, no memory.
  CodeBuilder code(kIsa);
  const L main = code.new_label(), loop = code.new_label(), done = code.new_label();
  constexpr std::array<std::pair<Reg, Reg>, 4> kLanes = {{{A1, T0}, {A2, T1}, {A3, T2}, {A4, A5}}};

  code.bind(main);
  for (size_t i = 0; i < kLanes.size(); ++i)
    code.emit(op(Opcode::load_imm, {kLanes[i].first}, {static_cast<uint32_t>(i + 1)}));
  code.emit(op_with_target(Opcode::branch_eq_imm, A0, 0), done);

  code.bind(loop);
  for (auto [shift, opcode] : {std::pair{13u, Opcode::shift_logical_left_imm_64},
                               std::pair{7u, Opcode::shift_logical_right_imm_64},
                               std::pair{17u, Opcode::shift_logical_left_imm_64}}) {
    for (auto [x, t] : kLanes) code.emit(op(opcode, {t, x}, {shift}));
    for (auto [x, t] : kLanes) code.emit(op(Opcode::xor_, {x, x, t}));
  }
  code.emit(op(Opcode::add_imm_64, {A0, A0}, {imm(-1)}));
  code.emit(op_with_target(Opcode::branch_not_eq_imm, A0, 0), loop);

  code.bind(done);
  code.emit(op(Opcode::xor_, {A0, A1, A2}));
  code.emit(op(Opcode::xor_, {A0, A0, A3}));
  code.emit(op(Opcode::xor_, {A0, A0, A4}));
  emit_return(code);
  return make_blob(code, main, 0);
}

uint64_t count_primes_below(uint64_t n) {
  std::vector<bool> composite(n, false);
  uint64_t count = 0;
  for (uint64_t i = 2; i < n; ++i) {
    if (composite[i]) continue;
    ++count;
    for (uint64_t j = i * i; j < n; j += i) composite[j] = true;
  }
  return count;
}

uint64_t fibonacci(uint64_t n) {
  uint64_t a = 0, b = 1;
  for (uint64_t i = 0; i < n; ++i) a = std::exchange(b, a + b);
  return a;
}

uint64_t xorshift_lanes(uint64_t rounds) {
  std::array<uint64_t, 4> lanes = {1, 2, 3, 4};
  for (uint64_t i = 0; i < rounds; ++i) {
    for (uint64_t& x : lanes) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  }
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

std::span<const SampleGuest> sample_guests() {
  static constexpr std::array<SampleGuest, 4> kGuests = {{
      {"prime-sieve", "main(n): number of primes below n (n <= 1048576); memory-heavy loops",
       prime_sieve_program, count_primes_below, 1'000'000},
      {"fibonacci", "main(n): fib(n) mod 2^64 with a register-only loop", fibonacci_program, fibonacci,
       1'000'000},
      {"fibonacci-recursive", "main(n): fib(n) mod 2^64 by naive recursion; calls and stack traffic",
       recursive_fibonacci_program, fibonacci, 25},
      {"xorshift-lanes", "main(n): n rounds of four independent xorshift64 generators; ALU-bound, no memory",
       xorshift_lanes_program, xorshift_lanes, 1'000'000},
  }};
  return kGuests;
}

const SampleGuest* find_sample_guest(std::string_view name) {
  auto guests = sample_guests();
  auto it = std::find_if(guests.begin(), guests.end(), [&](const SampleGuest& g) { return g.name == name; });
  return it == guests.end() ? nullptr : &*it;
}

}  // namespace polkavm::guests
