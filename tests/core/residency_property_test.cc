// Data residency in the scheduling core (issue 12): random sequences of submits, policy and grant
// changes, site outages and recoveries, re-dispatches, completions and restarts, run against the
// real Scheduler with every non-LP policy. After every cycle, each placement is checked against
// the job's rules as they stand at that moment, evaluated here directly on the site's attributes
// (not through the DataResidency the job carries): there must be 0 placements outside a job's
// allowed set. The base seed is printed; CNET_RESIDENCY_SEED=<seed> CNET_RESIDENCY_SEQUENCES=1
// replays one sequence (a failure names its seed).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>

#include "model/data_residency.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

uint64_t EnvU64(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : def;
}

// Four sites with different attributes, one node each (two of V100, two of P100).
const Cluster& Sites() {
  static const Cluster* c = [] {
    std::vector<Cluster::GroupSpec> g;
    g.push_back({"sh", "east", "r0", 1e9, "n", 1, Accel("V100"), 4});
    g.push_back({"bj", "north", "r1", 1e9, "n", 1, Accel("P100"), 4});
    g.push_back({"va", "us-east", "r2", 1e9, "n", 1, Accel("V100"), 4});
    g.push_back({"fra", "eu", "r3", 1e9, "n", 2, Accel("P100"), 2});
    auto r = Cluster::Build("residency", g, TestCatalogue());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new Cluster(std::move(r).value());
  }();
  return *c;
}

const std::vector<SiteAttributes>& Attrs() {
  static const std::vector<SiteAttributes> a = {
      {"sh", {{"country", "CN"}, {"region", "east"}, {"security_level", "3"}}},
      {"bj", {{"country", "CN"}, {"region", "north"}, {"security_level", "2"}}},
      {"va", {{"country", "US"}, {"region", "us-east"}, {"security_level", "3"}, {"tier1", "true"}}},
      {"fra", {{"country", "DE"}, {"region", "eu"}, {"security_level", "4"}}},
  };
  return a;
}

const std::vector<std::string>& PolicyPool() {
  static const std::vector<std::string> p = {
      "*", "country=CN", "country=CN & security_level>=3", "region=east | region=north", "security_level>=3",
      "* \\ country=US", "!tier1", "fra | sh", "country=US", "country=XX" /* no site */, "security_level>2 & !bj",
  };
  return p;
}

ResidencyExpr Expr(const std::string& t) { return *ResidencyExpr::Parse(t); }

struct World {
  static constexpr int kDatasets = 3, kTenants = 3;
  std::string policy[kDatasets];
  int owner[kDatasets];
  // grant[d][t]: "" none, else the grant's narrower policy ("*" = the dataset's own).
  std::string grant[kDatasets][kTenants];
  struct Job {
    JobSpec spec;
    int tenant = 0;
    std::vector<int> inputs;
  };
  std::map<int64_t, Job> jobs;  // live jobs (pending or running)

  // The rules job j must obey now; false when its tenant may no longer read an input.
  bool Rules(const Job& j, std::vector<ResidencyRule>* out) const {
    for (int d : j.inputs) {
      out->push_back({"dataset " + std::to_string(d), Expr(policy[d])});
      if (owner[d] == j.tenant) continue;
      if (grant[d][j.tenant].empty()) return false;
      out->push_back({"grant of dataset " + std::to_string(d), Expr(grant[d][j.tenant])});
    }
    return true;
  }
};

struct Sequence {
  Rng rng;
  World w;
  std::unique_ptr<Scheduler> s;
  std::string policy_name;
  std::vector<bool> site_up = std::vector<bool>(4, true);
  Seconds now = 0;
  int64_t next_id = 1;
  size_t places = 0;
  std::vector<std::string> violations;

  explicit Sequence(uint64_t seed) : rng(seed) {}

  std::unique_ptr<Scheduler> Fresh() {
    static const ThroughputMatrix none;  // no job types: 1 step/s on every type
    static const PerfModel perf(TestCatalogue(), none);
    static const PolicyRegistry* reg = [] {
      auto* r = new PolicyRegistry;
      RegisterBuiltinPolicies(*r);
      return r;
    }();
    auto pol = reg->Create(policy_name);
    EXPECT_TRUE(pol.ok());
    auto sch = std::make_unique<Scheduler>(Sites(), perf, std::move(*pol), SchedulerOptions{});
    for (const Node& n : Sites().nodes()) sch->SetNodeUsable(n.id, site_up[n.site.value()]);
    return sch;
  }

