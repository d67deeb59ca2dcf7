/* Minimal <assert.h> for PolkaVM guests: a failed assertion traps. */
#ifndef POLKAVM_LIBC_ASSERT_H
#define POLKAVM_LIBC_ASSERT_H
#ifdef NDEBUG
#define assert(cond) ((void)0)
#else
#define assert(cond) ((cond) ? (void)0 : __builtin_trap())
#endif
#if !defined(__cplusplus) && !defined(static_assert)
#define static_assert _Static_assert
#endif
#endif
