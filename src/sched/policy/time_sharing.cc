#include "sched/policy/time_sharing.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "sched/policy/maxmin_lp.h"
#include "sched/policy/rounds.h"

namespace cnet {

namespace {

enum class Kind { kLas, kLasHetero, kFtf, kMakespan, kMaxSum };

class TimeSharingPolicy final : public Policy {
 public:
  explicit TimeSharingPolicy(Kind k) : kind_(k), realizer_(k != Kind::kLas) {}

  std::string_view name() const override {
    switch (kind_) {
      case Kind::kLas: return "las";
      case Kind::kLasHetero: return "las-hetero";
      case Kind::kFtf: return "ftf-hetero";
      case Kind::kMakespan: return "makespan-hetero";
      case Kind::kMaxSum: return "max-sum-throughput";
    }
    return "?";
  }
  bool time_sharing() const override { return true; }

  std::vector<Decision> Decide(const Snapshot& snap, Rng&) override {
    if (!snap.round_boundary) return {};
    std::vector<const JobRecord*> jobs;
    jobs.reserve(snap.running.size() + snap.pending.size());
    for (auto* j : snap.running) jobs.push_back(j);
    for (auto* j : snap.pending) jobs.push_back(j);
    std::sort(jobs.begin(), jobs.end(),
              [](const JobRecord* a, const JobRecord* b) { return a->spec.id < b->spec.id; });
    std::vector<JobId> ids;
    ids.reserve(jobs.size());
    for (auto* j : jobs) ids.push_back(j->spec.id);
    Allocation alloc;
    alloc.jobs = jobs;
    alloc.types = snap.catalogue->size();
    if (ids != ids_ || x_.size() != jobs.size() * alloc.types) {
      ids_ = std::move(ids);
      x_ = Compute(snap, jobs);
    }
    alloc.x = x_;
    return realizer_.Realize(snap, alloc, std::string(name()) + fallback_);
  }

 private:
  // Capacity (packages) per type and each job's reference throughput: the throughput of an
  // equal share of the cluster spread over the types it may use, in proportion to their counts.
  struct Common {
    size_t T = 0;
    std::vector<double> cap;
    double total = 0;
  };
  Common MakeCommon(const Snapshot& snap) const {
    Common c;
    c.T = snap.catalogue->size();
    c.cap.assign(c.T, 0);
    for (AccelId a : snap.cluster->accel_types()) {
      c.cap[a.value()] = snap.cluster->AccelCount(a);
      c.total += c.cap[a.value()];
    }
    return c;
  }
  // The rate a job can get on each type: on one node where a node of that type holds its gang,
  // else spread. Types where it would have to spread are dropped when some type holds it on one
  // node, so that a gang is not split over small nodes while big ones exist.
  static std::vector<std::vector<double>> UsableRates(const Snapshot& snap,
                                                      const std::vector<const JobRecord*>& jobs,
                                                      size_t T) {
    std::vector<std::vector<double>> out(jobs.size(), std::vector<double>(T, 0.0));
    for (size_t m = 0; m < jobs.size(); ++m) {
      const JobRecord& j = *jobs[m];
      bool any_one_node = false;
      for (AccelId a : snap.cluster->accel_types())
        any_one_node |= j.rate[a.value()] > 0 && snap.cluster->MaxPerNode(a) >= j.spec.workers;
      for (AccelId a : snap.cluster->accel_types()) {
        const bool one = snap.cluster->MaxPerNode(a) >= j.spec.workers;
        if (any_one_node && !one) continue;
        out[m][a.value()] = j.rate[a.value()] > 0 ? j.RateOn(a, one ? 1 : 2) : 0.0;
      }
    }
    return out;
  }
  // Equal-share throughput of a job with usable rates r: sum_a (cap_a / total_allowed) * r_a.
  static double IsolatedRate(const std::vector<double>& r, const Common& c) {
    double allowed = 0, s = 0;
    for (size_t a = 0; a < c.T; ++a)
      if (r[a] > 0) allowed += c.cap[a];
    if (allowed <= 0) return 0;
    for (size_t a = 0; a < c.T; ++a)
      if (r[a] > 0) s += c.cap[a] / allowed * r[a];
    return s;
  }

