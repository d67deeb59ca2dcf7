/// @file
/// Errors carry a message; fallible calls return Result<T>. No exception leaves the library.
#pragma once

#include <cassert>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

#include "polkavm/export.h"

namespace polkavm {

namespace detail {
/// Prints "polkavm: the value of a failed result was accessed: <message>" to stderr and aborts.
[[noreturn]] POLKAVM_API void abort_on_error_access(const std::string& message);
}  // namespace detail

/// What kind of failure an Error is, for hosts and tests to branch on (the message is for people).
enum class ErrorKind : uint8_t {
  Other,              ///< none of the below
  InvalidArgument,    ///< a wrong call or value: a bad setting, a moved-from instance, an unknown export
  Unsupported,        ///< a setting or feature this build, host or kernel does not provide
  InvalidBlob,        ///< a program blob that does not parse or validate
  MemoryAccess,       ///< a host access to guest memory the guest cannot reach
  Sandbox,            ///< the sandbox failed: a worker died, was stopped or reported something impossible
  ResourceExhausted,  ///< the kernel refused memory, address space or mappings
  Divergence,         ///< Config::crosscheck: the compiled code and the interpreter disagreed
};
/// The name of `kind`: "other", "invalid-argument", ... ("unknown" for other values).
POLKAVM_API const char* error_kind_name(ErrorKind kind);

/// A failure: a message for people and an ErrorKind for code.
class Error {
 public:
  /// An error with `message` and `kind`.
  explicit Error(std::string message, ErrorKind kind = ErrorKind::Other) : message_(std::move(message)), kind_(kind) {}
  const std::string& message() const { return message_; }  ///< what went wrong, for people
  ErrorKind kind() const { return kind_; }  ///< what kind of failure, for code

 private:
  std::string message_;
  ErrorKind kind_;
};

/// A value or an Error. Accessing the value of an error result prints the error and aborts (a caller bug,
/// not a guest's).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  ///< a successful result
  Result(Error error) : v_(std::move(error)) {}  ///< a failed result

  bool ok() const { return v_.index() == 0; }  ///< true when the result holds a value
  explicit operator bool() const { return ok(); }  ///< ok()

  T& value() & { check(); return std::get<0>(v_); }  ///< the value; aborts if there is none
  const T& value() const& { check(); return std::get<0>(v_); }  ///< the value; aborts if there is none
  T&& value() && { check(); return std::get<0>(std::move(v_)); }  ///< the value, moved out; aborts if there is none
  T& operator*() & { return value(); }  ///< value()
  const T& operator*() const& { return value(); }  ///< value()
  T* operator->() { return &value(); }  ///< &value()
  const T* operator->() const { return &value(); }  ///< &value()

  /// The error; only for a failed result (`!ok()`).
  const Error& error() const { return std::get<1>(v_); }

 private:
  void check() const {
    if (!ok()) detail::abort_on_error_access(std::get<1>(v_).message());
  }
  std::variant<T, Error> v_;
};

/// Success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;  ///< success
  Result(Error error) : error_(std::move(error)), ok_(false) {}  ///< a failure
  bool ok() const { return ok_; }  ///< true on success
  explicit operator bool() const { return ok_; }  ///< ok()
  const Error& error() const { return error_; }  ///< the error; only for a failure (`!ok()`)

 private:
  Error error_{std::string()};
  bool ok_ = true;
};

}  // namespace polkavm
