/**
 * @file
 * polkavm.h: the C API of polkavm-cpp (C11 and C++).
 *
 * Handles
 *   - polkavm_engine    an execution engine: backend and sandbox choice, shared settings.
 *   - polkavm_module    a validated program blob, ready to instantiate (immutable).
 *   - polkavm_linker    host functions by import name (C callbacks), plus an optional fallback.
 *   - polkavm_instance  one running program, created through a linker; calls exports and runs the raw loop.
 *   - polkavm_caller    what a host callback is given while the guest waits: the calling instance and the
 *                       call's user data. Borrowed: valid only during that callback.
 *
 * Ownership and lifetime
 *   - Every polkavm_*_new function stores a new handle in its `out` argument; the caller owns it and releases
 *     it with the matching polkavm_*_free function (exactly once). Free functions accept NULL (no-op).
 *   - Handles can be freed in any order: a module keeps what it needs of its engine alive, and an instance
 *     what it needs of its module and of the linker's host functions (registered callbacks are copied into
 *     the instance when it is created). Freeing the engine does not invalidate modules or instances.
 *   - The library never takes ownership of user pointers: a `user_pointer` given to a linker must stay valid
 *     while any instance created through that linker can still call the callback; `user_data` given to a
 *     call must stay valid during that call.
 *   - Input strings and buffers are only read during the call that takes them (the library copies what it
 *     keeps). Strings returned by the library (export and import names) live as long as their module.
 *   - Calls are not re-entrant on one instance: while one of its callbacks runs, starting another call or run
 *     on it returns POLKAVM_INVALID_ARGUMENT and freeing it is refused (it stays valid). Inside a callback,
 *     the instance is reached with polkavm_caller_instance().
 *   - Using a handle after it was freed is undefined behaviour (the library cannot detect it); NULL is
 *     always detected.
 *
 * Errors
 *   - Every fallible function returns a polkavm_status. Anything but POLKAVM_OK leaves the `out` arguments
 *     unchanged (for a new handle: NULL is stored when `out` itself is not NULL).
 *   - The message of the latest failure on the calling thread is returned by polkavm_last_error(). It is
 *     replaced by the next failing polkavm_* call on that thread (successful calls leave it alone); copy it
 *     if you need it longer.
 *   - A NULL handle, a NULL required pointer or an out-of-range enum value gives POLKAVM_INVALID_ARGUMENT
 *     (never a crash). No C++ exception leaves the library: running out of memory gives
 *     POLKAVM_OUT_OF_MEMORY, any other unexpected exception POLKAVM_ERROR.
 *
 * Threads
 *   Engines and modules are immutable once created and may be used from several threads at once (to create
 *   modules and instances). A linker may be shared by threads creating instances while nobody defines
 *   functions on it. An instance is used by one thread at a time. Host callbacks run on the thread that
 *   made the call.
 *
 * Configuration structs are plain C structs: always fill them with polkavm_config_init() or
 * polkavm_module_config_init() first (the defaults are not all zero), then change fields.
 */
#ifndef POLKAVM_POLKAVM_H
#define POLKAVM_POLKAVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "polkavm/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------- */
/* Status and errors                                                                                    */
/* ---------------------------------------------------------------------------------------------------- */

/** What a fallible call returns: POLKAVM_OK, or what went wrong. */
typedef enum polkavm_status {
  /** Success. */
  POLKAVM_OK = 0,
  /** The guest trapped (or called an import nobody defined). */
  POLKAVM_TRAP = 1,
  /** The guest ran out of gas; after polkavm_instance_set_gas(), polkavm_instance_continue() resumes
   *  (sync metering). */
  POLKAVM_NOT_ENOUGH_GAS = 2,
  /** Step tracing stopped the guest before an instruction; polkavm_instance_continue() resumes. */
  POLKAVM_STEP = 3,
  /** A host callback returned a failure; polkavm_last_error() is the message it set. */
  POLKAVM_USER_ERROR = 4,
  /** The VM failed: a bad blob, an unknown export, an inaccessible memory range, a broken sandbox, ... */
  POLKAVM_ERROR = 5,
  /** A NULL handle or pointer, an out-of-range value, or a call the handle's state does not allow. */
  POLKAVM_INVALID_ARGUMENT = 6,
  /** Memory could not be allocated. */
  POLKAVM_OUT_OF_MEMORY = 7
} polkavm_status;

