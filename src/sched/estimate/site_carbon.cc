#include "sched/estimate/site_carbon.h"

namespace cnet {

void SiteCarbon::SetSignal(const std::string& site, CarbonSignal truth) {
  sig_.insert_or_assign(site, CarbonForecast(std::move(truth), err_));
}

void SiteCarbon::SetForecastError(const ForecastError& e) {
  err_ = e;
  for (auto& [site, f] : sig_) f = CarbonForecast(f.truth(), e);
}

double SiteCarbon::TrueAverage(const std::string& site, Seconds t0, Seconds t1) const {
  auto it = sig_.find(site);
  return it == sig_.end() ? kDefaultGPerKwh : it->second.truth().Average(t0, t1);
}

double SiteCarbon::ForecastAverage(const std::string& site, Seconds t0, Seconds t1, Seconds now) const {
  auto it = sig_.find(site);
  return it == sig_.end() ? kDefaultGPerKwh : it->second.Average(t0, t1, now);
}

const Tariff* SiteCarbon::tariff(const std::string& site) const {
  auto it = tariff_.find(site);
  return it == tariff_.end() ? nullptr : &it->second;
}

const CarbonForecast* SiteCarbon::signal(const std::string& site) const {
  auto it = sig_.find(site);
  return it == sig_.end() ? nullptr : &it->second;
}

}  // namespace cnet
