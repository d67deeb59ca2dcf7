#include "link.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "polkavm/linker.hpp"

namespace polkatool {

int link_command(const LinkArgs& args) {
  auto fail = [](const std::string& message) {
    fmt::print(stderr, "error: {}\n", message);
    return 1;
  };
  std::ifstream in(args.input, std::ios::binary);
  if (!in) return fail(fmt::format("failed to read {}", args.input.string()));
  const std::vector<uint8_t> elf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  polkavm::LinkerConfig config;
  config.strip = args.strip;
  config.opt_level = args.opt_level;
  config.min_stack_size = args.min_stack_size;
  config.isa = args.isa;
  auto blob = polkavm::link_elf(elf, config);
  if (!blob) return fail(fmt::format("{}: {}", args.input.string(), blob.error().message()));

  std::ofstream out(args.output, std::ios::binary);
  out.write(reinterpret_cast<const char*>(blob->data()), static_cast<std::streamsize>(blob->size()));
  out.close();
  if (!out) return fail(fmt::format("failed to write {}", args.output.string()));
  return 0;
}

}  // namespace polkatool
