/* Minimal <stdlib.h> for PolkaVM guests; implemented by guest/sdk/runtime/{malloc,abort}.c. */
#ifndef POLKAVM_LIBC_STDLIB_H
#define POLKAVM_LIBC_STDLIB_H
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
void* malloc(size_t size);
void* calloc(size_t count, size_t size);
void* realloc(void* ptr, size_t size);
void* aligned_alloc(size_t alignment, size_t size);
void free(void* ptr);
__attribute__((noreturn)) void abort(void);
#ifdef __cplusplus
}
#endif
#endif
