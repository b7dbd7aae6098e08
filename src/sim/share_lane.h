// Fractional-accelerator jobs in the simulator (docs/sharing.md, "In cnet simulate"): a job of
// one worker asking `milli`/1000 of one accelerator (Workload::share_milli).
//
// They bypass the policy. After each scheduling cycle the lane tries its waiting jobs in arrival
// order (a job that does not fit does not block later ones) and places each by the sharing
// scorer (sched/placement/gpu_share.h) on one accelerator of the fastest type it accepts where
// one fits. A placed job runs to completion, never preempted, at milli/1000 x its one-worker
// whole-accelerator rate on that type (time-slicing: a quarter of a GPU, a quarter of the speed).
//
// An accelerator holding any share is held in the Scheduler outside the policy
// (Scheduler::HoldOutside), so no whole-accelerator job lands on it; the lane mirrors the
// policy's whole-accelerator placements (TakeWhole/GiveWhole), so that its per-accelerator books
// cover everything and give the utilisation and fragmentation of every type. Not thread-safe.
#pragma once

#include <optional>
#include <unordered_map>
#include <vector>

#include "sched/job_record.h"
#include "sched/placement/gpu_share.h"
#include "sched/scheduler.h"
#include "sim/trace.h"

namespace cnet {

class ShareLane {
 public:
  // A fractional job placed by the lane.
  struct Running {
    JobRecord rec;  // rec.first_start_s: when it started
    int milli = 0;
    AccelId accel;
    SharePlacement where;
    Seconds finish_s = 0;
    double Share() const { return milli / static_cast<double>(kMilliPerGpu); }
  };

  // `mix`: the demands fragmentation is measured against (FGD).
  ShareLane(const Cluster& cluster, ShareScorer scorer, DemandMix mix);

  // Mirrors the policy's whole-accelerator placement of job `id` / its release (no-op if none).
  void TakeWhole(JobId id, const Placement& p);
  void GiveWhole(JobId id);

  // Queues a fractional job; `rec` comes from Scheduler::Prepare (rec.rate: one worker per type).
  void Enqueue(JobRecord rec, int milli);
  // Places the waiting jobs that fit now; returns the indices into running() of those started.
  std::vector<size_t> Place(Scheduler& sched, Seconds now);
  // Earliest finish of a running job (+inf when none).
  Seconds NextFinish() const;
  // Releases the jobs finished by `now` and returns them.
  std::vector<Running> Complete(Scheduler& sched, Seconds now);

  size_t waiting() const { return waiting_.size(); }
  const std::vector<Running>& running() const { return running_; }
  // Accelerators of type a: free capacity (shares included) and fragmentation against the mix
  // (FGD's measure), in accelerators. 0 for a type not in the cluster.
  double FreeOf(AccelId a) const;
  double FragmentedOf(AccelId a) const;

  // The books against a recount from the jobs: no accelerator over-committed (shares of one
  // accelerator sum to at most 1000 milli, a whole placement only on an unshared one), and on
  // every node the Scheduler's free packages equal the accelerators nothing holds. Internal error
  // naming the node and accelerator otherwise.
  Status Check(const Capacity& cap) const;

 private:
  struct Waiting {
    JobRecord rec;
    int milli = 0;
    std::vector<AccelId> types;  // accepted types, fastest first
    uint64_t failed_at = ~uint64_t{0};  // released_ when it last found no spot
  };
  GpuShareState* StateOf(AccelId a);
  const GpuShareState* StateOf(AccelId a) const;
  bool TryPlace(Scheduler& sched, const Waiting& w, Seconds now);

  const Cluster& cluster_;
  ShareScorer scorer_;
  DemandMix mix_;
  std::vector<std::optional<GpuShareState>> by_type_;  // by AccelId
  std::unordered_map<JobId, std::pair<AccelId, std::vector<SharePlacement>>> whole_;
  std::vector<Waiting> waiting_;  // arrival order
  std::vector<Running> running_;
  // Counts releases of capacity: a job that found no spot finds none until this changes.
  uint64_t released_ = 0;
  std::string broken_;  // first inconsistency found while mirroring (reported by Check)
};

// The demand mix of a workload, for FGD: each fractional job its share, each other job its
// packages per worker (JobSpec::unit, at most 64), weighted by how many jobs ask for it.
DemandMix WorkloadMix(const Workload& w);

}  // namespace cnet
