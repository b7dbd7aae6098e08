#include "sched/policy/elastic.h"
#include "sched/policy/queue_policies.h"
#include "sched/policy/time_sharing.h"
#include "sched/policy_registry.h"

namespace cnet {

void RegisterBuiltinPolicies(PolicyRegistry& r) {
  (void)r.Register("fifo", "first in, first out; blind to accelerator speed",
                   [] { return MakeFifoPolicy(false); });
  (void)r.Register("fifo-hetero", "first in, first out; each job on the fastest type with room",
                   [] { return MakeFifoPolicy(true); });
  (void)r.Register("backfill", "EASY backfill (Slurm sched/backfill) over accelerator types",
                   [] { return MakeBackfillPolicy(); });
  (void)r.Register("las", "least attained service / max-min fairness, heterogeneity-agnostic",
                   [] { return MakeLasPolicy(); });
  (void)r.Register("las-hetero", "max-min fairness over effective throughput (LP, rounds)",
                   [] { return MakeLasHeteroPolicy(); });
  (void)r.Register("ftf-hetero", "finish-time fairness (LP bisection, rounds)",
                   [] { return MakeFtfHeteroPolicy(); });
  (void)r.Register("makespan-hetero", "minimum makespan (LP, rounds)",
                   [] { return MakeMakespanHeteroPolicy(); });
  (void)r.Register("max-sum-throughput",
                   "maximum total normalised throughput, no fairness (Gavel's max_sum_throughput; LP, rounds)",
                   [] { return MakeMaxSumThroughputPolicy(); });
  (void)r.Register("elastic-hetero",
                   "type and gang size per round for elastic jobs (min/max_workers): who runs by least "
                   "attained service, types by regret, sizes by proportional fairness; rigid jobs at their size",
                   [] { return MakeElasticHeteroPolicy(); });
  (void)r.Register("cost-hetero", "cheapest type that meets each job's deadline",
                   [] { return MakeCostHeteroPolicy(); });
}

}  // namespace cnet