/** The message of the latest failing polkavm_* call on this thread ("" if none yet). Never NULL. The
 *  string is owned by the library and stays valid until the next failing polkavm_* call on this thread. */
POLKAVM_API const char* polkavm_last_error(void);

/** The enumerator's name ("POLKAVM_OK", "POLKAVM_TRAP", ...); "POLKAVM_<unknown>" for other values. Static
 *  storage; never NULL. */
POLKAVM_API const char* polkavm_status_name(polkavm_status status);

/** What kind of failure the latest one was (the C++ polkavm::ErrorKind), for code to branch on. */
typedef enum polkavm_error_kind {
  /** None of the below (and every failure that is not a POLKAVM_ERROR, POLKAVM_USER_ERROR or
   *  POLKAVM_INVALID_ARGUMENT). */
  POLKAVM_ERROR_KIND_OTHER = 0,
  /** A wrong call or value: a bad setting, an unknown export, a NULL or out-of-range argument. */
  POLKAVM_ERROR_KIND_INVALID_ARGUMENT = 1,
  /** A setting or feature this build, host or kernel does not provide. */
  POLKAVM_ERROR_KIND_UNSUPPORTED = 2,
  /** A program blob that does not parse or validate. */
  POLKAVM_ERROR_KIND_INVALID_BLOB = 3,
  /** A host access to guest memory the guest cannot reach. */
  POLKAVM_ERROR_KIND_MEMORY_ACCESS = 4,
  /** The sandbox failed: a worker died, was stopped or reported something impossible. */
  POLKAVM_ERROR_KIND_SANDBOX = 5,
  /** The kernel refused memory, address space or mappings. */
  POLKAVM_ERROR_KIND_RESOURCE_EXHAUSTED = 6,
  /** Cross-checking (polkavm_config.crosscheck): the compiled code and the interpreter disagreed. */
  POLKAVM_ERROR_KIND_DIVERGENCE = 7
} polkavm_error_kind;

/** The kind of the latest failing polkavm_* call on this thread (POLKAVM_ERROR_KIND_OTHER if none yet). */
POLKAVM_API polkavm_error_kind polkavm_last_error_kind(void);

/* ---------------------------------------------------------------------------------------------------- */
/* Engine                                                                                               */
/* ---------------------------------------------------------------------------------------------------- */

/** What runs guest code (the C++ polkavm::BackendKind). */
typedef enum polkavm_backend {
  /** The compiler where it runs (Linux, x86-64 with BMI1/BMI2/LZCNT/POPCNT, a usable sandbox), else the
   *  interpreter. */
  POLKAVM_BACKEND_AUTO = 0,
  POLKAVM_BACKEND_INTERPRETER = 1,
  POLKAVM_BACKEND_COMPILER = 2
} polkavm_backend;

/** Where compiled code runs (the C++ polkavm::SandboxKind). */
typedef enum polkavm_sandbox {
  /** Linux where the kernel allows it, else generic if allow_experimental is set. */
  POLKAVM_SANDBOX_AUTO = 0,
  /** A namespaced, seccomp-filtered worker process per instance. */
  POLKAVM_SANDBOX_LINUX = 1,
  /** In this process, on the caller's thread (experimental; needs allow_experimental). */
  POLKAVM_SANDBOX_GENERIC = 2
} polkavm_sandbox;

/** How instances charge gas (the C++ polkavm::GasMeteringKind). */
typedef enum polkavm_gas_metering {
  /** No gas is charged. */
  POLKAVM_GAS_METERING_NONE = 0,
  /** Stops before the first block it cannot pay for; resumable after more gas is set. */
  POLKAVM_GAS_METERING_SYNC = 1,
  /** May overshoot; the call ends with POLKAVM_NOT_ENOUGH_GAS and cannot be resumed. */
  POLKAVM_GAS_METERING_ASYNC = 2,
  /** Module configuration only: the engine's default_gas_metering. */
  POLKAVM_GAS_METERING_ENGINE_DEFAULT = 3
} polkavm_gas_metering;

