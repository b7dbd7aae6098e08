// Issue 13 part A in the scheduling core: the carbon signal and its forecast and tariff
// (model/carbon_signal.h), energy and gCO2eq per candidate, the `greenest` objective (choice and
// scorers), temporal shifting (estimate/temporal_shift.h), the simulator's carbon accounting and
// its carbon file (sim/carbon_config.h). docs/energy.md.
#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/strings.h"
#include "model/carbon_signal.h"
#include "sched/estimate/candidates.h"
#include "sched/estimate/site_carbon.h"
#include "sched/estimate/temporal_shift.h"
#include "sched/placement/scorers/objective.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "sim/carbon_config.h"
#include "sim/simulator.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

const char* kResNet = "ResNet-18 (batch size 64)";
constexpr Seconds kH = 3600;

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string p = (std::filesystem::temp_directory_path() / ("cnet_carbon_" + name)).string();
  std::ofstream(p) << text;
  return p;
}

// Hourly samples from 2020-01-01 00:00 UTC (epoch 1577836800).
constexpr Seconds kT0 = 1577836800;
CarbonSignal Hourly(const std::vector<double>& v) {
  std::string csv = "Time,Carbon Intensity\n";
  for (size_t i = 0; i < v.size(); ++i) {
    const std::time_t t = static_cast<std::time_t>(kT0) + static_cast<std::time_t>(i) * 3600;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char b[64];
    std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
    csv += std::string(b) + "," + std::to_string(v[i]) + "\n";
  }
  auto s = CarbonSignal::ParseCsv(csv, "h.csv");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

// --- the signal ----------------------------------------------------------------------------------

TEST(CarbonSignal, StepLookupAndExactAverages) {
  const CarbonSignal s = Hourly({100, 200, 400});
  struct Case {
    Seconds t0, t1;
    double at_t0, avg;
  };
  const Case cases[] = {
      {kT0 - kH, kT0, 100, 100},                           // before the first sample: the first value
      {kT0, kT0 + kH, 100, 100},                           // one whole step
      {kT0 + 1800, kT0 + 5400, 100, 150},                  // half of 100, half of 200
      {kT0, kT0 + 3 * kH, 100, (100 + 200 + 400) / 3.0},   // every step
      {kT0 + 2 * kH, kT0 + 4 * kH, 400, 400},              // after the last: the last value
      {kT0 + kH + 1, kT0 + kH + 1, 200, 200},              // empty interval: the value at t0
  };
  for (const Case& c : cases) {
    EXPECT_DOUBLE_EQ(s.At(c.t0), c.at_t0) << c.t0 - kT0;
    EXPECT_NEAR(s.Average(c.t0, c.t1), c.avg, 1e-9) << c.t0 - kT0 << ".." << c.t1 - kT0;
  }
  const CarbonSignal k = CarbonSignal::Constant(56);
  EXPECT_DOUBLE_EQ(k.At(-1e9), 56);
  EXPECT_DOUBLE_EQ(k.Average(0, 1e9), 56);
}

TEST(CarbonSignal, ShiftReusesASeriesAndSaysSo) {
  const CarbonSignal s = Hourly({100, 200, 400});
  const CarbonSignal later = s.Shifted(2 * kH, "zone two hours ahead");
  EXPECT_DOUBLE_EQ(later.At(kT0), 400) << "At(t) = series(t + shift)";
  EXPECT_NE(later.label().find("shifted +2 h (zone two hours ahead)"), std::string::npos) << later.label();
  // A simulation origin folds into the shift too: simulated t=0 is 01:00 here.
  const CarbonSignal sim = s.Shifted(kT0 + kH);
  EXPECT_DOUBLE_EQ(sim.At(0), 200);
  EXPECT_NEAR(sim.Average(0, 2 * kH), 300, 1e-9);
}

TEST(CarbonSignal, RealSeriesExcerptParses) {
  auto s = CarbonSignal::ReadCsv(std::string(CNET_TEST_FIXTURES_DIR) + "/carbon/ger_excerpt.csv");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->samples(), 288u) << "3 days of 15-minute steps";
  EXPECT_EQ(s->first_s(), *ParseUtcTimestamp("2020-06-01 00:00:00"));
  const Seconds day = *ParseUtcTimestamp("2020-06-02 00:00:00");
  const double avg = s->Average(day, day + 24 * kH);
  EXPECT_GT(avg, 50);
  EXPECT_LT(avg, 800) << "German grid in gCO2eq/kWh";
}