  // (Re)admits job j under the rules as they stand; a job no allowed site could hold is dropped,
  // as the service fails it. Returns whether it is queued.
  bool Admit(World::Job& j) {
    std::vector<ResidencyRule> rules;
    if (!w.Rules(j, &rules)) return false;
    j.spec.residency = std::make_shared<DataResidency>(BuildResidency(rules, Attrs()));
    Status st = s->Admit(j.spec);
    bool feasible = Feasible(j.spec);
    if (st.ok() != feasible) violations.push_back("admit answered " + st.ToString() + " for a job " +
                                                  (feasible ? "some site can hold" : "no allowed site can hold"));
    return st.ok();
  }

  // Whether some site the job may use holds its gang (every site has one accelerator type).
  static bool Feasible(const JobSpec& spec) {
    std::map<int, int> packages;
    for (const Node& n : Sites().nodes())
      if (spec.residency->Allows(n.site) && spec.AllowsSite(n.site)) packages[n.site.value()] += n.accel_count;
    for (const auto& [site, count] : packages)
      if (count >= spec.workers) return true;
    return false;
  }

  // The residency of job j under the rules as they stand (allows nothing once its tenant may no
  // longer read an input).
  std::shared_ptr<const DataResidency> Residency(const World::Job& j) const {
    std::vector<ResidencyRule> rules;
    if (!w.Rules(j, &rules)) return std::make_shared<DataResidency>();
    return std::make_shared<DataResidency>(BuildResidency(rules, Attrs()));
  }

  void Submit() {
    World::Job j;
    j.tenant = static_cast<int>(rng.UniformInt(0, World::kTenants - 1));
    for (int d = 0; d < World::kDatasets; ++d)
      if (rng.Bernoulli(0.4)) j.inputs.push_back(d);
    j.spec.id = JobId(next_id++);
    j.spec.workers = static_cast<int>(rng.UniformInt(1, 4));
    j.spec.total_steps = static_cast<double>(rng.UniformInt(10, 1000));
    j.spec.submit_time_s = now;
    if (rng.Bernoulli(0.2)) j.spec.allowed_sites = {SiteId(static_cast<int>(rng.UniformInt(0, 3)))};
    if (Admit(j)) w.jobs.emplace(j.spec.id.value(), std::move(j));
  }

  // Re-checks every queued job at once after a policy or grant change: remove and admit again
  // under the new rules. Running jobs keep running (the service reports them) but carry the new
  // set, so no later move takes them outside it.
  void Recheck() {
    for (auto it = w.jobs.begin(); it != w.jobs.end();) {
      const JobRecord* r = s->Find(JobId(it->first));
      if (r->phase == JobPhase::kRunning) {
        it->second.spec.residency = Residency(it->second);
        EXPECT_TRUE(s->SetResidency(JobId(it->first), it->second.spec.residency).ok());
        ++it;
        continue;
      }
      EXPECT_TRUE(s->Remove(JobId(it->first), now).ok());
      it = Admit(it->second) ? std::next(it) : w.jobs.erase(it);
    }
  }

  void Outage(int site, bool up) {
    site_up[site] = up;
    for (const Node& n : Sites().nodes())
      if (n.site.value() == site) s->SetNodeUsable(n.id, up);
    if (up) return;
    // Re-dispatch: jobs running on the lost site go back to the queue.
    for (auto it = w.jobs.begin(); it != w.jobs.end();) {
      const JobRecord* r = s->Find(JobId(it->first));
      bool there = r->phase == JobPhase::kRunning && Sites().node(r->placement.slots[0].node).site.value() == site;
      if (!there) {
        ++it;
        continue;
      }
      EXPECT_TRUE(s->Remove(JobId(it->first), now).ok());
      it = Admit(it->second) ? std::next(it) : w.jobs.erase(it);
    }
  }

