/*
 * polkavm/guest.h: write PolkaVM guest programs in C or C++.
 *
 * A guest is a RISC-V ELF (rv64emac/lp64e or rv32emac/ilp32e) that `polkatool link` turns into a
 * .polkavm blob. The linker learns about the guest's interface from three things this header emits:
 *
 *   .polkavm_metadata        one packed record per import/export (name, register counts, optional index)
 *   .polkavm_exports         one record per export: version byte 1, pointer to its metadata, pointer to code
 *   an import stub in code   the custom-0 instruction 0x0000000b followed by a pointer-sized field that is
 *                            relocated against the import's metadata; the linker turns it into `ecalli N`
 *
 * plus .polkavm_min_stack_size (u32 values, the largest wins). The byte layout is the reference
 * PolkaVM's (v0.35), so ELFs built with this header link with the reference `polkatool link` too.
 * docs/GUESTS.md has the full description.
 *
 * Usage (identical spelling to the reference's C header, capi/polkavm_guest.h):
 *
 *   POLKAVM_IMPORT(uint64_t, get_value, uint32_t)          // host function `get_value`
 *   POLKAVM_IMPORT_WITH_INDEX(7, void, log_u64, uint64_t)   // host function with a fixed ecalli number
 *
 *   uint32_t run(uint32_t n) { return get_value(n) + 1; }
 *   POLKAVM_EXPORT(uint32_t, run, uint32_t)                 // after the definition
 *
 *   POLKAVM_MIN_STACK_SIZE(64 * 1024)
 *
 * Types: parameters and results must be 32- or 64-bit integers or pointers (results may be void), at
 * most 6 argument registers and 2 result registers. A 64-bit value takes two registers on rv32.
 *
 * When the header is compiled for anything but a PolkaVM target (e.g. the host compiler), the macros
 * turn into plain C declarations: an import becomes an extern function the native program supplies,
 * an export becomes nothing. The same source then builds natively for comparison and testing.
 */
#ifndef POLKAVM_GUEST_H
#define POLKAVM_GUEST_H

#include <stddef.h>
#include <stdint.h>

#if defined(__riscv) && defined(__riscv_e)
#define POLKAVM_GUEST_TARGET 1
#else
#define POLKAVM_GUEST_TARGET 0
#endif

#ifdef __cplusplus
#define POLKAVM_EXTERN_C extern "C"
#define POLKAVM_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define POLKAVM_EXTERN_C
#define POLKAVM_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Preprocessor helpers: count and map over up to 6 type arguments.                                */

#define POLKAVM_CAT_(a, b) a##b
#define POLKAVM_CAT(a, b) POLKAVM_CAT_(a, b)
#define POLKAVM_UNIQUE(prefix) POLKAVM_CAT(prefix, __COUNTER__)

#define POLKAVM_NARGS_(a, b, c, d, e, f, n, ...) n
#define POLKAVM_NARGS(...) POLKAVM_NARGS_(__VA_OPT__(__VA_ARGS__, ) 6, 5, 4, 3, 2, 1, 0, ~)

/* POLKAVM_MAP(M, T0, T1, ...) expands to M(T0, 0) M(T1, 1) ... */
#define POLKAVM_MAP_0(M, ...)
#define POLKAVM_MAP_1(M, a) M(a, 0)
#define POLKAVM_MAP_2(M, a, b) M(a, 0) M(b, 1)
#define POLKAVM_MAP_3(M, a, b, c) M(a, 0) M(b, 1) M(c, 2)
#define POLKAVM_MAP_4(M, a, b, c, d) M(a, 0) M(b, 1) M(c, 2) M(d, 3)
#define POLKAVM_MAP_5(M, a, b, c, d, e) M(a, 0) M(b, 1) M(c, 2) M(d, 3) M(e, 4)
#define POLKAVM_MAP_6(M, a, b, c, d, e, f) M(a, 0) M(b, 1) M(c, 2) M(d, 3) M(e, 4) M(f, 5)
#define POLKAVM_MAP(M, ...) POLKAVM_CAT(POLKAVM_MAP_, POLKAVM_NARGS(__VA_ARGS__))(M __VA_OPT__(, ) __VA_ARGS__)

