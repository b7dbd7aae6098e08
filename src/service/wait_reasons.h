// Site outages in waiting jobs' reasons (issue 16 item 4). The scheduler sees only that a site's
// nodes are unusable; the service knows which site is down, since when and why (the backend's
// health reason, e.g. "slurmctld: not answering slurmrestd (...)"). A waiting job's reason names
// the outages of the sites that could run it. Pure functions; thread-compatible.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/ids.h"
#include "model/cluster.h"
#include "model/job.h"

namespace cnet::service {

struct SiteOutage {
  std::string site;
  double since = 0;    // epoch seconds
  std::string reason;  // the backend's health reason
};

// What the service knows of every site of the cluster, by SiteId: down or not, and which
// accelerator types its nodes carry.
class OutageBook {
 public:
  OutageBook(const Cluster& cl, std::vector<std::pair<std::string, SiteOutage>> down);
  bool any() const { return any_; }
  // The outages of the sites that could run `job` (its allowed sites, or all; with nodes of a type
  // it accepts). `all_down`: every such site is down.
  std::vector<const SiteOutage*> For(const JobSpec& job, bool* all_down) const;

 private:
  struct PerSite {
    std::set<AccelId> types;
    bool down = false;
    SiteOutage outage;
  };
  std::vector<PerSite> sites_;  // by SiteId
  bool any_ = false;
};

// "waiting for site hpc, unreachable since 20:41:07 UTC (slurmctld: ...); <reason>" when every
// site that could run it is down; "<reason>; site hpc, unreachable since ..." when some are; the
// reason unchanged when none.
std::string WithOutages(const std::string& reason, const std::vector<const SiteOutage*>& down, bool all_down);

// "20:41:07 UTC" (an absolute time: a published reason does not go stale as it is read later).
std::string UtcClock(double epoch_s);

}  // namespace cnet::service
