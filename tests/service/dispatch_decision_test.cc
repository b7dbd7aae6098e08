// Issue 12 part B in the service: the job's objective steers dispatch through the placement
// scorers; `explain` and `dry-run` show every candidate with its estimates or rejection; the
// config's site economics parse strictly; accounting per job and per tenant.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model/carbon_signal.h"
#include "sched/estimate/site_carbon.h"
#include "service/config.h"
#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using store::JobState;

const service::Caller kT{"t", false};
const char* kH100 = "H100-SXM";  // the catalogue's name; "H100" is an alias

api::JobRequest Job(int accel, const std::string& objective = "") {
  api::JobRequest r = LoopHarness::Job(1, accel);
  r.objective = objective;
  return r;
}

// Two sites with the same H100 nodes; "cheap" charges a quarter of "dear".
void TwoPricedSites(LoopHarness& h) {
  h.AddSite("dear", {GpuNode("d0", "H100", 8)});
  h.AddSite("cheap", {GpuNode("c0", "H100", 8)});
  h.config().economics->AddPrice("dear", "H100", 4, "test");
  h.config().economics->AddPrice("cheap", "H100", 1, "test");
}

std::string SiteOfLaunch(LoopHarness& h) {
  if (!h.fake("dear").launches().empty()) return "dear";
  if (!h.fake("cheap").launches().empty()) return "cheap";
  return "";
}

const Candidate* Find(const service::ExplainView& v, const std::string& site, const std::string& type) {
  for (const auto& c : v.candidates)
    if (c.site_name == site && c.accel_name == type) return &c;
  return nullptr;
}

TEST(DispatchObjective, CheapestGoesToTheCheaperSiteFastestTakesBestFit) {
  struct Case {
    const char* objective;
    const char* tenant_default;
    const char* want;
  };
  // Best fit alone takes the first site's node (both are equally full): "dear".
  const Case cases[] = {{"cheapest", "fastest", "cheap"}, {"", "cheapest", "cheap"}, {"fastest", "cheapest", "dear"}, {"", "fastest", "dear"}};
  for (const Case& c : cases) {
    LoopHarness h;
    TwoPricedSites(h);
    h.AddTenant("t");
    h.config().tenants.back().objective = *ParseObjective(c.tenant_default);
    ASSERT_TRUE(h.Start().ok());
    ASSERT_TRUE(h.Submit("t", Job(2, c.objective)).ok());
    h.Tick(2);
    EXPECT_EQ(SiteOfLaunch(h), c.want) << "objective '" << c.objective << "', tenant default " << c.tenant_default;
  }
}

