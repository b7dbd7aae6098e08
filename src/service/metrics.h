// Prometheus text-format metrics: counters, gauges and fixed-bucket histograms. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cnet::service {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void Observe(double v);
  // Appends "name_bucket{labels,le=..} n" ... lines.
  void Render(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t n_ = 0;
};

class Metrics {
 public:
  Metrics();
  // HTTP request latency by route template and status class ("2xx").
  void ObserveRequest(const std::string& route, int status, double seconds);
  void ObserveCycle(double seconds) { cycle_.Observe(seconds); }
  void SetGauge(const std::string& name, const std::string& labels, double v);
  void Inc(const std::string& name, const std::string& labels, double by = 1);
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  Histogram cycle_;
  std::map<std::string, std::unique_ptr<Histogram>> http_;  // key: labels
  std::map<std::string, std::map<std::string, double>> gauges_, counters_;
};

}  // namespace cnet::service