/* A parameter list from a list of types: `void` when there are none. */
#define POLKAVM_PARAMS_0() void
#define POLKAVM_PARAMS_1(...) __VA_ARGS__
#define POLKAVM_PARAMS_2(...) __VA_ARGS__
#define POLKAVM_PARAMS_3(...) __VA_ARGS__
#define POLKAVM_PARAMS_4(...) __VA_ARGS__
#define POLKAVM_PARAMS_5(...) __VA_ARGS__
#define POLKAVM_PARAMS_6(...) __VA_ARGS__
#define POLKAVM_PARAMS(...) POLKAVM_CAT(POLKAVM_PARAMS_, POLKAVM_NARGS(__VA_ARGS__))(__VA_ARGS__)

/* The same with parameter names (C before C23 wants names in a definition). */
#define POLKAVM_NAMED_0() void
#define POLKAVM_NAMED_1(a) a p0
#define POLKAVM_NAMED_2(a, b) a p0, b p1
#define POLKAVM_NAMED_3(a, b, c) a p0, b p1, c p2
#define POLKAVM_NAMED_4(a, b, c, d) a p0, b p1, c p2, d p3
#define POLKAVM_NAMED_5(a, b, c, d, e) a p0, b p1, c p2, d p3, e p4
#define POLKAVM_NAMED_6(a, b, c, d, e, f) a p0, b p1, c p2, d p3, e p4, f p5
#define POLKAVM_NAMED_PARAMS(...) POLKAVM_CAT(POLKAVM_NAMED_, POLKAVM_NARGS(__VA_ARGS__))(__VA_ARGS__)

/* sizeof that is 0 for void, and the number of registers a value of that type occupies. */
#ifdef __cplusplus
template <typename T> struct polkavm_size_of { static constexpr unsigned value = sizeof(T); };
template <> struct polkavm_size_of<void> { static constexpr unsigned value = 0; };
#define POLKAVM_SIZE_OF(T) (polkavm_size_of<T>::value)
#define POLKAVM_SAME_TYPE(A, B) __is_same(A, B)
#else
#define POLKAVM_SIZE_OF(T) __builtin_choose_expr(__builtin_types_compatible_p(T, void), 0u, sizeof(T))
#define POLKAVM_SAME_TYPE(A, B) __builtin_types_compatible_p(A, B)
#endif
#define POLKAVM_REGS_OF(T) ((POLKAVM_SIZE_OF(T) + sizeof(void*) - 1) / sizeof(void*))

#define POLKAVM_PLUS_REGS_(T, i) +POLKAVM_REGS_OF(T)
#define POLKAVM_INPUT_REGS(...) (0 POLKAVM_MAP(POLKAVM_PLUS_REGS_, __VA_ARGS__))

#define POLKAVM_ARG_OK_(T, i) &&(POLKAVM_SIZE_OF(T) == 4 || POLKAVM_SIZE_OF(T) == 8)
#define POLKAVM_ARGS_OK(...) (1 POLKAVM_MAP(POLKAVM_ARG_OK_, __VA_ARGS__))
#define POLKAVM_RESULT_OK(T) (POLKAVM_SIZE_OF(T) == 0 || POLKAVM_SIZE_OF(T) == 4 || POLKAVM_SIZE_OF(T) == 8)

/* Bit i is set when argument i is 32 bits wide (on rv64 every argument takes exactly one register). */
#define POLKAVM_SEXT_BIT_(T, i) | ((POLKAVM_SIZE_OF(T) == 4 ? 1u : 0u) << i)
#define POLKAVM_SEXT_MASK(...) (0u POLKAVM_MAP(POLKAVM_SEXT_BIT_, __VA_ARGS__))

