// Datasets and residency in the service (issue 12 part A), on fake sites with a manual clock:
// a job that reads a dataset runs only where its policy allows, even when another site is faster
// and free; a job no allowed site could hold is refused (422) naming the dataset, policy and
// clause; visibility (owner, grantee, others: 404); a policy change or revoke re-checks queued jobs
// at once; an outage of the allowed site never moves the job elsewhere; every decision and change
// is in the hash-chained audit log.
#include <gtest/gtest.h>

#include <algorithm>

#include "service/loop_harness.h"
#include "store/dataset_store.h"

namespace cnet::testing {
namespace {

using service::Caller;
using store::JobState;

const Caller kAlice{"alice", false}, kBob{"bob", false}, kEve{"eve", false};

// "cn": 4 slow K80s in China; "us": 8 fast H100s in the US, free.
void TwoSites(LoopHarness& h, backends::Capabilities cn_caps = LocalLike()) {
  h.AddSite("cn", {GpuNode("c0", "K80", 4)}, cn_caps, 30);
  h.config().sites.back().attributes = {{"country", "CN"}, {"region", "east"}, {"security_level", "3"}};
  h.AddSite("us", {GpuNode("u0", "H100", 8)});
  h.config().sites.back().attributes = {{"country", "US"}, {"region", "us-east"}, {"security_level", "4"}};
  for (const char* t : {"alice", "bob", "eve"}) h.AddTenant(t);
}

store::DatasetRow Genome(const std::string& policy = "country=CN & security_level>=3") {
  store::DatasetRow d;
  d.name = "genome";
  d.size_bytes = 10'000'000'000;
  d.replicas = {{"cn", "/data/genome"}};
  d.policy = policy;
  return d;
}

service::DatasetUpdate NewPolicy(const std::string& p) {
  service::DatasetUpdate u;
  u.policy = p;
  return u;
}

api::JobRequest Reads(std::vector<std::string> inputs, int gpus = 1) {
  api::JobRequest r = LoopHarness::Job(1, gpus);
  r.inputs = std::move(inputs);
  return r;
}

// Without a throughput matrix every type runs at 1 step/s, so the policy's own choice for a job is
// whatever its type order and best fit say: the test reads that choice from a job without inputs,
// then gives the dataset a policy that excludes exactly that site.
TEST(ResidencyService, AJobGoesWhereItsDataMayGoNotWhereThePolicyWouldPutIt) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  auto control = h.Submit("alice", LoopHarness::Job(1, 1));
  ASSERT_TRUE(control.ok());
  h.Tick(3);
  const std::string chosen = h.Row(*control).site, other = chosen == "cn" ? "us" : "cn";
  ASSERT_FALSE(chosen.empty());
  ASSERT_TRUE(h.svc().datasets().Register(kAlice, Genome("* \\ " + chosen)).ok());
  auto data_job = h.Submit("alice", Reads({"genome"}));
  auto twin = h.Submit("alice", LoopHarness::Job(1, 1));
  ASSERT_TRUE(data_job.ok() && twin.ok()) << data_job.status().ToString();
  h.Tick(3);
  EXPECT_EQ(h.Row(*twin).site, chosen);  // the same job without inputs still goes there
  EXPECT_EQ(h.Row(*data_job).site, other);
  EXPECT_EQ(h.State(*data_job), JobState::kRunning);
  auto log = h.svc().datasets().Audit(kAlice, "genome", 0, 100);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);  // register, then the placement
  EXPECT_EQ((*log)[1].action, "residency");
  EXPECT_EQ((*log)[1].decision, "allow");
  EXPECT_EQ((*log)[1].job, *data_job);
  EXPECT_EQ((*log)[1].site, other);
  EXPECT_EQ((*log)[1].policy_version, 1);
}