/** Where the Linux sandbox places host threads and workers (the C++ polkavm::CorePinning). */
typedef enum polkavm_core_pinning {
  /** The kernel schedules them. */
  POLKAVM_CORE_PINNING_DISABLED = 0,
  /** The host thread to its core, each worker to a core of its own. */
  POLKAVM_CORE_PINNING_PIN_TO_CORE = 1,
  /** The host thread to the cores sharing its last-level cache, each worker to a core of its own. */
  POLKAVM_CORE_PINNING_PIN_TO_CCX = 2
} polkavm_core_pinning;

/** Engine settings (the C++ polkavm::Config; the default cost model is the naive one). */
typedef struct polkavm_config {
  polkavm_backend backend;                   /**< default POLKAVM_BACKEND_AUTO */
  polkavm_sandbox sandbox;                   /**< default POLKAVM_SANDBOX_AUTO */
  /** Allows the experimental settings: the generic sandbox, sandboxing_enabled = false. */
  bool allow_experimental;                   /**< default false */
  /** Allows modules with dynamic_paging. */
  bool allow_dynamic_paging;                 /**< default false */
  /** Idle Linux sandbox workers kept ready. */
  uint32_t worker_count;                     /**< default 2 */
  /** false: Linux sandbox workers start without isolation (debugging; needs allow_experimental). */
  bool sandboxing_enabled;                   /**< default true */
  /** Gas metering for modules that do not choose one (not POLKAVM_GAS_METERING_ENGINE_DEFAULT). */
  polkavm_gas_metering default_gas_metering; /**< default POLKAVM_GAS_METERING_NONE */
  /** Runs an interpreter beside the compiled code; a run where they disagree fails with
   *  POLKAVM_ERROR_KIND_DIVERGENCE (needs the compiler backend and allow_experimental). */
  bool crosscheck;                           /**< default false */
  /** Pins host threads and workers (the Linux sandbox only; refused elsewhere). */
  polkavm_core_pinning core_pinning;         /**< default POLKAVM_CORE_PINNING_DISABLED */
  /** The most host memory compiling one module may take, in bytes (0: no limit); more is an error of kind
   *  POLKAVM_ERROR_KIND_RESOURCE_EXHAUSTED. */
  uint64_t compile_memory_limit;             /**< default 512 MiB */
} polkavm_config;

/** Fills `config` with the defaults. Does nothing if `config` is NULL. */
POLKAVM_API void polkavm_config_init(polkavm_config* config);

/** An engine handle (the C++ polkavm::Engine): backend, sandbox and settings its modules share. */
typedef struct polkavm_engine polkavm_engine;

/** Creates an engine. `config` NULL: the defaults. On success `*out` is a new engine (free it with
 *  polkavm_engine_free). Fails with POLKAVM_ERROR when the configuration is refused (e.g. the compiler
 *  backend on a host that cannot run it), POLKAVM_INVALID_ARGUMENT for out-of-range enum values. */
POLKAVM_API polkavm_status polkavm_engine_new(const polkavm_config* config, polkavm_engine** out);

/** Creates an engine from the defaults overridden by the environment (POLKAVM_BACKEND, POLKAVM_SANDBOX,
 *  POLKAVM_ALLOW_EXPERIMENTAL, POLKAVM_WORKER_COUNT, POLKAVM_SANDBOXING_ENABLED,
 *  POLKAVM_DEFAULT_COST_MODEL, ...; see polkavm::Config::from_env). A bad value is POLKAVM_ERROR. */
POLKAVM_API polkavm_status polkavm_engine_new_from_env(polkavm_engine** out);

/** The backend the engine chose (never AUTO). */
POLKAVM_API polkavm_status polkavm_engine_backend(const polkavm_engine* engine, polkavm_backend* out);

/** Where compiled code runs: LINUX or GENERIC (GENERIC for the interpreter, which runs in-process). */
POLKAVM_API polkavm_status polkavm_engine_sandbox(const polkavm_engine* engine, polkavm_sandbox* out);

