// Lowering one RISC-V instruction to PolkaVM instructions.
#pragma once

#include <optional>
#include <string>

#include "linker/ir.hpp"
#include "linker/riscv.hpp"

namespace polkavm::linker {

/// The PolkaVM register for RISC-V register x`reg`: nothing for x0 (zero, a constant) and for the 18
/// registers PolkaVM does not have.
std::optional<Reg> map_register(uint32_t reg);
/// Whether x`reg` is zero or one of the 13 mapped registers.
bool is_supported_register(uint32_t reg);

struct LowerContext {
  bool rv64 = true;
  /// Where the lowering may save registers it borrows as temporaries (three pointer-sized slots).
  Location spill_area;
  /// The taken target of a jump or branch from its relocation, instead of the encoded offset.
  std::optional<Location> target;
};

/// An error description when `inst` uses a register PolkaVM does not have.
std::optional<std::string> check_registers(const RvInst& inst);

/// Appends `inst`'s translation to `out` (ops and possibly a terminator). `out.location` and `out.size` must
/// be set. Returns an error description (without the location, which the caller adds) when the instruction
/// cannot be translated. AUIPC never gets here: the linker pairs it with its relocations.
std::optional<std::string> lower_instruction(const LowerContext& context, const RvInst& inst, SourceInst& out);

/// A constant into a register: load_imm when the value survives sign extension from 32 bits (or the
/// registers are 32-bit), load_imm64 otherwise.
Op make_constant(bool rv64, Reg dst, uint64_t value);

}  // namespace polkavm::linker
