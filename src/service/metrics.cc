#include "service/metrics.h"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace cnet::service {

namespace {
std::string Num(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}
const std::vector<double> kLatency = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}  // namespace

void Histogram::Observe(double v) {
  std::lock_guard<std::mutex> l(mu_);
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  ++counts_[i];
  sum_ += v;
  ++n_;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string& out) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string sep = labels.empty() ? "" : labels + ",";
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{" + sep + "le=\"" + Num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  cum += counts_.back();
  out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(cum) + "\n";
  std::string lb = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + lb + " " + Num(sum_) + "\n";
  out += name + "_count" + lb + " " + std::to_string(n_) + "\n";
}

Metrics::Metrics() : cycle_(kLatency) {}

void Metrics::ObserveRequest(const std::string& route, int status, double seconds) {
  std::string labels = "route=\"" + route + "\",code=\"" + std::to_string(status / 100) + "xx\"";
  Histogram* h;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto& slot = http_[labels];
    if (!slot) slot = std::make_unique<Histogram>(kLatency);
    h = slot.get();
  }
  h->Observe(seconds);
}

void Metrics::SetGauge(const std::string& name, const std::string& labels, double v) {
  std::lock_guard<std::mutex> l(mu_);
  gauges_[name][labels] = v;
}

void Metrics::Inc(const std::string& name, const std::string& labels, double by) {
  std::lock_guard<std::mutex> l(mu_);
  counters_[name][labels] += by;
}

std::string Metrics::Render() const {
  std::string out;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [name, series] : gauges_) {
    out += "# TYPE " + name + " gauge\n";
    for (const auto& [labels, v] : series) out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + Num(v) + "\n";
  }
  for (const auto& [name, series] : counters_) {
    out += "# TYPE " + name + " counter\n";
    for (const auto& [labels, v] : series) out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + Num(v) + "\n";
  }
  out += "# HELP cnet_scheduling_cycle_seconds Time of one scheduling cycle (decide and apply).\n";
  out += "# TYPE cnet_scheduling_cycle_seconds histogram\n";
  cycle_.Render("cnet_scheduling_cycle_seconds", "", out);
  out += "# HELP cnet_http_request_seconds HTTP request latency.\n";
  out += "# TYPE cnet_http_request_seconds histogram\n";
  for (const auto& [labels, h] : http_) h->Render("cnet_http_request_seconds", labels, out);
  return out;
}

}  // namespace cnet::service