#define POLKAVM_CHECK_SIGNATURE_(ret_ty, fn_name, ...)                                                   \
  POLKAVM_STATIC_ASSERT(POLKAVM_NARGS(__VA_ARGS__) <= 6 && POLKAVM_INPUT_REGS(__VA_ARGS__) <= 6,         \
                        "PolkaVM: '" #fn_name "' needs more than 6 argument registers");                 \
  POLKAVM_STATIC_ASSERT(POLKAVM_ARGS_OK(__VA_ARGS__),                                                    \
                        "PolkaVM: arguments of '" #fn_name "' must be 32/64-bit integers or pointers");  \
  POLKAVM_STATIC_ASSERT(POLKAVM_RESULT_OK(ret_ty),                                                       \
                        "PolkaVM: the result of '" #fn_name "' must be void, a 32/64-bit integer or a pointer")

/* ---------------------------------------------------------------------------------------------- */
/* Metadata records (reference: polkavm-derive-impl ExternMetadataV1/V2, #[repr(C, packed)]).      */

#if POLKAVM_GUEST_TARGET

struct polkavm_metadata_v1 {
  uint8_t version; /* 1 */
  uint32_t flags;  /* must be 0 */
  uint32_t symbol_length;
  const char* symbol; /* not NUL-terminated as far as the linker is concerned */
  uint8_t input_regs;
  uint8_t output_regs;
} __attribute__((packed));

struct polkavm_metadata_v2 {
  uint8_t version; /* 2 */
  uint32_t flags;
  uint32_t symbol_length;
  const char* symbol;
  uint8_t input_regs;
  uint8_t output_regs;
  uint8_t has_index;
  uint32_t index; /* the ecalli number, when has_index != 0 */
} __attribute__((packed));

POLKAVM_STATIC_ASSERT(sizeof(struct polkavm_metadata_v1) == 11 + sizeof(void*), "metadata v1 layout");
POLKAVM_STATIC_ASSERT(sizeof(struct polkavm_metadata_v2) == 16 + sizeof(void*), "metadata v2 layout");

/*
 * Pointer-sized fields that the linker reads through their relocations. The default is the form the
 * reference's Rust macros emit: `auipc zero, %pcrel_hi(sym)` (R_RISCV_PCREL_HI20, padded to 8 bytes on
 * rv64), which needs no text relocations. Define POLKAVM_GUEST_ABSOLUTE_POINTERS to get the reference
 * C header's form instead, a plain .quad/.word (R_RISCV_64/R_RISCV_32). The reference linker accepts
 * both; the linked programs are the same.
 */
#if defined(POLKAVM_GUEST_ABSOLUTE_POINTERS)
#if __riscv_xlen == 64
#define POLKAVM_POINTER_(operand) ".quad " operand "\n"
#else
#define POLKAVM_POINTER_(operand) ".word " operand "\n"
#endif
#define POLKAVM_ECALLI_OPCODE_ ".word 0x0000000b\n"
#else
#if __riscv_xlen == 64
#define POLKAVM_POINTER_(operand) "auipc zero, %%pcrel_hi(" operand ")\n.4byte 0\n"
#else
#define POLKAVM_POINTER_(operand) "auipc zero, %%pcrel_hi(" operand ")\n"
#endif
#define POLKAVM_ECALLI_OPCODE_ ".insn r 0xb, 0, 0, zero, zero, zero\n"
#endif

/*
 * rv64 keeps 32-bit values sign-extended in registers (psABI), and compiled code relies on it. The
 * host writes 32-bit results and arguments as it likes (the reference zero-extends), so 32-bit results
 * of imports and 32-bit arguments of exports are sign-extended here, as the Rust macros do by casting.
 */
#if __riscv_xlen == 64
#define POLKAVM_SEXT_ARGS_                                                                               \
  ".if %[sext] & 1\naddiw a0, a0, 0\n.endif\n.if %[sext] & 2\naddiw a1, a1, 0\n.endif\n"                 \
  ".if %[sext] & 4\naddiw a2, a2, 0\n.endif\n.if %[sext] & 8\naddiw a3, a3, 0\n.endif\n"                 \
  ".if %[sext] & 16\naddiw a4, a4, 0\n.endif\n.if %[sext] & 32\naddiw a5, a5, 0\n.endif\n"
#else
#define POLKAVM_SEXT_ARGS_ ""
#endif

#define POLKAVM_METADATA_NAME_(fn_name) POLKAVM_CAT(fn_name, __polkavm_metadata)

/* The call stub: `ecalli` + pointer to the metadata, then the return. Never inlined (naked). */
#define POLKAVM_IMPORT_STUB_(ret_ty, fn_name, ...)                                                       \
  static ret_ty __attribute__((naked, unused, noinline)) fn_name(POLKAVM_NAMED_PARAMS(__VA_ARGS__)) {    \
    __asm__ volatile(POLKAVM_ECALLI_OPCODE_ POLKAVM_POINTER_("%[metadata]")                              \
                     ".if %[sext]\naddiw a0, a0, 0\n.endif\n"                                            \
                     "ret\n"                                                                             \
                     :                                                                                   \
                     : [metadata] "i"(&POLKAVM_METADATA_NAME_(fn_name)),                                 \
                       [sext] "i"(__riscv_xlen == 64 && POLKAVM_SIZE_OF(ret_ty) == 4)                    \
                     : "memory");                                                                        \
  }

/* Declares `static ret_ty fn_name(types...)`, a call to the host function named "fn_name". */
#define POLKAVM_IMPORT(ret_ty, fn_name, ...)                                                             \
  POLKAVM_CHECK_SIGNATURE_(ret_ty, fn_name, __VA_ARGS__);                                                \
  static struct polkavm_metadata_v1 POLKAVM_METADATA_NAME_(fn_name)                                      \
      __attribute__((section(".polkavm_metadata"))) = {                                                  \
          1, 0, sizeof(#fn_name) - 1, #fn_name, (uint8_t)POLKAVM_INPUT_REGS(__VA_ARGS__),                \
          (uint8_t)POLKAVM_REGS_OF(ret_ty)};                                                             \
  POLKAVM_IMPORT_STUB_(ret_ty, fn_name, __VA_ARGS__)

/* Like POLKAVM_IMPORT, but the import gets the fixed number `index` (metadata version 2). */
#define POLKAVM_IMPORT_WITH_INDEX(index, ret_ty, fn_name, ...)                                           \
  POLKAVM_CHECK_SIGNATURE_(ret_ty, fn_name, __VA_ARGS__);                                                \
  static struct polkavm_metadata_v2 POLKAVM_METADATA_NAME_(fn_name)                                      \
      __attribute__((section(".polkavm_metadata"))) = {                                                  \
          2, 0, sizeof(#fn_name) - 1, #fn_name, (uint8_t)POLKAVM_INPUT_REGS(__VA_ARGS__),                \
          (uint8_t)POLKAVM_REGS_OF(ret_ty), 1, (uint32_t)(index)};                                       \
  POLKAVM_IMPORT_STUB_(ret_ty, fn_name, __VA_ARGS__)

/*
 * Exports the already defined function `fn_name`. On rv64 the export points at a small entry stub that
 * sign-extends 32-bit arguments and tail-calls the function; on rv32 it points at the function itself.
 */
#if __riscv_xlen == 64
#define POLKAVM_EXPORT_ENTRY_ "%[entry]"
#else
#define POLKAVM_EXPORT_ENTRY_ "%[function]"
#endif

#define POLKAVM_EXPORT(ret_ty, fn_name, ...)                                                             \
  POLKAVM_CHECK_SIGNATURE_(ret_ty, fn_name, __VA_ARGS__);                                                \
  POLKAVM_STATIC_ASSERT(POLKAVM_SAME_TYPE(__typeof__(&fn_name), ret_ty(*)(POLKAVM_PARAMS(__VA_ARGS__))), \
                        "PolkaVM: POLKAVM_EXPORT's types differ from the definition of '" #fn_name "'"); \
  static struct polkavm_metadata_v1 POLKAVM_METADATA_NAME_(fn_name)                                      \
      __attribute__((section(".polkavm_metadata"))) = {1,                                                \
                                                       0,                                                \
                                                       sizeof(#fn_name) - 1,                             \
                                                       #fn_name,                                         \
                                                       (uint8_t)POLKAVM_INPUT_REGS(__VA_ARGS__),         \
                                                       (uint8_t)POLKAVM_REGS_OF(ret_ty)};                \
  static void __attribute__((naked, used)) POLKAVM_CAT(fn_name, __polkavm_export)(void) {               \
    __asm__ volatile(".pushsection .polkavm_exports,\"Ra\",@note\n"                                      \
                     ".byte 1\n" POLKAVM_POINTER_("%[metadata]") POLKAVM_POINTER_(POLKAVM_EXPORT_ENTRY_) \
                     ".popsection\n"                                                                     \
                     ".if %[stub]\n" POLKAVM_SEXT_ARGS_ "tail %[function]\n.endif\n"                     \
                     :                                                                                   \
                     : [metadata] "i"(&POLKAVM_METADATA_NAME_(fn_name)),                                 \
                       [entry] "i"(&POLKAVM_CAT(fn_name, __polkavm_export)), [function] "i"(&fn_name),   \
                       [sext] "i"(POLKAVM_SEXT_MASK(__VA_ARGS__)), [stub] "i"(__riscv_xlen == 64)        \
                     : "memory");                                                                        \
  }

/* Asks the linker for a stack of at least `size` bytes (the largest request wins). */
#define POLKAVM_MIN_STACK_SIZE(size)                                                                     \
  static void __attribute__((naked, used)) POLKAVM_UNIQUE(polkavm_min_stack_size_)(void) {              \
    __asm__ volatile(".pushsection .polkavm_min_stack_size,\"R\",@note\n"                                \
                     ".4byte %[value]\n"                                                                 \
                     ".popsection\n"                                                                     \
                     :                                                                                   \
                     : [value] "i"((uint32_t)(size)));                                                   \
  }

/* ---------------------------------------------------------------------------------------------- */
/* Special instructions (custom-0 opcode 0x0b; the linker turns them into PolkaVM instructions).   */

/* Stops the program with a trap. */
#define POLKAVM_TRAP()                                                                                   \
  do {                                                                                                   \
    __asm__ volatile("unimp\n");                                                                         \
    __builtin_unreachable();                                                                             \
  } while (0)

__attribute__((noreturn, always_inline)) static inline void polkavm_trap(void) { POLKAVM_TRAP(); }

/*
 * Grows the heap by `size` bytes and returns the NEW top of the heap (not the old one), or 0 when the
 * heap cannot grow that far. polkavm_sbrk(0) returns the current top. (funct3 = 1: `sbrk dst, size`.)
 * The VM works on 32 bits: a 64-bit size of 2^32 or more would be read as 0 (the reference interpreter)
 * or truncated (its recompiler), so it is refused here; the result is cut to 32 bits because the
 * interpreter sign-extends it and the recompiler does not.
 */
__attribute__((always_inline)) static inline uintptr_t polkavm_sbrk(uintptr_t size) {
  uintptr_t top;
#if __riscv_xlen == 64
  if (size > 0xffffffffu) return 0;
#endif
  __asm__ volatile(".insn r 0xb, 1, 0, %[dst], %[size], zero\n" : [dst] "=r"(top) : [size] "r"(size) : "memory");
  return (uint32_t)top;
}

/* The address where the heap starts (the end of the program's read-write data). (funct3 = 3.) */
__attribute__((always_inline)) static inline void* polkavm_heap_base(void) {
  void* base;
  __asm__(".insn r 0xb, 3, 0, %[dst], zero, zero\n" : [dst] "=r"(base));
  return base;
}

/* Fills `count` bytes at `dst` with `value` in one instruction (`memset`, funct3 = 2; a0, a1, a2). */
__attribute__((always_inline)) static inline void polkavm_memset(void* dst, int value, size_t count) {
  register void* a0 __asm__("a0") = dst;
  register uintptr_t a1 __asm__("a1") = (uintptr_t)(unsigned char)value;
  register size_t a2 __asm__("a2") = count;
  __asm__ volatile(".insn r 0xb, 2, 0, zero, zero, zero\n" : "+r"(a0), "+r"(a2) : "r"(a1) : "memory");
}

#else /* !POLKAVM_GUEST_TARGET: a native build of the same source */

#define POLKAVM_IMPORT(ret_ty, fn_name, ...) POLKAVM_EXTERN_C ret_ty fn_name(POLKAVM_PARAMS(__VA_ARGS__));
#define POLKAVM_IMPORT_WITH_INDEX(index, ret_ty, fn_name, ...)                                           \
  POLKAVM_EXTERN_C ret_ty fn_name(POLKAVM_PARAMS(__VA_ARGS__));
#define POLKAVM_EXPORT(ret_ty, fn_name, ...) POLKAVM_CHECK_SIGNATURE_(ret_ty, fn_name, __VA_ARGS__);
#define POLKAVM_MIN_STACK_SIZE(size)
#define POLKAVM_TRAP() __builtin_trap()

__attribute__((noreturn)) static inline void polkavm_trap(void) { __builtin_trap(); }
/* There is no PolkaVM heap natively: sbrk always fails and native code uses the C library's malloc. */
static inline uintptr_t polkavm_sbrk(uintptr_t size) {
  (void)size;
  return 0;
}
static inline void* polkavm_heap_base(void) { return NULL; }
static inline void polkavm_memset(void* dst, int value, size_t count) { __builtin_memset(dst, value, count); }

#endif /* POLKAVM_GUEST_TARGET */

#endif /* POLKAVM_GUEST_H */