TEST(ResidencyService, ARefusalNamesTheDatasetThePolicyAndTheClause) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  ASSERT_TRUE(h.svc().datasets().Register(kAlice, Genome()).ok());
  // 8 GPUs on one site: only "us" has them, and the data may not go there.
  auto r = h.Submit("alice", Reads({"genome"}, 8));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInfeasible);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("dataset 'genome' policy v1 'country=CN & security_level>=3' denies site 'us'"), std::string::npos) << m;
  EXPECT_NE(m.find("clause 'country=CN' fails (site 'us' has country=US)"), std::string::npos) << m;
  // A policy no site meets at all.
  store::DatasetRow none = Genome("country=XX");
  none.name = "nowhere";
  ASSERT_TRUE(h.svc().datasets().Register(kAlice, none).ok());
  auto r2 = h.Submit("alice", Reads({"nowhere"}));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), Code::kInfeasible);
  EXPECT_NE(r2.status().message().find("no site may hold this job's data"), std::string::npos) << r2.status().message();
  auto log = h.svc().datasets().Audit(kAlice, "genome", 0, 100);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[1].decision, "deny");
}

TEST(ResidencyService, OthersSeeNothingAGranteeSeesItsGrantOnlyTheOwnerChanges) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  auto& ds = h.svc().datasets();
  ASSERT_TRUE(ds.Register(kAlice, Genome()).ok());
  EXPECT_EQ(ds.Show(kEve, "genome").status().code(), Code::kNotFound);
  EXPECT_EQ(ds.Show(kEve, "genome").status().message(), "no dataset 'genome'");  // as for a missing name:
  EXPECT_EQ(ds.Show(kEve, "no-such").status().message(), "no dataset 'no-such'");
  EXPECT_TRUE(ds.List(kEve)->empty());
  EXPECT_EQ(h.Submit("eve", Reads({"genome"})).status().code(), Code::kNotFound);
  EXPECT_EQ(ds.Grant(kEve, "genome", "eve", "").status().code(), Code::kNotFound);
  ASSERT_TRUE(ds.Grant(kAlice, "genome", "bob", "region=east").ok());
  ASSERT_TRUE(ds.Grant(kAlice, "genome", "carol", "").ok());
  auto seen = ds.Show(kBob, "genome");
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->grants.size(), 1u);  // its own grant, not carol's
  EXPECT_EQ(seen->grants[0].tenant, "bob");
  EXPECT_EQ(ds.Show(kAlice, "genome")->grants.size(), 2u);
  EXPECT_EQ(ds.Update(kBob, "genome", NewPolicy("*")).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(ds.Remove(kBob, "genome").code(), Code::kPermissionDenied);
  EXPECT_EQ(ds.Audit(kBob, "genome", 0, 10).status().code(), Code::kPermissionDenied);
  auto bad = ds.Update(kAlice, "genome", NewPolicy("security_level>=high"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "policy: column 17: '>=' needs a number, got 'high' in 'security_level>=high'");
  auto bob_job = h.Submit("bob", Reads({"genome"}));
  ASSERT_TRUE(bob_job.ok()) << bob_job.status().ToString();
  h.Tick(3);
  EXPECT_EQ(h.Row(*bob_job).site, "cn");
}

TEST(ResidencyService, APolicyChangeOrRevokeRechecksQueuedJobsAtOnce) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  auto& ds = h.svc().datasets();
  ASSERT_TRUE(ds.Register(kAlice, Genome("country=CN | country=US")).ok());
  ASSERT_TRUE(ds.Grant(kAlice, "genome", "bob", "").ok());
  auto fill = h.Submit("eve", [] { auto r = LoopHarness::Job(1, 4, {"K80"}); r.sites = {"cn"}; return r; }());
  ASSERT_TRUE(fill.ok());
  h.Tick(3);
  ASSERT_EQ(h.State(*fill), JobState::kRunning);  // cn is full from now on
  auto us_h100 = [] { auto r = Reads({"genome"}, 8); return r; };
  auto fill_us = h.Submit("eve", [] { auto r = LoopHarness::Job(1, 8); r.sites = {"us"}; return r; }());
  ASSERT_TRUE(fill_us.ok());
  h.Tick(3);
  ASSERT_EQ(h.State(*fill_us), JobState::kRunning);  // us too
  auto alice_job = h.Submit("alice", Reads({"genome"}));
  auto bob_job = h.Submit("bob", Reads({"genome"}));
  auto alice_big = h.Submit("alice", us_h100());
  ASSERT_TRUE(alice_job.ok() && bob_job.ok() && alice_big.ok());
  h.Tick(3);
  ASSERT_EQ(h.State(*alice_job), JobState::kPending);
  // Now only China: the 8-GPU job can never run (only us has 8), the 1-GPU one waits for cn.
  ASSERT_TRUE(ds.Update(kAlice, "genome", NewPolicy("country=CN")).ok());
  h.Tick(1);
  EXPECT_EQ(h.State(*alice_big), JobState::kFailed);
  EXPECT_NE(h.Row(*alice_big).reason.find("data policy changed"), std::string::npos) << h.Row(*alice_big).reason;
  EXPECT_EQ(h.State(*alice_job), JobState::kPending);
  // Revoking bob's grant fails bob's queued job; alice's stays.
  ASSERT_TRUE(ds.Revoke(kAlice, "genome", "bob").ok());
  h.Tick(1);
  EXPECT_EQ(h.State(*bob_job), JobState::kFailed);
  EXPECT_NE(h.Row(*bob_job).reason.find("no dataset 'genome'"), std::string::npos) << h.Row(*bob_job).reason;
  // us frees: alice's job still may not go there.
  h.fake("us").End(*fill_us, 0);
  h.Tick(5);
  EXPECT_EQ(h.State(*alice_job), JobState::kPending);
  h.fake("cn").End(*fill, 0);
  h.Tick(5);
  EXPECT_EQ(h.Row(*alice_job).site, "cn");
}

