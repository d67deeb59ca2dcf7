/// @file
/// Typed host functions, as the reference's `Linker` (crates/polkavm/src/linker.rs): a host registers its
/// functions by import name, resolves a module's imports and exports once (`instantiate_pre`), and calls
/// exports with typed arguments while the library answers every ecalli.
///
/// ```cpp
///   polkavm::Linker<State> linker;
///   linker.define_typed("get_third_number", [](polkavm::Caller<State>& caller) -> uint32_t { ... });
///   auto pre = linker.instantiate_pre(module);            // Result<InstancePre<State>>
///   auto instance = pre->instantiate();                    // Result<Instance<State>>
///   auto sum = instance->call_typed<uint32_t>(state, "add_numbers", 1u, 2u);  // CallResult<uint32_t>
/// ```
///
/// A host function takes an optional leading `Caller<UserData>&`, then up to six of uint32_t, int32_t,
/// uint64_t and int64_t, and returns void, one of those, or a Result of them (an Error ends the call with
/// CallError::Kind::User). Arguments come from a0..a5 then t0..t2 and results go to a0 (a1): in a 32-bit
/// program a 64-bit value takes two registers (low half first); in a 64-bit program an int32_t is
/// sign-extended. These are the reference's conventions (its `AbiTy`).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "polkavm/export.h"
#include "polkavm/error.hpp"
#include "polkavm/isa.hpp"
#include "polkavm/runtime.hpp"

namespace polkavm {

/// What a host function is given: the user data of the call and the instance that made it.
template <class UserData = void>
struct Caller {
  UserData& user_data;    ///< the user data given to the call
  RawInstance& instance;  ///< the instance that made the host call
};
/// What a host function of a Linker<void> is given: the instance that made the call.
template <>
struct Caller<void> {
  RawInstance& instance;  ///< the instance that made the host call
};

/// Why a typed call did not return.
class POLKAVM_API CallError {
 public:
  /// What ended the call.
  enum class Kind : uint8_t {
    Trap,          ///< the guest trapped (or called a host function nobody defined)
    NotEnoughGas,  ///< it ran out of gas
    Step,          ///< step tracing stopped it
    User,          ///< a host function returned an Error, which ended the call
    Error,         ///< the VM failed (a bad export name, a broken sandbox, a failed memory operation)
  };
  /// A Trap at `pc`, from source `location` (see pc() and location()).
  static CallError trap(std::optional<uint32_t> pc, std::optional<std::string> location) {
    return CallError(Kind::Trap, {}, pc, std::move(location));
  }
  static CallError not_enough_gas() { return CallError(Kind::NotEnoughGas, {}, {}, {}); }  ///< a NotEnoughGas
  static CallError step() { return CallError(Kind::Step, {}, {}, {}); }  ///< a Step
  /// A User error with `error`'s message and kind.
  static CallError user(polkavm::Error error) { return CallError(Kind::User, std::move(error)); }
  /// An Error with `error`'s message and kind.
  static CallError error(polkavm::Error error) { return CallError(Kind::Error, std::move(error)); }

  Kind kind() const { return kind_; }  ///< what ended the call
  /// Trap: the pc of the instruction that trapped, when there was one.
  std::optional<uint32_t> pc() const { return pc_; }
  /// Trap: where that instruction came from ("file:line:column in function"), when the blob has debug
  /// information.
  const std::optional<std::string>& location() const { return location_; }
  /// User and Error: what went wrong.
  const std::string& message() const { return message_; }
  /// User and Error: the ErrorKind of the Error (ErrorKind::Other for the other kinds).
  ErrorKind error_kind() const { return error_kind_; }
  /// One line: "trap at pc 0x12 (main.c:4:9 in main)", "not enough gas", "host function failed: ...".
  std::string to_string() const;

