// Status and Result<T>: the one error model for expected failures (bad input, I/O, infeasible
// requests). Bugs are assertions, not Statuses. Value types; thread-compatible.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace cnet {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad input: the message names the file, line or field
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kResourceExhausted,  // a quota or limit reached now (retry later)
  kUnavailable,
  kInternal,
  kUnauthenticated,    // no or unknown credentials
  kPermissionDenied,   // known caller, not allowed (another tenant's job, a quota it can never meet)
  kInfeasible,         // a valid request that can never be met here (no site could ever run the job)
};

const char* CodeName(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message"
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Infeasible(std::string m) { return {Code::kInfeasible, std::move(m)}; }

// Where in an input a problem is: file, 1-based line (0 = unknown), 1-based column (0 = unknown:
// a line-oriented file such as a CSV) and field name. Formats as "file:line:column: field 'name'"
// (the column left out when unknown).
std::string Where(const std::string& file, int line, const std::string& field);
std::string Where(const std::string& file, int line, int column, const std::string& field);
// InvalidArgument "Where(...): message".
Status InputError(const std::string& file, int line, const std::string& field,
                  const std::string& message);
Status InputError(const std::string& file, int line, int column, const std::string& field,
                  const std::string& message);

// A value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cnet

// Propagate a non-ok Status from an expression returning Status.
#define CNET_RETURN_IF_ERROR(expr)            \
  do {                                        \
    ::cnet::Status _st = (expr);              \
    if (!_st.ok()) return _st;                \
  } while (0)

#define CNET_CONCAT_INNER(a, b) a##b
#define CNET_CONCAT(a, b) CNET_CONCAT_INNER(a, b)
// Assign the value of a Result expression or return its Status.
#define CNET_ASSIGN_OR_RETURN(lhs, expr)                        \
  auto CNET_CONCAT(_res_, __LINE__) = (expr);                   \
  if (!CNET_CONCAT(_res_, __LINE__).ok())                       \
    return CNET_CONCAT(_res_, __LINE__).status();               \
  lhs = std::move(CNET_CONCAT(_res_, __LINE__)).value()