  // The LP's allocation, or equal shares when the solver fails (the reason goes into every
  // decision this allocation yields).
  std::vector<double> Compute(const Snapshot& snap, const std::vector<const JobRecord*>& jobs) {
    fallback_.clear();
    Common c = MakeCommon(snap);
    const size_t M = jobs.size(), T = c.T;
    std::vector<double> x(M * T, 0.0);
    if (M == 0) return x;
    const auto rates = UsableRates(snap, jobs, T);
    if (kind_ == Kind::kLas) return Agnostic(jobs, rates, c);
    MaxMinProblem p;
    p.jobs = static_cast<int>(M);
    p.types = static_cast<int>(T);
    p.coef.assign(M * T, 0.0);
    p.workers.resize(M);
    p.capacity = c.cap;
    std::vector<double> iso(M);
    for (size_t m = 0; m < M; ++m) {
      p.workers[m] = jobs[m]->spec.workers;
      iso[m] = IsolatedRate(rates[m], c);
    }
    auto fill = [&](auto norm) {
      for (size_t m = 0; m < M; ++m) {
        double n = norm(m);
        for (size_t a = 0; a < T; ++a)
          p.coef[m * T + a] = rates[m][a] > 0 && n > 0 ? rates[m][a] / n : 0.0;
      }
    };
    if (kind_ == Kind::kLasHetero) {
      // Normalised by the equal-share throughput and scaled by the gang size, so that fairness is
      // over accelerator-time: a gang of 8 is owed 1/8 of the time a single worker is.
      fill([&](size_t m) { return iso[m] * jobs[m]->spec.priority / jobs[m]->spec.workers; });
      return OrFallback(SolveMaxMin(p), jobs, rates, c);
    }
    if (kind_ == Kind::kMaxSum) {
      // Each job's throughput as a fraction of its best rate, so that steps of different models
      // add up (a job at full speed counts 1), weighted by priority.
      fill([&](size_t m) {
        double best = *std::max_element(rates[m].begin(), rates[m].end());
        return best / jobs[m]->spec.priority;
      });
      p.objective = LpObjective::kMaxSum;
      return OrFallback(SolveMaxMin(p), jobs, rates, c);
    }
    if (kind_ == Kind::kMakespan) {
      fill([&](size_t m) { return std::max(1e-9, jobs[m]->Remaining(snap.now)); });
      return OrFallback(SolveMaxMin(p), jobs, rates, c);
    }
    // Finish-time fairness: rho_m = (elapsed_m + remaining_m / rate_m(X)) / isolated_jct_m, with
    // the isolated JCT that of an equal 1/M share of the cluster. rho <= R holds iff
    // rate_m(X) >= remaining_m / (R * iso_jct_m - elapsed_m); bisect on R.
    const double share = std::min(1.0, c.total / std::max(1.0, [&] {
      double w = 0;
      for (auto* j : jobs) w += j->spec.workers;
      return w;
    }()));
    std::vector<double> iso_jct(M), elapsed(M), rem(M);
    double lo = 0, hi = 1;
    for (size_t m = 0; m < M; ++m) {
      iso_jct[m] = jobs[m]->spec.total_steps / std::max(1e-12, iso[m] * share);
      elapsed[m] = std::max(0.0, snap.now - jobs[m]->spec.submit_time_s);
      rem[m] = std::max(1e-9, jobs[m]->Remaining(snap.now));
      lo = std::max(lo, elapsed[m] / iso_jct[m]);
    }
    auto feasible = [&](double R, MaxMinSolution* out) {
      fill([&](size_t m) {
        double slack = R * iso_jct[m] - elapsed[m];
        return slack <= 0 ? 0.0 : rem[m] / slack;  // required rate
      });
      for (size_t m = 0; m < M; ++m) {
        bool any = false;
        for (size_t a = 0; a < T; ++a) any = any || p.coef[m * T + a] > 0;
        if (!any) return false;
      }
      *out = SolveMaxMin(p);
      return out->ok && out->z >= 1.0 - 1e-9;
    };
    MaxMinSolution best;
    hi = std::max(2 * lo, 1.0);
    int guard = 0;
    while (!feasible(hi, &best) && guard++ < 40) hi *= 2;
    if (!best.ok) {
      if (best.error.empty()) best.error = "no feasible finish-time bound";
      return OrFallback(std::move(best), jobs, rates, c);
    }
    for (int it = 0; it < 14 && hi - lo > 1e-3 * hi; ++it) {
      double mid = (lo + hi) / 2;
      MaxMinSolution s;
      if (feasible(mid, &s)) {
        hi = mid;
        best = std::move(s);
      } else {
        lo = mid;
      }
    }
    return best.x;
  }

