// polkavm/error.hpp's out-of-line parts.
#include "polkavm/error.hpp"

#include <cstdio>
#include <cstdlib>

namespace polkavm {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Other: return "other";
    case ErrorKind::InvalidArgument: return "invalid-argument";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::InvalidBlob: return "invalid-blob";
    case ErrorKind::MemoryAccess: return "memory-access";
    case ErrorKind::Sandbox: return "sandbox";
    case ErrorKind::ResourceExhausted: return "resource-exhausted";
    case ErrorKind::Divergence: return "divergence";
  }
  return "unknown";
}

namespace detail {

void abort_on_error_access(const std::string& message) {
  std::fprintf(stderr, "polkavm: the value of a failed result was accessed: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail
}  // namespace polkavm
