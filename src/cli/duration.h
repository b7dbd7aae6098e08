// Durations as people type them on the command line: "90" or "90s", "45m", "12h", "30d", "2w".
// Pure function.
#pragma once

#include <string>

#include "common/status.h"

namespace cnet {

// Seconds in `text` (a positive whole number with an optional unit s, m, h, d or w);
// InvalidArgument naming `field` otherwise.
Result<double> ParseDuration(const std::string& text, const std::string& field);

}  // namespace cnet
