// The reference's u32 varint (crates/polkavm-common/src/varint.rs): the number of leading one bits of the
// first byte is the number of little-endian bytes that follow; the first byte's remaining bits are the top.
#include <bit>

#include "polkavm/program.hpp"

namespace polkavm::varint {

bool read(std::span<const uint8_t> bytes, size_t* offset, uint32_t* value) {
  if (*offset >= bytes.size()) return false;
  const uint8_t first = bytes[*offset];
  const unsigned extra = static_cast<unsigned>(std::countl_one(first));
  if (extra >= kMaxLength || bytes.size() - *offset - 1 < extra) return false;

  uint32_t upper = first & (0xFFu >> extra);
  // The reference shifts the upper bits with wrapping_shl(8 * extra); for the 5-byte form that is a shift by
  // 32 mod 32 = 0, so the low bits of a non-canonical first byte 0xF1..0xF7 are OR-ed into the value.
  // That is observable (e.g. F1 00 00 00 00 reads as 1), so we do the same.
  uint32_t result = extra == 4 ? upper : upper << (8 * extra);
  for (unsigned i = 0; i < extra; ++i) result |= static_cast<uint32_t>(bytes[*offset + 1 + i]) << (8 * i);

  *offset += 1 + extra;
  *value = result;
  return true;
}

size_t length(uint32_t value) {
  if (value < (1u << 7)) return 1;
  if (value < (1u << 14)) return 2;
  if (value < (1u << 21)) return 3;
  if (value < (1u << 28)) return 4;
  return 5;
}

void write(std::vector<uint8_t>& out, uint32_t value) {
  const size_t extra = length(value) - 1;
  // Leading ones announce the extra bytes; the 5-byte form keeps no value bits in the first byte.
  const uint8_t prefix = static_cast<uint8_t>(0xFF00u >> extra);
  const uint8_t upper = extra == 4 ? 0 : static_cast<uint8_t>(value >> (8 * extra));
  out.push_back(static_cast<uint8_t>(prefix | upper));
  for (size_t i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace polkavm::varint