// Issue 12: a job's inputs count. Best fit alone puts a job on "dear" (the first test); one that
// reads a 100 GB dataset held only at "cheap" goes there under `fastest`, since "dear" would first
// stage it in over the default 10 Gb/s link (80 s). Explain shows the bytes and seconds per site.
TEST(DispatchObjective, FastestCountsTheStageInFromTheInputsReplica) {
  LoopHarness h;
  TwoPricedSites(h);
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  store::DatasetRow d;
  d.name = "big";
  d.size_bytes = 100'000'000'000;
  d.replicas = {{"cheap", "/data/big"}};
  ASSERT_TRUE(h.svc().datasets().Register(kT, d).ok());
  api::JobRequest j = Job(2, "fastest");
  j.inputs = {"big"};
  auto plan = h.svc().DryRun(kT, j);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const Candidate* dear = Find(*plan, "dear", kH100);
  const Candidate* cheap = Find(*plan, "cheap", kH100);
  ASSERT_TRUE(dear && cheap);
  EXPECT_DOUBLE_EQ(dear->stage_in_bytes, 1e11);
  EXPECT_NEAR(dear->stage_in_s, 80, 1e-6);
  EXPECT_DOUBLE_EQ(cheap->stage_in_bytes, 0);
  EXPECT_NEAR(dear->finish_s - cheap->finish_s, 80, 1e-6);
  auto id = h.Submit("t", j);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  h.Tick(2);
  EXPECT_EQ(SiteOfLaunch(h), "cheap");
  // Where the site holds the copy the job is told its path; where not, the site stages it in
  // from the replica, and the bytes and seconds it reports are the job's accounting.
  ASSERT_EQ(h.fake("cheap").launches().size(), 1u);
  EXPECT_EQ(h.fake("cheap").launches()[0].env["CNET_INPUT_BIG"], "/data/big");
  EXPECT_TRUE(h.fake("cheap").launches()[0].stage_in.empty());
  api::JobRequest there = j;
  there.sites = {"dear"};
  auto far = h.Submit("t", there);
  ASSERT_TRUE(far.ok()) << far.status().ToString();
  h.Tick(2);
  ASSERT_EQ(h.fake("dear").launches().size(), 1u);
  EXPECT_EQ(h.fake("dear").launches()[0].stage_in, (std::vector<backends::StageItem>{{"big", "/data/big"}}));
  EXPECT_EQ(h.fake("dear").launches()[0].env.count("CNET_INPUT_BIG"), 0u) << "the staged copy's path is the site's to set";
  h.fake("dear").End(*far, 0, "exit code 0",
                     {{backends::kStageInBytesField, "100000000000"}, {backends::kStageInSecondsField, "83.5"}});
  h.Tick(2);
  ASSERT_EQ(h.State(*far), JobState::kSucceeded);
  EXPECT_DOUBLE_EQ(h.Row(*far).stage_in_bytes, 1e11);
  EXPECT_DOUBLE_EQ(h.Row(*far).stage_in_s, 83.5);
  bool truncated = true;
  auto rows = h.svc().Acct(kT, {}, &truncated);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  bool seen = false;
  for (const service::AcctRow& r : *rows)
    if (r.id == *far) {
      seen = true;
      EXPECT_DOUBLE_EQ(r.stage_in_bytes, 1e11);
      EXPECT_DOUBLE_EQ(r.stage_in_s, 83.5);
    }
  EXPECT_TRUE(seen);
  // The same job without inputs: best fit, "dear".
  LoopHarness h2;
  TwoPricedSites(h2);
  h2.AddTenant("t");
  ASSERT_TRUE(h2.Start().ok());
  ASSERT_TRUE(h2.Submit("t", Job(2, "fastest")).ok());
  h2.Tick(2);
  EXPECT_EQ(SiteOfLaunch(h2), "dear");
}

