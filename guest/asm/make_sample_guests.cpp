// Writes every sample guest as <output-dir>/<name>.polkavm and prints how to run it.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include <fmt/core.h>

#include "sample_guests.hpp"

namespace {

bool write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: {} <output-dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    fmt::print(stderr, "error: cannot create {}: {}\n", dir.string(), ec.message());
    return 1;
  }
  for (const auto& guest : polkavm::guests::sample_guests()) {
    const auto path = dir / fmt::format("{}.polkavm", guest.name);
    const auto bytes = guest.build().to_bytes();
    if (!write_file(path, bytes)) {
      fmt::print(stderr, "error: cannot write {}\n", path.string());
      return 1;
    }
    fmt::print("{} ({} bytes): {}; main({}) = {}\n", path.string(), bytes.size(), guest.summary,
               guest.example_arg, guest.expected_result(guest.example_arg));
  }
  return 0;
}
