// Sample guest programs, hand-assembled with CodeBuilder for Latest64. They serve as runnable examples
// (make-sample-guests writes them as .polkavm files) and as the interpreter benchmark's workloads.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "polkavm/program.hpp"

namespace polkavm::guests {

/// The prime sieve keeps its array in RW data, so `main(n)` accepts n up to this (and traps above it).
inline constexpr uint32_t kSieveCapacity = 1u << 20;

/// `main(n)`: the number of primes below n (sieve of Eratosthenes over a byte array in RW data).
ProgramBlob prime_sieve_program();
/// `main(n)`: fib(n) mod 2^64, computed with a loop over registers only.
ProgramBlob fibonacci_program();
/// `main(n)`: fib(n) mod 2^64, computed with naive recursion (calls through the jump table, stack frames).
ProgramBlob recursive_fibonacci_program();

/// `main(n)`: n rounds of four independent xorshift64 generators, xor-ed together (registers only).
ProgramBlob xorshift_lanes_program();

/// Host-side results of the guests' `main`, to check a run against.
uint64_t count_primes_below(uint64_t n);
uint64_t fibonacci(uint64_t n);
uint64_t xorshift_lanes(uint64_t rounds);

struct SampleGuest {
  std::string_view name;  // file stem, e.g. "prime-sieve"
  std::string_view summary;
  ProgramBlob (*build)();
  uint64_t (*expected_result)(uint64_t arg);  // what `main(arg)` returns in a0
  uint64_t example_arg;                       // a workload that runs for milliseconds
};

std::span<const SampleGuest> sample_guests();
/// The sample named `name`, or null.
const SampleGuest* find_sample_guest(std::string_view name);

}  // namespace polkavm::guests
