/* The reference's hello-world example as a C guest: add_numbers(a, b) = a + b + get_third_number(). */
#include <polkavm/guest.h>

POLKAVM_IMPORT(uint32_t, get_third_number)

uint32_t add_numbers(uint32_t a, uint32_t b) { return a + b + get_third_number(); }
POLKAVM_EXPORT(uint32_t, add_numbers, uint32_t, uint32_t)
