// Runs a blob exporting add_numbers(a, b) and importing get_third_number (the reference's hello-world
// example): add_numbers(1, 10) with get_third_number answering 100 must return 111.
// Usage: consumer <blob.polkavm>...
#include <polkavm/linker.hpp>
#include <polkavm/polkavm.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

static int run(const char* path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "cannot read %s\n", path);
    return 1;
  }
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());

  auto engine = polkavm::Engine::create();
  if (!engine) return std::fprintf(stderr, "engine: %s\n", engine.error().message().c_str()), 1;
  auto module = polkavm::Module::create(*engine, polkavm::ModuleConfig{}, bytes);
  if (!module) return std::fprintf(stderr, "module: %s\n", module.error().message().c_str()), 1;

  polkavm::Linker<> linker;
  if (!linker.define_typed("get_third_number", []() -> uint32_t { return 100; })) return 1;
  auto pre = linker.instantiate_pre(*module);
  if (!pre) return std::fprintf(stderr, "instantiate_pre: %s\n", pre.error().message().c_str()), 1;
  auto instance = pre->instantiate();
  if (!instance) return std::fprintf(stderr, "instantiate: %s\n", instance.error().message().c_str()), 1;
  polkavm::CallResult<uint32_t> sum = instance->call_typed<uint32_t>("add_numbers", 1u, 10u);
  if (!sum) return std::fprintf(stderr, "add_numbers: %s\n", sum.error().to_string().c_str()), 1;

  std::printf("%s: add_numbers(1, 10) = %u\n", path, static_cast<unsigned>(*sum));
  return *sum == 111 ? 0 : 1;
}

int main(int argc, char** argv) {
  // The headers and the library must be the same version.
  if (polkavm::version() != std::string_view(POLKAVM_VERSION_STRING)) {
    std::fprintf(stderr, "version mismatch: headers %s, library %.*s\n", POLKAVM_VERSION_STRING,
                 static_cast<int>(polkavm::version().size()), polkavm::version().data());
    return 1;
  }
  std::printf("polkavm %s\n", POLKAVM_VERSION_STRING);
  if (argc < 2) return std::fprintf(stderr, "usage: %s <blob.polkavm>...\n", argv[0]), 2;
  for (int i = 1; i < argc; ++i) {
    if (run(argv[i]) != 0) return 1;
  }
  return 0;
}
