#include "link.hpp"

#include <fmt/format.h>

#include "blob_file.hpp"
#include "polkavm/elf_linker.hpp"

namespace polkatool {

int link_command(const LinkArgs& args) {
  auto elf = read_file(args.input);
  if (!elf) return fail(elf.error().message());

  polkavm::ElfLinkerConfig config;
  config.strip = args.strip;
  config.opt_level = args.opt_level;
  config.min_stack_size = args.min_stack_size;
  config.isa = args.isa;
  auto blob = polkavm::link_elf(*elf, config);
  if (!blob) return fail(fmt::format("{}: {}", args.input.string(), blob.error().message()));
  if (auto written = write_file(args.output, *blob); !written) return fail(written.error().message());
  return 0;
}

}  // namespace polkatool
