#include "sched/policy/reservation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "common/strings.h"
#include "sched/placement/rules.h"

namespace cnet {

namespace {

// Whether node n counts for job j's reservation: usable now and allowed by every filter.
bool Counts(const Snapshot& s, const Capacity& cap, const JobRecord& j, NodeId n) {
  return cap.Usable(n) && s.rules->AllowsNode(j.spec, s.cluster->node(n));
}

}  // namespace

Reservation Reserve(const Snapshot& s, const Capacity& cap, const JobRecord& j) {
  Reservation best;
  Seconds best_end = std::numeric_limits<double>::infinity();
  struct End {
    Seconds at;
    int packages;
    JobId job;
  };
  // A gang runs on one site: each (type, site) is a candidate of its own.
  for (AccelId a : s.cluster->accel_types()) {
    if (j.rate[a.value()] <= 0 || !s.rules->AllowsType(j.spec, a)) continue;
    for (const Site& site : s.cluster->sites()) {
      int free = 0;
      for (const Node& n : s.cluster->nodes())
        if (n.accel == a && n.site == site.id && Counts(s, cap, j, n.id)) free += cap.Free(n.id);
      std::vector<End> ends;
      for (const JobRecord* r : s.running) {
        if (r->placement.accel != a) continue;
        int here = 0;  // what it will release where this job may run
        for (const Slot& sl : r->placement.slots)
          if (s.cluster->node(sl.node).site == site.id && Counts(s, cap, j, sl.node)) here += sl.count;
        if (here > 0) ends.push_back({r->ExpectedFinish(), here, r->spec.id});
      }
      std::sort(ends.begin(), ends.end(), [](const End& x, const End& y) { return x.at != y.at ? x.at < y.at : x.job < y.job; });
      Reservation r;
      r.type = a;
      r.site = site.id;
      Seconds t = s.now;
      for (size_t k = 0; free < j.spec.workers && k < ends.size(); ++k) {
        free += ends[k].packages;
        r.overdue = ends[k].at < s.now;  // sorted: the last one waited for decides
        t = std::max(t, ends[k].at);      // an overrunning job is expected to end now, not in the past
        r.waits_for.push_back(ends[k].job);
      }
      if (free < j.spec.workers) continue;
      const Seconds end = t + j.spec.total_steps / j.rate[a.value()];
      if (end < best_end) {
        best_end = end;
        r.at = t;
        r.extra = free - j.spec.workers;
        best = std::move(r);
      }
    }
  }
  return best;
}

Seconds ReservedStart(const Reservation& r) {
  if (!r.type.valid() || r.waits_for.empty() || r.overdue) return -1;
  return r.at;
}

std::string DescribeReservation(const Snapshot& s, const JobRecord& j, const Reservation& r) {
  if (!r.type.valid())
    return "no usable accelerator it may use can hold it now (nodes down, drained or their site unreachable)";
  std::string t = "reserved " + std::to_string(j.spec.workers) + " x " + s.catalogue->Get(r.type).name;
  if (r.waits_for.empty()) return t + " (free now, but not on one node or site)";
  std::string jobs;
  const size_t shown = std::min<size_t>(r.waits_for.size(), 3);
  for (size_t k = 0; k < shown; ++k) jobs += (k ? ", " : "") + std::to_string(r.waits_for[k].value());
  if (r.waits_for.size() > shown) jobs += " and " + std::to_string(r.waits_for.size() - shown) + " more";
  const bool one = r.waits_for.size() == 1;
  const std::string who = (one ? "job " : "jobs ") + jobs + (one ? " ends" : " end");
  const double in = std::max(0.0, r.at - s.now);
  if (r.overdue) return t + " as soon as " + who + " (past " + (one ? "its" : "their") + " estimated end)";
  if (in < 0.5) return t + " as soon as " + who + " (due now by estimate)";
  return t + " in ~" + FormatNumber("%.0f s", std::ceil(in)) + " (when " + who + ", by estimate)";
}

}  // namespace cnet
