#include "assemble.hpp"

#include <fmt/format.h>

#include <string>

#include "blob_file.hpp"
#include "polkavm/assembler.hpp"

namespace polkatool {

int assemble_command(const AssembleArgs& args) {
  auto text = read_file(args.input);
  if (!text) return fail(text.error().message());

  auto blob = polkavm::assemble(std::string(text->begin(), text->end()), args.isa);
  if (!blob) {
    std::string message = fmt::format("failed to assemble {}: {}", args.input.string(), blob.error().message());
    if (!args.isa) message += " (pass --isa or add an '%isa = ...' line)";
    return fail(message);
  }
  if (auto written = write_file(args.output, *blob); !written) return fail(written.error().message());
  return 0;
}

}  // namespace polkatool