 private:
  CallError(Kind kind, std::string message, std::optional<uint32_t> pc, std::optional<std::string> location)
      : kind_(kind), message_(std::move(message)), pc_(pc), location_(std::move(location)) {}
  CallError(Kind kind, polkavm::Error error) : kind_(kind), message_(error.message()), error_kind_(error.kind()) {}
  Kind kind_;
  std::string message_;
  ErrorKind error_kind_ = ErrorKind::Other;
  std::optional<uint32_t> pc_;
  std::optional<std::string> location_;
};

/// A value or a CallError. Accessing the value of an error result aborts after printing the error.
template <class T>
class [[nodiscard]] CallResult {
 public:
  CallResult(T value) : v_(std::move(value)) {}  ///< a call that returned `value`
  CallResult(CallError error) : v_(std::move(error)) {}  ///< a call that did not return
  bool ok() const { return v_.index() == 0; }  ///< true when the call returned a value
  explicit operator bool() const { return ok(); }  ///< ok()
  /// The value; aborts if there is none.
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  /// The value; aborts if there is none.
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  T& operator*() & { return value(); }  ///< value()
  const T& operator*() const& { return value(); }  ///< value()
  const CallError& error() const { return std::get<1>(v_); }  ///< the error; only when `!ok()`

 private:
  void check() const {
    if (!ok()) detail::abort_on_error_access(std::get<1>(v_).to_string());
  }
  std::variant<T, CallError> v_;
};
/// A call that returned, or a CallError.
template <>
class [[nodiscard]] CallResult<void> {
 public:
  CallResult() = default;  ///< a call that returned
  CallResult(CallError error) : error_(std::move(error)) {}  ///< a call that did not return
  bool ok() const { return !error_; }  ///< true when the call returned
  explicit operator bool() const { return ok(); }  ///< ok()
  const CallError& error() const { return *error_; }  ///< the error; only when `!ok()`

 private:
  std::optional<CallError> error_;
};

/// @cond detail
namespace detail {

template <class T>
inline constexpr bool is_abi_type =
    std::is_same_v<T, uint32_t> || std::is_same_v<T, int32_t> || std::is_same_v<T, uint64_t> || std::is_same_v<T, int64_t>;

/// Registers a value of T takes: 64-bit values take two in a 32-bit program.
template <class T>
constexpr size_t abi_regs(bool is_64_bit) {
  return !is_64_bit && sizeof(T) == 8 ? 2 : 1;
}

/// Reads the next arguments from a0..a5, t0..t2.
class AbiReader {
 public:
  explicit AbiReader(const RawInstance& instance) : instance_(instance), is_64_bit_(instance.module().is_64_bit()) {}
  template <class T>
  T next() {
    if constexpr (sizeof(T) == 4) {
      return static_cast<T>(static_cast<uint32_t>(take()));
    } else if (is_64_bit_) {
      return static_cast<T>(take());
    } else {
      const uint64_t lo = take() & 0xFFFFFFFFu, hi = take() & 0xFFFFFFFFu;
      return static_cast<T>(lo | (hi << 32));
    }
  }

