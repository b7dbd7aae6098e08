// Issue 12 part B in the scheduling core: site economics parsing (sched/estimate/economics.h),
// candidate estimates and the objective's choice (estimate/candidates.h), the objective scorers
// in a real Scheduler (placement/scorers/objective.h), and the simulator comparing objectives.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "sched/estimate/candidates.h"
#include "sched/estimate/economics.h"
#include "sched/placement/scorers/objective.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "sim/simulator.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

const char* kResNet = "ResNet-18 (batch size 64)";

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string p = (std::filesystem::temp_directory_path() / ("cnet_econ_" + name)).string();
  std::ofstream(p) << text;
  return p;
}

const std::vector<std::string> kSites{"east", "west"};

Result<SiteEconomics> Load(const std::string& name, const std::string& text) {
  return LoadEconomicsFile(WriteTemp(name, text), kSites, TestCatalogue());
}

TEST(SiteEconomics, PricesFallBackFromTypeToSiteToCatalogue) {
  auto e = Load("prices.yaml", "prices:\n  east: 2.5\n  west: {V100: 2, '*': 1}\n");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const Catalogue& cat = TestCatalogue();
  EXPECT_DOUBLE_EQ(e->PriceUsdPerHour(cat, "east", Accel("V100")), 2.5);
  EXPECT_DOUBLE_EQ(e->PriceUsdPerHour(cat, "west", Accel("V100")), 2);
  EXPECT_DOUBLE_EQ(e->PriceUsdPerHour(cat, "west", Accel("K80")), 1);
  EXPECT_DOUBLE_EQ(e->PriceUsdPerHour(cat, "north", Accel("K80")), cat.Get(Accel("K80")).price_per_hour_usd);
}

TEST(SiteEconomics, NetworkLinksAreSymmetricByDefaultAndTimeTransfers) {
  auto e = Load("net.yaml",
                "network:\n"
                "  default: {bandwidth_gbps: 10}\n"
                "  links:\n"
                "    - {from: east, to: west, bandwidth_gbps: 1, latency_ms: 30, egress_usd_per_gb: 0.09}\n");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  // 10 GB over 1 Gb/s: 80 s, plus 30 ms; either direction.
  EXPECT_NEAR(e->TransferSeconds("east", "west", 10e9), 80.03, 1e-9);
  EXPECT_NEAR(e->TransferSeconds("west", "east", 10e9), 80.03, 1e-9);
  EXPECT_NEAR(e->EgressUsd("east", "west", 10e9), 0.9, 1e-12);
  EXPECT_EQ(e->TransferSeconds("east", "east", 10e9), 0) << "no transfer within a site";
  SiteEconomics none;
  EXPECT_NEAR(none.TransferSeconds("a", "b", 10e9), 8, 1e-9) << "default link: 10 Gb/s";
}

// Bad input: the error names the file, line, column and field.
TEST(SiteEconomics, BadInputNamesLineColumnAndField) {
  struct Case {
    const char* name;
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"type", "prices:\n  east: {Z9000: 1}\n", "2:17: field 'prices.east.Z9000': unknown accelerator type 'Z9000'"},
      {"site", "prices:\n  north: 1\n", "2:3: field 'prices.north': unknown site 'north'"},
      {"neg", "prices:\n  east: -1\n", "2:9: field 'prices.east': must be between 0 and"},
      {"nan", "prices:\n  east: cheap\n", "2:9: field 'prices.east': expected a number"},
      {"key", "network:\n  default: {bandwidth: 1}\n", "2:13: field 'network.default.bandwidth': unknown key"},
      {"bw0", "network:\n  default: {bandwidth_gbps: 0}\n", "field 'network.default.bandwidth_gbps': must be between"},
      {"to", "network:\n  links:\n    - {from: east, to: mars}\n", "3:24: field 'network.links[0].to': unknown site 'mars'"},
      {"self", "network:\n  links:\n    - {from: east, to: east}\n", "a link joins two different sites"},
      {"dup", "network:\n  links:\n    - {from: east, to: west}\n    - {from: west, to: east}\n",
       "4:7: field 'network.links[1]': link west -> east is already given by network.links[0]"},
      {"top", "prize: {}\n", "prize"},
  };
  for (const Case& c : cases) {
    auto e = Load(std::string("bad_") + c.name + ".yaml", c.text);
    ASSERT_FALSE(e.ok()) << c.name;
    EXPECT_NE(e.status().message().find(c.want), std::string::npos) << c.name << ": " << e.status().message();
    EXPECT_NE(e.status().message().find("cnet_econ_bad_"), std::string::npos) << "names the file";
  }
}

