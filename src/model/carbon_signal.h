// Grid carbon intensity of one site over time, in gCO2eq per kWh (docs/energy.md), and a forecast
// of it. Times are seconds on the scheduler's clock: epoch seconds (UTC) in the service; in the
// simulator, simulated seconds plus the benchmark's origin (folded into the shift).
//
// A signal is a constant or a step series: the value of a sample holds from its time until the
// next sample's (no interpolation; the source files give interval means). Before the first
// sample the first value holds, after the last the last. An optional shift reuses a series for
// another zone or clock: At(t) = series(t + shift_s), and the signal's label says so.
// Value type; immutable after construction; every const method is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/units.h"

namespace cnet {

class CarbonSignal {
 public:
  static CarbonSignal Constant(double g_per_kwh, std::string label = "constant");
  // The CSV of data/carbon/: header `Time,Carbon Intensity`, Time `YYYY-MM-DD HH:MM:SS` (read as
  // UTC), strictly increasing; intensity a finite number in [0, 5000]. Errors name
  // file:line and the column. `file` is used in messages only.
  static Result<CarbonSignal> ParseCsv(const std::string& text, const std::string& file);
  static Result<CarbonSignal> ReadCsv(const std::string& path);

  // The same series read `shift_s` later: At(t) = this->At(t + shift_s). Shifts add up.
  CarbonSignal Shifted(Seconds shift_s, const std::string& why = "") const;

  double At(Seconds t) const;  // gCO2eq/kWh, step lookup
  // Time-weighted mean over [t0, t1) (exact for the step series); t1 <= t0: At(t0).
  double Average(Seconds t0, Seconds t1) const;

  bool constant() const { return t_.size() <= 1; }
  Seconds shift_s() const { return shift_s_; }
  // Where the values come from ("constant", "file.csv", "file.csv shifted +8 h (why)").
  const std::string& label() const { return label_; }
  size_t samples() const { return t_.size(); }
  // The series' own first and last sample times (before the shift); 0 for a constant.
  Seconds first_s() const { return t_.empty() ? 0 : t_.front(); }
  Seconds last_s() const { return t_.empty() ? 0 : t_.back(); }

 private:
  CarbonSignal() = default;
  double Integral(Seconds x) const;  // ∫ from t_[0] to x of the unshifted series (x may be < t_[0])
  std::vector<Seconds> t_;
  std::vector<double> v_;
  std::vector<double> cum_;  // ∫ from t_[0] to t_[i]
  Seconds shift_s_ = 0;
  std::string label_;
};

// A series' time stamp -> epoch seconds: ParseUtcDateTime (common/utc_time.h: "YYYY-MM-DD HH:MM:SS",
// "...THH:MM[:SS][.f]", optional zone "Z"/"+HH:MM", applied); nullopt if malformed.
std::optional<Seconds> ParseUtcTimestamp(const std::string& s);

// The forecast's error model (docs/energy.md): forecast(t | issued at τ) = truth(t) x max(0.05, 1 + e),
// e ~ Normal(0, sigma(h)), h = max(0, t - τ) in hours, sigma(h) = min(sigma_max, sigma0 + sigma_per_day x h / 24).
// e is drawn per (hour of t, hour of τ) from a counter-based generator keyed by `seed`, so a
// forecast is a pure function (the scorers must be) and reproducible by seed. All sigmas 0: the truth.
struct ForecastError {
  double sigma0 = 0.05;
  double sigma_per_day = 0.10;
  double sigma_max = 0.5;
  uint64_t seed = 0;
  bool perfect() const { return sigma0 == 0 && sigma_per_day == 0; }
};

class CarbonForecast {
 public:
  CarbonForecast(CarbonSignal truth, ForecastError err) : truth_(std::move(truth)), err_(err) {}
  // The forecast, issued at `issued_s`, of the intensity at t / of the mean over [t0, t1).
  double At(Seconds t, Seconds issued_s) const;
  double Average(Seconds t0, Seconds t1, Seconds issued_s) const;
  const CarbonSignal& truth() const { return truth_; }
  const ForecastError& error() const { return err_; }

 private:
  double Factor(int64_t hour, int64_t issued_hour) const;  // 1 + e, clamped
  CarbonSignal truth_;
  ForecastError err_;
};

// Energy price by hour of day (UTC + shift_h), USD per kWh. Value type, thread-safe.
class Tariff {
 public:
  // 1 price (all day) or 24 (hour 0..23); each finite and >= 0.
  static Result<Tariff> FromPrices(std::vector<double> usd_per_kwh, double shift_h = 0);
  double At(Seconds t) const;
  // Mean price over [t0, t1) (exact per hour); t1 <= t0: At(t0).
  double Average(Seconds t0, Seconds t1) const;

 private:
  std::vector<double> p_;
  double shift_h_ = 0;
};

}  // namespace cnet
