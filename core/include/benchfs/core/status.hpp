#pragma once
// Status / Result<T>: the error values of the hot path, and Error: the one
// exception type, thrown only during setup (before any progress loop runs).

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace benchfs {

/// A POSIX error number (positive, as in errno) or success, with an optional
/// human-readable context message.
class Status {
 public:
  Status() = default;
  explicit Status(int err, std::string msg = {}) : err_(err < 0 ? -err : err), msg_(std::move(msg)) {}

  static Status ok() { return Status(); }

  [[nodiscard]] bool is_ok() const { return err_ == 0; }
  explicit operator bool() const { return is_ok(); }
  /// Positive errno value, 0 on success.
  [[nodiscard]] int err() const { return err_; }
  /// Negative errno as carried on the wire, 0 on success.
  [[nodiscard]] int wire_code() const { return -err_; }
  [[nodiscard]] const std::string& message() const { return msg_; }
  /// "message: strerror" (or just strerror without a message).
  [[nodiscard]] std::string to_string() const;

 private:
  int err_ = 0;
  std::string msg_;
};

/// A value or the Status explaining why there is none.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).is_ok()) v_ = Status(EINVAL, "Result built from an ok Status");
  }

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  /// The error; Status::ok() when a value is held.
  [[nodiscard]] Status status() const { return ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

/// The setup-time exception: carries a Status.
class Error : public std::runtime_error {
 public:
  explicit Error(Status status) : std::runtime_error(status.to_string()), status_(std::move(status)) {}
  Error(int err, std::string msg) : Error(Status(err, std::move(msg))) {}
  [[nodiscard]] const Status& status() const { return status_; }

 private:
  Status status_;
};

/// Throws Error(status) unless it is ok.
inline void throw_if_error(const Status& status) {
  if (!status.is_ok()) throw Error(status);
}

/// Unwraps a Result during setup, throwing its Status as an Error.
template <class T>
T value_or_throw(Result<T> r) {
  if (!r.ok()) throw Error(r.status());
  return std::move(r).value();
}

}  // namespace benchfs