// A job submitted to cn stays there through an outage longer than redispatch_after_s (the
// reconciler finds no other site its data may go to, so it does not withdraw it); a job submitted
// during the outage waits naming it; a restart keeps both; when cn returns the waiting one goes there.
TEST(ResidencyService, AnOutageOfTheAllowedSiteNeverMovesTheJobAndARestartKeepsTheSet) {
  LoopHarness h;
  TwoSites(h, SlurmLike());
  ASSERT_TRUE(h.Start().ok());
  ASSERT_TRUE(h.svc().datasets().Register(kAlice, Genome()).ok());
  auto first = h.Submit("alice", Reads({"genome"}));
  ASSERT_TRUE(first.ok());
  h.Tick(3);
  ASSERT_EQ(h.Row(*first).site, "cn");  // submitted to cn, not started
  ASSERT_EQ(h.State(*first), JobState::kScheduled);
  h.fake("cn").SetReachable(false, "slurmctld: down");
  auto wait = [&](int rounds) {
    for (int i = 0; i < rounds; ++i) {
      h.clock().Advance(10);
      h.Tick(10);
    }
  };
  wait(10);  // past redispatch_after_s (30 s)
  EXPECT_EQ(h.Row(*first).site, "cn") << h.Row(*first).reason;
  EXPECT_EQ(h.State(*first), JobState::kScheduled);
  auto second = h.Submit("alice", Reads({"genome"}));
  ASSERT_TRUE(second.ok());
  auto reason = [&](int64_t id) {
    auto v = h.svc().GetJob(Caller{"", true}, id, false);
    EXPECT_TRUE(v.ok());
    return v.ok() ? (v->live_reason.empty() ? v->row.reason : v->live_reason) : std::string();
  };
  wait(2);
  EXPECT_EQ(h.State(*second), JobState::kPending);
  EXPECT_NE(reason(*second).find("waiting for site cn"), std::string::npos) << reason(*second);
  ASSERT_TRUE(h.Start().ok());  // restart: residency resolved again from the datasets
  wait(5);
  EXPECT_EQ(h.Row(*first).site, "cn");
  EXPECT_EQ(h.State(*second), JobState::kPending);
  EXPECT_NE(reason(*second).find("waiting for site cn"), std::string::npos) << reason(*second);
  h.fake("cn").SetReachable(true, "");
  wait(5);
  EXPECT_EQ(h.Row(*second).site, "cn");
  EXPECT_EQ(h.Row(*first).site, "cn");
}

