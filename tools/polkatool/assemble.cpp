#include "assemble.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "polkavm/assembler.hpp"

namespace polkatool {

int assemble_command(const AssembleArgs& args) {
  auto fail = [](const std::string& message) {
    fmt::print(stderr, "error: {}\n", message);
    return 1;
  };
  std::ifstream in(args.input, std::ios::binary);
  if (!in) return fail(fmt::format("failed to read {}", args.input.string()));
  std::stringstream text;
  text << in.rdbuf();

  auto blob = polkavm::assemble(text.str(), args.isa);
  if (!blob) {
    std::string message = fmt::format("failed to assemble {}: {}", args.input.string(), blob.error().message());
    if (!args.isa) message += " (pass --isa or add an '%isa = ...' line)";
    return fail(message);
  }
  std::ofstream out(args.output, std::ios::binary);
  out.write(reinterpret_cast<const char*>(blob->data()), static_cast<std::streamsize>(blob->size()));
  out.close();
  if (!out) return fail(fmt::format("failed to write {}", args.output.string()));
  return 0;
}

}  // namespace polkatool
