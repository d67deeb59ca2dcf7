// Optimizations on the linker's basic blocks (opt level 2). Each keeps what the program computes exactly;
// they work inside one block, where every register's value is known from the instructions before it.
#pragma once

#include <array>
#include <functional>
#include <vector>

#include "linker/ir.hpp"

namespace polkavm::linker {

/// Folds instructions whose inputs are constants into constant loads, turns register operands that hold
/// constants into immediates, and removes constant loads that a later instruction in the same block
/// overwrites before anything reads them. `rv64`: 64-bit registers (else 32-bit, as on Latest32).
void fold_constants(Block& block, bool rv64);

/// How much of a register's value later code can observe: nothing, the low 32 bits, or all of it.
enum class Demand : uint8_t { None, Low32, Full };
using RegDemands = std::array<Demand, kRegCount>;

/// For each block, what the code after it observes of each register: a backward dataflow over the blocks'
/// jumps and branches. After a call, an indirect jump or a trap, everything counts as observed. `blocks` must
/// be in order of their start.
std::vector<RegDemands> demands_after_blocks(const std::vector<Block>& blocks);

/// `(x >> n) | (x << (w - n))` (RISC-V without Zbb) becomes one rotate_right_imm; a 32-bit rotation whose
/// left shift is 64-bit only where no more than the low 32 bits of the result are observed (`after`: what
/// is observed of each register after the block).
void fuse_rotates(Block& block, const RegDemands& after);

/// `t = x ^ -1; d = t & y` (RISC-V without Zbb) becomes `d = y & ~x` (and_inverted) where x is unchanged
/// between the two; the `not` stays for fold_constants' dead-op removal to drop.
void fuse_inverted_and(Block& block);

/// 64-bit programs: a 32-bit add, sub, mul, negate-and-add or left shift by an immediate whose result is
/// observed only in its low half (`after`: what is observed of each register after the block) becomes the
/// 64-bit operation, which computes the same low half without sign-extending it.
void widen_narrow_ops(Block& block, const RegDemands& after);

/// `load_imm rX, <code address>` followed by a jump becomes one `load_imm_and_jump` (a call).
void fuse_address_load_and_jump(Block& block, const std::function<bool(Location)>& is_code);

}  // namespace polkavm::linker
