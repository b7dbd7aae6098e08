// What readers see of the control loop's state: an immutable value published at the end of each
// tick and shared by pointer, so reads (GET /v1/sites, job reasons) never wait for the loop or a
// site. Reasons are rebuilt only when a scheduling cycle ran or a site's note changed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cnet::service {

struct EstimateBase;  // service/explain.h

struct NodeView {
  std::string name, kind, type;  // kind: "cpu" or "accelerator"
  int count = 0, free = 0;
  bool usable = true;
  std::string reason;
  int cpus = 0;
  double memory_gib = 0;
  int cpus_free = -1;  // an accelerator node whose CPUs take CPU jobs: its CPUs free for them; else -1
};

struct SiteView {
  std::string name, type, region;
  bool healthy = true;
  std::string reason;
  std::vector<NodeView> nodes;
  std::map<std::string, std::string> attributes;  // the config's, for residency policies (docs/data.md)
};

// The scheduler's queue in order, as of the last scheduling cycle. Its index (job -> position) is
// built by the first reader that needs it, not by the loop.
class QueueView {
 public:
  explicit QueueView(std::vector<int64_t> order) : order_(std::move(order)) {}
  size_t size() const { return order_.size(); }
  // 0-based position of a job, or -1 if it is not in the queue. Thread-safe.
  int64_t Position(int64_t id) const;

 private:
  std::vector<int64_t> order_;
  mutable std::once_flag built_;
  mutable std::unordered_map<int64_t, uint32_t> index_;
};

struct ReadModel {
  double published_at = 0;  // the clock's time of the tick that published it
  uint64_t tick = 0;
  std::vector<SiteView> sites;
  // The scheduler's detailed word on the first waiting jobs (at most explain_limit), the site's
  // word on dispatched jobs that have not started, and the reason of each tenant's first held job.
  std::shared_ptr<const std::unordered_map<int64_t, std::string>> reasons =
      std::make_shared<const std::unordered_map<int64_t, std::string>>();
  std::shared_ptr<const QueueView> queue = std::make_shared<const QueueView>(std::vector<int64_t>{});
  std::shared_ptr<const std::map<std::string, std::string>> held_reasons =
      std::make_shared<const std::map<std::string, std::string>>();
  size_t explain_limit = 0;
  // Free capacity and running jobs' expected finishes after the last cycle (null before one), for
  // `cnet explain` (service/explain.h).
  std::shared_ptr<const EstimateBase> estimate;
  // Expected start (epoch seconds) of the waiting jobs the scheduler holds a reservation for
  // (backfill's head); a job not here has no estimate.
  std::shared_ptr<const std::unordered_map<int64_t, double>> estimated_starts =
      std::make_shared<const std::unordered_map<int64_t, double>>();
};

}  // namespace cnet::service
