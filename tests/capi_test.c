/* The C API (polkavm/polkavm.h) from plain C11: engine, module, linker and instance handles, calls, host
 * callbacks, the raw run loop, registers, memory, gas, errors and NULL handles, on the interpreter and (where
 * it runs) the compiler. Every check exits non-zero with a message when it fails.
 *
 * Usage: polkavm_capi_test [path/to/example-hello-world.polkavm] */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "polkavm/polkavm.h"

#ifndef POLKAVM_CAPI_HELLO_WORLD
#define POLKAVM_CAPI_HELLO_WORLD "example-hello-world.polkavm"
#endif

static int g_checks = 0;
static const char* g_backend_name = "";

#define CHECK(cond)                                                                                       \
  do {                                                                                                    \
    ++g_checks;                                                                                           \
    if (!(cond)) {                                                                                        \
      fprintf(stderr, "%s:%d: [%s] check failed: %s (last error: \"%s\")\n", __FILE__, __LINE__,          \
              g_backend_name, #cond, polkavm_last_error());                                               \
      exit(1);                                                                                            \
    }                                                                                                     \
  } while (0)

/* A status check that prints both statuses and the last error. */
#define CHECK_STATUS(expr, expected)                                                                      \
  do {                                                                                                    \
    polkavm_status check_status_got_ = (expr);                                                            \
    ++g_checks;                                                                                           \
    if (check_status_got_ != (expected)) {                                                                \
      fprintf(stderr, "%s:%d: [%s] %s returned %s, expected %s (last error: \"%s\")\n", __FILE__, __LINE__, \
              g_backend_name, #expr, polkavm_status_name(check_status_got_), polkavm_status_name(expected), \
              polkavm_last_error());                                                                      \
      exit(1);                                                                                            \
    }                                                                                                     \
  } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, POLKAVM_OK)

#define CHECK_LAST_ERROR(expected)                                                                        \
  do {                                                                                                    \
    ++g_checks;                                                                                           \
    if (strcmp(polkavm_last_error(), (expected)) != 0) {                                                  \
      fprintf(stderr, "%s:%d: [%s] last error is \"%s\", expected \"%s\"\n", __FILE__, __LINE__,          \
              g_backend_name, polkavm_last_error(), (expected));                                          \
      exit(1);                                                                                            \
    }                                                                                                     \
  } while (0)

