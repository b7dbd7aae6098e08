#include "sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "common/clock.h"
#include "sched/placement.h"
#include "sched/estimate/replica_stage_in.h"
#include "sched/estimate/site_carbon.h"
#include "sched/placement/scorers/objective.h"
#include "sim/share_lane.h"

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

// Every job must be runnable somewhere: fails up front, naming the input line and field.
Status CheckRunnable(const Scheduler& sched, const Workload& wl) {
  for (size_t i = 0; i < wl.jobs.size(); ++i) {
    JobField bad = JobField::kNone;
    auto r = sched.Prepare(wl.jobs[i], &bad);
    if (r.ok()) continue;
    const std::string& msg = r.status().message();
    std::string field = bad == JobField::kJobType      ? "job_type"
                        : bad == JobField::kTotalSteps ? "total_steps"
                                                       : wl.size_field;
    int line = wl.lines[i];
    return InvalidArgument(line > 0 ? Where(wl.source, line, field) + ": " + msg : wl.source + ": " + msg);
  }
  return Status::Ok();
}

// One simulation run: the event loop over arrivals, cycles and completions, then the summary.
class Run {
 public:
  Run(const Cluster& cluster, const PerfModel& perf, std::unique_ptr<Policy> policy,
      const Workload& wl, const SimOptions& opts)
      : cluster_(cluster), perf_(perf), wl_(wl), opts_(opts), ts_(policy->time_sharing()),
        sched_(cluster, perf, std::move(policy), Options(opts, perf.catalogue())), rng_(opts.seed),
        busy_s_(perf.catalogue().size(), 0.0) {
    res_.policy = std::string(sched_.policy().name());
    res_.workload = wl.source;
    res_.jobs_total = wl.jobs.size();
    if (wl.HasShares())
      lane_ = std::make_unique<ShareLane>(cluster, opts.share_scorer,
                                          opts.share_mix.demand.empty() ? WorkloadMix(wl) : opts.share_mix);
  }

  Result<SimResult> Go() {
    const double wall0 = MonotonicSeconds();
    CNET_RETURN_IF_ERROR(CheckRunnable(sched_, wl_));
    CNET_RETURN_IF_ERROR(CheckShares());
    for (const auto& j : wl_.jobs) to_measure_ += Measured(j.id);
    if (to_measure_ == 0) return InvalidArgument("--measure: no job ids in the window");
    first_submit_ = wl_.jobs.empty() ? 0 : wl_.jobs.front().submit_time_s;
    last_finish_ = t_ = next_round_ = first_submit_;
    while (done_measured_ < to_measure_) {
      CNET_RETURN_IF_ERROR(AdmitArrivals());
      CNET_RETURN_IF_ERROR(Decide());
      PlaceShares();
      if (lane_ && opts_.check_invariants) {
        if (Status st = lane_->Check(sched_.capacity()); !st.ok())
          return Internal("at t=" + std::to_string(t_) + " s: " + st.message());
      }
      SampleUtil();
      CNET_RETURN_IF_ERROR(Advance());
      CompleteAt();
      Progress();
    }
    Summarise();
    res_.wall_seconds = MonotonicSeconds() - wall0;
    return std::move(res_);
  }

