// Small string and file helpers shared by every layer. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cnet {

// Without leading and trailing spaces, tabs, CR and LF.
std::string Trim(const std::string& s);
// Strict number parsing (after Trim): the whole string must be a finite number. ParseInt also
// accepts integral floats such as "8.0".
std::optional<double> ParseDouble(const std::string& s);
std::optional<int64_t> ParseInt(const std::string& s);
// The whole file; NotFound when it cannot be opened, Unavailable on a read error.
Result<std::string> ReadWholeFile(const std::string& path);
// One number through a printf format with a single double conversion, e.g. ("%.2f", 1.5);
// output longer than 63 characters is cut.
std::string FormatNumber(const char* printf_format, double v);
// Whether s is non-empty and all ASCII digits.
bool AllDigits(const std::string& s);
// s with ASCII letters upper-/lower-cased (other bytes unchanged).
std::string ToUpper(std::string s);
std::string ToLower(std::string s);
// The comma-separated items of s, each trimmed; empty items are dropped ("a, ,b" -> {a, b}).
std::vector<std::string> SplitList(const std::string& s);

}  // namespace cnet