 private:
  uint64_t take() { return index_ < kArgRegs.size() ? instance_.reg(kArgRegs[index_++]) : 0; }
  const RawInstance& instance_;
  bool is_64_bit_;
  size_t index_ = 0;
};

/// Writes a value to a0 (and a1).
template <class T>
void abi_write_result(RawInstance& instance, T value) {
  if constexpr (std::is_same_v<T, int32_t>) {
    // Sign-extended in a 64-bit program, as the reference does.
    instance.set_reg(Reg::A0, static_cast<uint64_t>(static_cast<int64_t>(value)));
  } else if constexpr (sizeof(T) == 4) {
    instance.set_reg(Reg::A0, static_cast<uint32_t>(value));
  } else if (instance.module().is_64_bit()) {
    instance.set_reg(Reg::A0, static_cast<uint64_t>(value));
  } else {
    instance.set_reg(Reg::A0, static_cast<uint64_t>(value) & 0xFFFFFFFFu);
    instance.set_reg(Reg::A1, static_cast<uint64_t>(value) >> 32);
  }
}

/// Reads a value from a0 (and a1).
template <class T>
T abi_read_result(const RawInstance& instance) {
  return AbiReader(instance).next<T>();
}

/// Appends the registers of a value to `regs`.
template <class T>
void abi_push_arg(std::vector<uint64_t>& regs, bool is_64_bit, T value) {
  static_assert(is_abi_type<T>, "arguments are uint32_t, int32_t, uint64_t or int64_t");
  if constexpr (std::is_same_v<T, int32_t>) {
    regs.push_back(is_64_bit ? static_cast<uint64_t>(static_cast<int64_t>(value)) : static_cast<uint32_t>(value));
  } else if constexpr (sizeof(T) == 4) {
    regs.push_back(value);
  } else if (is_64_bit) {
    regs.push_back(static_cast<uint64_t>(value));
  } else {
    regs.push_back(static_cast<uint64_t>(value) & 0xFFFFFFFFu);
    regs.push_back(static_cast<uint64_t>(value) >> 32);
  }
}

template <class F>
struct FnTraits : FnTraits<decltype(&std::remove_reference_t<F>::operator())> {};
template <class R, class... A>
struct FnTraits<R (*)(A...)> {
  using Return = R;
  using Args = std::tuple<A...>;
};
template <class R, class... A>
struct FnTraits<R(A...)> : FnTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct FnTraits<R (C::*)(A...)> : FnTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct FnTraits<R (C::*)(A...) const> : FnTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct FnTraits<R (C::*)(A...) noexcept> : FnTraits<R (*)(A...)> {};
template <class C, class R, class... A>
struct FnTraits<R (C::*)(A...) const noexcept> : FnTraits<R (*)(A...)> {};

template <class T>
struct IsResult : std::false_type {
  using Value = T;
};
template <class T>
struct IsResult<Result<T>> : std::true_type {
  using Value = T;
};

/// Registers the host function's parameters need, in a 32-bit and a 64-bit program.
template <class... A>
constexpr size_t params_regs([[maybe_unused]] bool is_64_bit) {
  return (size_t{0} + ... + abi_regs<A>(is_64_bit));
}

/// The untyped form every host function is kept in: the instance, the user data (or null), and an Error
/// for a failure of the host function (CallError::Kind::User).
using HostFn = std::function<Result<void>(RawInstance&, void*)>;

struct HostFunction {
  HostFn fn;
  size_t regs_32 = 0, regs_64 = 0;  // registers its parameters take
};

/// What instantiate_pre resolved; shared by an InstancePre and its instances.
struct PreState {
  Module module;
  std::vector<std::shared_ptr<const HostFunction>> imports;  // by import index; null: not defined
  std::map<std::string, uint32_t, std::less<>> exports;
  std::shared_ptr<const std::function<Result<void>(RawInstance&, void*, uint32_t)>> fallback;
};

POLKAVM_API Result<std::shared_ptr<const PreState>> resolve(
    const Module& module, const std::map<std::string, std::shared_ptr<const HostFunction>, std::less<>>& functions,
    std::shared_ptr<const std::function<Result<void>(RawInstance&, void*, uint32_t)>> fallback);

/// Runs from the instance's next program counter until the call returns, answering ecallis and resolving
/// the segfaults of dynamic paging as the reference's default does (stack pages zeroed, RO/RW data pages
/// filled from the blob); `user_data` is passed to the host functions.
POLKAVM_API CallResult<void> run_call(const PreState& pre, RawInstance& instance, void* user_data);
/// The pc of `entry`: an export's name.
POLKAVM_API Result<uint32_t> export_pc(const PreState& pre, std::string_view entry);

}  // namespace detail
/// @endcond

template <class UserData>
class Instance;

/// A module whose imports and exports are resolved, ready to instantiate many times.
template <class UserData = void>
class InstancePre {
 public:
  const Module& module() const { return state_->module; }  ///< the module it was made from
  /// A new instance of the module with these host functions.
  Result<Instance<UserData>> instantiate() const {
    Result<RawInstance> raw = state_->module.instantiate();
    if (!raw) return raw.error();
    return Instance<UserData>(state_, std::move(raw).value());
  }

 private:
  template <class>
  friend class Linker;
  explicit InstancePre(std::shared_ptr<const detail::PreState> state) : state_(std::move(state)) {}
  std::shared_ptr<const detail::PreState> state_;
};

/// An instance with typed calls. Everything of RawInstance is reached through `->` or raw().
template <class UserData = void>
class Instance {
 public:
  RawInstance& raw() { return raw_; }  ///< the instance underneath
  const RawInstance& raw() const { return raw_; }  ///< the instance underneath
  RawInstance* operator->() { return &raw_; }  ///< the instance underneath
  const RawInstance* operator->() const { return &raw_; }  ///< the instance underneath