// Issue 13: a site's energy tariff (tariff_usd_per_kwh in its block) is part of `cheapest`'s cost:
// with the same hourly price, the site whose energy costs less wins, and explain counts it.
TEST(DispatchObjective, CheapestCountsEachSitesEnergyTariff) {
  const std::string path = std::filesystem::temp_directory_path() / "cnet_tariff_service.yaml";
  std::ofstream(path) << "sites:\n"
                         "  - {name: dear, type: fake, price_per_hour_usd: 2, tariff_usd_per_kwh: 0.90}\n"
                         "  - {name: cheap, type: fake, price_per_hour_usd: 2, tariff_usd_per_kwh: "
                         "[0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, "
                         "0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05]}\n";
  auto cfg = service::LoadConfig(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_TRUE(cfg->economics->carbon());
  ASSERT_TRUE(cfg->economics->carbon()->tariff("dear"));
  EXPECT_DOUBLE_EQ(cfg->economics->carbon()->tariff("cheap")->At(3600 * 5), 0.05);
  LoopHarness h;
  h.AddSite("dear", {GpuNode("d0", "H100", 8)});  // listed first: best fit alone would take it
  h.AddSite("cheap", {GpuNode("c0", "H100", 8)});
  h.config().economics = cfg->economics;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", Job(2, "cheapest"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  h.Tick(2);
  EXPECT_EQ(SiteOfLaunch(h), "cheap");
  auto v = h.svc().Explain(kT, *id);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const Candidate* dear = nullptr;
  for (const auto& c : v->candidates)
    if (c.site_name == "dear") dear = &c;
  ASSERT_TRUE(dear);
  EXPECT_NEAR(dear->energy_usd, dear->energy_kwh * 0.90, 1e-9);
  EXPECT_GT(dear->energy_usd, 0);
}

// Issue 13 part A: greenest in the service follows each site's `carbon` signal (the same scorers),
// and explain shows gCO2eq per candidate and the reason for the pick.
TEST(DispatchObjective, GreenestGoesToTheCleanerSiteAndExplainSaysWhy) {
  for (const bool dear_is_clean : {false, true}) {
    LoopHarness h;
    TwoPricedSites(h);
    auto carbon = std::make_shared<SiteCarbon>();
    carbon->SetSignal("dear", CarbonSignal::Constant(dear_is_clean ? 30 : 400));
    carbon->SetSignal("cheap", CarbonSignal::Constant(dear_is_clean ? 400 : 30));
    h.config().economics->SetCarbon(carbon);
    h.AddTenant("t");
    ASSERT_TRUE(h.Start().ok());
    auto id = h.Submit("t", Job(2, "greenest"));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    h.Tick(2);
    const std::string clean = dear_is_clean ? "dear" : "cheap";
    EXPECT_EQ(SiteOfLaunch(h), clean);
    auto v = h.svc().Explain(kT, *id);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_GE(v->chosen, 0);
    EXPECT_EQ(v->candidates[static_cast<size_t>(v->chosen)].site_name, clean);
    const Candidate* c = Find(*v, clean, kH100);
    ASSERT_TRUE(c);
    EXPECT_NEAR(c->carbon_g, c->energy_kwh * 30, 1e-9);
    EXPECT_NE(v->reason.find("least predicted emissions"), std::string::npos) << v->reason;
  }
}

TEST(Explain, EveryCandidateBeforeAndAfterDispatch) {
  LoopHarness h;
  TwoPricedSites(h);
  h.AddSite("amd", {GpuNode("m0", "MI300X", 8)});
  h.AddTenant("t", {{"MI300X", 2}});
  ASSERT_TRUE(h.Start().ok());
  // Fill the cheap site: the next cheapest H100 job would wait there, so it goes to dear (room now).
  api::JobRequest hog = Job(8, "cheapest");
  hog.accelerator_types = {"H100"};
  auto first = h.Submit("t", hog);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  h.Tick(2);
  ASSERT_EQ(h.fake("cheap").launches().size(), 1u);
  api::JobRequest j = Job(4, "cheapest");
  j.accelerator_types = {"H100"};
  auto id = h.Submit("t", j);
  ASSERT_TRUE(id.ok());
  api::JobRequest any = Job(4, "cheapest");  // any type: the MI300X candidate meets the quota
  auto before = h.svc().DryRun(kT, any);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->objective, "cheapest");
  ASSERT_EQ(before->candidates.size(), 3u);
  const Candidate* cheap = Find(*before, "cheap", kH100);
  const Candidate* dear = Find(*before, "dear", kH100);
  const Candidate* amd = Find(*before, "amd", "MI300X");
  ASSERT_TRUE(cheap && dear && amd);
  ASSERT_TRUE(cheap->feasible() && dear->feasible()) << cheap->rejected << dear->rejected;
  EXPECT_GT(cheap->start_s, before->now) << "cheap is full until the first job ends";
  EXPECT_DOUBLE_EQ(dear->start_s, before->now) << "dear has room now";
  EXPECT_NEAR(dear->cost_usd, 4 * 4 * dear->run_s / 3600, 1e-9);
  EXPECT_NE(amd->rejected.find("quota: tenant t's quota is 2 MI300X; the job needs 4"), std::string::npos) << amd->rejected;
  h.Tick(2);
  auto after = h.svc().Explain(kT, *id);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->dispatched_site, "dear") << "cheap had no room: the cheapest type with room now";
  EXPECT_EQ(after->dispatched_type, kH100);
  EXPECT_EQ(after->state, "RUNNING");
  // Another tenant sees nothing of it.
  EXPECT_EQ(h.svc().Explain(service::Caller{"u", false}, *id).status().code(), Code::kPermissionDenied);
}

