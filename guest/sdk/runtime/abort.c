/* abort() and the other ways a guest gives up: all of them trap, which ends the call with a Trap. */
#include "polkavm/guest.h"

__attribute__((noreturn)) void abort(void) { polkavm_trap(); }

/* Called by clang's -fstack-protector code and by C++ for a call to a pure virtual function. */
__attribute__((noreturn)) void __stack_chk_fail(void) { polkavm_trap(); }
__attribute__((noreturn)) void __cxa_pure_virtual(void) { polkavm_trap(); }