// Submitted to a site (not started), then the owner's new policy denies that site: withdrawn there
// and dispatched where the data may go.
TEST(ResidencyService, ADispatchedJobIsWithdrawnFromASiteTheNewPolicyDenies) {
  LoopHarness h;
  TwoSites(h, SlurmLike());
  ASSERT_TRUE(h.Start().ok());
  ASSERT_TRUE(h.svc().datasets().Register(kAlice, Genome("*")).ok());
  auto job = h.Submit("alice", Reads({"genome"}));
  ASSERT_TRUE(job.ok());
  h.Tick(3);
  ASSERT_EQ(h.State(*job), JobState::kScheduled);
  const std::string first = h.Row(*job).site;
  ASSERT_TRUE(h.svc().datasets().Update(kAlice, "genome", NewPolicy("* \\ " + first)).ok());
  h.Tick(3);
  auto row = h.Row(*job);
  EXPECT_NE(row.site, first);
  EXPECT_FALSE(row.site.empty());
  EXPECT_GE(row.attempts, 1);
  auto v = h.svc().GetJob(Caller{"", true}, *job, true);
  ASSERT_TRUE(v.ok());
  bool withdrawn = false;
  for (const auto& e : v->events) withdrawn |= e.reason.find("requeued: data policy changed") != std::string::npos;
  EXPECT_TRUE(withdrawn);
}

// --enforce-running: running jobs whose site the new policy denies keep their runs unless the
// owner asks; then their runs are stopped and they run again where the policy allows, or, when a
// change leaves a job no site (a revoked grant), it ends CANCELLED. The stops are audited.
TEST(ResidencyService, EnforceRunningStopsRunsTheChangeDeniesAndRequeuesOrCancelsThem) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  auto& ds = h.svc().datasets();
  ASSERT_TRUE(ds.Register(kAlice, Genome("country=US")).ok());
  ASSERT_TRUE(ds.Grant(kAlice, "genome", "bob", "").ok());
  auto alices = h.Submit("alice", Reads({"genome"}));
  auto bobs = h.Submit("bob", Reads({"genome"}));
  ASSERT_TRUE(alices.ok() && bobs.ok());
  h.Tick(3);
  for (int64_t id : {*alices, *bobs}) {
    ASSERT_EQ(h.State(id), JobState::kRunning);
    ASSERT_EQ(h.Row(id).site, "us");
  }
  // Without the flag nothing running stops.
  ASSERT_TRUE(ds.Update(kAlice, "genome", NewPolicy("country=CN")).ok());
  h.Tick(3);
  EXPECT_EQ(h.State(*alices), JobState::kRunning);
  EXPECT_TRUE(h.fake("us").kills().empty());
  // With it, both are stopped on us and run again on cn.
  service::DatasetUpdate u = NewPolicy("country=CN");
  u.enforce_running = true;
  ASSERT_TRUE(ds.Update(kAlice, "genome", u).ok());
  h.Tick(3);
  std::vector<int64_t> kills = h.fake("us").kills();
  std::sort(kills.begin(), kills.end());
  EXPECT_EQ(kills, (std::vector<int64_t>{*alices, *bobs}));
  for (int64_t id : {*alices, *bobs}) {
    EXPECT_EQ(h.State(id), JobState::kRunning);
    EXPECT_EQ(h.Row(id).site, "cn");
    EXPECT_EQ(h.Row(id).attempts, 2);
  }
  // Revoking bob's grant with the flag leaves his job no site: it is cancelled; alice's runs on.
  ASSERT_TRUE(ds.Revoke(kAlice, "genome", "bob", true).ok());
  h.Tick(3);
  EXPECT_EQ(h.State(*bobs), JobState::kCancelled);
  EXPECT_NE(h.Row(*bobs).reason.find("the data owner"), std::string::npos) << h.Row(*bobs).reason;
  EXPECT_EQ(h.State(*alices), JobState::kRunning);
  auto log = ds.Audit(kAlice, "genome", 0, 100);
  ASSERT_TRUE(log.ok());
  bool stopped = false, noted = false;
  for (const auto& r : *log) {
    stopped |= r.decision == "deny" && r.job == *alices && r.site == "us";
    noted |= r.action == "update" && r.reason.find("running jobs it denies are stopped") != std::string::npos;
  }
  EXPECT_TRUE(stopped) << "the stop is a deny record for the job on its old site";
  EXPECT_TRUE(noted) << "the owner's change records the flag";
}