TEST(Explain, DryRunStoresNothingAndRefusesWhatSubmitWould) {
  LoopHarness h;
  TwoPricedSites(h);
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  ASSERT_TRUE(h.svc().DryRun(kT, Job(2)).ok());
  auto jobs = h.svc().ListJobs(service::Caller{"", true}, store::JobFilter{});
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty()) << "a dry run queues nothing";
  auto too_big = h.svc().DryRun(kT, Job(16));
  EXPECT_EQ(too_big.status().code(), Code::kInfeasible) << too_big.status().ToString();
}

TEST(Acct, AcceleratorHoursCostEnergyAndPredictionError) {
  LoopHarness h;
  TwoPricedSites(h);
  h.AddTenant("t");
  h.AddTenant("u");
  ASSERT_TRUE(h.Start().ok());
  api::JobRequest j = Job(2, "cheapest");  // estimated_duration_s 60
  auto id = h.Submit("t", j);
  ASSERT_TRUE(id.ok());
  h.Tick(2);
  ASSERT_EQ(h.State(*id), JobState::kRunning);
  const double start = h.Row(*id).start_time;
  h.clock().Advance(120);
  h.fake("cheap").End(*id, 0);
  h.Tick(2);
  ASSERT_EQ(h.State(*id), JobState::kSucceeded);
  bool truncated = true;
  auto rows = h.svc().Acct(kT, {}, &truncated);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_FALSE(truncated);
  ASSERT_EQ(rows->size(), 1u);
  const service::AcctRow& r = (*rows)[0];
  const double elapsed = h.Row(*id).end_time - start;
  EXPECT_NEAR(elapsed, 120.2, 0.15);
  EXPECT_EQ(r.type, kH100);
  EXPECT_EQ(r.site, "cheap");
  EXPECT_NEAR(r.accel_hours, 2 * elapsed / 3600, 1e-9);
  EXPECT_NEAR(r.cost_usd, 1 * 2 * elapsed / 3600, 1e-9) << "the cheap site's price";
  const double h100_w = h.svc().catalogue().Get(*h.svc().catalogue().Find("H100")).board_power_w;
  EXPECT_NEAR(r.energy_kwh, h100_w * 2 * elapsed / 3.6e6, 1e-9);
  ASSERT_TRUE(r.predicted_run_s.has_value());
  EXPECT_NEAR(*r.predicted_run_s, 60, 1e-9) << "its own estimate (no job type: 1 step/s)";
  ASSERT_TRUE(r.run_error.has_value());
  EXPECT_NEAR(*r.run_error, (60 - elapsed) / elapsed, 1e-9);
  // Another tenant's view is its own; admins see all, by tenant.
  auto other = h.svc().Acct(service::Caller{"u", false}, {}, &truncated);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
  service::Service::AcctQuery q;
  q.tenant = "t";
  EXPECT_EQ(h.svc().Acct(service::Caller{"u", false}, q, &truncated).status().code(), Code::kPermissionDenied);
  // Usage over the second half of the run: half the hours.
  auto usage = service::Usage(*rows, start + elapsed / 2, start + 1000);
  ASSERT_EQ(usage.size(), 2u) << "tenant t and the total";
  EXPECT_EQ(usage[0].tenant, "t");
  EXPECT_NEAR(usage[0].accel_hours, elapsed / 3600, 1e-9);
  EXPECT_NEAR(usage[1].cost_usd, usage[0].cost_usd, 1e-12);
  const service::ErrorSummary e = service::RunTimeErrors(*rows);
  EXPECT_EQ(e.jobs, 1u);
  EXPECT_NEAR(e.median_abs, std::fabs(*r.run_error), 1e-12);
}

