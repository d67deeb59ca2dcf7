#include "blob_file.hpp"

#include <fmt/format.h>

#include <fstream>

namespace polkatool {

using polkavm::Error;

polkavm::Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Error(fmt::format("failed to read {}: not a regular file", path.string()));
  // One read into a buffer of the file's size: an ELF with debug information is tens of megabytes, too many
  // to copy a character at a time into a growing vector.
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Error(fmt::format("failed to read {}: {}", path.string(), ec.message()));
  std::ifstream file(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!file || file.gcount() != static_cast<std::streamsize>(size))
    return Error(fmt::format("failed to read {}", path.string()));
  return bytes;
}

polkavm::Result<void> write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Error(fmt::format("failed to write {}", path.string()));
  return {};
}

polkavm::Result<polkavm::ProgramBlob> load_blob(const std::filesystem::path& path) {
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  auto blob = polkavm::ProgramBlob::parse(*bytes);
  if (!blob) return Error(fmt::format("failed to parse {}: {}", path.string(), blob.error().message()));
  return blob;
}

int fail(const std::string& message) {
  fmt::print(stderr, "error: {}\n", message);
  return 1;
}

}  // namespace polkatool