// A dataset's expiry is a change too: when it comes, a job still waiting to read it fails, saying
// so, without any other event to trigger the re-check.
TEST(ResidencyService, AQueuedJobFailsWhenItsInputExpires) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  store::DatasetRow d = Genome("country=CN");
  d.expires = h.clock().Now() + 10;
  ASSERT_TRUE(h.svc().datasets().Register(kAlice, d).ok());
  auto fill = h.Submit("eve", [] { auto r = LoopHarness::Job(1, 4, {"K80"}); r.sites = {"cn"}; return r; }());
  ASSERT_TRUE(fill.ok());
  h.Tick(3);
  auto waits = h.Submit("alice", Reads({"genome"}));
  ASSERT_TRUE(waits.ok()) << waits.status().ToString();
  h.Tick(20);
  ASSERT_EQ(h.State(*waits), JobState::kPending) << "cn is full";
  h.clock().Advance(10);
  h.Tick(12);
  EXPECT_EQ(h.State(*waits), JobState::kFailed);
  EXPECT_NE(h.Row(*waits).reason.find("has expired"), std::string::npos) << h.Row(*waits).reason;
}

TEST(ResidencyService, AnOutputInheritsTheStrictestInputPolicy) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  auto& ds = h.svc().datasets();
  ASSERT_TRUE(ds.Register(kAlice, Genome("country=CN | country=US")).ok());
  store::DatasetRow b = Genome("security_level>=3");
  b.name = "labels";
  ASSERT_TRUE(ds.Register(kBob, b).ok());
  ASSERT_TRUE(ds.Grant(kBob, "labels", "alice", "region=east").ok());
  api::JobRequest r = Reads({"genome", "labels"});
  r.output = "joined";
  ASSERT_TRUE(h.Submit("alice", r).ok());
  auto out = ds.Show(kAlice, "joined");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->row.owner, "alice");
  EXPECT_EQ(out->row.policy, "(country=CN | country=US) & security_level>=3 & region=east");
}

TEST(ResidencyService, TheAuditChainVerifiesOffline) {
  LoopHarness h;
  TwoSites(h);
  ASSERT_TRUE(h.Start().ok());
  auto& ds = h.svc().datasets();
  ASSERT_TRUE(ds.Register(kAlice, Genome()).ok());
  ASSERT_TRUE(ds.Grant(kAlice, "genome", "bob", "").ok());
  ASSERT_TRUE(h.Submit("bob", Reads({"genome"})).ok());
  h.Tick(3);
  ASSERT_TRUE(ds.Revoke(kAlice, "genome", "bob").ok());
  ASSERT_TRUE(ds.Remove(kAlice, "genome").ok());
  auto v = store::VerifyAuditChain(h.config().data_dir + "/cnet.db");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->ok) << v->why;
  EXPECT_EQ(v->records, 5);  // register, grant, placement, revoke, remove
}

}  // namespace
}  // namespace cnet::testing
