// What the tests that compile C guests at test time share: the target architectures, finding the tools,
// and a scratch directory for the compiler's files.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace polkavm::test {

enum class Arch { Rv64, Rv32 };

inline const char* arch_name(Arch arch) { return arch == Arch::Rv64 ? "rv64" : "rv32"; }

/// Whether a tool path from CMake (find_program) names an existing file.
inline bool tool_found(const char* path) {
  const std::string p = path;
  return !p.empty() && !p.ends_with("-NOTFOUND") && std::filesystem::exists(p);
}

/// A fresh directory under the system's temporary one, removed with its contents when this goes.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(pattern.data())) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace polkavm::test
