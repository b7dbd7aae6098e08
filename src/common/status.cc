#include "common/status.h"

namespace cnet {

const char* CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "INVALID_ARGUMENT";
    case Code::kNotFound: return "NOT_FOUND";
    case Code::kAlreadyExists: return "ALREADY_EXISTS";
    case Code::kFailedPrecondition: return "FAILED_PRECONDITION";
    case Code::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kInternal: return "INTERNAL";
    case Code::kUnauthenticated: return "UNAUTHENTICATED";
    case Code::kPermissionDenied: return "PERMISSION_DENIED";
    case Code::kInfeasible: return "INFEASIBLE";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

std::string Where(const std::string& file, int line, const std::string& field) { return Where(file, line, 0, field); }

std::string Where(const std::string& file, int line, int column, const std::string& field) {
  std::string w = file;
  if (line > 0) w += ":" + std::to_string(line);
  if (line > 0 && column > 0) w += ":" + std::to_string(column);
  if (!field.empty()) w += ": field '" + field + "'";
  return w;
}

Status InputError(const std::string& file, int line, const std::string& field,
                  const std::string& message) {
  return InvalidArgument(Where(file, line, field) + ": " + message);
}

Status InputError(const std::string& file, int line, int column, const std::string& field,
                  const std::string& message) {
  return InvalidArgument(Where(file, line, column, field) + ": " + message);
}

}  // namespace cnet