 private:
  static SchedulerOptions Options(const SimOptions& o, const Catalogue& cat) {
    SchedulerOptions so;
    so.round_s = o.round_s;
    so.preempt_penalty_s = o.preempt_penalty_s;
    auto econ = o.economics ? o.economics : std::make_shared<const SiteEconomics>();
    // Every start pays its inputs' stage-in; the scorers see it only when placement is data-aware.
    auto stage_in = std::make_shared<const ReplicaStageIn>(econ);
    so.stage_in = stage_in;
    so.economics = econ;
    if (o.economics || o.objective) {
      auto rules = std::make_shared<PlacementRules>();
      // The scorers keep a plain pointer: the scheduler owns the source (so.stage_in) with the rules.
      InstallObjectiveScorers(*rules, econ, cat, o.data_aware ? stage_in.get() : nullptr, !o.keep_policy_type_order);
      so.rules = std::move(rules);
    }
    return so;
  }
  bool Measured(JobId id) const {
    return opts_.measure_first < 0 ||
           (id.value() >= opts_.measure_first && id.value() <= opts_.measure_last);
  }
  void StopBusy(JobId id, Seconds t) {
    auto it = started_.find(id);
    if (it == started_.end()) return;
    const Placement& p = it->second.second;
    AccountBusy(p.accel, p.slots.front().node, p.Workers(), it->second.first, t);
    started_.erase(it);
    if (lane_) lane_->GiveWhole(id);
  }
  // Books `packages` accelerators of type a (on node's site) busy over [from, to].
  void AccountBusy(AccelId a, NodeId node, double packages, Seconds from, Seconds to) {
    busy_s_[a.value()] += packages * (to - from);
    if (const SiteCarbon* carbon = opts_.economics ? opts_.economics->carbon() : nullptr) {
      const std::string& site = cluster_.site(cluster_.node(node).site).name;
      const double kwh = perf_.catalogue().Get(a).board_power_w * packages * (to - from) / kJoulesPerKwh;
      res_.busy_energy_kwh += kwh;
      res_.carbon_g += kwh * carbon->TrueAverage(site, from, to);
    }
    if (opts_.economics) {
      const std::string& site = cluster_.site(cluster_.node(node).site).name;
      site_cost_usd_ += opts_.economics->PriceUsdPerHour(perf_.catalogue(), site, a) * packages * (to - from) / 3600;
    }
  }

  // A fractional job must be one rigid worker (a trace cannot say otherwise; a Workload built in
  // code might).
  Status CheckShares() const {
    for (size_t i = 0; lane_ && i < wl_.jobs.size(); ++i) {
      const JobSpec& j = wl_.jobs[i];
      const int m = wl_.ShareMilli(i);
      if (m <= 0) continue;
      if (m >= kMilliPerGpu || j.workers != 1 || j.unit != 1 || j.Elastic())
        return InvalidArgument(Where(wl_.source, wl_.lines[i], "accelerators_per_worker") +
                               ": a fraction of an accelerator is for a one-worker, rigid job");
    }
    return Status::Ok();
  }
  // Starts the fractional jobs that fit now (after the policy's cycle).
  void PlaceShares() {
    if (!lane_) return;
    for (size_t k : lane_->Place(sched_, t_)) {
      const ShareLane::Running& r = lane_->running()[k];
      Track& tr = track_[r.rec.spec.id];
      tr.types = {perf_.catalogue().Get(r.accel).name};
      tr.max_nodes = 1;
      tr.predicted = r.rec.predicted[r.accel.value()];
      if (tr.predicted) predicted_.insert({r.rec.spec.type_id.value(), r.accel.value()});
    }
  }

  Status AdmitArrivals() {
    while (!held_.empty() && held_.begin()->first <= t_ + 1e-9) {
      CNET_RETURN_IF_ERROR(sched_.Admit(std::move(held_.begin()->second)));
      held_.erase(held_.begin());
    }
    while (next_ < wl_.jobs.size() && wl_.jobs[next_].submit_time_s <= t_ + 1e-9) {
      JobSpec spec = wl_.jobs[next_];
      if (opts_.objective) spec.objective = *opts_.objective;
      const int milli = wl_.ShareMilli(next_);
      ++next_;
      CNET_RETURN_IF_ERROR(SetDeadline(spec));
      if (milli > 0) {  // the lane's, never shifted in time
        CNET_ASSIGN_OR_RETURN(JobRecord rec, sched_.Prepare(std::move(spec)));
        lane_->Enqueue(std::move(rec), milli);
        continue;
      }
      CNET_ASSIGN_OR_RETURN(Seconds start, PlannedStart(spec));
      if (start > t_) {
        ++res_.shifted;
        res_.shift_wait_hours += (start - t_) / 3600;
        held_.emplace(start, std::move(spec));
        continue;
      }
      CNET_RETURN_IF_ERROR(sched_.Admit(std::move(spec)));
    }
    return Status::Ok();
  }
  // opts_.deadlines: submit + slack x the job's time alone on its fastest type.
  Status SetDeadline(JobSpec& spec) const {
    const auto& d = opts_.deadlines;
    if (d.fraction <= 0) return Status::Ok();
    uint64_t h = static_cast<uint64_t>(spec.id.value()) * 0x9e3779b97f4a7c15ULL ^ d.seed;  // splitmix64 finaliser
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    if (static_cast<double>(h >> 11) / 9007199254740992.0 >= d.fraction) return Status::Ok();
    CNET_ASSIGN_OR_RETURN(JobRecord r, sched_.Prepare(spec));
    spec.deadline_s = spec.submit_time_s + d.slack * spec.total_steps / r.BestRate();
    return Status::Ok();
  }
  // When a greenest job with a deadline should start (temporal shifting); t_ when not shifted.
  Result<Seconds> PlannedStart(const JobSpec& spec) const {
    const SiteCarbon* carbon = opts_.economics ? opts_.economics->carbon() : nullptr;
    if (!opts_.shift || !carbon || spec.objective != Objective::kGreenest || !spec.deadline_s) return t_;
    CNET_ASSIGN_OR_RETURN(JobRecord r, sched_.Prepare(spec));
    const auto options = ShiftOptionsFor(r, cluster_, perf_.catalogue(), sched_.rules(), t_);
    return PlanStart(*carbon, options, spec, t_, *opts_.shift).start_s;
  }