// --- candidate estimates -----------------------------------------------------------------------

Cluster TwoSites(double east_rack_kw = 1e9) {
  auto r = Cluster::Build("t",
                          {{"east", "e", "r1", east_rack_kw, "v", 1, Accel("V100"), 4},
                           {"west", "w", "r2", 1e9, "v", 2, Accel("V100"), 4},
                           {"west", "w", "r2", 1e9, "k", 1, Accel("K80"), 4}},
                          TestCatalogue());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

SiteEconomics Prices(double east_v100, double west_v100) {
  SiteEconomics e;
  e.AddPrice("east", "V100", east_v100, "test");
  e.AddPrice("west", "V100", west_v100, "test");
  EXPECT_TRUE(e.Resolve(TestCatalogue()).ok());
  return e;
}

struct Fixture {
  Cluster cl = TwoSites();
  PerfModel perf{TestCatalogue(), testing::GavelMatrix()};
  PlacementRules rules;
  SiteEconomics econ = Prices(4, 1);
  std::unique_ptr<Scheduler> sched;

  explicit Fixture(Cluster c = TwoSites()) : cl(std::move(c)) {
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    sched = std::make_unique<Scheduler>(cl, perf, std::move(reg.Create("backfill")).value(), SchedulerOptions{});
  }
  JobRecord Job(int workers, double steps = 1000) {
    JobSpec j;
    j.id = JobId(100);
    j.workers = workers;
    j.job_type = kResNet;
    j.total_steps = steps;
    auto r = sched->Prepare(j);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  EstimateInput Input(Seconds now = 0) {
    EstimateInput in;
    in.cluster = &cl;
    in.catalogue = &TestCatalogue();
    in.rules = &rules;
    in.economics = &econ;
    in.capacity = &sched->capacity();
    in.releases = RunningReleases(*sched);
    in.now = now;
    return in;
  }
};

const Candidate* Find(const std::vector<Candidate>& cs, const std::string& site, const std::string& type) {
  for (const auto& c : cs)
    if (c.site_name == site && c.accel_name == type) return &c;
  return nullptr;
}

TEST(CandidateEstimates, EveryCandidateWithItsFormulas) {
  Fixture f;
  JobRecord j = f.Job(2);
  auto cs = EstimateCandidates(f.Input(), j);
  ASSERT_EQ(cs.size(), 3u) << "east V100, west K80, west V100";
  const Candidate* ev = Find(cs, "east", "V100");
  ASSERT_TRUE(ev);
  ASSERT_TRUE(ev->feasible()) << ev->rejected;
  const double rate = j.rate[Accel("V100").value()];
  ASSERT_GT(rate, 0);
  EXPECT_EQ(ev->nodes, 1);
  EXPECT_DOUBLE_EQ(ev->start_s, 0);
  EXPECT_DOUBLE_EQ(ev->stage_in_s, 0) << "no inputs yet";
  EXPECT_NEAR(ev->run_s, 1000 / rate, 1e-9);
  EXPECT_NEAR(ev->finish_s, ev->run_s, 1e-9);
  EXPECT_NEAR(ev->cost_usd, 4 * 2 * ev->run_s / 3600, 1e-9) << "site price x packages x hours";
  EXPECT_NEAR(ev->energy_kwh, 300 * 2 * ev->run_s / 3.6e6, 1e-12) << "V100 board power 300 W";
  const Candidate* wv = Find(cs, "west", "V100");
  ASSERT_TRUE(wv && wv->feasible());
  EXPECT_NEAR(wv->cost_usd, 1 * 2 * wv->run_s / 3600, 1e-9);
  const Candidate* wk = Find(cs, "west", "K80");
  ASSERT_TRUE(wk && wk->feasible());
  EXPECT_NEAR(wk->run_s, 1000 / j.rate[Accel("K80").value()], 1e-9);
  EXPECT_GT(wk->run_s, wv->run_s) << "K80 is slower";
}

TEST(CandidateEstimates, StartWaitsForRunningJobsOnThatSiteOnly) {
  Fixture f;
  JobSpec big;
  big.id = JobId(1);
  big.workers = 4;
  big.job_type = kResNet;
  big.total_steps = 1e5;
  big.acceptable = {Accel("V100")};
  big.allowed_sites = {SiteId(0)};
  ASSERT_TRUE(f.sched->Admit(big).ok());
  Rng rng(1);
  ASSERT_EQ(f.sched->RunCycle(0, false, rng).applied.size(), 1u);
  const Seconds busy_until = f.sched->Find(JobId(1))->ExpectedFinish();
  ASSERT_GT(busy_until, 10);
  auto cs = EstimateCandidates(f.Input(10), f.Job(2));
  const Candidate* ev = Find(cs, "east", "V100");
  ASSERT_TRUE(ev && ev->feasible()) << (ev ? ev->rejected : "missing");
  EXPECT_NEAR(ev->start_s, busy_until, 1e-6) << "after the running job on east";
  EXPECT_NEAR(ev->finish_s, busy_until + ev->run_s, 1e-6);
  EXPECT_DOUBLE_EQ(Find(cs, "west", "V100")->start_s, 10) << "west is free now";
}

TEST(CandidateEstimates, RejectedCandidatesSayWhy) {
  struct Case {
    const char* what;
    int workers;
    std::function<void(JobRecord&, EstimateInput&)> tweak;
    const char* site;
    const char* type;
    const char* want;
  };
  const Case cases[] = {
      {"gang too large", 8, nullptr, "east", "V100", "capacity: east has 4 V100 the job may use; the gang needs 8"},
      {"type not acceptable", 1, [](JobRecord& j, EstimateInput&) { j.spec.acceptable = {Accel("V100")}; }, "west", "K80",
       "type not acceptable: job-spec"},
      {"site not allowed", 1, [](JobRecord& j, EstimateInput&) { j.spec.allowed_sites = {SiteId(1)}; }, "east", "V100",
       "site the job may not use"},
      {"quota", 1,
       [](JobRecord&, EstimateInput& in) {
         in.quota = [](AccelId a) { return a == Accel("K80") ? std::string("tenant t may use at most 0 K80") : ""; };
       },
       "west", "K80", "quota: tenant t may use at most 0 K80"},
  };
  for (const Case& c : cases) {
    Fixture f;
    JobRecord j = f.Job(c.workers);
    EstimateInput in = f.Input();
    if (c.tweak) c.tweak(j, in);
    auto cs = EstimateCandidates(in, j);
    if (c.workers == 8) {
      const Candidate* w = Find(cs, "west", "V100");
      ASSERT_TRUE(w && w->feasible());
      EXPECT_EQ(w->nodes, 2) << "the gang spreads over west's two V100 nodes";
      EXPECT_NEAR(w->run_s, 1000 / j.rate_spread[Accel("V100").value()], 1e-9) << "at the spread rate";
    }
    const Candidate* x = Find(cs, c.site, c.type);
    ASSERT_TRUE(x) << c.what;
    EXPECT_NE(x->rejected.find(c.want), std::string::npos) << c.what << ": " << x->rejected;
  }
}

TEST(CandidateEstimates, PowerCapIsNamed) {
  // East's rack can draw only its idle power plus one busy V100.
  const auto& v = TestCatalogue().Get(Accel("V100"));
  const double kw = (4 * v.idle_power_w + (v.board_power_w - v.idle_power_w) * 1.5) / 1000;
  Fixture f(TwoSites(kw));
  auto cs = EstimateCandidates(f.Input(), f.Job(2));
  const Candidate* ev = Find(cs, "east", "V100");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->rejected.find("power cap: the racks of east cannot run 2 V100"), std::string::npos) << ev->rejected;
}

Candidate C(double finish, double cost, bool ok = true) {
  Candidate c;
  c.finish_s = finish;
  c.cost_usd = cost;
  if (!ok) c.rejected = "capacity";
  return c;
}

TEST(ChooseCandidate, ObjectivesDeadlinesBudgetsAndTies) {
  struct Case {
    const char* what;
    Objective obj;
    std::optional<double> deadline;
    double budget;
    std::vector<Candidate> cs;
    int want;
  };
  const std::vector<Candidate> three{C(100, 9), C(200, 3), C(300, 1)};
  const Case cases[] = {
      {"fastest", Objective::kFastest, {}, 0, three, 0},
      {"cheapest, no deadline", Objective::kCheapest, {}, 0, three, 2},
      {"cheapest within a deadline", Objective::kCheapest, 250, 0, three, 1},
      {"cheapest, nobody meets the deadline: fastest", Objective::kCheapest, 50, 0, three, 0},
      {"budget: fastest within it", Objective::kBudget, {}, 5, three, 1},
      {"budget too small: cheapest", Objective::kBudget, {}, 0.5, three, 2},
      {"fastest tie: cheaper", Objective::kFastest, {}, 0, {C(100, 5), C(100, 4)}, 1},
      {"cheapest tie: earlier", Objective::kCheapest, {}, 0, {C(200, 4), C(100, 4)}, 1},
      {"full tie: list order", Objective::kFastest, {}, 0, {C(100, 4), C(100, 4)}, 0},
      {"rejected never chosen", Objective::kFastest, {}, 0, {C(1, 1, false), C(100, 4)}, 1},
      {"none feasible", Objective::kCheapest, {}, 0, {C(1, 1, false)}, -1},
  };
  for (const Case& c : cases) {
    JobSpec j;
    j.objective = c.obj;
    j.deadline_s = c.deadline;
    j.budget_usd = c.budget;
    EXPECT_EQ(ChooseCandidate(c.cs, j), c.want) << c.what;
  }
}

// --- the objective scorers in a real Scheduler -------------------------------------------------

// Places one job with `obj` on a fresh backfill scheduler with the objective scorers installed.
Placement PlaceWith(const Cluster& cl, const SiteEconomics& econ, Objective obj, std::optional<Seconds> deadline = {},
                    const std::string& policy = "backfill", bool order_types = true,
                    const std::string& job_type = kResNet) {
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  SchedulerOptions so;
  auto rules = std::make_shared<PlacementRules>();
  InstallObjectiveScorers(*rules, std::make_shared<const SiteEconomics>(econ), TestCatalogue(), nullptr, order_types);
  so.rules = rules;
  Scheduler s(cl, perf, std::move(reg.Create(policy)).value(), so);
  JobSpec j;
  j.id = JobId(1);
  j.workers = 2;
  j.job_type = job_type;
  j.total_steps = 1e4;
  j.objective = obj;
  j.deadline_s = deadline;
  EXPECT_TRUE(s.Admit(j).ok());
  Rng rng(1);
  CycleResult r = s.RunCycle(0, false, rng);
  EXPECT_EQ(r.applied.size(), 1u);
  return r.applied.empty() ? Placement{} : r.applied[0].placement;
}

TEST(ObjectiveScorers, CheapestTakesTheCheaperSitesNodeFastestTheFasterType) {
  Cluster cl = TwoSites();
  for (const char* policy : {"backfill", "fifo-hetero"}) {
    // V100 is cheaper at west (1 $/h) than east (4 $/h); K80 made dear so V100 is the cheapest type.
    SiteEconomics e = Prices(4, 1);
    e.AddPrice("west", "K80", 50, "test");
    ASSERT_TRUE(e.Resolve(TestCatalogue()).ok());
    Placement cheap = PlaceWith(cl, e, Objective::kCheapest, {}, policy);
    ASSERT_FALSE(cheap.empty()) << policy;
    EXPECT_EQ(cheap.accel, Accel("V100")) << policy;
    EXPECT_EQ(cl.site(cl.node(cheap.slots[0].node).site).name, "west") << policy << ": the cheaper site";
    // Swap the prices: the node scorer follows them (best fit alone would not look at sites).
    Placement cheap2 = PlaceWith(cl, Prices(1, 4), Objective::kCheapest, {}, policy);
    EXPECT_EQ(cl.site(cl.node(cheap2.slots[0].node).site).name, "east") << policy;
    Placement fast = PlaceWith(cl, Prices(1, 4), Objective::kFastest, {}, policy);
    EXPECT_EQ(fast.accel, Accel("V100")) << policy << ": fastest type";
  }
}

TEST(ObjectiveScorers, CheapestTakesTheSlowerCheaperTypeUnlessTheDeadlineForbids) {
  Cluster cl = TwoSites();
  SiteEconomics e = Prices(40, 40);  // V100 dear everywhere: K80 is the cheaper way to finish
  Placement cheap = PlaceWith(cl, e, Objective::kCheapest);
  EXPECT_EQ(cheap.accel, Accel("K80"));
  // A deadline the K80 cannot meet but the V100 can.
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  const double k80 = perf.Throughput(testing::GavelMatrix().FindJobType(kResNet).value(), Accel("K80"), 2, 1).steps_per_s;
  const double v100 = perf.Throughput(testing::GavelMatrix().FindJobType(kResNet).value(), Accel("V100"), 2, 1).steps_per_s;
  ASSERT_GT(v100, k80);
  const Seconds deadline = (1e4 / k80 + 1e4 / v100) / 2;
  Placement in_time = PlaceWith(cl, e, Objective::kCheapest, deadline);
  EXPECT_EQ(in_time.accel, Accel("V100")) << "K80 would finish after the deadline";
}

// cost-hetero orders types by cost itself: the service installs only the node scorer for it, so a
// job with the default objective still gets cost-hetero's cheapest type, not the fastest.
TEST(ObjectiveScorers, CostHeteroKeepsItsOwnTypeOrderWithoutTheTypeScorer) {
  Cluster cl = TwoSites();
  // Gavel: a 2-gang of Transformer (batch 16) runs 2.0x faster on V100 than on K80, and V100 costs
  // 3.4x K80 in the catalogue (which cost-hetero prices with): K80 is the cheaper way to finish.
  const std::string t = "Transformer (batch size 16)";
  SiteEconomics e;
  EXPECT_EQ(PlaceWith(cl, e, Objective::kFastest, {}, "cost-hetero", false, t).accel, Accel("K80"));
  EXPECT_EQ(PlaceWith(cl, e, Objective::kFastest, {}, "cost-hetero", true, t).accel, Accel("V100"))
      << "the type scorer would replace cost-hetero's order";
}

// --- the simulator runs the same decision --------------------------------------------------------

TEST(SimObjectives, CheapestCostsLessFastestFinishesSooner) {
  Cluster cl = TwoSites();
  SiteEconomics e;
  e.AddPrice("west", "K80", 0.1, "test");
  ASSERT_TRUE(e.Resolve(TestCatalogue()).ok());
  Workload w;
  w.source = "test";
  for (int i = 0; i < 20; ++i) {
    JobSpec j;
    j.id = JobId(i);
    j.workers = 1;
    j.job_type = kResNet;
    j.total_steps = 2e4;
    j.submit_time_s = i * 600;
    w.jobs.push_back(j);
    w.lines.push_back(0);
  }
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  std::map<Objective, SimResult> res;
  for (Objective o : {Objective::kFastest, Objective::kCheapest}) {
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    SimOptions so;
    so.economics = std::make_shared<const SiteEconomics>(e);
    so.objective = o;
    auto r = Simulate(cl, perf, std::move(reg.Create("backfill")).value(), w, so);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    res[o] = std::move(r).value();
  }
  const SimResult& f = res[Objective::kFastest];
  const SimResult& c = res[Objective::kCheapest];
  EXPECT_EQ(f.jobs_completed, 20u);
  EXPECT_EQ(c.jobs_completed, 20u);
  EXPECT_LT(c.cost_usd, f.cost_usd) << "cheapest runs on the 0.1 $/h K80s";
  EXPECT_LT(f.avg_jct_hours, c.avg_jct_hours) << "fastest runs on the V100s";
  EXPECT_GT(c.utilization.at("K80"), 0);
}

}  // namespace
}  // namespace cnet