#define CHECK_LAST_ERROR_CONTAINS(part)                                                                   \
  do {                                                                                                    \
    ++g_checks;                                                                                           \
    if (strstr(polkavm_last_error(), (part)) == NULL) {                                                   \
      fprintf(stderr, "%s:%d: [%s] last error \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,      \
              g_backend_name, polkavm_last_error(), (part));                                              \
      exit(1);                                                                                            \
    }                                                                                                     \
  } while (0)

static uint8_t* g_blob = NULL;
static size_t g_blob_length = 0;

static void load_blob(const char* path) {
  FILE* file = fopen(path, "rb");
  if (file == NULL) {
    fprintf(stderr, "cannot open %s; pass the path of example-hello-world.polkavm as the first argument\n", path);
    exit(1);
  }
  size_t capacity = 4096;
  g_blob = malloc(capacity);
  CHECK(g_blob != NULL);
  for (;;) {
    if (g_blob_length == capacity) {
      capacity *= 2;
      uint8_t* grown = realloc(g_blob, capacity);
      CHECK(grown != NULL);
      g_blob = grown;
    }
    size_t n = fread(g_blob + g_blob_length, 1, capacity - g_blob_length, file);
    if (n == 0) break;
    g_blob_length += n;
  }
  CHECK(!ferror(file));
  fclose(file);
  CHECK(g_blob_length > 0);
}

/* ---- Host callbacks ---------------------------------------------------------------------------------- */

typedef struct {
  int calls;
  uint64_t answer;
} third_number_state;

/* get_third_number: answers state->answer (user_pointer: the state), counts calls in the call's user data
 * when there is one, and exercises the caller's accessors. */
static polkavm_status get_third_number(polkavm_caller* caller, void* user_pointer) {
  third_number_state* state = user_pointer;
  ++state->calls;
  int* per_call = polkavm_caller_user_data(caller);
  if (per_call != NULL) ++*per_call;

  polkavm_instance* self = polkavm_caller_instance(caller);
  if (self == NULL) return POLKAVM_ERROR;
  /* The stack is reachable from the callback, through the caller and through the instance. */
  uint64_t sp = 0;
  if (polkavm_caller_get_reg(caller, POLKAVM_REG_SP, &sp) != POLKAVM_OK) return POLKAVM_ERROR;
  const uint8_t marker[4] = {0xde, 0xad, 0xbe, 0xef};
  uint8_t back[4] = {0};
  if (polkavm_caller_write_memory(caller, (uint32_t)sp - 64, marker, 4) != POLKAVM_OK) return POLKAVM_ERROR;
  if (polkavm_caller_read_memory(caller, (uint32_t)sp - 64, back, 4) != POLKAVM_OK) return POLKAVM_ERROR;
  if (memcmp(marker, back, 4) != 0) return POLKAVM_ERROR;
  int64_t gas = 0;
  if (polkavm_instance_get_gas(self, &gas) != POLKAVM_OK) return POLKAVM_ERROR;
  /* No nested call, run or free on the instance of a running callback. */
  if (polkavm_instance_call(self, "add_numbers", NULL, 0, NULL, NULL, NULL) != POLKAVM_INVALID_ARGUMENT)
    return POLKAVM_ERROR;
  polkavm_interrupt interrupt;
  if (polkavm_instance_run(self, &interrupt) != POLKAVM_INVALID_ARGUMENT) return POLKAVM_ERROR;
  polkavm_instance_free(self); /* refused: the instance stays usable */

  return polkavm_caller_set_reg(caller, POLKAVM_REG_A0, state->answer);
}

static polkavm_status failing_third_number(polkavm_caller* caller, void* user_pointer) {
  (void)user_pointer;
  CHECK_OK(polkavm_caller_set_error(caller, "first message"));
  CHECK_OK(polkavm_caller_set_error(caller, "no third number today"));
  return POLKAVM_ERROR;
}

static polkavm_status silent_failure(polkavm_caller* caller, void* user_pointer) {
  (void)caller;
  (void)user_pointer;
  return POLKAVM_TRAP;
}

static polkavm_status fallback(polkavm_caller* caller, uint32_t import_index, void* user_pointer) {
  uint32_t* seen = user_pointer;
  *seen = import_index;
  return polkavm_caller_set_reg(caller, POLKAVM_REG_A0, 100);
}

/* ---- Tests ------------------------------------------------------------------------------------------- */

static polkavm_module* new_module(polkavm_engine* engine, const polkavm_module_config* config) {
  polkavm_module* module = NULL;
  CHECK_OK(polkavm_module_new(engine, config, g_blob, g_blob_length, &module));
  CHECK(module != NULL);
  return module;
}

static void test_module_queries(polkavm_engine* engine) {
  polkavm_module* module = new_module(engine, NULL);
  size_t count = 0;
  CHECK_OK(polkavm_module_import_count(module, &count));
  CHECK(count == 1);
  const char* name = NULL;
  CHECK_OK(polkavm_module_import(module, 0, &name));
  CHECK(strcmp(name, "get_third_number") == 0);
  CHECK_STATUS(polkavm_module_import(module, 1, &name), POLKAVM_INVALID_ARGUMENT);
  CHECK_OK(polkavm_module_export_count(module, &count));
  CHECK(count >= 1);
  int found = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t pc = 0;
    CHECK_OK(polkavm_module_export(module, i, &name, &pc));
    if (strcmp(name, "add_numbers") == 0) {
      uint32_t by_name = 1234567;
      CHECK_OK(polkavm_module_export_pc(module, "add_numbers", &by_name));
      CHECK(by_name == pc);
      found = 1;
    }
  }
  CHECK(found);
  uint32_t pc = 0;
  CHECK_STATUS(polkavm_module_export_pc(module, "nope", &pc), POLKAVM_ERROR);
  CHECK_LAST_ERROR("failed to find export: nope");
  bool is_64_bit = true;
  CHECK_OK(polkavm_module_is_64_bit(module, &is_64_bit));
  polkavm_module_free(module);

  /* Garbage is not a blob. */
  const uint8_t garbage[] = {1, 2, 3, 4, 5, 6, 7, 8};
  polkavm_module* bad = (polkavm_module*)&garbage; /* overwritten with NULL on failure */
  CHECK_STATUS(polkavm_module_new(engine, NULL, garbage, sizeof garbage, &bad), POLKAVM_ERROR);
  CHECK(bad == NULL);
  CHECK(polkavm_last_error()[0] != '\0');
  CHECK(polkavm_last_error_kind() == POLKAVM_ERROR_KIND_INVALID_BLOB);
}

static void test_hello_world(polkavm_engine* engine) {
  polkavm_module* module = new_module(engine, NULL);
  polkavm_linker* linker = NULL;
  CHECK_OK(polkavm_linker_new(&linker));
  third_number_state state = {0, 100};
  CHECK_OK(polkavm_linker_define(linker, "get_third_number", get_third_number, &state));
  /* A name defined twice is an error. */
  CHECK_STATUS(polkavm_linker_define(linker, "get_third_number", get_third_number, &state), POLKAVM_ERROR);
  CHECK_LAST_ERROR_CONTAINS("already registered: get_third_number");

  polkavm_instance* instance = NULL;
  CHECK_OK(polkavm_linker_instantiate(linker, module, &instance));
  CHECK(instance != NULL);
  /* The instance outlives the linker and the module handles. */
  polkavm_linker_free(linker);
  polkavm_module_free(module);

  const uint64_t args[2] = {1, 10};
  uint64_t a0 = 0, a1 = 0;
  int per_call = 0;
  CHECK_OK(polkavm_instance_call(instance, "add_numbers", args, 2, &per_call, &a0, &a1));
  CHECK((uint32_t)a0 == 111);
  CHECK(state.calls == 1);
  CHECK(per_call == 1);
  /* Reusable; results may be ignored; user data may be NULL. */
  const uint64_t more[2] = {2, 3};
  CHECK_OK(polkavm_instance_call(instance, "add_numbers", more, 2, NULL, &a0, NULL));
  CHECK((uint32_t)a0 == 105);
  CHECK(state.calls == 2);

  /* A missing export. */
  CHECK_STATUS(polkavm_instance_call(instance, "nope", args, 2, NULL, &a0, &a1), POLKAVM_ERROR);
  CHECK_LAST_ERROR("failed to find export: nope");
  /* Too many arguments; NULL arguments with a count. */
  const uint64_t ten[10] = {0};
  CHECK_STATUS(polkavm_instance_call(instance, "add_numbers", ten, 10, NULL, &a0, &a1), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_call(instance, "add_numbers", NULL, 2, NULL, &a0, &a1), POLKAVM_INVALID_ARGUMENT);
  /* Nine arguments are fine (the program ignores the extra ones). */
  const uint64_t nine[9] = {4, 5, 0, 0, 0, 0, 0, 0, 0};
  CHECK_OK(polkavm_instance_call(instance, "add_numbers", nine, 9, NULL, &a0, &a1));
  CHECK((uint32_t)a0 == 109);

  /* Registers. */
  CHECK_OK(polkavm_instance_set_reg(instance, POLKAVM_REG_S1, 0x1234567));
  uint64_t value = 0;
  CHECK_OK(polkavm_instance_get_reg(instance, POLKAVM_REG_S1, &value));
  CHECK(value == 0x1234567);
  CHECK_STATUS(polkavm_instance_get_reg(instance, (polkavm_reg)13, &value), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_set_reg(instance, (polkavm_reg)-1, 0), POLKAVM_INVALID_ARGUMENT);

  /* The raw loop: the host answers the ecalli itself. */
  CHECK_OK(polkavm_instance_prepare_call(instance, "add_numbers", args, 2));
  uint64_t sp = 0, ra = 0;
  CHECK_OK(polkavm_instance_get_reg(instance, POLKAVM_REG_SP, &sp));
  CHECK_OK(polkavm_instance_get_reg(instance, POLKAVM_REG_RA, &ra));
  CHECK(ra == 0xFFFF0000u);
  CHECK(sp != 0);
  polkavm_interrupt interrupt;
  CHECK_OK(polkavm_instance_run(instance, &interrupt));
  CHECK(interrupt.kind == POLKAVM_INTERRUPT_ECALLI);
  CHECK(interrupt.hostcall == 0);
  uint32_t pc = 0;
  CHECK_OK(polkavm_instance_program_counter(instance, &pc));
  CHECK_OK(polkavm_instance_set_reg(instance, POLKAVM_REG_A0, 1000));
  CHECK_OK(polkavm_instance_run(instance, &interrupt));
  CHECK(interrupt.kind == POLKAVM_INTERRUPT_FINISHED);
  CHECK_OK(polkavm_instance_get_reg(instance, POLKAVM_REG_A0, &value));
  CHECK((uint32_t)value == 1011);
  CHECK(state.calls == 3); /* the raw loop did not call the callback */
  /* Nothing left to run. */
  CHECK_STATUS(polkavm_instance_run(instance, &interrupt), POLKAVM_ERROR);
  CHECK_STATUS(polkavm_instance_prepare_call(instance, "nope", NULL, 0), POLKAVM_ERROR);

  /* Memory: the stack below SP is read/write; address 0 is never mapped. */
  const uint32_t address = (uint32_t)sp - 256;
  const char text[] = "hello from C";
  CHECK_OK(polkavm_instance_write_memory(instance, address, text, sizeof text));
  char back[sizeof text];
  memset(back, 0, sizeof back);
  CHECK_OK(polkavm_instance_read_memory(instance, address, back, sizeof back));
  CHECK(memcmp(back, text, sizeof text) == 0);
  CHECK_OK(polkavm_instance_zero_memory(instance, address, 5));
  CHECK_OK(polkavm_instance_read_memory(instance, address, back, sizeof back));
  CHECK(back[0] == 0 && back[4] == 0 && back[5] == ' ' && back[6] == 'f');
  CHECK_STATUS(polkavm_instance_read_memory(instance, 0, back, 4), POLKAVM_ERROR);
  CHECK(polkavm_last_error()[0] != '\0');
  CHECK_STATUS(polkavm_instance_write_memory(instance, 0, text, 4), POLKAVM_ERROR);
  CHECK_STATUS(polkavm_instance_zero_memory(instance, 0, 4), POLKAVM_ERROR);
  CHECK_STATUS(polkavm_instance_read_memory(instance, address, NULL, 4), POLKAVM_INVALID_ARGUMENT);
  CHECK_OK(polkavm_instance_read_memory(instance, address, NULL, 0));
  uint32_t heap_top = 0, grown_top = 0;
  CHECK_OK(polkavm_instance_sbrk(instance, 0, &heap_top));
  CHECK_OK(polkavm_instance_sbrk(instance, 16, &grown_top));
  CHECK(grown_top == heap_top + 16);
  CHECK_OK(polkavm_instance_write_memory(instance, heap_top, text, sizeof text)); /* 13 of the 16 bytes */
  CHECK_STATUS(polkavm_instance_sbrk(instance, 0xFFFFFFF0u, NULL), POLKAVM_ERROR);
  CHECK_OK(polkavm_instance_reset_memory(instance));
  CHECK_OK(polkavm_instance_read_memory(instance, address, back, sizeof back));
  CHECK(back[6] == 0);

  polkavm_instance_free(instance);
}

static void test_failing_callbacks(polkavm_engine* engine) {
  polkavm_module* module = new_module(engine, NULL);
  const uint64_t args[2] = {1, 10};
  uint64_t a0 = 7, a1 = 7;

  polkavm_linker* linker = NULL;
  CHECK_OK(polkavm_linker_new(&linker));
  CHECK_OK(polkavm_linker_define(linker, "get_third_number", failing_third_number, NULL));
  polkavm_instance* instance = NULL;
  CHECK_OK(polkavm_linker_instantiate(linker, module, &instance));
  CHECK_STATUS(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, &a1), POLKAVM_USER_ERROR);
  CHECK_LAST_ERROR("no third number today");
  CHECK(a0 == 7 && a1 == 7); /* untouched on failure */
  polkavm_instance_free(instance);
  polkavm_linker_free(linker);

  /* A failure without a message gets one naming the function. */
  CHECK_OK(polkavm_linker_new(&linker));
  CHECK_OK(polkavm_linker_define(linker, "get_third_number", silent_failure, NULL));
  CHECK_OK(polkavm_linker_instantiate(linker, module, &instance));
  CHECK_STATUS(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, &a1), POLKAVM_USER_ERROR);
  CHECK_LAST_ERROR("host function get_third_number failed with POLKAVM_TRAP");
  polkavm_instance_free(instance);
  polkavm_linker_free(linker);

  /* No host function: calling the import traps; with a fallback, the fallback answers with its index. */
  CHECK_OK(polkavm_linker_new(&linker));
  CHECK_OK(polkavm_linker_instantiate(linker, module, &instance));
  CHECK_STATUS(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, &a1), POLKAVM_TRAP);
  CHECK_LAST_ERROR_CONTAINS("trap");
  polkavm_instance_free(instance);
  uint32_t seen = 99;
  CHECK_OK(polkavm_linker_define_fallback(linker, fallback, &seen));
  CHECK_OK(polkavm_linker_instantiate(linker, module, &instance));
  CHECK_OK(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, &a1));
  CHECK((uint32_t)a0 == 111);
  CHECK(seen == 0);
  polkavm_instance_free(instance);
  polkavm_linker_free(linker);

  /* A strict module refuses an import nobody answers. */
  polkavm_module_config strict;
  polkavm_module_config_init(&strict);
  strict.strict = true;
  polkavm_module* strict_module = new_module(engine, &strict);
  CHECK_OK(polkavm_linker_new(&linker));
  instance = (polkavm_instance*)linker; /* overwritten with NULL on failure */
  CHECK_STATUS(polkavm_linker_instantiate(linker, strict_module, &instance), POLKAVM_ERROR);
  CHECK(instance == NULL);
  CHECK_LAST_ERROR("missing host function: get_third_number");
  polkavm_linker_free(linker);
  polkavm_module_free(strict_module);
  polkavm_module_free(module);
}

