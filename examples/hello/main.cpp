// A minimal C++ host: runs `run(x)` of the guest guest/programs/hello (which asks its host for a value
// through the import `get_value` and returns get_value(x) * 2 + x) and prints the result.
//   polkavm-hello-host hello.polkavm 7      -> run(7) = 91
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include "polkavm/polkavm.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s BLOB X\n", argv[0]);
    return 2;
  }
  std::ifstream file(argv[1], std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const uint32_t x = static_cast<uint32_t>(std::strtoul(argv[2], nullptr, 10));

  polkavm::Result<polkavm::Engine> engine = polkavm::Engine::create(polkavm::Config{});
  if (!engine) return std::fprintf(stderr, "%s\n", engine.error().message().c_str()), 1;
  polkavm::Result<polkavm::Module> module = polkavm::Module::create(*engine, polkavm::ModuleConfig{}, bytes);
  if (!module) return std::fprintf(stderr, "%s\n", module.error().message().c_str()), 1;

  polkavm::Linker<> linker;
  if (!linker.define_typed("get_value", [](uint32_t) -> uint32_t { return 42; })) return 1;
  polkavm::Result<polkavm::InstancePre<>> pre = linker.instantiate_pre(*module);
  if (!pre) return std::fprintf(stderr, "%s\n", pre.error().message().c_str()), 1;
  polkavm::Result<polkavm::Instance<>> instance = pre->instantiate();
  if (!instance) return std::fprintf(stderr, "%s\n", instance.error().message().c_str()), 1;

  polkavm::CallResult<uint32_t> result = instance->call_typed<uint32_t>("run", x);
  if (!result) return std::fprintf(stderr, "%s\n", result.error().to_string().c_str()), 1;
  std::printf("run(%u) = %u on the %s backend\n", x, *result, std::string(polkavm::backend_name(engine->backend())).c_str());
  return 0;
}