  // A cycle when one is due; books starts, preemptions and predicted figures.
  Status Decide() {
    bool boundary = !ts_ || t_ >= next_round_ - 1e-9;
    if (boundary && sched_.active() > 0) {
      CycleResult cr = sched_.RunCycle(t_, true, rng_);
      ++res_.cycles;
      solve_ms_.push_back(cr.solve_ms);
      if (!cr.rejected.empty())
        return Internal("policy " + res_.policy + " made an invalid decision: " + cr.rejected.front());
      for (const Decision& d : cr.applied) Book(d);
    }
    if (ts_ && boundary) next_round_ = t_ + opts_.round_s;
    return Status::Ok();
  }
  void Book(const Decision& d) {
    if (d.action == Action::kPreempt) {
      StopBusy(d.job, t_);
      ++res_.preemptions;
    } else if (d.action == Action::kPlace) {
      started_[d.job] = {t_, d.placement};
      if (lane_) lane_->TakeWhole(d.job, d.placement);
      const JobRecord* r = sched_.Find(d.job);
      Track& tr = track_[d.job];
      const std::string& type = perf_.catalogue().Get(d.placement.accel).name;
      if (std::find(tr.types.begin(), tr.types.end(), type) == tr.types.end()) tr.types.push_back(type);
      tr.max_nodes = std::max(tr.max_nodes, d.placement.Nodes());
      const int w = d.placement.Workers();  // an elastic job's size this round
      if (r->predicted[d.placement.accel.value()] || d.placement.Nodes() > 1 || w != r->spec.workers)
        if (!perf_.matrix().Get(r->spec.type_id, d.placement.accel, w, d.placement.Nodes() > 1)) {
          predicted_.insert({r->spec.type_id.value(), d.placement.accel.value()});
          tr.predicted = true;
        }
    }
  }

  // Moves time to the next event (arrival, completion or round); fails when nothing can happen.
  Status Advance() {
    constexpr double kInf = std::numeric_limits<double>::infinity();
    Seconds t_arr = next_ < wl_.jobs.size() ? wl_.jobs[next_].submit_time_s : kInf;
    if (!held_.empty()) t_arr = std::min(t_arr, held_.begin()->first);
    Seconds t_done = kInf;
    for (JobId id : sched_.running()) t_done = std::min(t_done, sched_.Find(id)->ExpectedFinish());
    if (lane_) t_done = std::min(t_done, lane_->NextFinish());
    Seconds t_next = std::min(t_arr, t_done);
    if (ts_) {
      if (sched_.active() > 0) t_next = std::min(t_done, next_round_);
      else next_round_ = t_arr;  // idle: the next round starts with the next arrival
    }
    const bool runs = !sched_.running().empty() || (lane_ && !lane_->running().empty());
    const size_t waits = sched_.pending().size() + (lane_ ? lane_->waiting() : 0);
    idle_rounds_ = (!runs && waits > 0 && next_ >= wl_.jobs.size() && held_.empty()) ? idle_rounds_ + 1 : 0;
    if (!std::isfinite(t_next) || idle_rounds_ > 3) {
      return FailedPrecondition("simulation stalled at t=" + std::to_string(t_) + " s: " + std::to_string(waits) +
                                " jobs wait and nothing runs (rack power caps too tight?)");
    }
    t_ = std::max(t_, t_next);
    return Status::Ok();
  }

