// One contract suite, run against every registered policy (as Mesos runs one sorter suite over
// every sorter): a scheduling loop with a manual clock checks, after every cycle, the invariants
// any policy must keep.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "sim/generator.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::GavelMatrix;
using testing::TestCatalogue;

struct LoopStats {
  size_t finished = 0, preemptions = 0, places = 0, cycles = 0;
  size_t other_size = 0;  // places of an elastic job at a size other than its declared one
  std::map<int64_t, Seconds> finish;
  std::vector<std::string> violations;
};

// A small heterogeneous cluster in two sites; one rack's power cap binds.
Cluster SmallCluster() {
  std::vector<Cluster::GroupSpec> g;
  g.push_back({"east", "r1", "ra", 1e9, "v100", 2, Accel("V100"), 4});
  // 2 nodes x 4 P100 (idle 30 W, busy 250 W): idle 240 W, cap 1.3 kW -> at most 4 busy.
  g.push_back({"east", "r1", "rb", 1.3, "p100", 2, Accel("P100"), 4});
  g.push_back({"west", "r2", "rc", 1e9, "k80", 3, Accel("K80"), 4});
  auto r = Cluster::Build("small", g, TestCatalogue());
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

// Checks what must hold after any cycle.
void CheckInvariants(const Scheduler& s, const Cluster& cl, LoopStats& st) {
  std::vector<int> used(cl.nodes().size(), 0);
  std::vector<double> draw_w(cl.racks().size(), 0);
  for (const Node& n : cl.nodes())
    if (n.accel.valid()) draw_w[n.rack.value()] += n.accel_count * TestCatalogue().Get(n.accel).idle_power_w;
  for (JobId id : s.running()) {
    const JobRecord* j = s.Find(id);
    const int w = j->placement.Workers();
    if (w != j->spec.workers && !(j->spec.Elastic() && j->TakesSize(w)))
      st.violations.push_back("gang size broken for job " + std::to_string(id.value()));
    if (w < j->spec.MinWorkers() || w > j->spec.MaxWorkers())
      st.violations.push_back("job " + std::to_string(id.value()) + " outside its elastic range");
    if (!j->spec.Accepts(j->placement.accel))
      st.violations.push_back("unacceptable type for job " + std::to_string(id.value()));
    std::set<int> sites;
    for (const Slot& sl : j->placement.slots) {
      const Node& n = cl.node(sl.node);
      if (n.accel != j->placement.accel) st.violations.push_back("slot on a node of another type");
      used[sl.node.value()] += sl.count;
      if (sl.count % j->spec.unit != 0)
        st.violations.push_back("job " + std::to_string(id.value()) + " split a worker across nodes");
      sites.insert(n.site.value());
      if (!j->spec.AllowsSite(n.site)) st.violations.push_back("job placed outside its allowed sites");
      const auto& spec = TestCatalogue().Get(n.accel);
      draw_w[n.rack.value()] += sl.count * (spec.board_power_w - spec.idle_power_w);
    }
    if (sites.size() > 1) st.violations.push_back("gang spans sites");
  }
  for (const Node& n : cl.nodes())
    if (used[n.id.value()] > n.accel_count) st.violations.push_back("node over-committed: " + n.name);
  for (const Rack& r : cl.racks())
    if (draw_w[r.id.value()] > r.power_cap_kw * 1000 + 1e-6)
      st.violations.push_back("rack power cap exceeded: " + r.name);
}

struct LoopOptions {
  const Cluster* cluster = nullptr;  // null: SmallCluster()
  const PerfModel* perf = nullptr;   // null: the Gavel matrix
  Seconds round_s = 360;
  bool explain_waiting = false;  // then every job left waiting must carry a reason
  std::shared_ptr<const PlacementRules> rules;  // null: the default
};

// After a cycle that asked for explanations, every waiting job has one from this cycle or an
// earlier one (never the admission placeholder).
void CheckReasons(const Scheduler& s, LoopStats& st) {
  for (JobId id : s.pending()) {
    const std::string& r = s.Find(id)->reason;
    if (r.empty() || r == "queued")
      st.violations.push_back("waiting job " + std::to_string(id.value()) + " without a reason");
  }
}

LoopStats RunLoop(const std::string& policy, const std::vector<JobSpec>& jobs, uint64_t seed,
                  const LoopOptions& lo = {}) {
  const Seconds round_s = lo.round_s;
  static const Cluster small = SmallCluster();
  static const PerfModel gavel(TestCatalogue(), GavelMatrix());
  const Cluster& cl = lo.cluster ? *lo.cluster : small;
  const PerfModel& perf = lo.perf ? *lo.perf : gavel;
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  auto pol = reg.Create(policy);
  EXPECT_TRUE(pol.ok());
  const bool ts = (*pol)->time_sharing();
  SchedulerOptions so;
  so.round_s = round_s;
  so.explain_waiting = lo.explain_waiting;
  so.rules = lo.rules;
  Scheduler s(cl, perf, std::move(*pol), so);
  Rng rng(seed);
  LoopStats st;
  size_t next = 0;
  Seconds t = 0, next_round = 0;
  for (int guard = 0; guard < 200000 && st.finished < jobs.size(); ++guard) {
    while (next < jobs.size() && jobs[next].submit_time_s <= t) {
      Status a = s.Admit(jobs[next++]);
      if (!a.ok()) st.violations.push_back("admit: " + a.message());
    }
    bool boundary = !ts || t >= next_round;
    if (boundary) {
      CycleResult cr = s.RunCycle(t, true, rng);
      ++st.cycles;
      for (const auto& rj : cr.rejected) st.violations.push_back("rejected: " + rj);
      for (const auto& d : cr.applied) {
        if (d.reason.empty()) st.violations.push_back("decision without a reason");
        st.preemptions += d.action == Action::kPreempt;
        st.places += d.action == Action::kPlace;
        st.other_size += d.action == Action::kPlace && d.placement.Workers() != s.Find(d.job)->spec.workers;
      }
      CheckInvariants(s, cl, st);
      for (JobId id : s.running()) {
        Status ok = s.rules().Check(s.Find(id)->spec, s.Find(id)->placement, cl);
        if (!ok.ok()) st.violations.push_back("placement refused by the rules: " + ok.message());
      }
      if (lo.explain_waiting) CheckReasons(s, st);

      if (ts) next_round = t + round_s;
    }
    Seconds t_next = next < jobs.size() ? jobs[next].submit_time_s : 1e300;
    for (JobId id : s.running()) t_next = std::min(t_next, s.Find(id)->ExpectedFinish());
    if (ts) t_next = std::min(t_next, next_round);
    t = std::max(t, t_next);
    std::vector<JobId> done;
    for (JobId id : s.running())
      if (s.Find(id)->ExpectedFinish() <= t + 1e-9) done.push_back(id);
    for (JobId id : done) {
      JobRecord r = s.Complete(id, t);
      // Relative slack: at 1e6 steps/s, rounding in rate x time alone is ~1e-6 steps.
      if (r.StepsDone(t) + 1e-6 + 1e-12 * r.spec.total_steps < r.spec.total_steps)
        st.violations.push_back("completed early");
      st.finish[id.value()] = t;
      ++st.finished;
    }
  }
  return st;
}

std::vector<JobSpec> Workload(uint64_t seed, size_t n, double rate) {
  static const PerfModel perf(TestCatalogue(), GavelMatrix());
  Rng rng(seed);
  auto w = GenerateGavel(GavelWorkload::kMulti, rate, n, perf, Accel("V100"), rng);
  EXPECT_TRUE(w.ok());
  std::vector<JobSpec> jobs = w->jobs;
  // Shorten jobs so the loop is quick, and exercise constraints: some jobs only on K80/P100,
  // some only in the east site.
  for (auto& j : jobs) {
    j.total_steps /= 20;
    if (j.id.value() % 7 == 3) j.acceptable = {Accel("K80"), Accel("P100")};
    if (j.id.value() % 5 == 1) j.allowed_sites = {SiteId(0)};
    // East P100s can power 4 busy packages at most: keep constrained gangs runnable.
    if (j.id.value() % 7 == 3 || j.id.value() % 5 == 1) j.workers = std::min(j.workers, 4);
  }
  return jobs;
}

class PolicyContract : public ::testing::TestWithParam<std::string> {};

TEST_P(PolicyContract, KeepsInvariantsAndFinishesEveryJob) {
  auto jobs = Workload(7, 60, 20);
  LoopStats st = RunLoop(GetParam(), jobs, 1);
  for (const auto& v : st.violations) ADD_FAILURE() << v;
  EXPECT_EQ(st.finished, jobs.size());
  EXPECT_GE(st.places, jobs.size());
}

TEST_P(PolicyContract, IsDeterministicForASeed) {
  auto jobs = Workload(11, 40, 30);
  LoopStats a = RunLoop(GetParam(), jobs, 5);
  LoopStats b = RunLoop(GetParam(), jobs, 5);
  EXPECT_EQ(a.finish, b.finish);
  EXPECT_EQ(a.preemptions, b.preemptions);
}

TEST_P(PolicyContract, OnlyTimeSharingPoliciesPreempt) {
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  bool ts = (*reg.Create(GetParam()))->time_sharing();
  auto jobs = Workload(3, 50, 40);
  LoopStats st = RunLoop(GetParam(), jobs, 2);
  if (!ts) EXPECT_EQ(st.preemptions, 0u);
  else EXPECT_GT(st.preemptions, 0u) << "an overloaded time-sharing policy should rotate jobs";
}

// A hard filter binds every policy: a refused node carries no job, and every job still finishes.
class RefuseNode final : public Filter {
 public:
  explicit RefuseNode(NodeId n) : n_(n) {}
  std::string_view name() const override { return "refuse-node"; }
  bool AllowsNode(const JobSpec&, const Node& n, std::string* why) const override {
    if (n.id != n_) return true;
    if (why) *why = "refuse-node: " + n.name;
    return false;
  }
  bool Restricts(const JobSpec&) const override { return true; }

 private:
  NodeId n_;
};

TEST_P(PolicyContract, RefusedNodeIsNeverUsed) {
  auto rules = std::make_shared<PlacementRules>();
  rules->AddFilter(std::make_unique<RefuseNode>(NodeId(0)));  // one of the two V100 nodes
  LoopOptions lo;
  lo.rules = rules;
  auto jobs = Workload(13, 50, 30);
  for (auto& j : jobs) j.workers = std::min(j.workers, 4);  // one V100 node left for V100-only gangs
  LoopStats st = RunLoop(GetParam(), jobs, 3, lo);
  for (const auto& v : st.violations) ADD_FAILURE() << v;
  EXPECT_EQ(st.finished, jobs.size());
  EXPECT_GE(st.places, jobs.size());
}

// Jobs with several packages per worker (unit > 1): each node must get whole workers.
std::vector<JobSpec> MultiPackageWorkload(uint64_t seed, size_t n, double rate) {
  auto jobs = Workload(seed, n, rate);
  for (auto& j : jobs) {
    if (j.workers >= 2 && j.id.value() % 2 == 0) j.unit = 2;
    if (j.workers >= 4 && j.id.value() % 3 == 0) j.unit = 4;  // a whole 4-package node per worker
  }
  return jobs;
}

TEST_P(PolicyContract, PlacesWholeWorkersWhenAWorkerHasSeveralPackages) {
  auto jobs = MultiPackageWorkload(17, 60, 30);
  size_t multi = 0;
  for (const auto& j : jobs) multi += j.unit > 1;
  ASSERT_GT(multi, 5u);
  LoopStats st = RunLoop(GetParam(), jobs, 4);
  for (const auto& v : st.violations) ADD_FAILURE() << v;
  EXPECT_EQ(st.finished, jobs.size());
}

// Elastic jobs (min 1, max 2x their size) beside rigid ones: every policy keeps the invariants
// and finishes them; only elastic-hetero runs one at another size than declared.
TEST_P(PolicyContract, RunsElasticJobsWithinTheirRange) {
  auto jobs = Workload(31, 50, 30);
  for (auto& j : jobs)
    if (j.id.value() % 2 == 0) {
      j.min_workers = 1;
      j.max_workers = 2 * j.workers;
    }
  LoopOptions lo;
  lo.explain_waiting = true;
  LoopStats st = RunLoop(GetParam(), jobs, 9, lo);
  for (const auto& v : st.violations) ADD_FAILURE() << v;
  EXPECT_EQ(st.finished, jobs.size());
  if (GetParam() == "elastic-hetero") EXPECT_GT(st.other_size, 0u);
  else EXPECT_EQ(st.other_size, 0u) << "a policy that does not choose sizes runs the declared one";
}

TEST_P(PolicyContract, ExplainsEveryWaitingJob) {
  LoopOptions lo;
  lo.explain_waiting = true;
  for (auto jobs : {Workload(19, 50, 40), MultiPackageWorkload(23, 50, 40)}) {
    LoopStats st = RunLoop(GetParam(), jobs, 6, lo);
    for (const auto& v : st.violations) ADD_FAILURE() << v;
    EXPECT_EQ(st.finished, jobs.size());
  }
}

// Data the core has never seen (issue 10): 64 GPUs of 3 types, rates from 1e-3 to 1e2 steps/s
// (some gangs cannot run at all on K80), gangs of up to 14. No policy may crash or stall, and
// each must finish every job.
struct WideRates {
  ThroughputMatrix matrix;
  Cluster cluster;
  std::unique_ptr<PerfModel> perf;
};

const WideRates& Wide() {
  static const WideRates* w = [] {
    std::string csv = "job_type,accelerator,workers,steps_per_second\n";
    const char* types[] = {"K80", "P100", "V100"};
    const double speedup[] = {0.1, 0.33, 1.0};
    for (int k = 0; k < 6; ++k) {
      double base = std::pow(10.0, -2 + 0.8 * k);  // 1e-2 .. ~1e2 on V100
      for (int t = 0; t < 3; ++t)
        for (int n = 1; n <= 8; n *= 2) {
          double r = base * speedup[t] * n * std::pow(0.9, std::log2(n));
          if (k == 1 && t == 0 && n >= 4) r = 0;  // out of memory
          csv += "J" + std::to_string(k) + "," + types[t] + "," + std::to_string(n) + "," +
                 std::to_string(r) + "\n";
        }
    }
    auto m = ThroughputMatrix::ParseCsv(csv, "wide.csv", TestCatalogue());
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    std::vector<Cluster::GroupSpec> g;
    g.push_back({"s", "r", "k", 1e9, "k80", 4, Accel("K80"), 8});
    g.push_back({"s", "r", "p", 1e9, "p100", 2, Accel("P100"), 8});
    g.push_back({"s", "r", "v", 1e9, "v100", 2, Accel("V100"), 8});
    auto cl = Cluster::Build("wide", g, TestCatalogue());
    EXPECT_TRUE(cl.ok());
    auto* x = new WideRates{std::move(m).value(), std::move(cl).value(), nullptr};
    x->perf = std::make_unique<PerfModel>(TestCatalogue(), x->matrix);
    return x;
  }();
  return *w;
}

TEST_P(PolicyContract, SurvivesRatesSpanningFourOrdersOfMagnitude) {
  const WideRates& w = Wide();
  Rng rng(29);
  const int sizes[] = {1, 1, 2, 4, 6, 8, 12, 14};
  std::vector<JobSpec> jobs;
  for (int i = 0; i < 40; ++i) {
    JobSpec j;
    j.id = JobId(i);
    j.job_type = "J" + std::to_string(rng.UniformInt(0, 5));
    j.workers = sizes[rng.UniformInt(0, 7)];
    j.submit_time_s = 600.0 * i;
    auto t = w.matrix.FindJobType(j.job_type);
    double v100 = w.perf->Throughput(*t, Accel("V100"), j.workers, j.workers > 8 ? 2 : 1).steps_per_s;
    j.total_steps = v100 * rng.Uniform(600, 3 * 3600);  // 10 min to 3 h on V100
    jobs.push_back(j);
  }
  LoopOptions lo;
  lo.cluster = &w.cluster;
  lo.perf = w.perf.get();
  lo.explain_waiting = true;
  LoopStats st = RunLoop(GetParam(), jobs, 8, lo);
  for (const auto& v : st.violations) ADD_FAILURE() << v;
  EXPECT_EQ(st.finished, jobs.size());
}

// Property test (issue 10): every policy over random clusters, random matrices (zeros, rates
// from 1e-6 to 1e6 steps/s, any gang size) and random workloads. No crash, no invariant
// violation, every job finishes; on an uncontended cluster, no preemption at all. The seed is
// in every failure message. The contended workload runs a second time with half its jobs elastic.
struct RandomWorld {
  Cluster cluster;
  ThroughputMatrix matrix;
  std::unique_ptr<PerfModel> perf;
  int min_nodes = 0;     // fewest nodes of any type
  int min_per_node = 0;  // smallest node
  int min_type = 0;      // fewest packages of any type
};

std::string Num(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::unique_ptr<RandomWorld> MakeWorld(uint64_t seed) {
  Rng rng(seed);
  const char* names[] = {"K80", "P100", "V100", "T4", "A100-80GB", "H100-SXM"};
  std::vector<int> pick = {0, 1, 2, 3, 4, 5};
  for (int i = 5; i > 0; --i) std::swap(pick[i], pick[rng.UniformInt(0, i)]);
  const int types = rng.UniformInt(1, 3);
  std::vector<Cluster::GroupSpec> g;
  int min_nodes = 1 << 30, min_per_node = 1 << 30, min_type = 1 << 30;
  for (int t = 0; t < types; ++t) {
    const int per_node = std::vector<int>{1, 2, 4, 8}[rng.UniformInt(0, 3)];
    const int count = rng.UniformInt(1, 5);
    g.push_back({"s", "r", "rack" + std::to_string(t), 1e9, "n" + std::to_string(t), count,
                 Accel(names[pick[t]]), per_node});
    min_nodes = std::min(min_nodes, count);
    min_per_node = std::min(min_per_node, per_node);
    min_type = std::min(min_type, count * per_node);
  }
  auto cl = Cluster::Build("random", g, TestCatalogue());
  EXPECT_TRUE(cl.ok()) << cl.status().ToString();
  std::string csv = "job_type,accelerator,workers,steps_per_second\n";
  for (int k = 0; k < 5; ++k) {
    const double base = std::pow(10.0, rng.Uniform(-6, 6));
    bool any = false;
    for (int t = 0; t < types; ++t) {
      double r1 = base * std::pow(10.0, rng.Uniform(-2, 0));
      if (rng.Uniform(0, 1) < 0.15 && (any || t + 1 < types)) r1 = 0;  // cannot run there
      any |= r1 > 0;
      csv += "J" + std::to_string(k) + "," + names[pick[t]] + ",1," + Num(r1) + "\n";
      for (int w : {2, 3, 4, 6, 8})
        if (r1 > 0 && rng.Uniform(0, 1) < 0.4)
          csv += "J" + std::to_string(k) + "," + names[pick[t]] + "," + std::to_string(w) + "," +
                 Num(r1 * w * rng.Uniform(0.3, 1.0)) + "\n";
    }
  }
  auto m = ThroughputMatrix::ParseCsv(csv, "random.csv", TestCatalogue());
  EXPECT_TRUE(m.ok()) << m.status().ToString() << "\n" << csv;
  if (!cl.ok() || !m.ok()) return nullptr;
  auto w = std::make_unique<RandomWorld>(
      RandomWorld{std::move(cl).value(), std::move(m).value(), nullptr, min_nodes, min_per_node, min_type});
  w->perf = std::make_unique<PerfModel>(TestCatalogue(), w->matrix);
  return w;
}

// Jobs that run 10 min to 2 h at their best rate. With `uncontended`, at most min_nodes jobs,
// each fitting any node: whichever types the policy picks, an empty node is always free.
std::vector<JobSpec> RandomJobs(const RandomWorld& w, uint64_t seed, bool uncontended) {
  Rng rng(seed * 7919 + 1);
  const int n = uncontended ? w.min_nodes : rng.UniformInt(5, 40);
  // Contended gangs may need several nodes, but every type holds them.
  const int max_workers = uncontended ? w.min_per_node : std::min(2 * w.min_per_node, w.min_type);
  std::vector<JobSpec> jobs;
  Seconds t = 0;
  for (int i = 0; i < n; ++i) {
    JobSpec j;
    j.id = JobId(i);
    j.job_type = "J" + std::to_string(rng.UniformInt(0, 4));
    j.workers = rng.UniformInt(1, max_workers);
    t += rng.Uniform(0, 1800);
    j.submit_time_s = t;
    auto type = w.matrix.FindJobType(j.job_type);
    double best = 0;
    for (AccelId a : w.cluster.accel_types())
      best = std::max(best, w.perf->Throughput(*type, a, j.workers, 1).steps_per_s);
    if (best <= 0) continue;
    j.total_steps = best * rng.Uniform(600, 7200);
    jobs.push_back(j);
  }
  return jobs;
}

TEST_P(PolicyContract, PropertyRandomClustersMatricesAndWorkloads) {
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " (MakeWorld/RandomJobs)");
    auto w = MakeWorld(seed);
    ASSERT_NE(w, nullptr);
    for (bool uncontended : {false, true}) {
      auto jobs = RandomJobs(*w, seed, uncontended);
      LoopOptions lo;
      lo.cluster = &w->cluster;
      lo.perf = w->perf.get();
      lo.explain_waiting = true;
      LoopStats st = RunLoop(GetParam(), jobs, seed, lo);
      for (const auto& v : st.violations) ADD_FAILURE() << v;
      EXPECT_EQ(st.finished, jobs.size()) << "uncontended " << uncontended;
      if (uncontended) {
        EXPECT_EQ(st.preemptions, 0u) << "preempted on an uncontended cluster";
      }
    }
    // The contended workload again with every other job elastic (min 1, max 2x its size); half
    // the seeds, to keep the suite fast.
    if (seed % 2) continue;
    auto jobs = RandomJobs(*w, seed, false);
    for (auto& j : jobs)
      if (j.id.value() % 2 == 1) {
        j.min_workers = 1;
        j.max_workers = 2 * j.workers;
      }
    LoopOptions lo;
    lo.cluster = &w->cluster;
    lo.perf = w->perf.get();
    LoopStats st = RunLoop(GetParam(), jobs, seed, lo);
    for (const auto& v : st.violations) ADD_FAILURE() << "elastic: " << v;
    EXPECT_EQ(st.finished, jobs.size()) << "elastic";
  }
}

