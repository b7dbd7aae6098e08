// See utc_time.h.
#include "common/utc_time.h"

namespace cnet {
namespace {

// Reads exactly `n` digits at s[i..], advancing i.
bool Digits(std::string_view s, size_t& i, int n, int& out) {
  if (i + n > s.size()) return false;
  out = 0;
  for (int k = 0; k < n; ++k) {
    const char c = s[i + k];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  i += n;
  return true;
}

bool Leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && Leap(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's civil-days algorithm).
int64_t DaysFromCivil(int y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "HH:MM[:SS]" at s[i..], advancing i.
bool Clock(std::string_view s, size_t& i, int& h, int& mi, int& sec) {
  sec = 0;
  if (!Digits(s, i, 2, h) || i >= s.size() || s[i++] != ':' || !Digits(s, i, 2, mi)) return false;
  if (i < s.size() && s[i] == ':') {
    ++i;
    if (!Digits(s, i, 2, sec)) return false;
  }
  return true;
}

// The zone suffix from s[i..] to the end: seconds east of UTC.
std::optional<int> Zone(std::string_view s, size_t i) {
  if (i < s.size() && s[i] == ' ') ++i;
  if (i == s.size()) return 0;
  if (s[i] == 'Z' && i + 1 == s.size()) return 0;
  if (s[i] != '+' && s[i] != '-') return std::nullopt;
  const int sign = s[i++] == '-' ? -1 : 1;
  int h = 0, m = 0;
  if (!Digits(s, i, 2, h)) return std::nullopt;
  if (i < s.size() && s[i] == ':') ++i;
  if (i < s.size() && !Digits(s, i, 2, m)) return std::nullopt;
  if (i != s.size() || h > 18 || m > 59 || h * 60 + m > 18 * 60) return std::nullopt;
  return sign * (h * 3600 + m * 60);
}

}  // namespace

std::optional<int64_t> ParseUtcDateTime(std::string_view s) {
  size_t i = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!Digits(s, i, 4, y) || i >= s.size() || s[i++] != '-' || !Digits(s, i, 2, mo) ||
      i >= s.size() || s[i++] != '-' || !Digits(s, i, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return std::nullopt;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ') && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
    ++i;
    if (!Clock(s, i, h, mi, sec) || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      const size_t f = ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      if (i == f) return std::nullopt;
    }
  }
  const std::optional<int> east = Zone(s, i);
  if (!east) return std::nullopt;
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - *east;
}

std::optional<int> ParseTimeOfDay(std::string_view s) {
  size_t i = 0;
  int h = 0, mi = 0, sec = 0;
  if (!Clock(s, i, h, mi, sec) || i != s.size() || mi > 59 || sec > 59) return std::nullopt;
  const int t = h * 3600 + mi * 60 + sec;
  if (t > 86400) return std::nullopt;
  return t;
}

}  // namespace cnet