/** Releases the engine handle (modules and instances created from it stay usable). NULL: no-op. */
POLKAVM_API void polkavm_engine_free(polkavm_engine* engine);

/* ---------------------------------------------------------------------------------------------------- */
/* Module                                                                                               */
/* ---------------------------------------------------------------------------------------------------- */

/** Module settings (the C++ polkavm::ModuleConfig; the cost model is the engine's default). */
typedef struct polkavm_module_config {
  /** The guest page size: a power of two from 4 KiB to 64 KiB. */
  uint32_t page_size;                /**< default 0x1000 */
  /** Gas metering for this module's instances. */
  polkavm_gas_metering gas_metering; /**< default POLKAVM_GAS_METERING_ENGINE_DEFAULT */
  /** Imports nobody defines are errors at instantiation (instead of traps when called). */
  bool strict;                       /**< default false */
  /** POLKAVM_STEP before every instruction. */
  bool step_tracing;                 /**< default false */
  /** Needs the engine's allow_dynamic_paging. */
  bool dynamic_paging;               /**< default false */
  /** Size of the aux data region (rounded up to whole pages): the guest reads it, the host may also write it. */
  uint32_t aux_data_size;            /**< default 0 */
  /** A fallthrough into the end of code reaches the implicit trap there, charged as a block of its own
   *  (the Gray Paper's rule); false: it traps at the fallthrough (the reference's rule). */
  bool gray_paper_end_of_code;       /**< default false */
} polkavm_module_config;

/** Fills `config` with the defaults. Does nothing if `config` is NULL. */
POLKAVM_API void polkavm_module_config_init(polkavm_module_config* config);

/** A module handle (the C++ polkavm::Module): a validated program, ready to instantiate. */
typedef struct polkavm_module polkavm_module;

/** Parses and validates a program blob (".polkavm" bytes; copied, so `blob` may be freed afterwards).
 *  `config` NULL: the defaults. `blob` may be NULL only if `blob_length` is 0 (which then fails with
 *  POLKAVM_ERROR as an invalid blob). On success `*out` is a new module (free it with polkavm_module_free). */
POLKAVM_API polkavm_status polkavm_module_new(const polkavm_engine* engine, const polkavm_module_config* config,
                                  const uint8_t* blob, size_t blob_length, polkavm_module** out);

/** Whether the program uses 64-bit registers (else 32-bit: register values are 32-bit, sign-extended). */
POLKAVM_API polkavm_status polkavm_module_is_64_bit(const polkavm_module* module, bool* out);

/** The number of exports. */
POLKAVM_API polkavm_status polkavm_module_export_count(const polkavm_module* module, size_t* out);

/** Export number `index`: its name (NUL-terminated, valid while the module lives) and, if `pc` is not NULL,
 *  its program counter. An index out of range is POLKAVM_INVALID_ARGUMENT. */
POLKAVM_API polkavm_status polkavm_module_export(const polkavm_module* module, size_t index, const char** name, uint32_t* pc);

/** The program counter of the export `name` (the first of that name). POLKAVM_ERROR if there is none. */
POLKAVM_API polkavm_status polkavm_module_export_pc(const polkavm_module* module, const char* name, uint32_t* out);

/** The number of imports (host functions the program may call). */
POLKAVM_API polkavm_status polkavm_module_import_count(const polkavm_module* module, size_t* out);

/** The name of import number `index` (valid while the module lives). */
POLKAVM_API polkavm_status polkavm_module_import(const polkavm_module* module, size_t index, const char** name);

/** Releases the module handle (instances created from it stay usable). NULL: no-op. */
POLKAVM_API void polkavm_module_free(polkavm_module* module);

/* ---------------------------------------------------------------------------------------------------- */
/* Linker and host functions                                                                            */
/* ---------------------------------------------------------------------------------------------------- */

