/* Export and import macros for the linker tests' C guests, following the reference's metadata layout
 * (polkavm-derive: ExternMetadataV1/V2 in .polkavm_metadata, records in .polkavm_exports, and the import
 * stub `0x0000000b` + `auipc zero, %pcrel_hi(METADATA)`). On other targets they expand to nothing, so the
 * same source compiles natively into the test for comparison. */
#ifndef POLKAVM_TEST_GUEST_H
#define POLKAVM_TEST_GUEST_H

#include <stdint.h>

#if defined(__riscv)

#if __riscv_xlen == 64
#define POLKAVM_POINTER_PADDING ".4byte 0\n"
#else
#define POLKAVM_POINTER_PADDING ""
#endif

struct polkavm_metadata_v1 {
  unsigned char version;
  unsigned int flags;
  unsigned int symbol_length;
  const char* symbol;
  unsigned char input_regs;
  unsigned char output_regs;
} __attribute__((packed));

struct polkavm_metadata_v2 {
  unsigned char version;
  unsigned int flags;
  unsigned int symbol_length;
  const char* symbol;
  unsigned char input_regs;
  unsigned char output_regs;
  unsigned char has_index;
  unsigned int index;
} __attribute__((packed));

/* Exports the (non-static) function `fn`, which takes `nin` argument registers and returns `nout`. */
#define TEST_EXPORT(fn, nin, nout)                                                                  \
  static char polkavm_export_symbol_##fn[] __attribute__((section(".polkavm_metadata"))) = #fn;     \
  static struct polkavm_metadata_v1 polkavm_export_metadata_##fn                                    \
      __attribute__((section(".polkavm_metadata"), used)) = {1, 0, sizeof(#fn) - 1,                 \
                                                             polkavm_export_symbol_##fn, nin, nout}; \
  __asm__(".pushsection .polkavm_exports,\"Ra\",@note\n"                                            \
          ".byte 1\n"                                                                               \
          "auipc zero, %pcrel_hi(polkavm_export_metadata_" #fn ")\n" POLKAVM_POINTER_PADDING        \
          "auipc zero, %pcrel_hi(" #fn ")\n" POLKAVM_POINTER_PADDING ".popsection\n")

/* Declares `ret fn params` as the host function `symbol` (a string literal). */
#define TEST_IMPORT_NAMED(ret, fn, symbol, params, nin, nout, has_index, index)                      \
  static char polkavm_import_symbol_##fn[] __attribute__((section(".polkavm_metadata"))) = symbol;  \
  static struct polkavm_metadata_v2 polkavm_import_metadata_##fn                                    \
      __attribute__((section(".polkavm_metadata"), used)) = {                                       \
          2, 0, sizeof(symbol) - 1, polkavm_import_symbol_##fn, nin, nout, has_index, index};       \
  __attribute__((naked, noinline, section(".text.polkavm_import." #fn))) ret fn params {            \
    __asm__(".insn r 0xb, 0, 0, zero, zero, zero\n"                                                 \
            "auipc zero, %pcrel_hi(polkavm_import_metadata_" #fn ")\n" POLKAVM_POINTER_PADDING "ret\n"); \
  }

/* Declares `ret fn params` as a host function: calling it runs `ecalli <import index>`. */
#define TEST_IMPORT(ret, fn, params, nin, nout) TEST_IMPORT_NAMED(ret, fn, #fn, params, nin, nout, 0, 0)
/* The same with a fixed import index. */
#define TEST_IMPORT_WITH_INDEX(ret, fn, params, nin, nout, index)                                   \
  TEST_IMPORT_NAMED(ret, fn, #fn, params, nin, nout, 1, index)

#else

#define TEST_EXPORT(fn, nin, nout)
#define TEST_IMPORT(ret, fn, params, nin, nout)
#define TEST_IMPORT_WITH_INDEX(ret, fn, params, nin, nout, index)
#define TEST_IMPORT_NAMED(ret, fn, symbol, params, nin, nout, has_index, index)

#endif

#endif