  void CompleteAt() {
    std::vector<JobId> finished;
    for (JobId id : sched_.running())
      if (sched_.Find(id)->ExpectedFinish() <= t_ + 1e-9) finished.push_back(id);
    for (JobId id : finished) {
      StopBusy(id, t_);
      JobRecord r = sched_.Complete(id, t_);
      Finished(r, r.spec.total_steps / r.BestRate());
    }
    if (!lane_) return;
    for (const ShareLane::Running& s : lane_->Complete(sched_, t_)) {
      AccountBusy(s.accel, s.where.node, s.Share(), s.rec.first_start_s, t_);
      Finished(s.rec, s.rec.spec.total_steps / (s.Share() * s.rec.BestRate()));  // alone: at its share
    }
  }
  // Books a job that ended at t_; alone_s: its run time alone on its fastest type.
  void Finished(const JobRecord& r, Seconds alone_s) {
    ++res_.jobs_completed;
    RecordJob(r);
    if (r.spec.deadline_s) {
      ++res_.deadline_jobs;
      res_.deadline_misses += t_ > *r.spec.deadline_s + 1e-6;
    }
    last_finish_ = std::max(last_finish_, t_);
    if (!Measured(r.spec.id)) return;
    double j = t_ - r.spec.submit_time_s;
    measured_jct_.push_back({r.spec.id.value(), j / 3600});
    ftf_.push_back(j / alone_s);
    ++done_measured_;
  }

  void RecordJob(const JobRecord& r) {
    auto it = track_.find(r.spec.id);
    if (!opts_.record_jobs || it == track_.end()) return;
    JobOutcome o;
    o.id = r.spec.id.value();
    o.submit_s = r.spec.submit_time_s;
    o.start_s = r.first_start_s;
    o.end_s = t_;
    o.types = std::move(it->second.types);
    o.max_nodes = it->second.max_nodes;
    o.preemptions = r.preemptions;
    o.predicted = it->second.predicted;
    res_.jobs.push_back(std::move(o));
    track_.erase(it);
  }

  // One row per accelerator type, at most every util_interval_s (after the cycle at t_).
  void SampleUtil() {
    if (opts_.util_interval_s <= 0 || t_ < next_sample_ - 1e-9) return;
    next_sample_ = t_ + opts_.util_interval_s;
    if (lane_) return SampleShared();
    const Capacity& cap = sched_.capacity();
    std::vector<int> alloc(perf_.catalogue().size(), 0);
    for (const auto& [id, sp] : started_) alloc[sp.second.accel.value()] += sp.second.Workers();
    for (AccelId a : cluster_.accel_types()) {
      UtilSample u;
      u.t = t_;
      u.type = perf_.catalogue().Get(a).name;
      u.total = cluster_.AccelCount(a);
      u.allocated = alloc[a.value()];
      u.idle = cap.FreeOfType(a);
      u.fragmented = WaitingWorkBlocked(a) ? u.idle : 0;
      res_.util.push_back(std::move(u));
    }
  }
  // With fractional jobs: capacity in accelerators with shares, fragmentation by FGD's measure.
  void SampleShared() {
    for (AccelId a : cluster_.accel_types()) {
      UtilSample u;
      u.t = t_;
      u.type = perf_.catalogue().Get(a).name;
      u.total = cluster_.AccelCount(a);
      u.idle = lane_->FreeOf(a);
      u.allocated = u.total - u.idle;
      u.fragmented = lane_->FragmentedOf(a);
      res_.util.push_back(std::move(u));
    }
  }
  // True when some waiting job accepts type a and none of them fits in its free packages now.
  bool WaitingWorkBlocked(AccelId a) const {
    bool wanted = false;
    for (JobId id : sched_.pending()) {
      const JobRecord* r = sched_.Find(id);
      if (r->rate[a.value()] <= 0 && r->rate_spread[a.value()] <= 0) continue;
      wanted = true;
      if (r->spec.workers > sched_.capacity().FreeOfType(a)) continue;  // short of packages, cheap test
      if (FindPlacement(sched_.rules(), sched_.capacity(), r->spec, a)) return false;
    }
    return wanted;
  }