/** Registers, in the reference's numbering (r0..r12). */
typedef enum polkavm_reg {
  POLKAVM_REG_RA = 0,
  POLKAVM_REG_SP = 1,
  POLKAVM_REG_T0 = 2,
  POLKAVM_REG_T1 = 3,
  POLKAVM_REG_T2 = 4,
  POLKAVM_REG_S0 = 5,
  POLKAVM_REG_S1 = 6,
  POLKAVM_REG_A0 = 7,
  POLKAVM_REG_A1 = 8,
  POLKAVM_REG_A2 = 9,
  POLKAVM_REG_A3 = 10,
  POLKAVM_REG_A4 = 11,
  POLKAVM_REG_A5 = 12
} polkavm_reg;

/** A linker handle: host functions by import name, plus an optional fallback. */
typedef struct polkavm_linker polkavm_linker;
/** An instance handle: one running program, created through a linker. */
typedef struct polkavm_instance polkavm_instance;
/** What a host callback is given: the calling instance and the call's user data (borrowed). */
typedef struct polkavm_caller polkavm_caller;

/** A host function. It reads its arguments from a0..a5, t0..t2 and writes its results to a0 (a1) through
 *  `caller`. `user_pointer` is the pointer given when it was defined. POLKAVM_OK lets the guest continue;
 *  anything else ends the call with POLKAVM_USER_ERROR and the message set with polkavm_caller_set_error()
 *  (or a default message naming the function). It must not unwind (no longjmp or C++ exception out of it;
 *  a C++ exception is caught and turned into POLKAVM_USER_ERROR). */
typedef polkavm_status (*polkavm_host_function)(polkavm_caller* caller, void* user_pointer);

/** Called for an import no host function was defined for, with the import's index (see
 *  polkavm_module_import). Same rules as polkavm_host_function. */
typedef polkavm_status (*polkavm_fallback_function)(polkavm_caller* caller, uint32_t import_index,
                                                    void* user_pointer);

/** Creates an empty linker. On success `*out` is a new linker (free it with polkavm_linker_free). */
POLKAVM_API polkavm_status polkavm_linker_new(polkavm_linker** out);

/** Defines the host function for the import `name` (copied). `user_pointer` is passed to every call of it
 *  (may be NULL). Defining a name twice is POLKAVM_ERROR. Affects instances created afterwards only. */
POLKAVM_API polkavm_status polkavm_linker_define(polkavm_linker* linker, const char* name, polkavm_host_function function,
                                     void* user_pointer);

/** Sets (or replaces) the fallback for imports without a host function. Without a fallback, calling such an
 *  import traps (and a strict module fails to instantiate). Affects instances created afterwards only. */
POLKAVM_API polkavm_status polkavm_linker_define_fallback(polkavm_linker* linker, polkavm_fallback_function function,
                                              void* user_pointer);

/** Resolves the module's imports and exports against the linker's host functions and creates an instance.
 *  Fails with POLKAVM_ERROR when a strict module has an import nobody answers (or a duplicate export), or
 *  when the instance cannot be created. On success `*out` is a new instance (free it with
 *  polkavm_instance_free). The linker and the module may be freed afterwards. */
POLKAVM_API polkavm_status polkavm_linker_instantiate(const polkavm_linker* linker, const polkavm_module* module,
                                          polkavm_instance** out);

/** Releases the linker (instances created through it keep their host functions). NULL: no-op. */
POLKAVM_API void polkavm_linker_free(polkavm_linker* linker);

/* Inside a host callback. `caller` is valid only until the callback returns. */

/** The calling instance (the very handle the call was made on). During the callback it may be used with
 *  every polkavm_instance_* function (registers, memory, gas, ...) except those that start or redirect
 *  execution (call, continue, prepare_call, prepare_call_pc, run, set_next_program_counter: they return
 *  POLKAVM_INVALID_ARGUMENT) and free (refused; the instance stays valid). NULL if `caller` is NULL. */
POLKAVM_API polkavm_instance* polkavm_caller_instance(polkavm_caller* caller);

/** The `user_data` given to the call being answered (NULL if `caller` is NULL). */
POLKAVM_API void* polkavm_caller_user_data(const polkavm_caller* caller);

/** Sets the message the call fails with if the callback returns a failure status (copied; the latest one
 *  wins). `message` NULL: an empty message. */
