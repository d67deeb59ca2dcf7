#include "blob_file.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <vector>

namespace polkatool {

polkavm::Result<polkavm::ProgramBlob> load_blob(const std::filesystem::path& path) {
  using polkavm::Error;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Error(fmt::format("failed to read {}: not a regular file", path.string()));
  std::ifstream file(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) return Error(fmt::format("failed to read {}", path.string()));
  auto blob = polkavm::ProgramBlob::parse(bytes);
  if (!blob) return Error(fmt::format("failed to parse {}: {}", path.string(), blob.error().message()));
  return blob;
}

}  // namespace polkatool