  void Progress() {
    if (!opts_.progress) return;
    double frac = static_cast<double>(done_measured_) / to_measure_;
    if (frac - last_progress_ >= 0.01 || done_measured_ == to_measure_) {
      last_progress_ = frac;
      opts_.progress(frac, t_ - first_submit_, res_.jobs_completed);
    }
  }

  void Summarise() {
    const Catalogue& cat = perf_.catalogue();
    // Close the books on jobs still running (measured window reached before they ended).
    for (JobId id : sched_.running()) StopBusy(id, t_);
    if (lane_)
      for (const ShareLane::Running& s : lane_->running())
        AccountBusy(s.accel, s.where.node, s.Share(), s.rec.first_start_s, t_);
    const double span = std::max(1e-9, last_finish_ - first_submit_);
    for (AccelId a : cluster_.accel_types()) {
      const auto& s = cat.Get(a);
      double cap_s = cluster_.AccelCount(a) * span;
      double b = std::min(busy_s_[a.value()], cap_s);
      res_.utilization[s.name] = b / cap_s;
      res_.energy_kwh += (b * s.board_power_w + (cap_s - b) * s.idle_power_w) / 3.6e6;
      res_.cost_usd += b / 3600 * s.price_per_hour_usd;
    }
    if (opts_.economics) res_.cost_usd = site_cost_usd_;
    res_.stage_in_tb = sched_.staged_bytes() / 1e12;
    std::sort(measured_jct_.begin(), measured_jct_.end());
    std::vector<double> jct;
    for (auto& [id, h] : measured_jct_) jct.push_back(h);
    res_.jobs_measured = jct.size();
    double sum = 0;
    for (double h : jct) sum += h;
    res_.avg_jct_hours = jct.empty() ? 0 : sum / jct.size();
    res_.p50_jct_hours = Percentile(jct, 0.5);
    res_.p99_jct_hours = Percentile(jct, 0.99);
    double fs = 0;
    for (double f : ftf_) fs += f;
    res_.avg_ftf_ratio = ftf_.empty() ? 0 : fs / ftf_.size();
    res_.makespan_hours = span / 3600;
    res_.solve_ms_p50 = Percentile(solve_ms_, 0.5);
    res_.solve_ms_max = solve_ms_.empty() ? 0 : *std::max_element(solve_ms_.begin(), solve_ms_.end());
    for (auto [type, a] : predicted_)
      res_.predicted.push_back(perf_.matrix().JobTypeName(JobTypeId(type)) + " on " + cat.Get(AccelId(a)).name);
    res_.jct_hours = std::move(jct);
  }

  const Cluster& cluster_;
  const PerfModel& perf_;
  const Workload& wl_;
  const SimOptions& opts_;
  const bool ts_;
  Scheduler sched_;
  Rng rng_;
  SimResult res_;
  std::vector<double> busy_s_;  // accelerator-seconds busy, by type
  double site_cost_usd_ = 0;    // busy package-hours at each site's price (opts_.economics)
  std::unordered_map<JobId, std::pair<Seconds, Placement>> started_;  // job -> (start, placement)
  std::set<std::pair<int, int>> predicted_;                           // (job type, accel)
  struct Track {
    std::vector<std::string> types;
    int max_nodes = 0;
    bool predicted = false;
  };
  std::unordered_map<JobId, Track> track_;  // per job, since its first start
  std::multimap<Seconds, JobSpec> held_;    // jobs shifted in time, by planned start
  std::vector<double> solve_ms_, ftf_;
  std::vector<std::pair<int64_t, double>> measured_jct_;
  size_t to_measure_ = 0, next_ = 0, done_measured_ = 0;
  Seconds first_submit_ = 0, last_finish_ = 0, t_ = 0, next_round_ = 0, next_sample_ = 0;
  double last_progress_ = 0;
  std::unique_ptr<ShareLane> lane_;  // only when the workload has fractional jobs
  int idle_rounds_ = 0;  // rounds in a row with work queued, nothing running and nothing arriving
};

}  // namespace

Result<SimResult> Simulate(const Cluster& cluster, const PerfModel& perf, std::unique_ptr<Policy> policy,
                           const Workload& wl, const SimOptions& opts) {
  return Run(cluster, perf, std::move(policy), wl, opts).Go();
}

}  // namespace cnet
