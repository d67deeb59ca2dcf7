/*
 * polkavm/export.h: POLKAVM_API, the mark of what the libraries export (C and C++).
 *
 * Built as shared libraries (BUILD_SHARED_LIBS=ON), polkavm, polkavm_asm and polkavm_elf_linker are compiled
 * with hidden visibility: only declarations marked POLKAVM_API (the public API of the headers in
 * include/polkavm/) are exported. In a static build the mark changes nothing.
 */
#ifndef POLKAVM_EXPORT_H
#define POLKAVM_EXPORT_H

/** \file
 * POLKAVM_API: what the shared libraries export. */

#if defined(__GNUC__) || defined(__clang__)
/** Exported from the shared libraries: on a class (`class POLKAVM_API Engine`), its out-of-line members,
 *  type information and virtual table; on a function declaration, the function. */
#define POLKAVM_API __attribute__((visibility("default")))
#else
/** Exported from the shared libraries (this compiler has no visibility attribute: nothing). */
#define POLKAVM_API
#endif

#endif /* POLKAVM_EXPORT_H */
