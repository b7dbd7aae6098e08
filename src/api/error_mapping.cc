#include "api/error_mapping.h"

#include <cctype>

namespace cnet::api {

int HttpStatus(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kFailedPrecondition: return 409;
    case Code::kInfeasible: return 422;
    case Code::kResourceExhausted: return 429;
    case Code::kInternal: return 500;
    case Code::kUnavailable: return 503;
  }
  return 500;
}

std::string FieldOf(const std::string& m) {
  size_t c = m.find(": ");
  if (c == std::string::npos || c > 80) return "";
  std::string f = m.substr(0, c);
  for (char ch : f)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '[' || ch == ']' || ch == '-'))
      return "";
  return f;
}

}  // namespace cnet::api
