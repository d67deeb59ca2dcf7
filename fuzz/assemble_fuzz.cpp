// libFuzzer target: any bytes as assembler text. Assembling must fail with an error or give a program, and
// when the program's export names can be written in a listing (printable, without the "']" that ends a
// quoted name), its disassembly must assemble back to the same code, bitmask and jump table.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "polkavm/polkavm.hpp"

namespace {

bool listable(const polkavm::ProgramBlob& blob) {
  for (const auto& e : blob.exports) {
    if (e.symbol.find("']") != std::string::npos) return false;
    for (unsigned char c : e.symbol)
      if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the instruction set, unless the text declares one with %isa.
  const auto isa = static_cast<polkavm::InstructionSet>(data[0] % polkavm::kInstructionSetCount);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto blob = polkavm::assemble_blob(text, isa);
  if (!blob || !listable(*blob)) return 0;
  auto back = polkavm::assemble_blob(polkavm::disassemble(*blob), blob->isa);
  if (!back || back->code_and_jump_table != blob->code_and_jump_table) __builtin_trap();
  return 0;
}