POLKAVM_API polkavm_status polkavm_caller_set_error(polkavm_caller* caller, const char* message);

/** Shorthands for the calling instance's registers and memory (see the polkavm_instance_* functions). */
POLKAVM_API polkavm_status polkavm_caller_get_reg(const polkavm_caller* caller, polkavm_reg reg, uint64_t* out);
/** Sets a register of the calling instance (see polkavm_instance_set_reg). */
POLKAVM_API polkavm_status polkavm_caller_set_reg(polkavm_caller* caller, polkavm_reg reg, uint64_t value);
/** Reads memory of the calling instance (see polkavm_instance_read_memory). */
POLKAVM_API polkavm_status polkavm_caller_read_memory(const polkavm_caller* caller, uint32_t address, void* out,
                                          uint32_t length);
/** Writes memory of the calling instance (see polkavm_instance_write_memory). */
POLKAVM_API polkavm_status polkavm_caller_write_memory(polkavm_caller* caller, uint32_t address, const void* data,
                                           uint32_t length);

/* ---------------------------------------------------------------------------------------------------- */
/* Instance                                                                                             */
/* ---------------------------------------------------------------------------------------------------- */

/** The most arguments a call takes (a0..a5, t0..t2). */
#define POLKAVM_MAX_CALL_ARGS 9

/** Calls the export `name`: registers cleared, RA = 0xFFFF0000, SP = the stack top, `args[i]` (raw register
 *  values, at most POLKAVM_MAX_CALL_ARGS; `args` may be NULL if `arg_count` is 0) in a0..a5 then t0..t2.
 *  Runs until it returns, answering the guest's host calls with the linker's callbacks (which get
 *  `user_data` through polkavm_caller_user_data) and the page faults of dynamic paging as the reference does.
 *  On POLKAVM_OK, `*a0` and `*a1` (each may be NULL) are the raw a0 and a1 registers: a 32-bit result is the
 *  low 32 bits of a0; a 64-bit result in a 32-bit program is a0 (low) and a1 (high).
 *  Fails with POLKAVM_TRAP, POLKAVM_NOT_ENOUGH_GAS, POLKAVM_STEP (resumable with polkavm_instance_continue),
 *  POLKAVM_USER_ERROR (a callback failed), POLKAVM_ERROR (no such export, a VM failure), with the message in
 *  polkavm_last_error(). */
POLKAVM_API polkavm_status polkavm_instance_call(polkavm_instance* instance, const char* name, const uint64_t* args,
                                     size_t arg_count, void* user_data, uint64_t* a0, uint64_t* a1);

/** Continues a call interrupted by POLKAVM_NOT_ENOUGH_GAS (after polkavm_instance_set_gas, sync metering) or
 *  POLKAVM_STEP until it returns; statuses and results as polkavm_instance_call. */
POLKAVM_API polkavm_status polkavm_instance_continue(polkavm_instance* instance, void* user_data, uint64_t* a0, uint64_t* a1);

/* The raw loop: prepare a call, then run until an interrupt and answer it yourself (host calls are NOT
 * answered by the linker's callbacks here). */

/** What stopped polkavm_instance_run. */
typedef enum polkavm_interrupt_kind {
  POLKAVM_INTERRUPT_FINISHED = 0,       /**< the call returned */
  POLKAVM_INTERRUPT_TRAP = 1,
  POLKAVM_INTERRUPT_ECALLI = 2,         /**< a host call: `hostcall` is the import index; set results, run again */
  POLKAVM_INTERRUPT_SEGFAULT = 3,       /**< dynamic paging: the page at `segfault_page_address` is not mapped */
  POLKAVM_INTERRUPT_NOT_ENOUGH_GAS = 4,
  POLKAVM_INTERRUPT_STEP = 5
} polkavm_interrupt_kind;

/** An interrupt: what stopped polkavm_instance_run, and its details. */
typedef struct polkavm_interrupt {
  polkavm_interrupt_kind kind;        /**< what stopped the run */
  uint32_t hostcall;                  /**< ECALLI: the immediate (the import index) */
  uint32_t segfault_page_address;     /**< SEGFAULT: the page's address */
  uint32_t segfault_page_size;        /**< SEGFAULT: the module's page size */
  bool segfault_is_write_protected;   /**< SEGFAULT: the page is read-only and the access was a write */
} polkavm_interrupt;

