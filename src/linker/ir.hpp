// The linker's intermediate form: PolkaVM instructions whose addresses are still symbolic (a place in an ELF
// section), grouped by the RISC-V instruction they came from and later into basic blocks.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "polkavm/code.hpp"

namespace polkavm::linker {

/// A place in the input: ELF section index and offset. Every address in the program is one of these until
/// the data is laid out and the code is emitted.
struct Location {
  uint32_t section = 0;
  uint64_t offset = 0;
  auto operator<=>(const Location&) const = default;
  Location operator+(uint64_t delta) const { return {section, offset + delta}; }
};

/// One PolkaVM instruction. `insn` is complete for Plain; for the other kinds an address (or import number)
/// is filled in when the code is emitted.
struct Op {
  enum class Kind : uint8_t {
    Plain,
    LoadAddress,    // load_imm insn.reg[0], <address of target>  (code: its jump-table address)
    LoadAbsolute,   // insn = load_xx reg, [<address of target>]
    StoreAbsolute,  // insn = store_xx reg, [<address>] or store_imm_xx [<address>], imm[1]
    Ecalli,         // ecalli <index assigned to import number `import`>
    HeapBase,       // load_imm insn.reg[0], <heap base>
  };
  Kind kind = Kind::Plain;
  Instruction insn;
  Location target;
  uint32_t import = 0;
};

/// How a basic block ends.
struct Terminator {
  enum class Kind : uint8_t {
    Jump,          // to `target`
    Call,          // load_imm_and_jump insn.reg[0] (the link register), <return address of `next`>, `target`
    JumpIndirect,  // jump_indirect insn.reg[0], insn.imm[0]
    CallIndirect,  // load_imm_and_jump_indirect insn.reg[0], insn.reg[1] (base), <return address>, insn.imm[1]
    Branch,        // insn (a branch) to `target`, else on to `next`
    Trap,
  };
  Kind kind = Kind::Trap;
  Instruction insn;
  Location target;
  Location next;
  Location at;  // the instruction this came from, for error messages

  /// At most two locations, kept inline: successors() runs for every block in several passes.
  struct Successors {
    std::array<Location, 2> locations;
    size_t count = 0;
    const Location* begin() const { return locations.data(); }
    const Location* end() const { return locations.data() + count; }
  };

  /// The code this terminator can continue at directly (not through a computed address).
  Successors successors() const {
    switch (kind) {
      case Kind::Jump: return {{target}, 1};
      case Kind::Call: return {{target, next}, 2};
      case Kind::CallIndirect: return {{next}, 1};
      case Kind::Branch: return {{target, next}, 2};
      case Kind::JumpIndirect:
      case Kind::Trap: return {};
    }
    return {};
  }
};

/// What one RISC-V instruction (or one import stub) became.
struct SourceInst {
  Location location;
  uint32_t size = 0;  // bytes it occupies in the ELF section
  std::vector<Op> ops;
  std::optional<Terminator> terminator;
};

/// A SourceInst as the linker keeps it until the blocks are built: its ops and terminator sit in lists
/// shared by the whole program (an op list per instruction would cost an allocation each).
struct DecodedInst {
  static constexpr uint32_t kNoTerminator = UINT32_MAX;
  Location location;
  uint32_t first_op = 0;  // the ops are [first_op, first_op + op_count) of the shared op list
  uint32_t op_count = 0;
  uint32_t terminator = kNoTerminator;  // index into the shared terminator list
};

/// A basic block: straight-line ops, then a terminator. `start` is where control enters it.
struct Block {
  Location start;
  std::vector<Op> ops;
  Terminator terminator;
};

}  // namespace polkavm::linker