  std::vector<double> OrFallback(MaxMinSolution s, const std::vector<const JobRecord*>& jobs,
                                 const std::vector<std::vector<double>>& rates, const Common& c) {
    if (s.ok) return std::move(s.x);
    fallback_ = " (LP failed: " + s.error + "; equal shares instead)";
    return Agnostic(jobs, rates, c);
  }

  // Equal (priority-weighted) accelerator-time by water-filling, spread over allowed types by
  // count: workers_m * share_m = min(workers_m, lambda * w_m), sum workers_m * share_m = total.
  static std::vector<double> Agnostic(const std::vector<const JobRecord*>& jobs,
                                      const std::vector<std::vector<double>>& rates, const Common& c) {
    const size_t M = jobs.size(), T = c.T;
    std::vector<double> x(M * T, 0.0), share(M, 0.0);
    // Jobs that saturate first (share 1) are those with the largest w_m / workers_m.
    std::vector<size_t> order(M);
    for (size_t m = 0; m < M; ++m) order[m] = m;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return jobs[a]->spec.priority / jobs[a]->spec.workers > jobs[b]->spec.priority / jobs[b]->spec.workers;
    });
    double cap_left = c.total, weight_left = 0;
    for (auto* j : jobs) weight_left += j->spec.priority;
    for (size_t m : order) {
      const auto& s = jobs[m]->spec;
      double lambda = weight_left > 0 ? cap_left / weight_left : 0;
      share[m] = std::min(1.0, lambda * s.priority / s.workers);
      cap_left -= share[m] * s.workers;
      weight_left -= s.priority;
    }
    for (size_t m = 0; m < M; ++m) {
      double allowed = 0;
      for (size_t a = 0; a < T; ++a)
        if (rates[m][a] > 0) allowed += c.cap[a];
      for (size_t a = 0; a < T; ++a)
        if (rates[m][a] > 0 && allowed > 0) x[m * T + a] = share[m] * c.cap[a] / allowed;
    }
    return x;
  }

  Kind kind_;
  std::vector<JobId> ids_;
  std::vector<double> x_;
  std::string fallback_;  // why x_ is not the LP's, or empty
  RoundRealizer realizer_;
};

}  // namespace

std::unique_ptr<Policy> MakeLasPolicy() { return std::make_unique<TimeSharingPolicy>(Kind::kLas); }
std::unique_ptr<Policy> MakeLasHeteroPolicy() {
  return std::make_unique<TimeSharingPolicy>(Kind::kLasHetero);
}
std::unique_ptr<Policy> MakeFtfHeteroPolicy() {
  return std::make_unique<TimeSharingPolicy>(Kind::kFtf);
}
std::unique_ptr<Policy> MakeMaxSumThroughputPolicy() {
  return std::make_unique<TimeSharingPolicy>(Kind::kMaxSum);
}
std::unique_ptr<Policy> MakeMakespanHeteroPolicy() {
  return std::make_unique<TimeSharingPolicy>(Kind::kMakespan);
}

}  // namespace cnet
