// Round-based time-sharing policies (Gavel): each computes an allocation X[job][type] of time
// fractions, recomputed when the set of active jobs changes, and a RoundRealizer turns it into
// placements each round.
//   las              heterogeneity-agnostic max-min fairness (least attained service): every job
//                    gets an equal (priority-weighted) share of accelerators, spread over the types
//                    in proportion to their counts, as if all accelerators were the same.
//   las-hetero       max-min fairness over effective throughput normalised by the throughput of an
//                    equal share of the cluster (Gavel's max_min_fairness_perf), solved as an LP.
//   ftf-hetero       minimises the largest finish-time-fairness ratio rho = JCT_shared/JCT_isolated
//                    (Themis' metric; Gavel's finish_time_fairness_perf): bisection on rho over LPs.
//   makespan-hetero  minimises the time to finish all active jobs (Gavel's min_total_duration_perf):
//                    max-min of throughput / remaining steps.
//   max-sum-throughput  maximises the cluster's total normalised throughput (Gavel's
//                    max_sum_throughput_perf): sum over jobs of priority x throughput(m, X) /
//                    (m's best rate), i.e. how many jobs' worth of full-speed progress the
//                    cluster makes. No fairness: a job that gains little anywhere may get no share.
#pragma once

#include <memory>

#include "sched/policy.h"

namespace cnet {

std::unique_ptr<Policy> MakeLasPolicy();
std::unique_ptr<Policy> MakeLasHeteroPolicy();
std::unique_ptr<Policy> MakeFtfHeteroPolicy();
std::unique_ptr<Policy> MakeMakespanHeteroPolicy();
std::unique_ptr<Policy> MakeMaxSumThroughputPolicy();

}  // namespace cnet