TEST(CarbonSignal, BadRowsNameFileLineAndColumn) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"Time,Carbon Intensity\n2020-01-01 00:00:00,abc\n", "f.csv:2"},
      {"Time,Carbon Intensity\n2020-01-01 00:00:00,1\n2020-13-01 00:00:00,1\n", "f.csv:3: column 'Time': expected"},
      {"Time,Carbon Intensity\n2020-01-01 01:00:00,1\n2020-01-01 00:00:00,1\n", "f.csv:3: column 'Time': 2020-01-01 00:00:00 is not after"},
      {"Time,Carbon Intensity\n2020-01-01 00:00:00,-3\n", "f.csv:2: column 'Carbon Intensity': -3 is not a gCO2eq/kWh figure"},
      {"Time,Carbon Intensity\n2020-01-01 00:00:00,90000\n", "f.csv:2: column 'Carbon Intensity'"},
      {"Time,Intensity\n2020-01-01 00:00:00,1\n", "Carbon Intensity"},
      {"Time,Carbon Intensity\n", "f.csv: no rows"},
  };
  for (const Case& c : cases) {
    auto s = CarbonSignal::ParseCsv(c.text, "f.csv");
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_NE(s.status().message().find(c.want), std::string::npos) << s.status().message() << "\nwant: " << c.want;
  }
}

// --- forecast and tariff -------------------------------------------------------------------------

TEST(CarbonForecast, PerfectIsTheTruthAndNoiseIsReproducibleBySeed) {
  const CarbonSignal s = Hourly({100, 200, 400, 300});
  CarbonForecast perfect(s, ForecastError{0, 0, 0, 0});
  EXPECT_DOUBLE_EQ(perfect.Average(kT0, kT0 + 4 * kH, kT0), s.Average(kT0, kT0 + 4 * kH));
  ForecastError e;
  e.seed = 7;
  CarbonForecast a(s, e), b(s, e);
  e.seed = 8;
  CarbonForecast c(s, e);
  EXPECT_EQ(a.At(kT0 + 2 * kH, kT0), b.At(kT0 + 2 * kH, kT0)) << "a pure function of the seed";
  EXPECT_NE(a.At(kT0 + 2 * kH, kT0), c.At(kT0 + 2 * kH, kT0));
  EXPECT_NE(a.At(kT0 + 2 * kH, kT0), s.At(kT0 + 2 * kH));
  // The mean over hours is the hourly forecasts' mean.
  EXPECT_NEAR(a.Average(kT0, kT0 + 2 * kH, kT0), (a.At(kT0, kT0) + a.At(kT0 + kH, kT0)) / 2, 1e-9);
}

TEST(CarbonForecast, ErrorGrowsWithHorizonAsDocumented) {
  const CarbonSignal flat = CarbonSignal::Constant(100);
  ForecastError e;  // sigma(h) = 0.05 + 0.10 h / 24
  e.seed = 3;
  CarbonForecast f(flat, e);
  struct Case {
    double horizon_h, want_sd;
  };
  for (const Case c : {Case{0, 0.05}, Case{24, 0.15}, Case{72, 0.35}}) {
    double sum2 = 0;
    const int n = 4000;
    for (int i = 0; i < n; ++i) {
      const Seconds issued = i * kH;
      const double rel = f.At(issued + c.horizon_h * kH, issued) / 100 - 1;
      sum2 += rel * rel;
    }
    EXPECT_NEAR(std::sqrt(sum2 / n), c.want_sd, c.want_sd * 0.1) << "horizon " << c.horizon_h << " h";
  }
}