  // A new Scheduler, as after a service restart: running jobs adopted where they run, the rest
  // admitted again.
  void Restart() {
    std::map<int64_t, std::pair<Placement, Seconds>> running;
    for (JobId id : s->running()) running[id.value()] = {s->Find(id)->placement, now};
    s = Fresh();
    for (auto it = w.jobs.begin(); it != w.jobs.end();) {
      auto r = running.find(it->first);
      if (r != running.end()) {
        // Adoption re-checks admission: a job whose data may now go nowhere is dropped.
        Status st = s->AdoptRunning(it->second.spec, r->second.first, r->second.second, now);
        if (!st.ok() && Feasible(it->second.spec)) violations.push_back("adopt: " + st.ToString());
        it = st.ok() ? std::next(it) : w.jobs.erase(it);
      } else {
        it = Admit(it->second) ? std::next(it) : w.jobs.erase(it);
      }
    }
  }

  void Cycle() {
    CycleResult cr = s->RunCycle(now, true, rng);
    for (const auto& why : cr.rejected) violations.push_back("rejected decision: " + why);
    for (const Decision& d : cr.applied) {
      if (d.action != Action::kPlace) continue;
      ++places;
      const World::Job& j = w.jobs.at(d.job.value());
      std::vector<ResidencyRule> rules;
      bool readable = w.Rules(j, &rules);
      for (const Slot& sl : d.placement.slots) {
        SiteId site = Sites().node(sl.node).site;
        bool ok = readable && j.spec.AllowsSite(site) && site_up[site.value()];
        for (const auto& rule : rules) ok = ok && rule.expr.Evaluate(Attrs()[site.value()]).allow;
        if (!ok) violations.push_back("job " + std::to_string(d.job.value()) + " placed on site " + Attrs()[site.value()].site);
      }
    }
  }

  void Complete() {
    if (s->running().empty()) return;
    JobId id = s->running()[rng.UniformInt(0, static_cast<int64_t>(s->running().size()) - 1)];
    (void)s->Complete(id, now);
    w.jobs.erase(id.value());
  }

  void Step() {
    now += static_cast<double>(rng.UniformInt(1, 60));
    const auto& pool = PolicyPool();
    int d = static_cast<int>(rng.UniformInt(0, World::kDatasets - 1));
    switch (rng.UniformInt(0, 9)) {
      case 0: case 1: case 2: Submit(); break;
      case 3: w.policy[d] = pool[rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 1)]; Recheck(); break;
      case 4: {
        int t = static_cast<int>(rng.UniformInt(0, World::kTenants - 1));
        w.grant[d][t] = rng.Bernoulli(0.4) ? "" : pool[rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 1)];
        Recheck();
        break;
      }
      case 5: Outage(static_cast<int>(rng.UniformInt(0, 3)), rng.Bernoulli(0.5)); break;
      case 6: Restart(); break;
      case 7: Complete(); break;
      default: break;
    }
    Cycle();
  }

  void Go() {
    static const char* kPolicies[] = {"fifo", "fifo-hetero", "backfill", "cost-hetero", "las"};
    policy_name = kPolicies[rng.UniformInt(0, 4)];
    const auto& pool = PolicyPool();
    for (int d = 0; d < World::kDatasets; ++d) {
      w.policy[d] = pool[rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 1)];
      w.owner[d] = static_cast<int>(rng.UniformInt(0, World::kTenants - 1));
      for (int t = 0; t < World::kTenants; ++t)
        w.grant[d][t] = rng.Bernoulli(0.5) ? "" : pool[rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 1)];
    }
    s = Fresh();
    int steps = static_cast<int>(rng.UniformInt(3, 12));
    for (int i = 0; i < steps; ++i) Step();
  }
};

TEST(ResidencyProperty, NoPlacementOutsideAJobsAllowedSet) {
  const uint64_t seed = EnvU64("CNET_RESIDENCY_SEED", 20261201);
  const uint64_t n = EnvU64("CNET_RESIDENCY_SEQUENCES", 100000);
  std::printf("residency property: seed %llu, %llu sequences (replay one: CNET_RESIDENCY_SEED=<seed> "
              "CNET_RESIDENCY_SEQUENCES=1)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(n));
  size_t places = 0, failed = 0;
  for (uint64_t i = 0; i < n && failed < 5; ++i) {
    Sequence r(seed + i);
    r.Go();
    places += r.places;
    if (!r.violations.empty()) {
      ++failed;
      ADD_FAILURE() << "sequence seed " << seed + i << " (policy " << r.policy_name << "): " << r.violations[0];
    }
  }
  std::printf("residency property: %zu placements checked\n", places);
  EXPECT_GT(places, n);  // the sequences do place jobs
}

}  // namespace
}  // namespace cnet
