#include "cli/duration.h"

#include "common/strings.h"

namespace cnet {

Result<double> ParseDuration(const std::string& text, const std::string& field) {
  const Status bad = InvalidArgument(field + ": expected a duration such as 3600, 90m, 12h or 30d, got '" + text + "'");
  if (text.empty()) return bad;
  double unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: unit = 0;
  }
  if (unit > 0) digits.pop_back();
  else unit = 1;
  if (digits.empty() || digits.size() > 12 || digits.find_first_not_of("0123456789") != std::string::npos) return bad;
  auto n = ParseInt(digits);
  if (!n || *n <= 0) return bad;
  return static_cast<double>(*n) * unit;
}

}  // namespace cnet
