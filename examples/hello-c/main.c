/* A minimal C host (polkavm.h): runs `run(x)` of the guest guest/programs/hello, answering its import
 * `get_value` with 42, and prints the result.
 *   polkavm-hello-c-host hello.polkavm 7      -> run(7) = 91 */
#include <polkavm/polkavm.h>

#include <stdio.h>
#include <stdlib.h>

static polkavm_status get_value(polkavm_caller* caller, void* user_pointer) {
  (void)user_pointer;
  return polkavm_caller_set_reg(caller, POLKAVM_REG_A0, 42);
}

static int fail(const char* what) {
  fprintf(stderr, "%s: %s\n", what, polkavm_last_error());
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s BLOB X\n", argv[0]);
    return 2;
  }
  FILE* file = fopen(argv[1], "rb");
  if (!file) return fprintf(stderr, "cannot open %s\n", argv[1]), 1;
  static uint8_t blob[1 << 20];
  const size_t length = fread(blob, 1, sizeof(blob), file);
  fclose(file);
  const uint64_t x = strtoull(argv[2], NULL, 10);

  polkavm_config config;
  polkavm_config_init(&config);
  polkavm_engine* engine = NULL;
  polkavm_module* module = NULL;
  polkavm_linker* linker = NULL;
  polkavm_instance* instance = NULL;
  uint64_t result = 0;
  int status = 1;
  if (polkavm_engine_new(&config, &engine) != POLKAVM_OK) status = fail("engine");
  else if (polkavm_module_new(engine, NULL, blob, length, &module) != POLKAVM_OK) status = fail("module");
  else if (polkavm_linker_new(&linker) != POLKAVM_OK) status = fail("linker");
  else if (polkavm_linker_define(linker, "get_value", get_value, NULL) != POLKAVM_OK) status = fail("define");
  else if (polkavm_linker_instantiate(linker, module, &instance) != POLKAVM_OK) status = fail("instantiate");
  else if (polkavm_instance_call(instance, "run", &x, 1, NULL, &result, NULL) != POLKAVM_OK) status = fail("run");
  else {
    printf("run(%llu) = %u\n", (unsigned long long)x, (unsigned)(uint32_t)result);
    status = 0;
  }
  polkavm_instance_free(instance);
  polkavm_linker_free(linker);
  polkavm_module_free(module);
  polkavm_engine_free(engine);
  return status;
}
