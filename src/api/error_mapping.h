// The one mapping from the core's Status codes to HTTP status codes (the core returns none).
// Pure functions.
#pragma once

#include <string>

#include "common/status.h"

namespace cnet::api {

int HttpStatus(Code code);
// "workers: must be ..." -> "workers" (the field a message starts with), "" if none.
std::string FieldOf(const std::string& message);

}  // namespace cnet::api
