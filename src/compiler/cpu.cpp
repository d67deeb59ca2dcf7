// Host CPU check for the compiler backend.
#include <optional>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "runtime/backend.hpp"

namespace polkavm::detail {

std::optional<std::string> compiler_unsupported_reason() {
#if !defined(__x86_64__) || !defined(__linux__)
  return "it needs Linux on x86-64";
#else
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  // The generated code uses BMI1 (andn, tzcnt), BMI2 (shlx, shrx, sarx, rorx), LZCNT and POPCNT.
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return "CPUID is not available";
  if (!(ecx & bit_POPCNT)) return "the CPU lacks POPCNT";
  if (__get_cpuid_max(0, nullptr) < 7) return "the CPU lacks BMI1 and BMI2";
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  if (!(ebx & bit_BMI)) return "the CPU lacks BMI1";
  if (!(ebx & bit_BMI2)) return "the CPU lacks BMI2";
  if (!__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx) || !(ecx & bit_LZCNT)) return "the CPU lacks LZCNT";
  return std::nullopt;
#endif
}

}  // namespace polkavm::detail
