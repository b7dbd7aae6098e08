#include "sched/scheduler.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "common/clock.h"
#include "model/wording.h"
#include "sched/elastic_sizes.h"
#include "sched/placement.h"

namespace cnet {

Scheduler::Scheduler(const Cluster& cluster, const PerfModel& perf, std::unique_ptr<Policy> policy,
                     SchedulerOptions opts)
    : cluster_(cluster),
      perf_(perf),
      policy_(std::move(policy)),
      opts_(opts),
      capacity_(cluster, perf.catalogue()) {
  if (!opts_.rules) opts_.rules = std::make_shared<const PlacementRules>();
  for (const Rack& r : cluster.racks()) rack_idle_w_.push_back(capacity_.RackDrawW(r.id));
}

Status Scheduler::Admit(JobSpec spec) {
  if (jobs_.count(spec.id))
    return Status(Code::kAlreadyExists, "job " + std::to_string(spec.id.value()) + " already admitted");
  CNET_ASSIGN_OR_RETURN(JobRecord r, Prepare(std::move(spec)));
  JobId id = r.spec.id;
  jobs_.emplace(id, std::move(r));
  InsertPending(id);
  return Status::Ok();
}

void Scheduler::InsertPending(JobId id) {
  auto before = [&](JobId a, JobId b) {
    const auto& ja = jobs_.at(a).spec;
    const auto& jb = jobs_.at(b).spec;
    return ja.submit_time_s != jb.submit_time_s ? ja.submit_time_s < jb.submit_time_s : a < b;
  };
  if (pending_.empty() || !before(id, pending_.back())) pending_.push_back(id);  // the usual case
  else pending_.insert(std::upper_bound(pending_.begin(), pending_.end(), id, before), id);
}

Result<JobRecord> Scheduler::Prepare(JobSpec spec, JobField* bad) const {
  const Catalogue& cat = perf_.catalogue();
  const std::string who = "job " + std::to_string(spec.id.value());
  auto fail = [&](JobField f, std::string msg) {
    if (bad) *bad = f;
    return InvalidArgument(who + ": " + msg);
  };
  if (spec.workers <= 0) return fail(JobField::kWorkers, "workers must be > 0");
  if (!(spec.total_steps > 0)) return fail(JobField::kTotalSteps, "total_steps must be > 0");
  if (spec.unit < 1 || spec.workers % spec.unit != 0)
    return fail(JobField::kUnit, "workers must be a multiple of the packages per worker");
  if (spec.Elastic()) {
    if (Status st = CheckElastic(spec); !st.ok()) return fail(JobField::kWorkers, st.message());
  }
  if (!spec.type_id.valid() && !spec.job_type.empty()) {
    auto t = perf_.matrix().FindJobType(spec.job_type);
    if (!t) return fail(JobField::kJobType, "unknown job type '" + spec.job_type + "'");
    spec.type_id = *t;
  }
  JobRecord r;
  r.rate.assign(cat.size(), 0);
  r.rate_spread.assign(cat.size(), 0);
  r.predicted.assign(cat.size(), false);
  int best_site_cap = 0;
  const std::vector<int> sizes = spec.Elastic() ? ElasticSizes(spec) : std::vector<int>{spec.workers};
  if (spec.Elastic()) {
    r.size_rate.assign(sizes.size() * cat.size(), 0);
    r.size_rate_spread.assign(sizes.size() * cat.size(), 0);
  }
  for (AccelId a : cluster_.accel_types()) {
    if (!rules().AllowsType(spec, a)) continue;
    // Largest gang of type a one allowed site can hold and power (each rack: its packages of
    // type a, at most as many as its cap can power busy on top of every package's idle draw).
    // rack_idle_w_ is each rack's draw with nothing running.
    auto powered = [&](RackId r) {
      return PowerSlots(capacity_.RackCapW(r) - rack_idle_w_[r.value()], capacity_.BusyDeltaW(a));
    };
    std::vector<int> per_rack(cluster_.racks().size(), 0);
    int per_node = 0;  // largest gang one node can hold and its rack can power
    for (NodeId id : cluster_.NodesWith(a)) {
      const Node& n = cluster_.node(id);
      if (!rules().AllowsNode(spec, n)) continue;
      per_rack[n.rack.value()] += n.accel_count;
      per_node = std::max(per_node, std::min(n.accel_count, powered(n.rack)));
    }
    std::vector<int> per_site(cluster_.sites().size(), 0);
    for (const Rack& rk : cluster_.racks())
      per_site[rk.site.value()] += std::min(per_rack[rk.id.value()], powered(rk.id));
    int site_cap = *std::max_element(per_site.begin(), per_site.end());
    if (spec.unit > per_node) site_cap = 0;  // one worker's packages must share a node
    best_site_cap = std::max(best_site_cap, site_cap);
    for (size_t k = 0; spec.Elastic() && k < sizes.size(); ++k) {
      if (site_cap < sizes[k]) break;
      Estimate sp = perf_.Throughput(spec.type_id, a, sizes[k], 2);
      r.size_rate_spread[k * cat.size() + a.value()] = sp.steps_per_s;
      r.size_rate[k * cat.size() + a.value()] =
          sizes[k] <= per_node ? perf_.Throughput(spec.type_id, a, sizes[k], 1).steps_per_s : sp.steps_per_s;
    }
    if (site_cap < spec.workers) continue;
    Estimate spread{1.0, false}, one{1.0, false};  // no job type: 1 step/s everywhere
    if (spec.type_id.valid()) {
      spread = perf_.Throughput(spec.type_id, a, spec.workers, 2);
      one = spec.workers <= per_node ? perf_.Throughput(spec.type_id, a, spec.workers, 1) : spread;
    }
    r.rate[a.value()] = one.steps_per_s;
    r.rate_spread[a.value()] = spread.steps_per_s;
    r.predicted[a.value()] = one.predicted;
  }
  if (r.BestRate() <= 0 && AllCpu(cat, spec.acceptable)) {
    return fail(JobField::kPlacement, "no site can run " + CountOf(cat, spec.acceptable[0], spec.workers) +
                           (spec.unit > 1 ? " (" + std::to_string(spec.unit) + " per worker, on one node)" : std::string()) +
                           (spec.allowed_sites.empty() ? "" : " in its allowed sites") +
                           " (largest: " + CountOf(cat, spec.acceptable[0], best_site_cap) + ")");
  }
  if (r.BestRate() <= 0) {
    std::string acc;
    for (AccelId a : spec.acceptable) acc += (acc.empty() ? "" : ", ") + cat.Get(a).name;
    return fail(JobField::kPlacement, "no site can run a gang of " + std::to_string(spec.workers) +
                           (spec.unit > 1 ? " (" + std::to_string(spec.unit) + " per worker, on one node)" : std::string()) +
                           " accelerators" + (acc.empty() ? "" : " of type " + acc) +
                           (spec.allowed_sites.empty() ? "" : " in its allowed sites") +
                           " (largest: " + std::to_string(best_site_cap) + ")");
  }
  // Sizes no type can run are dropped (the declared size runs somewhere: checked above).
  for (size_t k = 0; k < sizes.size(); ++k) {
    bool any = !spec.Elastic();
    for (size_t a = 0; a < cat.size() && !any; ++a) any = r.size_rate[k * cat.size() + a] > 0;
    if (any) r.sizes.push_back(sizes[k]);
  }
  if (spec.Elastic()) {  // keep the tables in step with `sizes`
    std::vector<double> one, spread;
    for (size_t k = 0; k < sizes.size(); ++k) {
      if (!r.TakesSize(sizes[k])) continue;
      one.insert(one.end(), r.size_rate.begin() + k * cat.size(), r.size_rate.begin() + (k + 1) * cat.size());
      spread.insert(spread.end(), r.size_rate_spread.begin() + k * cat.size(),
                    r.size_rate_spread.begin() + (k + 1) * cat.size());
    }
    r.size_rate = std::move(one);
    r.size_rate_spread = std::move(spread);
  }
  r.spec = std::move(spec);
  r.anchor_s = r.spec.submit_time_s;
  r.reason = "queued";
  return r;
}

const JobRecord* Scheduler::Find(JobId id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

void Scheduler::Erase(std::vector<JobId>& v, JobId id) {
  auto it = std::find(v.begin(), v.end(), id);
  if (it != v.end()) v.erase(it);
}

void Scheduler::Stop(JobRecord& j, Seconds now, bool hold) {
  assert(j.phase == JobPhase::kRunning);
  j.steps_at_anchor = j.StepsDone(now);
  j.attained_s += j.placement.Workers() * std::max(0.0, now - j.anchor_s);
  j.anchor_s = now;
  j.rate_now = 0;
  if (hold) stopping_[j.spec.id] = j.placement;
  else capacity_.Give(j.placement);
  j.placement = Placement{};
  j.phase = JobPhase::kPending;
}

StageIn Scheduler::StageAt(const JobSpec& spec, const Placement& p) const {
  if (!opts_.stage_in || !spec.inputs || p.empty()) return {};
  static const SiteEconomics kDefaultLinks;
  const SiteEconomics& econ = opts_.economics ? *opts_.economics : kDefaultLinks;
  return StageInAt(opts_.stage_in.get(), econ, spec, cluster_.site(cluster_.node(p.slots.front().node).site).name);
}

Status Scheduler::Apply(const Decision& d, Seconds now) {
  auto it = jobs_.find(d.job);
  if (it == jobs_.end()) return NotFound("no active job " + std::to_string(d.job.value()));
  JobRecord& j = it->second;
  switch (d.action) {
    case Action::kKeep:
      if (!d.reason.empty()) {  // a new word replaces the estimate too (none: no reservation now)
        j.reason = d.reason;
        j.estimated_start = d.estimated_start;
      }
      return Status::Ok();
    case Action::kPreempt:
      if (j.phase != JobPhase::kRunning) return FailedPrecondition("preempt of a job not running");
      Stop(j, now, opts_.preempted_hold_until_stopped);
      ++j.preemptions;
      j.estimated_start = -1;
      Erase(running_, j.spec.id);
      InsertPending(j.spec.id);
      j.reason = d.reason;
      return Status::Ok();
    case Action::kPlace: {
      if (j.phase != JobPhase::kPending) return FailedPrecondition("place of a job not pending");
      if (Stopping(j.spec.id)) return Unavailable("its preempted run is still stopping");
      const int w = d.placement.Workers();
      if (w != j.spec.workers && !j.TakesSize(w))
        return InvalidArgument("placement has " + std::to_string(w) + " workers, job needs " +
                               (j.spec.Elastic() ? "one of its elastic sizes" : std::to_string(j.spec.workers)));
      CNET_RETURN_IF_ERROR(rules().Check(j.spec, d.placement, cluster_));
      const Placement p = WithHostCpus(d.placement, j.spec);  // whoever built it
      if (!capacity_.CanTake(p))
        return stopping_.empty() ? FailedPrecondition("placement does not fit")
                                 : Unavailable("placement does not fit until preempted runs stop");
      double rate = j.RateAt(p.accel, w, p.Nodes());
      if (rate <= 0) return InvalidArgument("job cannot run on that type");
      capacity_.Take(p);
      j.placement = p;
      j.phase = JobPhase::kRunning;
      j.anchor_s = now;
      const StageIn stage = StageAt(j.spec, p);
      staged_bytes_ += stage.bytes;
      j.penalty_until_s = now + (j.starts > 0 ? j.spec.restore_s.value_or(opts_.preempt_penalty_s)
                                              : j.spec.first_start_cost_s) + stage.seconds;
      j.rate_now = rate;
      if (j.first_start_s < 0) j.first_start_s = now;
      ++j.starts;
      j.reason = d.reason;
      j.estimated_start = -1;
      Erase(pending_, j.spec.id);
      running_.push_back(j.spec.id);
      return Status::Ok();
    }
  }
  return Internal("bad action");
}

Snapshot Scheduler::MakeSnapshot(Seconds now, const Capacity& cap, bool round_boundary, bool explain) const {
  Snapshot s;
  s.now = now;
  s.round_s = opts_.round_s;
  s.default_restore_s = opts_.preempt_penalty_s;
  s.round_boundary = round_boundary;
  s.fill_between_rounds = opts_.fill_between_rounds;
  s.explain_waiting = explain;
  s.explain_limit = opts_.explain_limit;
  s.cluster = &cluster_;
  s.catalogue = &perf_.catalogue();
  s.capacity = &cap;
  s.rules = opts_.rules.get();
  s.pending.reserve(pending_.size());
  for (JobId id : pending_)
    if (!Stopping(id)) s.pending.push_back(&jobs_.at(id));
  s.running.reserve(running_.size());
  for (JobId id : running_) s.running.push_back(&jobs_.at(id));
  return s;
}

CycleResult Scheduler::RunCycle(Seconds now, bool round_boundary, Rng& rng) {
  capacity_.SetTime(now);
  Snapshot s = MakeSnapshot(now, capacity_, round_boundary, opts_.explain_waiting);

  CycleResult out;
  double t0 = MonotonicSeconds();
  std::vector<Decision> ds = policy_->Decide(s, rng);
  out.solve_ms = (MonotonicSeconds() - t0) * 1000;
  // Apply preemptions first, so that places may use what they free.
  std::stable_partition(ds.begin(), ds.end(),
                        [](const Decision& d) { return d.action == Action::kPreempt; });
  for (auto& d : ds) {
    Status st = Apply(d, now);
    if (st.ok()) {
      if (d.action != Action::kKeep) out.applied.push_back(std::move(d));
    } else if (st.code() == Code::kUnavailable) {
      out.deferred.push_back("place job " + std::to_string(d.job.value()) + ": " + st.message());
    } else {
      out.rejected.push_back(std::string(ActionName(d.action)) + " job " +
                             std::to_string(d.job.value()) + ": " + st.message());
    }
  }
  return out;
}

JobRecord Scheduler::Complete(JobId id, Seconds now) {
  auto it = jobs_.find(id);
  assert(it != jobs_.end() && it->second.phase == JobPhase::kRunning);
  JobRecord r = std::move(it->second);
  jobs_.erase(it);
  r.steps_at_anchor = r.StepsDone(now);
  r.attained_s += r.placement.Workers() * std::max(0.0, now - r.anchor_s);
  capacity_.Give(r.placement);
  r.phase = JobPhase::kFinished;
  r.finish_s = now;
  Erase(running_, id);
  return r;
}

Status Scheduler::AdoptRunning(JobSpec spec, const Placement& given, Seconds started_s, Seconds now) {
  if (jobs_.count(spec.id)) return Status(Code::kAlreadyExists, "job " + std::to_string(spec.id.value()) + " already admitted");
  const Placement placement = WithHostCpus(given, spec);
  CNET_ASSIGN_OR_RETURN(JobRecord r, Prepare(std::move(spec)));
  const int w = placement.Workers();
  if ((w != r.spec.workers && !r.TakesSize(w)) || !capacity_.CanTake(placement))
    return FailedPrecondition("job " + std::to_string(r.spec.id.value()) + ": its placement no longer fits");
  capacity_.Take(placement);
  r.placement = placement;
  r.phase = JobPhase::kRunning;
  r.anchor_s = started_s;
  r.penalty_until_s = started_s;
  r.first_start_s = started_s;
  r.rate_now = std::max(1e-12, r.RateAt(placement.accel, w, placement.Nodes()));
  r.starts = 1;
  r.reason = "re-adopted after a restart";
  JobId id = r.spec.id;
  jobs_.emplace(id, std::move(r));
  running_.push_back(id);
  (void)now;
  return Status::Ok();
}

Status Scheduler::SetResidency(JobId id, std::shared_ptr<const DataResidency> residency) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return NotFound("no active job " + std::to_string(id.value()));
  it->second.spec.residency = std::move(residency);
  return Status::Ok();
}

Status Scheduler::ReleaseStopped(JobId id) {
  auto it = stopping_.find(id);
  if (it == stopping_.end()) return NotFound("no preempted run of job " + std::to_string(id.value()) + " is stopping");
  capacity_.Give(it->second);
  stopping_.erase(it);
  return Status::Ok();
}

Status Scheduler::HoldStopping(JobId id, const Placement& gang) {
  if (!capacity_.CanTake(gang)) return FailedPrecondition("its gang does not fit");
  capacity_.Take(gang);
  stopping_[id] = gang;
  return Status::Ok();
}

Result<JobRecord> Scheduler::Remove(JobId id, Seconds now) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return NotFound("no active job " + std::to_string(id.value()));
  if (it->second.phase == JobPhase::kRunning) {
    Stop(it->second, now);
    Erase(running_, id);
  } else {
    Erase(pending_, id);
  }
  JobRecord r = std::move(it->second);
  jobs_.erase(it);
  r.phase = JobPhase::kFinished;
  r.finish_s = now;
  return r;
}

}  // namespace cnet
