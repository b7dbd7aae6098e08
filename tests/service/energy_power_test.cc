// Issue 13 part B in the service: measured energy per job (stored with its source, accounted,
// counted in /metrics, estimated where the site measured nothing) and site power budgets (a drop
// makes new jobs wait, never fail, and stops nothing that runs; raising it lets them run; windows
// from the config open and close with the clock).
#include <gtest/gtest.h>

#include "loop_harness.h"

namespace cnet::testing {
namespace {

using service::Caller;
using store::JobState;

const Caller kAdmin{"", true};

std::map<std::string, std::string> Measured(const std::string& joules, const std::string& source) {
  return {{backends::kEnergyJoulesField, joules}, {backends::kEnergySourceField, source}};
}

class EnergyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.AddSite("a", {GpuNode("n1", "H100-SXM", 8)});  // 700 W busy, 100 W idle
    h_.AddTenant("t");
  }
  LoopHarness h_;
};

TEST_F(EnergyServiceTest, MeasuredEnergyIsStoredAccountedAndCounted) {
  ASSERT_TRUE(h_.Start().ok());
  auto measured = h_.Submit("t", LoopHarness::Job(2, 1));
  auto estimated = h_.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(measured.ok() && estimated.ok());
  h_.Tick(2);  // dispatched, then running
  ASSERT_EQ(h_.State(*measured), JobState::kRunning);
  ASSERT_EQ(h_.State(*estimated), JobState::kRunning);
  h_.clock().Advance(100);
  h_.fake("a").End(*measured, 0, "", Measured("1234.5", "rapl"));
  h_.fake("a").End(*estimated, 0);
  h_.Tick();
  store::JobRow m = h_.Row(*measured), e = h_.Row(*estimated);
  ASSERT_EQ(m.state, JobState::kSucceeded);
  EXPECT_DOUBLE_EQ(m.energy_j, 1234.5);
  EXPECT_EQ(m.energy_source, "rapl");
  EXPECT_EQ(e.energy_source, "") << "nothing measured: nothing stored";

  bool truncated = false;
  auto rows = h_.svc().Acct(kAdmin, {}, &truncated);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  const service::AcctRow& ma = (*rows)[0].id == *measured ? (*rows)[0] : (*rows)[1];
  const service::AcctRow& ea = (*rows)[0].id == *measured ? (*rows)[1] : (*rows)[0];
  EXPECT_EQ(ma.energy_source, "rapl");
  EXPECT_DOUBLE_EQ(ma.energy_j, 1234.5);
  EXPECT_EQ(ea.energy_source, "estimated");
  EXPECT_NEAR(ea.energy_j, 700 * 1 * ea.elapsed_s, 1e-6);
  EXPECT_GT(ea.elapsed_s, 100);
  auto usage = service::Usage(*rows, 0, 1e12);
  EXPECT_NEAR(usage.back().energy_measured_kwh, 1234.5 / 3.6e6, 1e-12);
  EXPECT_NEAR(usage.back().energy_estimated_kwh, ea.energy_j / 3.6e6, 1e-12);

  const std::string metrics = h_.svc().metrics().Render();
  EXPECT_NE(metrics.find("cnet_job_energy_joules_total{site=\"a\",type=\"H100-SXM\",tenant=\"t\",source=\"rapl\"} 1234.5"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cnet_job_energy_joules_total{site=\"a\",type=\"H100-SXM\",tenant=\"t\",source=\"estimated\"}"),
            std::string::npos)
      << metrics;
}

TEST_F(EnergyServiceTest, MalformedEnergyFromASiteIsEstimatedNotStored) {
  ASSERT_TRUE(h_.Start().ok());
  auto id = h_.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(id.ok());
  h_.Tick(2);
  h_.fake("a").End(*id, 0, "", Measured("-5", "rapl"));
  h_.Tick();
  EXPECT_EQ(h_.State(*id), JobState::kSucceeded);
  EXPECT_EQ(h_.Row(*id).energy_source, "");
}

TEST_F(EnergyServiceTest, ABudgetDropMakesNewJobsWaitAndRaisingItLetsThemRun) {
  ASSERT_TRUE(h_.Start().ok());
  auto first = h_.Submit("t", LoopHarness::Job(4, 1));  // 800 W idle + 4 x 600 W = 3.2 kW
  ASSERT_TRUE(first.ok());
  h_.Tick(2);
  ASSERT_EQ(h_.State(*first), JobState::kRunning);

  auto set = h_.svc().SetPowerBudget(kAdmin, "a", 2, "grid demand response");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_TRUE(set->in_force);
  EXPECT_DOUBLE_EQ(set->in_force->kw, 2);
  auto second = h_.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(second.ok()) << "a budget never refuses a job: " << second.status().ToString();
  h_.Tick(3);
  EXPECT_EQ(h_.State(*first), JobState::kRunning) << "running work is never stopped";
  EXPECT_EQ(h_.State(*second), JobState::kPending);
  auto view = h_.svc().GetJob(kAdmin, *second, false);
  ASSERT_TRUE(view.ok());
  EXPECT_NE(view->live_reason.find("power budget 2 kW (grid demand response"), std::string::npos) << view->live_reason;
  EXPECT_NE(view->live_reason.find("drawing 3.2 kW"), std::string::npos) << view->live_reason;

  ASSERT_TRUE(h_.svc().SetPowerBudget(kAdmin, "a", 3.8, "").ok());  // room for exactly one more
  h_.Tick(2);
  EXPECT_EQ(h_.State(*second), JobState::kRunning);

  auto third = h_.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(third.ok());
  h_.Tick(2);
  EXPECT_EQ(h_.State(*third), JobState::kPending);
  ASSERT_TRUE(h_.svc().SetPowerBudget(kAdmin, "a", std::nullopt, "").ok());  // cleared: the cap rules
  h_.Tick(2);
  EXPECT_EQ(h_.State(*third), JobState::kRunning);
}

// An admin's override is recorded before it is answered and kept across a restart until cleared;
// one the store refuses is answered 503 and takes no effect.
TEST_F(EnergyServiceTest, AnOverrideSurvivesARestartAndOneNotRecordedTakesNoEffect) {
  ASSERT_TRUE(h_.Start().ok());
  h_.store().fail_put_tenant = 1;  // the next admin write fails
  auto refused = h_.svc().SetPowerBudget(kAdmin, "a", 1, "grid");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  auto views = h_.svc().PowerBudgetView(kAdmin);
  ASSERT_TRUE(views.ok());
  EXPECT_FALSE(views->front().override_kw.has_value());

  ASSERT_TRUE(h_.svc().SetPowerBudget(kAdmin, "a", 1.5, "grid demand response").ok());
  ASSERT_TRUE(h_.Start().ok());  // restart: a second Service on the same data dir
  views = h_.svc().PowerBudgetView(kAdmin);
  ASSERT_TRUE(views.ok());
  ASSERT_TRUE(views->front().override_kw.has_value());
  EXPECT_DOUBLE_EQ(*views->front().override_kw, 1.5);
  EXPECT_EQ(views->front().override_reason.rfind("grid demand response, set by admin", 0), 0u) << views->front().override_reason;
  auto job = h_.Submit("t", LoopHarness::Job(1, 1));  // 800 W idle + 600 W = 1.4 kW: fits; two do not
  auto two = h_.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(job.ok() && two.ok());
  h_.Tick(3);
  EXPECT_EQ(h_.State(*job), JobState::kRunning);
  EXPECT_EQ(h_.State(*two), JobState::kPending) << "the override was lost in the restart";

  ASSERT_TRUE(h_.svc().SetPowerBudget(kAdmin, "a", std::nullopt, "").ok());
  ASSERT_TRUE(h_.Start().ok());
  views = h_.svc().PowerBudgetView(kAdmin);
  ASSERT_TRUE(views.ok());
  EXPECT_FALSE(views->front().override_kw.has_value()) << "a cleared override came back";
}

TEST_F(EnergyServiceTest, BudgetCallsAreForAdminsAndNameKnownSites) {
  ASSERT_TRUE(h_.Start().ok());
  EXPECT_EQ(h_.svc().SetPowerBudget(Caller{"t", false}, "a", 1, "").status().code(), Code::kPermissionDenied);
  EXPECT_EQ(h_.svc().SetPowerBudget(kAdmin, "nope", 1, "").status().code(), Code::kNotFound);
  EXPECT_EQ(h_.svc().SetPowerBudget(kAdmin, "a", -1, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(h_.svc().PowerBudgetView(Caller{"t", false}).status().code(), Code::kPermissionDenied);
}

TEST_F(EnergyServiceTest, AConfigWindowHoldsNewWorkWhileItIsOpen) {
  // The manual clock starts at epoch 1000 s (00:16:40 UTC): the window is open.
  service::BudgetWindow w;
  w.daily = true;
  w.from = 0;
  w.to = 3600;
  w.kw = 0.5;
  w.reason = "demand response";
  h_.config().sites[0].power_budget = {w};
  ASSERT_TRUE(h_.Start().ok());
  auto id = h_.Submit("t", LoopHarness::Job(1, 1));
  ASSERT_TRUE(id.ok());
  h_.Tick(2);
  EXPECT_EQ(h_.State(*id), JobState::kPending);
  auto view = h_.svc().GetJob(kAdmin, *id, false);
  ASSERT_TRUE(view.ok());
  EXPECT_NE(view->live_reason.find("waiting for power: site a: power budget 0.5 kW (demand response, until 01:00:00 UTC)"),
            std::string::npos)
      << view->live_reason;
  h_.clock().Advance(3600 - 1000);  // past 01:00 UTC: the window closed
  h_.Tick(2);
  EXPECT_EQ(h_.State(*id), JobState::kRunning);
}

}  // namespace
}  // namespace cnet::testing