static void test_gas(polkavm_engine* engine) {
  polkavm_module_config config;
  polkavm_module_config_init(&config);
  CHECK(config.page_size == 0x1000);
  CHECK(config.gas_metering == POLKAVM_GAS_METERING_ENGINE_DEFAULT);
  config.gas_metering = POLKAVM_GAS_METERING_SYNC;
  polkavm_module* module = new_module(engine, &config);
  polkavm_linker* linker = NULL;
  CHECK_OK(polkavm_linker_new(&linker));
  third_number_state state = {0, 100};
  CHECK_OK(polkavm_linker_define(linker, "get_third_number", get_third_number, &state));
  polkavm_instance* instance = NULL;
  CHECK_OK(polkavm_linker_instantiate(linker, module, &instance));

  const uint64_t args[2] = {1, 10};
  uint64_t a0 = 0;
  CHECK_OK(polkavm_instance_set_gas(instance, 0));
  CHECK_STATUS(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, NULL), POLKAVM_NOT_ENOUGH_GAS);
  CHECK_LAST_ERROR("not enough gas");
  int64_t gas = -1;
  CHECK_OK(polkavm_instance_get_gas(instance, &gas));
  CHECK(gas == 0);
  /* Sync metering resumes once there is gas. */
  CHECK_OK(polkavm_instance_set_gas(instance, 1000));
  CHECK_OK(polkavm_instance_continue(instance, NULL, &a0, NULL));
  CHECK((uint32_t)a0 == 111);
  /* The reference's figure: add_numbers(1, 10) uses 10 gas. */
  CHECK_OK(polkavm_instance_set_gas(instance, 1000));
  CHECK_OK(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, NULL));
  CHECK((uint32_t)a0 == 111);
  CHECK_OK(polkavm_instance_get_gas(instance, &gas));
  CHECK(gas == 990);

  /* Step tracing stops the call; continuing steps again until it is turned off. */
  CHECK_OK(polkavm_instance_set_step_tracing(instance, true));
  CHECK_STATUS(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, NULL), POLKAVM_STEP);
  CHECK_STATUS(polkavm_instance_continue(instance, NULL, &a0, NULL), POLKAVM_STEP);
  CHECK_OK(polkavm_instance_set_step_tracing(instance, false));
  CHECK_OK(polkavm_instance_continue(instance, NULL, &a0, NULL));
  CHECK((uint32_t)a0 == 111);

  polkavm_instance_free(instance);
  polkavm_linker_free(linker);
  polkavm_module_free(module);
}