  /// Calls the export `entry` (a name, or a pc) with `args` and runs until it returns, answering the
  /// guest's host calls; R (void or an ABI type) is read from a0 (a1).
  template <class R = void, class... Args>
  CallResult<R> call_typed(std::conditional_t<std::is_void_v<UserData>, std::nullptr_t, UserData>& user_data,
                           std::string_view entry, Args... args)
    requires(!std::is_void_v<UserData>)
  {
    return call<R>(&user_data, entry, args...);
  }
  /// call_typed for an instance without user data (UserData = void).
  template <class R = void, class... Args>
  CallResult<R> call_typed(std::string_view entry, Args... args)
    requires std::is_void_v<UserData>
  {
    return call<R>(nullptr, entry, args...);
  }
  /// Continues after an interrupted call (Step, NotEnoughGas after more gas was set) until it returns.
  CallResult<void> continue_execution(std::conditional_t<std::is_void_v<UserData>, std::nullptr_t, UserData>& user_data)
    requires(!std::is_void_v<UserData>)
  {
    return detail::run_call(*state_, raw_, &user_data);
  }
  /// continue_execution for an instance without user data (UserData = void).
  CallResult<void> continue_execution()
    requires std::is_void_v<UserData>
  {
    return detail::run_call(*state_, raw_, nullptr);
  }

 private:
  template <class>
  friend class InstancePre;
  Instance(std::shared_ptr<const detail::PreState> state, RawInstance raw) : state_(std::move(state)), raw_(std::move(raw)) {}

  template <class R, class... Args>
  CallResult<R> call(void* user_data, std::string_view entry, Args... args) {
    static_assert(std::is_void_v<R> || detail::is_abi_type<R>, "results are void, uint32_t, int32_t, uint64_t or int64_t");
    Result<uint32_t> pc = detail::export_pc(*state_, entry);
    if (!pc) return CallError::error(pc.error());
    std::vector<uint64_t> regs;
    (detail::abi_push_arg(regs, raw_.module().is_64_bit(), args), ...);
    if (Result<void> prepared = raw_.prepare_call(*pc, regs); !prepared) return CallError::error(prepared.error());
    if (CallResult<void> done = detail::run_call(*state_, raw_, user_data); !done) return done.error();
    if constexpr (std::is_void_v<R>) {
      return {};
    } else {
      return detail::abi_read_result<R>(raw_);
    }
  }

  std::shared_ptr<const detail::PreState> state_;
  RawInstance raw_;
};

/// Host functions by import name. Define them, then instantiate_pre each module.
template <class UserData = void>
class Linker {
 public:
  /// A host function that reads its arguments and writes its results itself.
  Result<void> define_untyped(std::string symbol, std::function<Result<void>(Caller<UserData>&)> fn) {
    auto host = std::make_shared<detail::HostFunction>();
    host->fn = [fn = std::move(fn)](RawInstance& instance, void* user_data) {
      Caller<UserData> caller = make_caller(instance, user_data);
      return fn(caller);
    };
    return add(std::move(symbol), std::move(host));
  }

  /// A host function with typed parameters and result (see the top of this file).
  template <class F>
  Result<void> define_typed(std::string symbol, F fn) {
    using Traits = detail::FnTraits<F>;
    return define_typed_impl(std::move(symbol), std::move(fn), static_cast<typename Traits::Return*>(nullptr),
                             static_cast<typename Traits::Args*>(nullptr));
  }

  /// Called for an ecalli whose import no host function was defined for, with the import's index.
  void define_fallback(std::function<Result<void>(Caller<UserData>&, uint32_t)> fn) {
    fallback_ = std::make_shared<const std::function<Result<void>(RawInstance&, void*, uint32_t)>>(
        [fn = std::move(fn)](RawInstance& instance, void* user_data, uint32_t index) {
          Caller<UserData> caller = make_caller(instance, user_data);
          return fn(caller, index);
        });
  }

  /// Resolves the module's imports (by name) and exports. In a strict module, an import no host function
  /// (and no fallback) answers is an Error naming it, as is a duplicate export; otherwise calling such an
  /// import traps. A typed host function whose parameters need more than the nine argument registers in
  /// this module's bitness is an Error too.
  Result<InstancePre<UserData>> instantiate_pre(const Module& module) const {
    Result<std::shared_ptr<const detail::PreState>> state = detail::resolve(module, functions_, fallback_);
    if (!state) return state.error();
    return InstancePre<UserData>(std::move(state).value());
  }

