#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "common/clock.h"

namespace cnet {

namespace {

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double pos = q * (v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

}  // namespace

Result<SimResult> Simulate(const Cluster& cluster, const PerfModel& perf, std::unique_ptr<Policy> policy,
                           const Workload& wl, const SimOptions& opts) {
  const double wall0 = MonotonicSeconds();
  const Catalogue& cat = perf.catalogue();
  SimResult res;
  res.policy = std::string(policy->name());
  res.workload = wl.source;
  res.jobs_total = wl.jobs.size();
  const bool ts = policy->time_sharing();
  SchedulerOptions so;
  so.round_s = opts.round_s;
  so.preempt_penalty_s = opts.preempt_penalty_s;
  Scheduler sched(cluster, perf, std::move(policy), so);
  Rng rng(opts.seed);

  // Every job must be runnable somewhere: fail up front, naming the input line.
  for (size_t i = 0; i < wl.jobs.size(); ++i) {
    auto r = sched.Prepare(wl.jobs[i]);
    if (!r.ok()) {
      const std::string& msg = r.status().message();
      std::string field = msg.find("job type") != std::string::npos      ? "job_type"
                          : msg.find("total_steps") != std::string::npos ? "total_steps"
                                                                          : wl.size_field;
      int line = wl.lines[i];
      return InvalidArgument(line > 0 ? Where(wl.source, line, field) + ": " + msg : wl.source + ": " + msg);
    }
  }
  auto measured = [&](JobId id) {
    return opts.measure_first < 0 || (id.value() >= opts.measure_first && id.value() <= opts.measure_last);
  };
  size_t to_measure = 0;
  for (const auto& j : wl.jobs) to_measure += measured(j.id);
  if (to_measure == 0) return InvalidArgument("--measure: no job ids in the window");

  std::vector<double> busy_s(cat.size(), 0.0);
  std::unordered_map<JobId, std::pair<Seconds, Placement>> started;  // job -> (start, placement)
  std::set<std::pair<int, int>> predicted;                           // (job type, accel)
  auto stop_busy = [&](JobId id, Seconds t) {
    auto it = started.find(id);
    if (it == started.end()) return;
    busy_s[it->second.second.accel.value()] += it->second.second.Workers() * (t - it->second.first);
    started.erase(it);
  };
  std::vector<double> solve_ms, jct, ftf;
  std::vector<std::pair<int64_t, double>> measured_jct;
  double first_submit = wl.jobs.empty() ? 0 : wl.jobs.front().submit_time_s, last_finish = first_submit;
  size_t next = 0, done_measured = 0;
  Seconds t = first_submit;
  Seconds next_round = t;
  double last_progress = 0;
  int idle_rounds = 0;  // rounds in a row with work queued, nothing running and nothing arriving

  while (done_measured < to_measure) {
    // Admit arrivals.
    while (next < wl.jobs.size() && wl.jobs[next].submit_time_s <= t + 1e-9) {
      Status st = sched.Admit(wl.jobs[next]);
      if (!st.ok()) return st;
      ++next;
    }
    // Decide.
    bool boundary = !ts || t >= next_round - 1e-9;
    if (boundary && sched.active() > 0) {
      CycleResult cr = sched.RunCycle(t, true, rng);
      ++res.cycles;
      solve_ms.push_back(cr.solve_ms);
      if (!cr.rejected.empty())
        return Internal("policy " + res.policy + " made an invalid decision: " + cr.rejected.front());
      for (const Decision& d : cr.applied) {
        if (d.action == Action::kPreempt) {
          stop_busy(d.job, t);
          ++res.preemptions;
        } else if (d.action == Action::kPlace) {
          started[d.job] = {t, d.placement};
          const JobRecord* r = sched.Find(d.job);
          if (r->predicted[d.placement.accel.value()] || d.placement.Nodes() > 1)
            if (!perf.matrix().Get(r->spec.type_id, d.placement.accel, r->spec.workers, d.placement.Nodes() > 1))
              predicted.insert({r->spec.type_id.value(), d.placement.accel.value()});
        }
      }
    }
    if (ts && boundary) next_round = t + opts.round_s;
    // Next event.
    Seconds t_arr = next < wl.jobs.size() ? wl.jobs[next].submit_time_s : std::numeric_limits<double>::infinity();
    Seconds t_done = std::numeric_limits<double>::infinity();
    for (JobId id : sched.running()) t_done = std::min(t_done, sched.Find(id)->ExpectedFinish());
    Seconds t_next = std::min(t_arr, t_done);
    if (ts) {
      if (sched.active() > 0) t_next = std::min(t_done, next_round);
      else next_round = t_arr;  // idle: the next round starts with the next arrival
    }
    idle_rounds = (sched.running().empty() && !sched.pending().empty() && next >= wl.jobs.size())
                      ? idle_rounds + 1 : 0;
    if (!std::isfinite(t_next) || idle_rounds > 3) {
      return FailedPrecondition("simulation stalled at t=" + std::to_string(t) + " s: " +
                                std::to_string(sched.pending().size()) +
                                " jobs wait and nothing runs (rack power caps too tight?)");
    }
    t = std::max(t, t_next);
    // Completions at t.
    std::vector<JobId> finished;
    for (JobId id : sched.running())
      if (sched.Find(id)->ExpectedFinish() <= t + 1e-9) finished.push_back(id);
    for (JobId id : finished) {
      stop_busy(id, t);
      JobRecord r = sched.Complete(id, t);
      ++res.jobs_completed;
      last_finish = std::max(last_finish, t);
      if (measured(r.spec.id)) {
        double j = t - r.spec.submit_time_s;
        measured_jct.push_back({r.spec.id.value(), j / 3600});
        double alone = r.spec.total_steps / r.BestRate();
        ftf.push_back(j / alone);
        ++done_measured;
      }
    }
    if (opts.progress) {
      double frac = static_cast<double>(done_measured) / to_measure;
      if (frac - last_progress >= 0.01 || done_measured == to_measure) {
        last_progress = frac;
        opts.progress(frac, t - first_submit, res.jobs_completed);
      }
    }
  }
  // Close the books on jobs still running (measured window reached before they ended).
  for (JobId id : sched.running()) stop_busy(id, t);
  const double span = std::max(1e-9, last_finish - first_submit);
  for (AccelId a : cluster.accel_types()) {
    const auto& s = cat.Get(a);
    double cap_s = cluster.AccelCount(a) * span;
    double b = std::min(busy_s[a.value()], cap_s);
    res.utilization[s.name] = b / cap_s;
    res.energy_kwh += (b * s.board_power_w + (cap_s - b) * s.idle_power_w) / 3.6e6;
    res.cost_usd += b / 3600 * s.price_per_hour_usd;
  }
  std::sort(measured_jct.begin(), measured_jct.end());
  for (auto& [id, h] : measured_jct) jct.push_back(h);
  res.jobs_measured = jct.size();
  double sum = 0;
  for (double h : jct) sum += h;
  res.avg_jct_hours = jct.empty() ? 0 : sum / jct.size();
  res.p50_jct_hours = Percentile(jct, 0.5);
  res.p99_jct_hours = Percentile(jct, 0.99);
  double fs = 0;
  for (double f : ftf) fs += f;
  res.avg_ftf_ratio = ftf.empty() ? 0 : fs / ftf.size();
  res.makespan_hours = span / 3600;
  res.solve_ms_p50 = Percentile(solve_ms, 0.5);
  res.solve_ms_max = solve_ms.empty() ? 0 : *std::max_element(solve_ms.begin(), solve_ms.end());
  for (auto [type, a] : predicted)
    res.predicted.push_back(perf.matrix().JobTypeName(JobTypeId(type)) + " on " + cat.Get(AccelId(a)).name);
  res.jct_hours = std::move(jct);
  res.wall_seconds = MonotonicSeconds() - wall0;
  return res;
}

}  // namespace cnet
