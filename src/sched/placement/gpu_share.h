// GPU sharing: pods that ask for a fraction of one GPU (e.g. 0.25) or for whole GPUs on one node,
// packed onto a cluster's GPUs. Three scorers pick among the feasible spots:
//   best-fit: the node left with the least free capacity (classic bin-packing best fit over
//        nodes), then the fullest GPU on it that fits;
//   best-fit-gpu: the fullest GPU that fits anywhere, then the fullest node;
//   fgd: fragmentation-aware, in the spirit of Fragmentation Gradient Descent (Weng et al.,
//        "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient
//        Descent", USENIX ATC 2023): the spot whose node's expected fragmentation, measured
//        against the workload's demand mix, grows least (best-fit breaks ties). Written from the
//        paper's definitions; no code of theirs is used.
// Capacity is counted in milli-GPUs (1000 = one GPU), so shares add up exactly.
// Value types and pure functions; not thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/cluster.h"

namespace cnet {

inline constexpr int kMilliPerGpu = 1000;

// A pod's demand: 1..999 milli on one GPU, or a whole number of GPUs (multiple of 1000), and
// CPU cores on the same node (0: none asked).
struct GpuDemand {
  int milli = kMilliPerGpu;
  int cpus = 0;
  bool Whole() const { return milli >= kMilliPerGpu; }
  int Gpus() const { return milli / kMilliPerGpu; }
};

// Parses "0.25" / "1" / "8" (GPUs), optionally with CPU cores: "0.25x4". Fractions must be in
// (0, 1) with at most 3 decimals; whole demands 1..64; cores 0..1024.
Result<GpuDemand> ParseGpuDemand(const std::string& text);

// The workload's demand mix: what fragmentation is measured against (weights need not sum to 1).
struct DemandMix {
  std::vector<GpuDemand> demand;
  std::vector<double> weight;
  // "0.25:3,0.5x8:2,1:4,2:1,8:0.5" (demand:weight, comma-separated). Errors name the item.
  static Result<DemandMix> Parse(const std::string& text);
};

// Free milli-GPUs of each GPU of one node.
using GpuFree = std::vector<int>;

// Expected fragmentation of a node (milli-GPUs) against the mix (FGD's measure): for each demand,
// the node's free capacity that cannot serve it (all of it when the demand does not fit the node;
// else, for a share, GPUs with less free than the share; for whole GPUs, partly used GPUs),
// weighted by the demand's share of the mix. A demand for more cores than `cpus_free` does not fit.
double NodeFragmentation(const GpuFree& free, const DemandMix& mix, int cpus_free = 1 << 30);

enum class ShareScorer { kBestFit, kBestFitGpu, kFgd };
Result<ShareScorer> ParseShareScorer(const std::string& name);  // "best-fit", "best-fit-gpu", "fgd"
// A comma-separated list of scorer names, in order; errors are prefixed with `flag` (e.g.
// "--scorer: ..."), and an empty list is an error.
Result<std::vector<ShareScorer>> ParseShareScorers(const std::string& list, const std::string& flag);
const char* ShareScorerName(ShareScorer s);

// Where a pod went: its node and, per GPU index on that node, the milli-GPUs it took.
struct SharePlacement {
  NodeId node;
  std::vector<std::pair<int, int>> gpus;  // (gpu index, milli)
  int cpus = 0;                           // cores taken on the node
};

// Free capacity of every GPU node of a cluster (CPU-only nodes are left out), with nodes of equal
// state grouped so that a decision scores each distinct state once.
class GpuShareState {
 public:
  // `only` valid: the nodes carrying that accelerator type alone (one state per type, so that a
  // job can be kept to the types it accepts).
  explicit GpuShareState(const Cluster& cluster, AccelId only = AccelId());

  // The best spot for `d` by `scorer` (the mix is used by kFgd), or nullopt when no node can hold
  // it. Ties go to the lower node id.
  std::optional<SharePlacement> Find(GpuDemand d, ShareScorer scorer, const DemandMix& mix) const;
  void Take(const SharePlacement& p);
  void Give(const SharePlacement& p);

  int64_t TotalMilli() const { return total_milli_; }
  int64_t FreeMilli() const { return free_milli_; }
  // Sum of NodeFragmentation over all nodes, milli-GPUs.
  double Fragmentation(const DemandMix& mix) const;
  const GpuFree& Free(NodeId n) const { return free_[n.value()]; }
  int FreeCpus(NodeId n) const { return cpus_free_[n.value()]; }

 private:
  // A node's state: (GPUs, cores) it has, cores free, free GPU shares sorted descending.
  struct Key {
    int gpus = 0, cpus = 0, cpus_free = 0;
    GpuFree free;
    auto operator<=>(const Key&) const = default;
  };
  Key KeyOf(NodeId n) const;
  void Regroup(NodeId n, const Key& old_key);

  std::vector<GpuFree> free_;   // by NodeId; empty for CPU-only nodes
  std::vector<int> cpus_, cpus_free_;  // by NodeId
  std::map<Key, std::vector<int32_t>> groups_;  // state -> node ids in increasing order
  int64_t total_milli_ = 0, free_milli_ = 0;
};

}  // namespace cnet
