#include "model/carbon_signal.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include "common/csv.h"
#include "common/strings.h"
#include "common/utc_time.h"

namespace cnet {

namespace {

constexpr double kMaxIntensity = 5000;  // gCO2eq/kWh; coal is ~1000, so this only catches unit mistakes

std::string ShiftText(Seconds s) {
  return FormatNumber("%+g", s / 3600) + " h";
}

// splitmix64: a counter-based generator, so noise is a pure function of its key.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
double Unit(uint64_t x) { return (static_cast<double>(Mix(x) >> 11) + 0.5) / 9007199254740992.0; }  // (0, 1)

}  // namespace

std::optional<Seconds> ParseUtcTimestamp(const std::string& s) {
  std::optional<int64_t> at = ParseUtcDateTime(s);
  if (!at) return std::nullopt;
  return static_cast<Seconds>(*at);
}

CarbonSignal CarbonSignal::Constant(double g_per_kwh, std::string label) {
  CarbonSignal s;
  s.t_ = {0};
  s.v_ = {g_per_kwh};
  s.cum_ = {0};
  s.label_ = std::move(label);
  return s;
}

Result<CarbonSignal> CarbonSignal::ParseCsv(const std::string& text, const std::string& file) {
  CNET_ASSIGN_OR_RETURN(CsvTable t, CsvTable::Parse(text, file));
  CNET_RETURN_IF_ERROR(t.RequireColumns({"Time", "Carbon Intensity"}));
  const size_t ct = *t.Column("Time"), cv = *t.Column("Carbon Intensity");
  CarbonSignal s;
  s.label_ = file;
  for (const CsvTable::Row& r : t.rows()) {
    const std::string where = file + ":" + std::to_string(r.line) + ": column ";
    CNET_ASSIGN_OR_RETURN(std::string ts, t.Str(r, ct));
    std::optional<Seconds> at = ParseUtcTimestamp(Trim(ts));
    if (!at) return InvalidArgument(where + "'Time': expected YYYY-MM-DD HH:MM:SS, got '" + ts + "'");
    if (!s.t_.empty() && *at <= s.t_.back())
      return InvalidArgument(where + "'Time': " + ts + " is not after the previous row's time");
    CNET_ASSIGN_OR_RETURN(double v, t.Double(r, cv));
    if (!std::isfinite(v) || v < 0 || v > kMaxIntensity)
      return InvalidArgument(where + "'Carbon Intensity': " + FormatNumber("%g", v) +
                             " is not a gCO2eq/kWh figure in [0, 5000]");
    s.t_.push_back(*at);
    s.v_.push_back(v);
  }
  if (s.t_.empty()) return InvalidArgument(file + ": no rows (expected Time,Carbon Intensity)");
  s.cum_.assign(s.t_.size(), 0);
  for (size_t i = 1; i < s.t_.size(); ++i) s.cum_[i] = s.cum_[i - 1] + s.v_[i - 1] * (s.t_[i] - s.t_[i - 1]);
  return s;
}

Result<CarbonSignal> CarbonSignal::ReadCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kNotFound, path + ": cannot open carbon intensity series");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseCsv(ss.str(), path);
}

CarbonSignal CarbonSignal::Shifted(Seconds shift_s, const std::string& why) const {
  CarbonSignal s = *this;
  s.shift_s_ += shift_s;
  s.label_ = label_ + " shifted " + ShiftText(shift_s) + (why.empty() ? "" : " (" + why + ")");
  return s;
}

double CarbonSignal::At(Seconds t) const {
  if (constant()) return v_.front();
  const Seconds x = t + shift_s_;
  auto it = std::upper_bound(t_.begin(), t_.end(), x);
  return it == t_.begin() ? v_.front() : v_[static_cast<size_t>(it - t_.begin()) - 1];
}

double CarbonSignal::Integral(Seconds x) const {
  auto it = std::upper_bound(t_.begin(), t_.end(), x);
  if (it == t_.begin()) return v_.front() * (x - t_.front());
  const size_t i = static_cast<size_t>(it - t_.begin()) - 1;
  return cum_[i] + v_[i] * (x - t_[i]);
}

double CarbonSignal::Average(Seconds t0, Seconds t1) const {
  if (constant() || t1 <= t0) return At(t0);
  return (Integral(t1 + shift_s_) - Integral(t0 + shift_s_)) / (t1 - t0);
}

double CarbonForecast::Factor(int64_t hour, int64_t issued_hour) const {
  const double h = std::max<int64_t>(0, hour - issued_hour);
  const double sigma = std::min(err_.sigma_max, err_.sigma0 + err_.sigma_per_day * h / 24);
  if (sigma <= 0) return 1;
  const uint64_t key = Mix(err_.seed ^ Mix(static_cast<uint64_t>(hour) ^ Mix(static_cast<uint64_t>(issued_hour))));
  // Box-Muller from two uniforms of the key.
  const double z = std::sqrt(-2 * std::log(Unit(key))) * std::cos(2 * M_PI * Unit(key + 1));
  return std::max(0.05, 1 + sigma * z);
}

double CarbonForecast::At(Seconds t, Seconds issued_s) const {
  const auto hour = static_cast<int64_t>(std::floor(t / 3600));
  return truth_.At(t) * Factor(hour, static_cast<int64_t>(std::floor(issued_s / 3600)));
}

double CarbonForecast::Average(Seconds t0, Seconds t1, Seconds issued_s) const {
  if (t1 <= t0) return At(t0, issued_s);
  if (err_.perfect()) return truth_.Average(t0, t1);
  const auto issued_h = static_cast<int64_t>(std::floor(issued_s / 3600));
  double sum = 0;
  for (Seconds a = t0; a < t1;) {  // hour by hour: the noise is constant within an hour
    const auto hour = static_cast<int64_t>(std::floor(a / 3600));
    const Seconds b = std::min(t1, static_cast<Seconds>(hour + 1) * 3600);
    sum += truth_.Average(a, b) * (b - a) * Factor(hour, issued_h);
    a = b;
  }
  return sum / (t1 - t0);
}

Result<Tariff> Tariff::FromPrices(std::vector<double> usd_per_kwh, double shift_h) {
  if (usd_per_kwh.size() != 1 && usd_per_kwh.size() != 24)
    return InvalidArgument("tariff: expected 1 price or 24 (one per hour of day), got " +
                           std::to_string(usd_per_kwh.size()));
  for (size_t i = 0; i < usd_per_kwh.size(); ++i)
    if (!std::isfinite(usd_per_kwh[i]) || usd_per_kwh[i] < 0)
      return InvalidArgument("tariff: price [" + std::to_string(i) + "] must be a number >= 0");
  Tariff t;
  t.p_ = std::move(usd_per_kwh);
  t.shift_h_ = shift_h;
  return t;
}

double Tariff::At(Seconds t) const {
  if (p_.size() == 1) return p_.front();
  const double h = std::floor(t / 3600 + shift_h_);
  return p_[static_cast<size_t>(((static_cast<int64_t>(h) % 24) + 24) % 24)];
}

double Tariff::Average(Seconds t0, Seconds t1) const {
  if (p_.size() == 1 || t1 <= t0) return At(t0);
  double sum = 0;
  for (Seconds a = t0; a < t1;) {
    const Seconds b = std::min(t1, (std::floor(a / 3600) + 1) * 3600);
    sum += At(a) * (b - a);
    a = b;
  }
  return sum / (t1 - t0);
}

}  // namespace cnet
