// Workload inputs for the simulator. Every job keeps the line it came from, so that a job the
// cluster can never run is reported as "file:line: field ...".
#pragma once

#include <string>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "model/job.h"
#include "perf/perf_model.h"

namespace cnet {

struct Workload {
  std::string source;            // file name or generator description
  std::vector<JobSpec> jobs;     // sorted by submit time, then id
  std::vector<int> lines;        // input line of each job (0 when generated)
  std::string size_field = "workers";  // the input column holding the gang size
  // Per job (empty: none): 1..999 for a fractional job, one worker asking that many thousandths
  // of one accelerator (docs/sharing.md); 0 for a job of whole accelerators.
  std::vector<int> share_milli;

  int ShareMilli(size_t i) const { return i < share_milli.size() ? share_milli[i] : 0; }
  bool HasShares() const;
};

// CSV: job_id,submit_time_s,job_type,workers,total_steps[,tenant][,priority][,deadline_s]
// [,accelerators][,accelerators_per_worker][,restore_s][,first_start_cost_s][,min_workers]
// [,max_workers] (accelerators: types separated by '|', empty = any; accelerators_per_worker:
// whole packages per worker, on one node, or for a one-worker job a fraction in (0, 1) with at
// most 3 decimals (Workload::share_milli);
// restore_s / first_start_cost_s: seconds without progress after each restart / at the first
// start; min_workers / max_workers: an elastic job's range of workers, docs/elastic.md). The order
// of columns is free.
Result<Workload> ReadCsvTrace(const std::string& path, const PerfModel& perf);
Result<Workload> ParseCsvTrace(const std::string& text, const std::string& file, const PerfModel& perf);

// Restore cost per job type from a CSV `job_type,restore_s`, or `job_type,checkpoint_gib` with
// the restore bandwidth `restore_gbs` (GB/s; restore_s = checkpoint size / bandwidth): sets
// restore_s of every job of a listed type that has none of its own. Errors name file:line.
Status ApplyRestoreCosts(const std::string& path, const PerfModel& perf, Workload* w, double restore_gbs = 0);

// Philly (Jeon et al., ATC'19) in the Pollux/Sia form: timestamp,duration,num_gpus,gpu_time,cluster.
// Submit times are relative to the first job. Each job gets a job type drawn with `rng` among the
// types measured with more than one worker when num_gpus > 1 (all types otherwise), and
// total_steps = duration x its throughput on `reference` with num_gpus workers (Gavel's method).
// `limit` > 0 keeps only the first `limit` jobs by submit time.
Result<Workload> ReadPhillyTrace(const std::string& path, const PerfModel& perf, AccelId reference,
                                 Rng& rng, size_t limit = 0);

}  // namespace cnet
