// Linking Doom's ELFs (the shared data's programs/doom_O3_dwarf2.elf.zst, RV32 with DWARF, and doom_64.elf.zst,
// RV64) with `polkatool link`, keeping the debug information and with --strip: one process per sample, timed
// like the native twin (its user + system time, or wall time), best of N. The ELFs are decompressed once into
// a temporary directory (`zstd -d`). Every link must write the same blob; the checksum column shows the low
// 32 bits of its FNV-1a 64.
#include <fmt/format.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>

#include "benchtool.hpp"
#include "doom_host.hpp"  // Fnv1a64

namespace benchtool {
namespace {

using polkavm::Error;
using polkavm::Result;
namespace fs = std::filesystem;

/// The ELFs and blobs, removed with the last row that uses them.
struct TempDir {
  fs::path path;
  ~TempDir() {
    std::error_code ignored;
    if (!path.empty()) fs::remove_all(path, ignored);
  }
};

class LinkRunner final : public Runner {
 public:
  LinkRunner(Measurement row, std::shared_ptr<const TempDir> dir, std::vector<std::string> argv, fs::path output,
             const Settings& settings)
      : Runner(std::move(row), settings.min_batch_seconds), dir_(std::move(dir)), argv_(std::move(argv)),
        output_(std::move(output)) {}

 private:
  Result<void> do_oneshot() override { return {}; }
  Result<uint64_t> do_warm_up(double) override { return 1; }  // a link takes a second or more
  Result<double> do_sample(uint64_t) override {
    auto process = run_process(argv_);
    if (!process) return process.error();
    if (process->exit_code != 0) {
      std::string command;
      for (const auto& arg : argv_) command += (command.empty() ? "" : " ") + arg;
      return Error(fmt::format("`{}` failed (exit {}): {}", command, process->exit_code, process->output));
    }
    std::ifstream in(output_, std::ios::binary);
    const std::vector<uint8_t> blob((std::istreambuf_iterator<char>(in)), {});
    if (blob.empty()) return Error(fmt::format("the link wrote no blob to {}", output_.string()));
    polkavm::bench::doom::Fnv1a64 hash;
    hash.update(blob);
    const auto checksum = static_cast<uint32_t>(hash.value());
    if (row_.checksum && *row_.checksum != checksum)
      return Error(fmt::format("two links of the same ELF wrote different blobs ({} then {})", *row_.checksum,
                               checksum));
    row_.checksum = checksum;
    return process->seconds;
  }

  std::shared_ptr<const TempDir> dir_;
  std::vector<std::string> argv_;
  fs::path output_;
};

}  // namespace

std::vector<std::unique_ptr<Runner>> link_runners(const fs::path& shared_programs, const fs::path& polkatool,
                                                  const Settings& settings, std::string* note) {
  static const char* const kElfs[] = {"doom_O3_dwarf2.elf", "doom_64.elf"};
  std::vector<std::unique_ptr<Runner>> runners;
  std::string why_not;
  auto temp = std::make_shared<TempDir>();
  if (!fs::exists(polkatool)) why_not = fmt::format("polkatool not found at {} (--polkatool)", polkatool.string());
  std::string temp_template = (fs::temp_directory_path() / "benchtool-link-XXXXXX").string();
  if (why_not.empty()) {
    if (char* made = mkdtemp(temp_template.data())) temp->path = made;
    else why_not = "cannot create a temporary directory";
  }
  for (const char* elf : kElfs) {
    const fs::path compressed = shared_programs / (std::string(elf) + ".zst");
    const fs::path input = temp->path / elf;
    std::string skipped = why_not;
    if (skipped.empty() && !fs::exists(compressed))
      skipped = fmt::format("{} not found (the shared data's programs/)", compressed.string());
    if (skipped.empty()) {
      auto unpacked = run_process({"/usr/bin/zstd", "-d", "-q", "-f", compressed.string(), "-o", input.string()});
      if (!unpacked || unpacked->exit_code != 0)
        skipped = fmt::format("cannot decompress {} with /usr/bin/zstd{}", compressed.string(),
                              unpacked ? ": " + unpacked->output : "");
    }
    for (bool strip : {false, true}) {
      Measurement row;
      row.program = elf;
      row.runner = strip ? "link --strip" : "link";
      row.skipped = skipped;
      const fs::path output = temp->path / fmt::format("{}{}.polkavm", elf, strip ? "-strip" : "");
      std::vector<std::string> argv = {polkatool.string(), "link", input.string(), "-o", output.string()};
      if (strip) argv.push_back("--strip");
      runners.push_back(std::make_unique<LinkRunner>(std::move(row), temp, std::move(argv), output, settings));
    }
    if (!skipped.empty() && note->empty()) *note = skipped;
  }
  return runners;
}

}  // namespace benchtool