// Every registered policy runs the suite: a new policy is under contract by registering it.
std::vector<std::string> RegisteredPolicies() {
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  return reg.Names();
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, PolicyContract, ::testing::ValuesIn(RegisteredPolicies()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(Admission, RefusesGangsNoRackCanPower) {
  const Cluster cl = SmallCluster();
  const PerfModel perf(TestCatalogue(), GavelMatrix());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  auto pol = reg.Create("fifo");
  Scheduler s(cl, perf, std::move(pol).value(), {});
  JobSpec j;
  j.id = JobId(1);
  j.job_type = "ResNet-18 (batch size 64)";
  j.total_steps = 100;
  j.workers = 8;
  j.acceptable = {Accel("P100")};  // 8 P100 exist, but their rack powers only 4 busy ones
  Status st = s.Admit(j);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("largest: 4"), std::string::npos) << st.message();
  j.workers = 4;
  EXPECT_TRUE(s.Admit(j).ok());
  j.id = JobId(2);
  j.workers = 13;  // more than any site holds of any type (west: 12 K80)
  j.acceptable.clear();
  EXPECT_FALSE(s.Admit(j).ok());
}

TEST(PolicyRegistry, UnknownNameListsKnownOnes) {
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  auto r = reg.Create("nope");
  ASSERT_FALSE(r.ok());
  for (const std::string& name : reg.Names()) {
    EXPECT_NE(r.status().message().find(name), std::string::npos) << name;
    EXPECT_FALSE(reg.Description(name).empty()) << name;
    auto p = reg.Create(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ((*p)->name(), name);
  }
  EXPECT_FALSE(reg.Names().empty());
}

}  // namespace
}  // namespace cnet
