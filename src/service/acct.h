// Accounting (`cnet acct`, `cnet usage --since/--until`; docs/dispatch.md "Accounting"): per job
// its accelerator-hours by type, cost at its site's price, energy (measured by its site where it
// can, else the model's estimate, each figure with its source), stage-in, and the predicted vs the
// actual run time;
// per tenant the totals over a time window. Pure functions over stored rows; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/job_request.h"
#include "model/accelerator.h"
#include "sched/estimate/economics.h"
#include "store/store.h"

namespace cnet::service {

struct AcctRow {
  int64_t id = 0;
  std::string tenant, name, state, site, type;  // type: accelerator type it ran on ("" if it never ran)
  int packages = 0;                    // accelerator packages (CPUs for a CPU-only job)
  double submit = 0, start = 0, end = 0;  // epoch seconds; 0 = not yet
  double elapsed_s = 0;                // end (or now, while running) - start
  double accel_hours = 0;              // packages x elapsed
  double cost_usd = 0;                 // site price x accel_hours
  double energy_kwh = 0;               // energy_j in kWh
  double energy_j = 0;                 // measured (JobRow::energy_j), else EstimatedEnergyJ
  // Where energy_j comes from: the site's measuring source ("rapl", "nvidia-smi", "slurm", ...),
  // "estimated", or "" (it never ran on a known type).
  std::string energy_source;
  double stage_in_bytes = 0, stage_in_s = 0;  // its run's stage-in as its site reported it (0: none)
  std::optional<double> predicted_run_s;  // the model's run time on the type and shape it ran on
  std::optional<double> run_error;        // (predicted - actual) / actual, SUCCEEDED jobs only
};

// What the prediction needs about the job, worked out by the caller (Service::Acct): the steps it
// was given and the model's steps/s on the type and node count it ran on (0 = unknown).
struct Prediction {
  double total_steps = 0;
  double rate = 0;
  bool has_estimate = false;  // the request gave a job type or a duration estimate
};

// The model's estimate of a run's energy (docs/energy.md, "Measured energy"): board power x packages
// x elapsed seconds, in joules. The idle draw of packages no job holds is the site's, not a job's.
double EstimatedEnergyJ(const AcceleratorSpec& type, int packages, double elapsed_s);

// One row. `now` closes a running job's elapsed time.
AcctRow Account(const store::JobRow& row, const api::JobRequest& req, const Catalogue& cat, const SiteEconomics& econ,
                const Prediction& pred, double now);

// accel_hours, cost and energy of `r` within [since, until] (the part of its run in the window).
AcctRow ClipToWindow(const AcctRow& r, double since, double until);

struct UsageRow {
  std::string tenant;  // "" for the total
  int jobs = 0;
  double accel_hours = 0, cost_usd = 0, energy_kwh = 0;
  double energy_measured_kwh = 0, energy_estimated_kwh = 0;  // the two parts of energy_kwh
  std::map<std::string, double> accel_hours_by_type;
};
// Per tenant (sorted by name) and the total last; each job clipped to [since, until].
std::vector<UsageRow> Usage(const std::vector<AcctRow>& rows, double since, double until);

struct ErrorSummary {
  size_t jobs = 0;                 // SUCCEEDED jobs with a prediction
  double median_abs = 0, p90_abs = 0;  // of |run_error|
  double median = 0;               // signed: > 0 the model predicts too long
};
ErrorSummary RunTimeErrors(const std::vector<AcctRow>& rows);

}  // namespace cnet::service
