// Date and time text in UTC, one parser for every reader (carbon series, power-budget windows, ...).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cnet {

// Epoch seconds (UTC) of an ISO-8601-style date-time, the whole text consumed:
//   "YYYY-MM-DD"                                   midnight of that day
//   "YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]]"         the fraction is dropped (floor)
// followed by an optional zone: "Z", "+HH:MM", "+HHMM", "+HH" (or "-..."; the offset is applied,
// so "2020-01-01T01:00+01:00" is midnight UTC), with an optional space before it. Without a zone
// the text is read as UTC. nullopt when malformed or out of range (month 1-12, day within its
// month, hour 0-23, minute 0-59, second 0-60, offset within 18 h).
std::optional<int64_t> ParseUtcDateTime(std::string_view text);

// Seconds after midnight of a time of day "HH:MM[:SS]" (00:00 .. 24:00, where 24:00 = 86400, the end
// of the day). nullopt when malformed or out of range.
std::optional<int> ParseTimeOfDay(std::string_view text);

}  // namespace cnet
