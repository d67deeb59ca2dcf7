// libFuzzer target: any bytes as assembler text. Assembling must fail with an error or give a program. When
// the program's export names can be written in a listing (printable, without the "']" that ends a quoted
// name), its disassembly must assemble, and that program's own disassembly must assemble to exactly its
// bytes. (The first round may change the program: a raw numeric jump target such as "jump 12" in hand-written
// text is laid out from a first guess whose immediates never shrink, so the offsets it names can move.)
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
  auto once = polkavm::assemble_blob(polkavm::disassemble(*blob), blob->isa);
  if (!once) __builtin_trap();
  auto twice = polkavm::assemble_blob(polkavm::disassemble(*once), once->isa);
  if (!twice || twice->code_and_jump_table != once->code_and_jump_table) __builtin_trap();
  return 0;
}