/* Frees the engine first: its modules and their instances stay usable. */
static void free_engine_first(polkavm_engine* engine) {
  polkavm_module* module = new_module(engine, NULL);
  polkavm_engine_free(engine);
  polkavm_linker* linker = NULL;
  CHECK_OK(polkavm_linker_new(&linker));
  third_number_state state = {0, 200};
  CHECK_OK(polkavm_linker_define(linker, "get_third_number", get_third_number, &state));
  polkavm_instance* instance = NULL;
  CHECK_OK(polkavm_linker_instantiate(linker, module, &instance));
  polkavm_module_free(module);
  polkavm_linker_free(linker);
  const uint64_t args[2] = {1, 10};
  uint64_t a0 = 0;
  CHECK_OK(polkavm_instance_call(instance, "add_numbers", args, 2, NULL, &a0, NULL));
  CHECK((uint32_t)a0 == 211);
  CHECK(state.calls == 1);
  polkavm_instance_free(instance);
}

static void run_suite(polkavm_engine* engine) {
  test_module_queries(engine);
  test_hello_world(engine);
  test_failing_callbacks(engine);
  test_gas(engine);
}

static void test_null_handles(void) {
  g_backend_name = "null handles";
  polkavm_engine* engine = NULL;
  polkavm_module* module = NULL;
  polkavm_linker* linker = NULL;
  polkavm_instance* instance = NULL;
  uint64_t value = 0;
  int64_t gas = 0;
  size_t count = 0;
  bool flag = false;
  const char* name = NULL;
  uint8_t buffer[4] = {0};
  polkavm_interrupt interrupt;
  polkavm_backend backend;
  polkavm_sandbox sandbox;

  CHECK_STATUS(polkavm_engine_new(NULL, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_LAST_ERROR("polkavm_engine_new: out is NULL");
  CHECK_STATUS(polkavm_engine_new_from_env(NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_engine_backend(NULL, &backend), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_engine_sandbox(NULL, &sandbox), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_new(NULL, NULL, g_blob, g_blob_length, &module), POLKAVM_INVALID_ARGUMENT);
  CHECK(module == NULL);
  CHECK_LAST_ERROR("polkavm_module_new: engine is NULL");
  CHECK_STATUS(polkavm_module_is_64_bit(NULL, &flag), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_export_count(NULL, &count), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_export(NULL, 0, &name, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_export_pc(NULL, "add_numbers", NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_import_count(NULL, &count), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_import(NULL, 0, &name), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_new(NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_define(NULL, "f", silent_failure, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_define_fallback(NULL, fallback, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_instantiate(NULL, NULL, &instance), POLKAVM_INVALID_ARGUMENT);
  CHECK(instance == NULL);
  CHECK_STATUS(polkavm_instance_call(NULL, "add_numbers", NULL, 0, NULL, &value, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_LAST_ERROR("polkavm_instance_call: instance is NULL");
  CHECK_STATUS(polkavm_instance_continue(NULL, NULL, NULL, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_prepare_call(NULL, "add_numbers", NULL, 0), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_prepare_call_pc(NULL, 0, NULL, 0), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_run(NULL, &interrupt), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_program_counter(NULL, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_set_next_program_counter(NULL, 0), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_get_reg(NULL, POLKAVM_REG_A0, &value), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_set_reg(NULL, POLKAVM_REG_A0, 0), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_read_memory(NULL, 0, buffer, 4), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_write_memory(NULL, 0, buffer, 4), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_zero_memory(NULL, 0, 4), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_reset_memory(NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_sbrk(NULL, 0, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_get_gas(NULL, &gas), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_set_gas(NULL, 0), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_instance_set_step_tracing(NULL, true), POLKAVM_INVALID_ARGUMENT);
  CHECK(polkavm_caller_instance(NULL) == NULL);
  CHECK(polkavm_caller_user_data(NULL) == NULL);
  CHECK_STATUS(polkavm_caller_set_error(NULL, "x"), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_caller_get_reg(NULL, POLKAVM_REG_A0, &value), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_caller_set_reg(NULL, POLKAVM_REG_A0, 0), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_caller_read_memory(NULL, 0, buffer, 4), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_caller_write_memory(NULL, 0, buffer, 4), POLKAVM_INVALID_ARGUMENT);
  polkavm_config_init(NULL);
  polkavm_module_config_init(NULL);
  polkavm_engine_free(NULL);
  polkavm_module_free(NULL);
  polkavm_linker_free(NULL);
  polkavm_instance_free(NULL);

  /* NULL pointers other than handles, and out-of-range enum values. */
  polkavm_config config;
  polkavm_config_init(&config);
  CHECK_OK(polkavm_engine_new(&config, &engine));
  CHECK_STATUS(polkavm_engine_backend(engine, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_new(engine, NULL, NULL, 10, &module), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_module_new(engine, NULL, NULL, 0, &module), POLKAVM_ERROR); /* an empty blob */
  polkavm_module_config module_config;
  polkavm_module_config_init(&module_config);
  module_config.gas_metering = (polkavm_gas_metering)42;
  CHECK_STATUS(polkavm_module_new(engine, &module_config, g_blob, g_blob_length, &module), POLKAVM_INVALID_ARGUMENT);
  CHECK_OK(polkavm_linker_new(&linker));
  CHECK_STATUS(polkavm_linker_define(linker, NULL, silent_failure, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_define(linker, "f", NULL, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_define_fallback(linker, NULL, NULL), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_instantiate(linker, NULL, &instance), POLKAVM_INVALID_ARGUMENT);
  CHECK_STATUS(polkavm_linker_instantiate(linker, module, NULL), POLKAVM_INVALID_ARGUMENT);
  polkavm_linker_free(linker);
  polkavm_engine_free(engine);

  config.backend = (polkavm_backend)7;
  CHECK_STATUS(polkavm_engine_new(&config, &engine), POLKAVM_INVALID_ARGUMENT);
  CHECK(engine == NULL);
  CHECK(polkavm_last_error_kind() == POLKAVM_ERROR_KIND_INVALID_ARGUMENT);
  polkavm_config_init(&config);
  config.core_pinning = (polkavm_core_pinning)3;
  CHECK_STATUS(polkavm_engine_new(&config, &engine), POLKAVM_INVALID_ARGUMENT);
  /* Settings with nothing to act on are refused: cross-checking and core pinning with the interpreter. */
  polkavm_config_init(&config);
  CHECK(!config.crosscheck && config.core_pinning == POLKAVM_CORE_PINNING_DISABLED);
  config.backend = POLKAVM_BACKEND_INTERPRETER;
  config.allow_experimental = true;
  config.crosscheck = true;
  CHECK_STATUS(polkavm_engine_new(&config, &engine), POLKAVM_ERROR);
  CHECK(polkavm_last_error_kind() == POLKAVM_ERROR_KIND_UNSUPPORTED);
  CHECK_LAST_ERROR_CONTAINS("cross-checking");
  config.crosscheck = false;
  config.core_pinning = POLKAVM_CORE_PINNING_PIN_TO_CORE;
  CHECK_STATUS(polkavm_engine_new(&config, &engine), POLKAVM_ERROR);
  CHECK(polkavm_last_error_kind() == POLKAVM_ERROR_KIND_UNSUPPORTED);
  CHECK_LAST_ERROR_CONTAINS("core pinning");
  polkavm_config_init(&config);
  CHECK(config.compile_memory_limit == (uint64_t)512 << 20);
  config.backend = POLKAVM_BACKEND_INTERPRETER;
  config.compile_memory_limit = 1;
  CHECK_STATUS(polkavm_engine_new(&config, &engine), POLKAVM_ERROR);
  CHECK(polkavm_last_error_kind() == POLKAVM_ERROR_KIND_UNSUPPORTED);
  CHECK_LAST_ERROR_CONTAINS("compile_memory_limit");
  polkavm_config_init(&config);
  config.default_gas_metering = POLKAVM_GAS_METERING_ENGINE_DEFAULT;
  CHECK_STATUS(polkavm_engine_new(&config, &engine), POLKAVM_INVALID_ARGUMENT);
  /* A configuration the engine refuses. */
  polkavm_config_init(&config);
  config.sandboxing_enabled = false; /* needs allow_experimental */
  CHECK_STATUS(polkavm_engine_new(&config, &engine), POLKAVM_ERROR);
  CHECK_LAST_ERROR_CONTAINS("allow_experimental");
  CHECK(polkavm_last_error_kind() == POLKAVM_ERROR_KIND_INVALID_ARGUMENT);

  CHECK(strcmp(polkavm_status_name(POLKAVM_USER_ERROR), "POLKAVM_USER_ERROR") == 0);
  CHECK(strcmp(polkavm_status_name((polkavm_status)99), "POLKAVM_<unknown>") == 0);
}

static void test_engine_from_env(void) {
  g_backend_name = "from env";
  polkavm_engine* engine = NULL;
  CHECK(setenv("POLKAVM_BACKEND", "interpreter", 1) == 0);
  CHECK_OK(polkavm_engine_new_from_env(&engine));
  polkavm_backend backend = POLKAVM_BACKEND_AUTO;
  CHECK_OK(polkavm_engine_backend(engine, &backend));
  CHECK(backend == POLKAVM_BACKEND_INTERPRETER);
  polkavm_engine_free(engine);
  CHECK(setenv("POLKAVM_BACKEND", "no-such-backend", 1) == 0);
  engine = (polkavm_engine*)&backend;
  CHECK_STATUS(polkavm_engine_new_from_env(&engine), POLKAVM_ERROR);
  CHECK(engine == NULL);
  CHECK_LAST_ERROR_CONTAINS("no-such-backend");
  CHECK(unsetenv("POLKAVM_BACKEND") == 0);
}

int main(int argc, char** argv) {
  load_blob(argc > 1 ? argv[1] : POLKAVM_CAPI_HELLO_WORLD);

  CHECK(strcmp(polkavm_last_error(), "") == 0);
  test_null_handles();
  test_engine_from_env();

  /* The interpreter. */
  g_backend_name = "interpreter";
  polkavm_config config;
  polkavm_config_init(&config);
  CHECK(config.backend == POLKAVM_BACKEND_AUTO && config.worker_count == 2 && config.sandboxing_enabled);
  config.backend = POLKAVM_BACKEND_INTERPRETER;
  polkavm_engine* engine = NULL;
  CHECK_OK(polkavm_engine_new(&config, &engine));
  polkavm_backend backend = POLKAVM_BACKEND_AUTO;
  CHECK_OK(polkavm_engine_backend(engine, &backend));
  CHECK(backend == POLKAVM_BACKEND_INTERPRETER);
  run_suite(engine);
  free_engine_first(engine);

  /* The compiler, where this host runs it (sandbox auto). */
  g_backend_name = "compiler";
  polkavm_config_init(&config);
  config.backend = POLKAVM_BACKEND_COMPILER;
  engine = NULL;
  polkavm_status status = polkavm_engine_new(&config, &engine);
  if (status == POLKAVM_OK) {
    CHECK_OK(polkavm_engine_backend(engine, &backend));
    CHECK(backend == POLKAVM_BACKEND_COMPILER);
    polkavm_sandbox sandbox = POLKAVM_SANDBOX_AUTO;
    CHECK_OK(polkavm_engine_sandbox(engine, &sandbox));
    CHECK(sandbox == POLKAVM_SANDBOX_LINUX || sandbox == POLKAVM_SANDBOX_GENERIC);
    printf("compiler backend (sandbox %s) tested\n", sandbox == POLKAVM_SANDBOX_LINUX ? "linux" : "generic");
    run_suite(engine);
    free_engine_first(engine);
    /* Again with cross-checking (the interpreter beside the compiled code) and core pinning. */
    g_backend_name = "compiler, crosscheck";
    config.allow_experimental = true;
    config.crosscheck = true;
    if (sandbox == POLKAVM_SANDBOX_LINUX) config.core_pinning = POLKAVM_CORE_PINNING_PIN_TO_CORE;
    CHECK_OK(polkavm_engine_new(&config, &engine));
    run_suite(engine);
    free_engine_first(engine);
  } else {
    CHECK(status == POLKAVM_ERROR);
    printf("compiler backend not available here, skipped: %s\n", polkavm_last_error());
  }

  free(g_blob);
  printf("polkavm_capi_test: %d checks passed\n", g_checks);
  return 0;
}
