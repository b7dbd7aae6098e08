// Per-site carbon signals, their forecast, and energy tariffs (docs/energy.md), and the energy and
// emissions of running a job on a candidate. Decisions (scorers, ChooseCandidate, temporal
// shifting) read the forecast; accounting reads the truth.
// Energy of a run = board power of the type x packages x run time: the busy draw of the packages
// the job holds, from the catalogue (board_power_w), so a faster type with a higher board power
// can still use less energy per job. Idle draw of the rest of the cluster is not the job's.
// Units: gCO2eq/kWh, kWh, grams, USD per kWh. Built once, then immutable; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "model/accelerator.h"
#include "model/carbon_signal.h"

namespace cnet {

// A site without a signal: the world-average grid intensity, 475 gCO2eq/kWh for 2018 (IEA,
// Global Energy & CO2 Status Report 2019), so unknown sites are not taken for clean ones.
constexpr double kDefaultGPerKwh = 475;

class SiteCarbon {
 public:
  void SetSignal(const std::string& site, CarbonSignal truth);
  void SetTariff(const std::string& site, Tariff t) { tariff_.insert_or_assign(site, std::move(t)); }
  // The error model of every site's forecast (default: perfect, the truth).
  void SetForecastError(const ForecastError& e);

  // The true intensity (accounting) at `site`: its signal, else kDefaultGPerKwh.
  double TrueAverage(const std::string& site, Seconds t0, Seconds t1) const;
  // The forecast of the mean over [t0, t1), issued at `now` (decisions).
  double ForecastAverage(const std::string& site, Seconds t0, Seconds t1, Seconds now) const;
  const Tariff* tariff(const std::string& site) const;
  const CarbonForecast* signal(const std::string& site) const;
  const ForecastError& forecast_error() const { return err_; }

 private:
  std::map<std::string, CarbonForecast> sig_;
  std::map<std::string, Tariff> tariff_;
  ForecastError err_{0, 0, 0, 0};
};

// kWh of `packages` of type `spec` busy for run_s.
inline double RunEnergyKwh(const AcceleratorSpec& spec, int packages, Seconds run_s) {
  return spec.board_power_w * packages * run_s / kJoulesPerKwh;
}

}  // namespace cnet
