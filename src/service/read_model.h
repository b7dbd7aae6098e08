// What readers see of the control loop's state: an immutable value published at the end of each
// tick and shared by pointer, so reads (GET /v1/sites, job reasons) never wait for the loop or a
// site. Reasons are rebuilt only when a scheduling cycle ran or a site's note changed.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace cnet::service {

struct NodeView {
  std::string name, kind, type;  // kind: "cpu" or "accelerator"
  int count = 0, free = 0;
  bool usable = true;
  std::string reason;
  int cpus = 0;
  double memory_gib = 0;
};

struct SiteView {
  std::string name, type, region;
  bool healthy = true;
  std::string reason;
  std::vector<NodeView> nodes;
};

struct ReadModel {
  double published_at = 0;  // the clock's time of the tick that published it
  uint64_t tick = 0;
  std::vector<SiteView> sites;
  // Waiting and dispatched-but-unstarted jobs: the scheduler's or the site's latest word.
  std::shared_ptr<const std::unordered_map<int64_t, std::string>> reasons =
      std::make_shared<const std::unordered_map<int64_t, std::string>>();
};

}  // namespace cnet::service
