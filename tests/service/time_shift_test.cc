// Temporal shifting in the service (issue 13): a greenest job with a deadline waits behind its
// gates for the lower-carbon window its site's signal predicts, says until when, starts then, and
// keeps waiting across a restart; a job without a deadline, or a service without
// `temporal_shift:`, starts at once. The control loop on a fake site with a manual clock.
#include <gtest/gtest.h>

#include "model/carbon_signal.h"
#include "sched/estimate/site_carbon.h"
#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using store::JobState;

// 500 g/kWh until 02:00 UTC on 1970-01-01, 50 after (the harness's clock starts at 00:16:40).
void DirtyThenClean(LoopHarness& h, bool shift) {
  auto s = CarbonSignal::ParseCsv("Time,Carbon Intensity\n1970-01-01 00:00:00,500\n1970-01-01 02:00:00,50\n", "test.csv");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto carbon = std::make_shared<SiteCarbon>();
  carbon->SetSignal("a", std::move(s).value());
  h.config().economics->SetCarbon(carbon);
  if (shift) h.config().temporal_shift = ShiftOptions{};
}

api::JobRequest Green(double deadline_s) {
  api::JobRequest r = LoopHarness::Job(1, 1);
  r.objective = "greenest";
  r.deadline_s = deadline_s;
  r.estimated_duration_s = 1800;
  return r;
}

std::string Reason(LoopHarness& h, int64_t id) {
  auto v = h.svc().GetJob(service::Caller{"", true}, id, false);
  return v.ok() ? v->live_reason : v.status().ToString();
}

TEST(TimeShift, AGreenestJobWaitsForTheCleanWindowThenRunsAndARestartKeepsTheWait) {
  LoopHarness h;
  auto& site = h.AddSite("a", {GpuNode("g0", "H100", 8)});
  h.AddTenant("t");
  DirtyThenClean(h, true);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(h.Start().ok());
  auto slack = h.Submit("t", Green(6 * 3600));
  auto none = h.Submit("t", Green(0));  // no deadline: no slack to wait in
  ASSERT_TRUE(slack.ok() && none.ok()) << slack.status().ToString();
  h.Tick(3);
  EXPECT_EQ(h.State(*none), JobState::kRunning);
  EXPECT_EQ(h.State(*slack), JobState::kPending);
  const std::string why = Reason(h, *slack);  // the first 15-min step from now inside the clean window
  EXPECT_EQ(why.rfind("waiting until 02:01:40 UTC (temporal shifting): waits until +1.8 h for a lower-carbon window at a/", 0),
            0u) << why;
  EXPECT_NE(why.find("(-90%)"), std::string::npos) << why;
  ASSERT_EQ(site.launches().size(), 1u);

  ASSERT_TRUE(h.Start().ok());  // a restart plans again from the row: still waiting
  h.Tick(3);
  EXPECT_EQ(h.State(*slack), JobState::kPending) << Reason(h, *slack);
  EXPECT_EQ(site.launches().size(), 1u);

  // Planned again from the restart's time (on its own 15-min steps): still in the clean window,
  // and never later than the latest safe start (+4.9 h).
  EXPECT_NE(Reason(h, *slack).find("lower-carbon window"), std::string::npos) << Reason(h, *slack);
  h.clock().Advance(3 * 3600 - h.clock().Now());
  h.Tick(3);
  EXPECT_EQ(h.State(*slack), JobState::kRunning) << Reason(h, *slack) << " now " << h.clock().Now();
}

// Explain shows the plan: every start time weighed, with its predicted gCO2eq; the dirty hours
// before 02:00 cost ten times the clean ones, and the plan picks the first clean step.
TEST(TimeShift, ExplainListsThePredictedEmissionsOfEveryStartTimeWeighed) {
  LoopHarness h;
  h.AddSite("a", {GpuNode("g0", "H100", 8)});
  h.AddTenant("t");
  DirtyThenClean(h, true);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", Green(6 * 3600));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  h.Tick(3);
  auto v = h.svc().Explain(service::Caller{"t", false}, *id);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(v->shift.has_value());
  const ShiftPlan& p = *v->shift;
  EXPECT_TRUE(p.wait) << p.reason;
  ASSERT_GE(p.considered.size(), 10u);
  EXPECT_DOUBLE_EQ(p.considered.front().start_s, v->now);
  EXPECT_NEAR(p.considered[1].start_s - p.considered[0].start_s, 900, 1e-9) << "the plan's 15-min steps";
  EXPECT_NEAR(p.considered.front().g, p.g_now, 1e-9);
  double least = p.considered.front().g;
  Seconds at = p.considered.front().start_s;
  for (const auto& c : p.considered)
    if (c.g < least) least = c.g, at = c.start_s;
  EXPECT_NEAR(least, p.g_planned, 1e-9);
  EXPECT_DOUBLE_EQ(at, p.start_s) << "the planned start is the least of those weighed";
  EXPECT_NEAR(p.considered.back().g / p.considered.front().g, 0.1, 1e-6) << "clean against dirty";
  EXPECT_EQ(p.considered.front().site, "a");
  // A job that is not greenest has no plan.
  api::JobRequest fast = Green(6 * 3600);
  fast.objective = "fastest";
  auto f = h.svc().DryRun(service::Caller{"t", false}, fast);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE(f->shift.has_value());
}

TEST(TimeShift, WithoutTemporalShiftInTheConfigNothingWaits) {
  LoopHarness h;
  h.AddSite("a", {GpuNode("g0", "H100", 8)});
  h.AddTenant("t");
  DirtyThenClean(h, false);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(h.Start().ok());
  auto id = h.Submit("t", Green(6 * 3600));
  ASSERT_TRUE(id.ok());
  h.Tick(3);
  EXPECT_EQ(h.State(*id), JobState::kRunning);
}

// The shift key is strict, as the simulator's.
TEST(TimeShift, ConfigKeyIsCheckedWithLineAndColumn) {
  const std::string path = std::filesystem::temp_directory_path() / "cnet_shift_service.yaml";
  std::ofstream(path) << "temporal_shift: {step_min: 0}\n";
  auto bad = service::LoadConfig(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":1:28: field 'temporal_shift.step_min': must be between 1 and 1440"),
            std::string::npos)
      << bad.status().ToString();
  std::ofstream(path) << "temporal_shift: {horizon_h: 24}\n";
  auto ok = service::LoadConfig(path);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_TRUE(ok->temporal_shift.has_value());
  EXPECT_DOUBLE_EQ(ok->temporal_shift->horizon_s, 24 * 3600);
}

}  // namespace
}  // namespace cnet::testing