 private:
  static Caller<UserData> make_caller(RawInstance& instance, void* user_data) {
    if constexpr (std::is_void_v<UserData>) {
      (void)user_data;
      return Caller<void>{instance};
    } else {
      return Caller<UserData>{*static_cast<UserData*>(user_data), instance};
    }
  }

  Result<void> add(std::string symbol, std::shared_ptr<detail::HostFunction> host) {
    if (functions_.count(symbol) != 0)
      return Error("cannot register host function: host function was already registered: " + symbol,
                   ErrorKind::InvalidArgument);
    functions_.emplace(std::move(symbol), std::move(host));
    return {};
  }

  template <class... A>
  static constexpr bool takes_caller() {
    if constexpr (sizeof...(A) == 0) {
      return false;
    } else {
      return std::is_same_v<std::tuple_element_t<0, std::tuple<A...>>, Caller<UserData>&>;
    }
  }

  template <class F, class R, class... A>
  Result<void> define_typed_impl(std::string symbol, F fn, R*, std::tuple<A...>*) {
    if constexpr (takes_caller<A...>()) {
      return define_params<true, R>(std::move(symbol), std::move(fn), static_cast<std::tuple<A...>*>(nullptr));
    } else {
      return define_params<false, R>(std::move(symbol), std::move(fn), static_cast<std::tuple<A...>*>(nullptr));
    }
  }

  template <bool kWithCaller, class R, class F, class First, class... Rest>
  Result<void> define_params(std::string symbol, F fn, std::tuple<First, Rest...>*) {
    if constexpr (kWithCaller) {
      return define_with<true, R>(std::move(symbol), std::move(fn), static_cast<std::tuple<Rest...>*>(nullptr));
    } else {
      return define_with<false, R>(std::move(symbol), std::move(fn), static_cast<std::tuple<First, Rest...>*>(nullptr));
    }
  }
  template <bool kWithCaller, class R, class F>
  Result<void> define_params(std::string symbol, F fn, std::tuple<>*) {
    return define_with<false, R>(std::move(symbol), std::move(fn), static_cast<std::tuple<>*>(nullptr));
  }

  template <bool kWithCaller, class R, class F, class... P>
  Result<void> define_with(std::string symbol, F fn, std::tuple<P...>*) {
    static_assert(sizeof...(P) <= 6, "a host function takes at most six parameters (besides its Caller)");
    static_assert((detail::is_abi_type<P> && ...),
                  "host function parameters are an optional Caller<UserData>& first, then uint32_t, int32_t, uint64_t "
                  "or int64_t");
    using Value = typename detail::IsResult<R>::Value;
    static_assert(std::is_void_v<Value> || detail::is_abi_type<Value>,
                  "host functions return void, uint32_t, int32_t, uint64_t, int64_t or a Result of one of them");
    auto host = std::make_shared<detail::HostFunction>();
    host->regs_32 = detail::params_regs<P...>(false);
    host->regs_64 = detail::params_regs<P...>(true);
    host->fn = [fn = std::move(fn)](RawInstance& instance, void* user_data) -> Result<void> {
      detail::AbiReader reader(instance);
      // Braced initialization: the arguments are read left to right.
      std::tuple<P...> args{reader.template next<P>()...};
      auto invoke = [&] {
        if constexpr (kWithCaller) {
          Caller<UserData> caller = make_caller(instance, user_data);
          return std::apply([&](P... a) { return fn(caller, a...); }, args);
        } else {
          (void)user_data;
          return std::apply([&](P... a) { return fn(a...); }, args);
        }
      };
      if constexpr (std::is_void_v<R>) {
        invoke();
        return {};
      } else if constexpr (detail::IsResult<R>::value) {
        R result = invoke();
        if (!result) return result.error();
        if constexpr (!std::is_void_v<Value>) detail::abi_write_result(instance, result.value());
        return {};
      } else {
        detail::abi_write_result(instance, invoke());
        return {};
      }
    };
    return add(std::move(symbol), std::move(host));
  }

  std::map<std::string, std::shared_ptr<const detail::HostFunction>, std::less<>> functions_;
  std::shared_ptr<const std::function<Result<void>(RawInstance&, void*, uint32_t)>> fallback_;
};

}  // namespace polkavm