TEST(Tariff, HourOfDayPricesAndMeans) {
  std::vector<double> p(24, 0.10);
  p[18] = p[19] = 0.40;  // evening peak
  auto t = Tariff::FromPrices(p);
  ASSERT_TRUE(t.ok());
  EXPECT_DOUBLE_EQ(t->At(kT0 + 18 * kH + 5), 0.40);
  EXPECT_DOUBLE_EQ(t->At(kT0 + 24 * kH + 18 * kH), 0.40) << "every day";
  EXPECT_NEAR(t->Average(kT0 + 17 * kH, kT0 + 19 * kH), 0.25, 1e-12);
  auto shifted = Tariff::FromPrices(p, 1);  // local time = UTC + 1
  EXPECT_DOUBLE_EQ(shifted->At(kT0 + 17 * kH), 0.40);
  EXPECT_FALSE(Tariff::FromPrices({0.1, 0.2}).ok());
  EXPECT_FALSE(Tariff::FromPrices({-1}).ok());
}

// --- energy and carbon per candidate, and greenest's choice ------------------------------------

Cluster TwoSites() {
  auto r = Cluster::Build("t",
                          {{"east", "e", "r1", 1e9, "v", 1, Accel("V100"), 4},
                           {"west", "w", "r2", 1e9, "v", 2, Accel("V100"), 4},
                           {"west", "w", "r2", 1e9, "k", 1, Accel("K80"), 4}},
                          TestCatalogue());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::shared_ptr<const SiteEconomics> Carbon(double east, double west) {
  auto c = std::make_shared<SiteCarbon>();
  c->SetSignal("east", CarbonSignal::Constant(east));
  c->SetSignal("west", CarbonSignal::Constant(west));
  auto e = std::make_shared<SiteEconomics>();
  e->SetCarbon(c);
  return e;
}

struct Fixture {
  Cluster cl = TwoSites();
  PerfModel perf{TestCatalogue(), testing::GavelMatrix()};
  PlacementRules rules;
  std::shared_ptr<const SiteEconomics> econ = Carbon(400, 50);
  std::unique_ptr<Scheduler> sched;
  Fixture() {
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    sched = std::make_unique<Scheduler>(cl, perf, std::move(reg.Create("backfill")).value(), SchedulerOptions{});
  }
  JobRecord Job(int workers, double steps = 1e4) {
    JobSpec j;
    j.id = JobId(1);
    j.workers = workers;
    j.job_type = kResNet;
    j.total_steps = steps;
    auto r = sched->Prepare(j);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  std::vector<Candidate> Estimate(const JobRecord& j) {
    EstimateInput in;
    in.cluster = &cl;
    in.catalogue = &TestCatalogue();
    in.rules = &rules;
    in.economics = econ.get();
    in.capacity = &sched->capacity();
    return EstimateCandidates(in, j);
  }
};

const Candidate* Find(const std::vector<Candidate>& cs, const std::string& site, const std::string& type) {
  for (const auto& c : cs)
    if (c.site_name == site && c.accel_name == type) return &c;
  return nullptr;
}

TEST(CarbonPerCandidate, EnergyFromTheModelAndEmissionsFromTheSitesSignal) {
  Fixture f;
  JobRecord j = f.Job(2);
  auto cs = f.Estimate(j);
  const Candidate* ev = Find(cs, "east", "V100");
  const Candidate* wv = Find(cs, "west", "V100");
  const Candidate* wk = Find(cs, "west", "K80");
  ASSERT_TRUE(ev && wv && wk);
  for (const Candidate* c : {ev, wv, wk}) {
    ASSERT_TRUE(c->feasible()) << c->rejected;
    const double kwh = TestCatalogue().Get(c->accel).board_power_w * 2 * c->run_s / 3.6e6;
    EXPECT_NEAR(c->energy_kwh, kwh, 1e-12);
    EXPECT_NEAR(c->carbon_g, kwh * (c->site_name == "east" ? 400 : 50), 1e-9);
  }
  // Per job, the faster type's energy follows from its board power and its rate, not assumed:
  // V100 draws twice K80's (half-board) power here, and ResNet-18 runs more than twice as fast on it.
  const double v100 = j.rate[Accel("V100").value()], k80 = j.rate[Accel("K80").value()];
  EXPECT_EQ(wv->energy_kwh < wk->energy_kwh, 300 / v100 < 150 / k80);
  EXPECT_LT(wv->energy_kwh, wk->energy_kwh) << "with Gavel's measured rates the V100 uses less energy per job";
}

TEST(ChooseCandidate, GreenestWithinTheDeadlineOrTheSlowdownBound) {
  auto cand = [](const char* site, double finish, double g) {
    Candidate c;
    c.site_name = site;
    c.accel_name = "V100";
    c.finish_s = finish;
    c.carbon_g = g;
    return c;
  };
  const std::vector<Candidate> cs{cand("dirty-fast", 100, 900), cand("mid", 120, 500), cand("clean-slow", 400, 100)};
  struct Case {
    const char* what;
    std::optional<Seconds> deadline;
    std::optional<double> slowdown;
    int want;
  };
  const Case cases[] = {
      {"default bound 1.25x: 120 <= 125, 400 is not", {}, {}, 1},
      {"a looser bound admits the clean slow one", {}, 5.0, 2},
      {"a bound of 1 keeps the fastest", {}, 1.0, 0},
      {"a deadline replaces the bound", 500, {}, 2},
      {"a tight deadline", 110, {}, 0},
      {"nobody meets the deadline: earliest finish", 50, {}, 0},
  };
  for (const Case& c : cases) {
    JobSpec j;
    j.objective = Objective::kGreenest;
    j.deadline_s = c.deadline;
    j.max_slowdown = c.slowdown;
    const int got = ChooseCandidate(cs, j, 0.0);
    EXPECT_EQ(got, c.want) << c.what;
    EXPECT_FALSE(ChoiceReason(cs, j, got, 0.0).empty()) << c.what;
  }
  JobSpec j;
  j.objective = Objective::kGreenest;
  j.max_slowdown = 5.0;
  EXPECT_NE(ChoiceReason(cs, j, 2, 0.0).find("least predicted emissions"), std::string::npos)
      << ChoiceReason(cs, j, 2, 0.0);
}

// --- greenest through the scorers in a real Scheduler ------------------------------------------

Placement PlaceGreenest(const Cluster& cl, std::shared_ptr<const SiteEconomics> econ, std::optional<double> slowdown = {}) {
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  SchedulerOptions so;
  auto rules = std::make_shared<PlacementRules>();
  InstallObjectiveScorers(*rules, std::move(econ), TestCatalogue(), nullptr);
  so.rules = rules;
  Scheduler s(cl, perf, std::move(reg.Create("backfill")).value(), so);
  JobSpec j;
  j.id = JobId(1);
  j.workers = 2;
  j.job_type = kResNet;
  j.total_steps = 1e4;
  j.objective = Objective::kGreenest;
  j.max_slowdown = slowdown;
  EXPECT_TRUE(s.Admit(j).ok());
  Rng rng(1);
  CycleResult r = s.RunCycle(0, false, rng);
  EXPECT_EQ(r.applied.size(), 1u);
  return r.applied.empty() ? Placement{} : r.applied[0].placement;
}

std::string SiteOf(const Cluster& cl, const Placement& p) { return cl.site(cl.node(p.slots.at(0).node).site).name; }

TEST(GreenestScorers, TakeTheCleanerSiteAndHonourTheSlowdownBound) {
  Cluster cl = TwoSites();
  Placement p = PlaceGreenest(cl, Carbon(400, 50));
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p.accel, Accel("V100")) << "K80 is more than 1.25x slower";
  EXPECT_EQ(SiteOf(cl, p), "west");
  p = PlaceGreenest(cl, Carbon(50, 400));
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(SiteOf(cl, p), "east") << "the node scorer follows the signal";
  // Only K80 sits at the clean site: the default bound keeps the V100 (K80 is too slow), a loose
  // one lets the type scorer weigh grams, and K80 at 10 g/kWh beats V100 at 400.
  auto split = Cluster::Build("s", {{"east", "e", "r1", 1e9, "v", 1, Accel("V100"), 4}, {"west", "w", "r2", 1e9, "k", 1, Accel("K80"), 4}},
                              TestCatalogue());
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(PlaceGreenest(*split, Carbon(400, 10)).accel, Accel("V100"));
  EXPECT_EQ(PlaceGreenest(*split, Carbon(400, 10), 20.0).accel, Accel("K80"));
  auto c = std::make_shared<SiteCarbon>();
  c->SetSignal("east", CarbonSignal::Constant(400));
  c->SetSignal("west", CarbonSignal::Constant(400));
  auto e = std::make_shared<SiteEconomics>();
  e->SetCarbon(c);
  EXPECT_EQ(PlaceGreenest(cl, e, 20.0).accel, Accel("V100")) << "same intensity everywhere: the type using less energy";
}

// The node scorer reads the time from the capacity: a cycle and a preview at a later time both see
// the signal then (east is clean for the first hour, west after it).
TEST(GreenestScorers, NodeChoiceFollowsTheSignalOverTimeInCyclesAndPreviews) {
  Cluster cl = TwoSites();
  auto c = std::make_shared<SiteCarbon>();
  c->SetSignal("east", Hourly({50, 500, 500, 500}).Shifted(kT0));
  c->SetSignal("west", Hourly({500, 50, 50, 50}).Shifted(kT0));
  auto e = std::make_shared<SiteEconomics>();
  e->SetCarbon(c);
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  SchedulerOptions so;
  auto rules = std::make_shared<PlacementRules>();
  InstallObjectiveScorers(*rules, e, TestCatalogue(), nullptr);
  so.rules = rules;
  Scheduler s(cl, perf, std::move(reg.Create("backfill")).value(), so);
  JobSpec j;
  j.id = JobId(1);
  j.job_type = kResNet;
  j.total_steps = 1e3;
  j.objective = Objective::kGreenest;
  ASSERT_TRUE(s.Admit(j).ok());
  Rng rng(1);
  for (const auto& [t, want] : {std::pair<Seconds, const char*>{0, "east"}, {2 * kH, "west"}}) {
    auto ds = s.Preview(t, s.capacity(), rng);
    ASSERT_EQ(ds.size(), 1u);
    EXPECT_EQ(SiteOf(cl, ds[0].placement), want) << "preview at " << t;
  }
  CycleResult r = s.RunCycle(2 * kH, false, rng);
  ASSERT_EQ(r.applied.size(), 1u);
  EXPECT_EQ(SiteOf(cl, r.applied[0].placement), "west");
}

// --- temporal shifting ---------------------------------------------------------------------------

TEST(TemporalShift, WaitsForTheCleanWindowButNeverPastTheLatestSafeStart) {
  // 6 h at 500, 6 h at 50, then 500 again.
  std::vector<double> v(30, 500);
  for (int h = 6; h < 12; ++h) v[static_cast<size_t>(h)] = 50;
  SiteCarbon carbon;
  carbon.SetSignal("de", Hourly(v));
  const std::vector<ShiftOption> opts{{"de", Accel("V100"), "V100", 2 * kH, 1.0}};
  ShiftOptions o;  // margin 10% + 30 min
  struct Case {
    const char* what;
    std::optional<Seconds> deadline_h;
    bool wait;
    Seconds start_h;
  };
  const Case cases[] = {
      {"slack: waits for the window", 20, true, 6},
      {"latest start 9.8 - 2.2 - 0.5 = 7.1 h: still reaches 6 h", 9.8, true, 6},
      {"latest start 6.5 - 2.2 - 0.5 = 3.8 h: no cleaner window in reach", 6.5, false, 0},
      {"latest start 4.3 h: a start at 4.25 h reaches a quarter hour of it", 7, true, 4.25},
      {"no deadline: no slack", {}, false, 0},
  };
  for (const Case& c : cases) {
    JobSpec j;
    if (c.deadline_h) j.deadline_s = kT0 + *c.deadline_h * kH;
    const ShiftPlan p = PlanStart(carbon, opts, j, kT0, o);
    EXPECT_EQ(p.wait, c.wait) << c.what << ": " << p.reason;
    EXPECT_NEAR(p.start_s - kT0, c.start_h * kH, 1) << c.what;
    if (c.deadline_h) EXPECT_LE(p.start_s + 2 * kH * 1.1 + 1800, *j.deadline_s + 1e-6) << c.what;
    if (p.wait) {
      EXPECT_NE(p.reason.find("waits until +" + FormatNumber("%.1f", c.start_h)), std::string::npos) << p.reason;
      EXPECT_NE(p.reason.find("latest safe start"), std::string::npos) << p.reason;
      EXPECT_NEAR(p.g_planned, c.start_h == 6 ? 50 : (500 * 1.75 + 50 * 0.25) / 2, 1e-9);
      EXPECT_NEAR(p.g_now, 500, 1e-9);
    }
  }
}

// --- the simulator ---------------------------------------------------------------------------------

Workload SmallWorkload(int n) {
  Workload wl;
  wl.source = "test";
  for (int i = 0; i < n; ++i) {
    JobSpec j;
    j.id = JobId(i + 1);
    j.workers = 1;
    j.job_type = kResNet;
    j.total_steps = 2e4;
    j.submit_time_s = i * 600;
    wl.jobs.push_back(j);
    wl.lines.push_back(0);
  }
  return wl;
}

SimResult Sim(const Cluster& cl, std::shared_ptr<const SiteEconomics> econ, Objective obj,
              std::optional<ShiftOptions> shift = {}, double deadline_fraction = 0) {
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  SimOptions o;
  o.economics = std::move(econ);
  o.objective = obj;
  o.shift = shift;
  o.deadlines.fraction = deadline_fraction;
  o.deadlines.slack = 6;
  auto r = Simulate(cl, perf, std::move(reg.Create("backfill")).value(), SmallWorkload(12), o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : SimResult{};
}

TEST(SimCarbon, GreenestEmitsLessThanFastestAtTheSameSignals) {
  Cluster cl = TwoSites();
  auto econ = Carbon(400, 50);
  SimResult fast = Sim(cl, econ, Objective::kFastest), green = Sim(cl, econ, Objective::kGreenest);
  EXPECT_GT(fast.carbon_g, 0);
  EXPECT_LT(green.carbon_g, fast.carbon_g);
  EXPECT_EQ(green.jobs_completed, 12u);
}

TEST(SimCarbon, ShiftedJobsWaitAndMeetTheirDeadlines) {
  Cluster cl = TwoSites();
  // Both sites dirty for the first hour, then clean for a day.
  std::vector<double> v(40, 30);
  v[0] = 600;
  auto c = std::make_shared<SiteCarbon>();
  c->SetSignal("east", Hourly(v).Shifted(kT0));
  c->SetSignal("west", Hourly(v).Shifted(kT0));
  auto e = std::make_shared<SiteEconomics>();
  e->SetCarbon(c);
  SimResult still = Sim(cl, e, Objective::kGreenest, {}, 1.0);
  SimResult shifted = Sim(cl, e, Objective::kGreenest, ShiftOptions{}, 1.0);
  EXPECT_EQ(still.shifted, 0u);
  EXPECT_GT(shifted.shifted, 0u);
  EXPECT_EQ(shifted.deadline_jobs, 12u);
  EXPECT_EQ(shifted.deadline_misses, 0u);
  EXPECT_LT(shifted.carbon_g, still.carbon_g);
}

// --- the carbon file -----------------------------------------------------------------------------

TEST(CarbonFile, ReadsSignalsShiftsAndDeadlines) {
  const std::string series = WriteTemp("s.csv", "Time,Carbon Intensity\n2020-01-01 00:00:00,100\n2020-01-01 01:00:00,300\n");
  const std::string p = WriteTemp("ok.yaml", "origin: 2020-01-01 00:00:00\n"
                                             "sites:\n"
                                             "  east: {series: " + series + "}\n"
                                             "  west: {series: " + series + ", shift_h: 1, note: reused zone, tariff: 0.2}\n"
                                             "forecast: {sigma0: 0, sigma_per_day: 0}\n"
                                             "shift: {step_min: 30}\n"
                                             "deadlines: {fraction: 0.5, slack: 4}\n");
  auto s = LoadCarbonFile(p, {"east", "west"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_DOUBLE_EQ(s->carbon->TrueAverage("east", 0, 1), 100) << "t=0 is the origin";
  EXPECT_DOUBLE_EQ(s->carbon->TrueAverage("west", 0, 1), 300) << "shifted an hour";
  ASSERT_TRUE(s->carbon->tariff("west"));
  EXPECT_DOUBLE_EQ(s->carbon->tariff("west")->At(0), 0.2);
  ASSERT_TRUE(s->shift);
  EXPECT_DOUBLE_EQ(s->shift->step_s, 1800);
  EXPECT_DOUBLE_EQ(s->deadlines.fraction, 0.5);
  EXPECT_NE(s->labels[1].find("reused zone"), std::string::npos) << s->labels[1];
}

TEST(CarbonFile, BadInputNamesLineColumnAndField) {
  struct Case {
    const char* name;
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"site", "sites:\n  east: {constant: 1}\n  west: {constant: 1}\n  mars: {constant: 1}\n",
       "4:3: field 'sites.mars': unknown site 'mars'"},
      {"both", "sites:\n  east: {constant: 1, series: x.csv}\n  west: {constant: 1}\n",
       "2:9: field 'sites.east': give exactly one of constant or series"},
      {"missing", "sites:\n  east: {constant: 1}\n", "field 'sites': site 'west' has no signal"},
      {"neg", "sites:\n  east: {constant: -5}\n  west: {constant: 1}\n", "field 'sites.east.constant': must be between"},
      {"note", "sites:\n  east: {series: x.csv, shift_h: 8}\n  west: {constant: 1}\n",
       "field 'sites.east.shift_h': a shifted series must say why"},
      {"file", "sites:\n  east: {series: /nonexistent/x.csv}\n  west: {constant: 1}\n", "/nonexistent/x.csv: cannot open"},
      {"origin", "origin: yesterday\nsites:\n  east: {constant: 1}\n  west: {constant: 1}\n", "1:9: field 'origin'"},
      {"key", "sites:\n  east: {constant: 1}\n  west: {constant: 1}\nshift: {step: 5}\n", "shift.step"},
  };
  for (const Case& c : cases) {
    auto s = LoadCarbonFile(WriteTemp(std::string(c.name) + ".yaml", c.text), {"east", "west"});
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_NE(s.status().message().find(c.want), std::string::npos) << c.name << ": " << s.status().message();
  }
}

}  // namespace
}  // namespace cnet