// The config's economics keys: strict, with line and column.
TEST(EconomicsConfig, ParsesAndRefusesWithLineAndColumn) {
  const std::string path = std::filesystem::temp_directory_path() / "cnet_econ_service.yaml";
  auto load = [&](const std::string& text) {
    std::ofstream(path) << text;
    return service::LoadConfig(path);
  };
  auto ok = load(
      "sites:\n"
      "  - {name: a, type: fake, price_per_hour_usd: 2}\n"
      "  - {name: b, type: fake, price_per_hour_usd: {H100: 3, '*': 1}}\n"
      "network:\n"
      "  links: [{from: a, to: b, bandwidth_gbps: 1, latency_ms: 10}]\n"
      "tenants:\n"
      "  - {name: t, objective: cheapest}\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->tenants[0].objective, Objective::kCheapest);
  EXPECT_NEAR(ok->economics->TransferSeconds("b", "a", 1e9), 8.01, 1e-9);
  struct Case {
    const char* text;
    const char* want;
  };
  const Case bad[] = {
      {"sites:\n  - {name: a, type: fake, price_per_hour_usd: -3}\n", ":2:47: field 'sites[0].price_per_hour_usd': must be between"},
      {"sites:\n  - {name: a, type: fake}\nnetwork:\n  links: [{from: a, to: z}]\n", ":4:25: field 'network.links[0].to': unknown site 'z'"},
      {"sites:\n  - {name: a, type: fake}\ntenants:\n  - {name: t, objective: budget}\n", "tenants[0].objective"},
      {"sites:\n  - {name: a, type: fake, carbon: -1}\n", ":2:35: field 'sites[0].carbon': must be between 0 and 5000"},
      {"sites:\n  - {name: a, type: fake, carbon: nowhere.csv}\n", "field 'sites[0].carbon': "},
      {"sites:\n  - {name: a, type: fake, tariff_usd_per_kwh: [0.1, x]}\n", ":2:53: field 'sites[0].tariff_usd_per_kwh[1]': expected a number"},
      {"sites:\n  - {name: a, type: fake, tariff_usd_per_kwh: [0.1, 0.2]}\n", "field 'sites[0].tariff_usd_per_kwh'"},
  };
  for (const Case& c : bad) {
    auto r = load(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace cnet::testing

namespace cnet {
namespace {

// Issue 13 part A, service side: a site's `carbon:` (constant or CSV) reaches the economics the
// estimates and scorers read, so `explain` shows gCO2eq per candidate.
TEST(CarbonConfig, ConstantAndSeriesPerSite) {
  const auto dir = std::filesystem::temp_directory_path();
  std::ofstream(dir / "cnet_carbon_site.csv") << "Time,Carbon Intensity\n2020-01-01 00:00:00,300\n2020-01-01 01:00:00,100\n";
  const std::string path = dir / "cnet_carbon_service.yaml";
  std::ofstream(path) << "sites:\n"
                         "  - {name: a, type: fake, carbon: 56}\n"
                         "  - {name: b, type: fake, carbon: cnet_carbon_site.csv}\n"
                         "  - {name: c, type: fake}\n";
  auto cfg = service::LoadConfig(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  const SiteCarbon* carbon = cfg->economics->carbon();
  ASSERT_TRUE(carbon);
  EXPECT_DOUBLE_EQ(carbon->TrueAverage("a", 0, 1), 56);
  const Seconds t0 = *ParseUtcTimestamp("2020-01-01 00:00:00");
  EXPECT_DOUBLE_EQ(carbon->TrueAverage("b", t0, t0 + 7200), 200) << "the CSV, relative to the config's directory";
  EXPECT_DOUBLE_EQ(carbon->TrueAverage("c", 0, 1), kDefaultGPerKwh) << "no signal: the documented default";
}

}  // namespace
}  // namespace cnet