/** Sets up a call of the export `name` as polkavm_instance_call does, without running it. */
POLKAVM_API polkavm_status polkavm_instance_prepare_call(polkavm_instance* instance, const char* name, const uint64_t* args,
                                             size_t arg_count);

/** Sets up a call at the program counter `pc` (a basic block start). */
POLKAVM_API polkavm_status polkavm_instance_prepare_call_pc(polkavm_instance* instance, uint32_t pc, const uint64_t* args,
                                                size_t arg_count);

/** Runs from the next program counter until an interrupt, stored in `*out`. POLKAVM_OK whatever the
 *  interrupt (a trap is an interrupt here, not a failure); POLKAVM_ERROR if there is nothing to run or the
 *  VM failed. */
POLKAVM_API polkavm_status polkavm_instance_run(polkavm_instance* instance, polkavm_interrupt* out);

/** The program counter of the interrupted instruction; POLKAVM_ERROR if there is none (after FINISHED, or
 *  before the first run). */
POLKAVM_API polkavm_status polkavm_instance_program_counter(const polkavm_instance* instance, uint32_t* out);

/** Sets where the next run starts. */
POLKAVM_API polkavm_status polkavm_instance_set_next_program_counter(polkavm_instance* instance, uint32_t pc);

/** Register access. A register out of range is POLKAVM_INVALID_ARGUMENT. */
POLKAVM_API polkavm_status polkavm_instance_get_reg(const polkavm_instance* instance, polkavm_reg reg, uint64_t* out);
/** Sets a register (sign-extended from 32 bits in a 32-bit program). */
POLKAVM_API polkavm_status polkavm_instance_set_reg(polkavm_instance* instance, polkavm_reg reg, uint64_t value);

/** Copies `length` bytes of guest memory at `address` into `out`. POLKAVM_ERROR if any of it is not
 *  readable by the guest. `out` may be NULL only if `length` is 0. */
POLKAVM_API polkavm_status polkavm_instance_read_memory(const polkavm_instance* instance, uint32_t address, void* out,
                                            uint32_t length);

/** Copies `length` bytes from `data` into guest memory at `address`. POLKAVM_ERROR if any of it is not
 *  accessible. `data` may be NULL only if `length` is 0. */
POLKAVM_API polkavm_status polkavm_instance_write_memory(polkavm_instance* instance, uint32_t address, const void* data,
                                             uint32_t length);

/** Zeroes `length` bytes of guest memory at `address`. */
POLKAVM_API polkavm_status polkavm_instance_zero_memory(polkavm_instance* instance, uint32_t address, uint32_t length);

/** Restores the initial RO/RW data and empties the heap and stack. */
POLKAVM_API polkavm_status polkavm_instance_reset_memory(polkavm_instance* instance);

/** Grows the heap by `size` bytes; `*new_heap_top` (may be NULL) is the new top. POLKAVM_ERROR if the heap
 *  cannot grow that much. */
POLKAVM_API polkavm_status polkavm_instance_sbrk(polkavm_instance* instance, uint32_t size, uint32_t* new_heap_top);

/** The gas left (negative after async metering overshot). */
POLKAVM_API polkavm_status polkavm_instance_get_gas(const polkavm_instance* instance, int64_t* out);

/** Sets the gas left. */
POLKAVM_API polkavm_status polkavm_instance_set_gas(polkavm_instance* instance, int64_t gas);

/** Turns POLKAVM_STEP interrupts (one before every instruction) on or off. */
POLKAVM_API polkavm_status polkavm_instance_set_step_tracing(polkavm_instance* instance, bool enabled);

/** Releases the instance (its sandbox worker, memory and host functions). NULL: no-op. On the instance of a
 *  running callback it does nothing but set polkavm_last_error() (the call goes on; free it afterwards). */
POLKAVM_API void polkavm_instance_free(polkavm_instance* instance);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* POLKAVM_POLKAVM_H */
