// A value or an error with a human-readable reason: every rejection in bftgate says why.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace bftgate {

struct Error {
  std::string message;
};

template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(E error)
      : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const E& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, E> state_;
};

struct Ok {};
// Success or a reason: the result of operations that produce nothing.
using Status = Result<Ok>;
inline Status ok_status() {
  return Ok{};
}
inline Status fail(std::string message) {
  return Error{std::move(message)};
}

}  // namespace bftgate
