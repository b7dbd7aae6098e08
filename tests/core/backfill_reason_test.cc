// What backfill says about jobs it leaves waiting (issue 16 item 4), table-driven on a fake clock:
// the head's reservation names the type and the jobs it waits for, with a time that is never in
// the past and never computed from nodes it cannot use; later jobs say whether they would delay
// the head or simply find no room.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

JobSpec Job(int64_t id, int workers, Seconds runtime, Seconds submit, std::vector<SiteId> sites = {}) {
  JobSpec j;
  j.id = JobId(id);
  j.workers = workers;
  j.acceptable = {Accel("V100")};
  j.total_steps = runtime;  // no job type: 1 step/s, so steps are seconds
  j.submit_time_s = submit;
  j.allowed_sites = std::move(sites);
  return j;
}

// Site "a": two nodes of 4 V100 (nodes 0, 1). Site "b": one node of 4 V100 (node 2).
struct World {
  Cluster cl;
  PerfModel perf{TestCatalogue(), testing::GavelMatrix()};
  std::unique_ptr<Scheduler> s;
  Rng rng{1};
  explicit World(Cluster c) : cl(std::move(c)) {
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    SchedulerOptions o;
    o.explain_waiting = true;
    s = std::make_unique<Scheduler>(cl, perf, std::move(reg.Create("backfill")).value(), o);
  }
  std::string Reason(int64_t id) { return s->Find(JobId(id))->reason; }
};

World TwoSites() {
  auto cl = Cluster::Build("t", {{"a", "r", "ra", 1e9, "na", 2, Accel("V100"), 4},
                                 {"b", "r", "rb", 1e9, "nb", 1, Accel("V100"), 4}},
                           TestCatalogue());
  EXPECT_TRUE(cl.ok());
  return World(std::move(cl).value());
}

// No time before now, no placeholder type, no huge number.
void ExpectSane(const std::string& r) {
  EXPECT_FALSE(std::regex_search(r, std::regex("-[0-9]"))) << r;
  EXPECT_EQ(r.find(" ? "), std::string::npos) << r;
  EXPECT_EQ(r.find("x ?"), std::string::npos) << r;
  EXPECT_FALSE(std::regex_search(r, std::regex("[0-9]{7,}"))) << r;
}

struct Case {
  const char* name;
  Seconds at;              // when the second cycle runs (the first, at 0, starts the runners)
  bool site_a_down;        // node 0 unusable before the second cycle
  std::vector<const char*> head_has;    // the head's (job 10's) reason contains each
  std::vector<const char*> later_has;   // job 11's reason contains each
  std::vector<const char*> later_lacks;
};

TEST(BackfillReason, SaysWhatAWaitingJobWaitsForWithSaneTimes) {
  const std::vector<Case> cases = {
      {"waits for the runners' estimated end", 10, false,
       {"head of the queue, reserved 8 x V100 in ~90 s (when jobs 1, 2 end, by estimate)"},
       {"no room now, queued behind job 10"}, {"delay"}},
      {"runners overrun their estimates: as soon as they end, never t+-", 150, false,
       {"reserved 8 x V100 as soon as jobs 1, 2 end (past their estimated end)"},
       {"no room now"}, {"delay"}},
      {"its site's node is down: no reservation from a job that cannot end there", 10, true,
       {"no usable accelerator it may use can hold it now"},
       {}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    World w = TwoSites();
    const SiteId a = w.cl.node(NodeId(0)).site, b = w.cl.node(NodeId(2)).site;
    ASSERT_TRUE(w.s->Admit(Job(1, 4, 100, 0, {a})).ok());
    ASSERT_TRUE(w.s->Admit(Job(2, 4, 100, 0, {a})).ok());
    ASSERT_TRUE(w.s->Admit(Job(3, 4, 100, 0, {b})).ok());
    ASSERT_EQ(w.s->RunCycle(0, true, w.rng).applied.size(), 3u);
    ASSERT_TRUE(w.s->Admit(Job(10, 8, 50, 1)).ok());  // only site a can hold 8
    ASSERT_TRUE(w.s->Admit(Job(11, 2, 500, 2)).ok());  // fits nowhere now
    if (c.site_a_down) w.s->SetNodeUsable(NodeId(0), false);
    w.s->RunCycle(c.at, true, w.rng);
    const std::string head = w.Reason(10), later = w.Reason(11);
    ExpectSane(head);
    ExpectSane(later);
    for (const char* h : c.head_has) EXPECT_NE(head.find(h), std::string::npos) << head;
    for (const char* h : c.later_has) EXPECT_NE(later.find(h), std::string::npos) << later;
    for (const char* h : c.later_lacks) EXPECT_EQ(later.find(h), std::string::npos) << later;
  }
}

// A job restricted to site a, whose nodes are down, while site b's runner ends soon: before, the
// reservation counted b's accelerators and counted down into the past; now it has none.
TEST(BackfillReason, RestrictedToADownSiteGetsNoReservationFromAnotherSite) {
  World w = TwoSites();
  const SiteId a = w.cl.node(NodeId(0)).site, b = w.cl.node(NodeId(2)).site;
  ASSERT_TRUE(w.s->Admit(Job(1, 4, 20, 0, {b})).ok());
  ASSERT_EQ(w.s->RunCycle(0, true, w.rng).applied.size(), 1u);
  w.s->SetNodeUsable(NodeId(0), false);
  w.s->SetNodeUsable(NodeId(1), false);
  ASSERT_TRUE(w.s->Admit(Job(10, 2, 50, 1, {a})).ok());
  for (Seconds t : {5.0, 30.0, 4000.0}) {
    w.s->RunCycle(t, true, w.rng);
    const std::string r = w.Reason(10);
    ExpectSane(r);
    EXPECT_NE(r.find("no usable accelerator it may use"), std::string::npos) << "at " << t << ": " << r;
  }
}

// A later job that would fit now but would push back the head's start says so; one that does
// not fit at all does not claim to be held back by the head.
TEST(BackfillReason, DelayingTheHeadIsToldApartFromNoRoom) {
  World w = TwoSites();
  const SiteId a = w.cl.node(NodeId(0)).site, b = w.cl.node(NodeId(2)).site;
  ASSERT_TRUE(w.s->Admit(Job(1, 4, 100, 0, {a})).ok());
  ASSERT_TRUE(w.s->Admit(Job(2, 2, 100, 0, {a})).ok());
  ASSERT_TRUE(w.s->Admit(Job(3, 4, 100, 0, {b})).ok());
  ASSERT_EQ(w.s->RunCycle(0, true, w.rng).applied.size(), 3u);  // 2 V100 free, on site a
  ASSERT_TRUE(w.s->Admit(Job(10, 8, 50, 1)).ok());   // head: waits for both runners
  ASSERT_TRUE(w.s->Admit(Job(11, 2, 500, 2)).ok());  // fits now, ends after the reservation
  ASSERT_TRUE(w.s->Admit(Job(12, 4, 10, 3)).ok());   // no 4 free anywhere
  w.s->RunCycle(10, true, w.rng);
  EXPECT_NE(w.Reason(11).find("would delay the reserved start of job 10"), std::string::npos) << w.Reason(11);
  EXPECT_NE(w.Reason(12).find("no room now, queued behind job 10"), std::string::npos) << w.Reason(12);
  EXPECT_NE(w.Reason(10).find("in ~90 s"), std::string::npos) << w.Reason(10);
}

// The head's reservation gives it an estimated start (issue 11: `cnet ls` shows it); a job without
// one (later in the queue, runners overdue, its site down) has none, never a guess; a started job
// loses it. When the head can get no reservation, the next job may hold it (site b's runner ends at
// 100 and frees 4 V100 for job 11's 2).
TEST(BackfillReason, EstimatedStartOnlyFromAReservation) {
  struct EstCase {
    const char* name;
    Seconds at;
    bool site_a_down;
    Seconds head_start;   // -1: none
    Seconds later_start;  // job 11's
  };
  for (const EstCase& c : {EstCase{"runners end by estimate at 100", 10, false, 100, -1},
                           EstCase{"runners overdue", 150, false, -1, -1}, EstCase{"site down", 10, true, -1, 100}}) {
    SCOPED_TRACE(c.name);
    World w = TwoSites();
    const SiteId a = w.cl.node(NodeId(0)).site, b = w.cl.node(NodeId(2)).site;
    ASSERT_TRUE(w.s->Admit(Job(1, 4, 100, 0, {a})).ok());
    ASSERT_TRUE(w.s->Admit(Job(2, 4, 100, 0, {a})).ok());
    ASSERT_TRUE(w.s->Admit(Job(3, 4, 100, 0, {b})).ok());
    ASSERT_EQ(w.s->RunCycle(0, true, w.rng).applied.size(), 3u);
    ASSERT_TRUE(w.s->Admit(Job(10, 8, 50, 1)).ok());
    ASSERT_TRUE(w.s->Admit(Job(11, 2, 500, 2)).ok());
    if (c.site_a_down) w.s->SetNodeUsable(NodeId(0), false);
    w.s->RunCycle(c.at, true, w.rng);
    EXPECT_DOUBLE_EQ(w.s->Find(JobId(10))->estimated_start, c.head_start);
    EXPECT_DOUBLE_EQ(w.s->Find(JobId(11))->estimated_start, c.later_start) << w.Reason(11);
  }
  World w = TwoSites();
  const SiteId a = w.cl.node(NodeId(0)).site;
  ASSERT_TRUE(w.s->Admit(Job(1, 4, 100, 0, {a})).ok());
  ASSERT_TRUE(w.s->Admit(Job(2, 4, 100, 0, {a})).ok());
  ASSERT_EQ(w.s->RunCycle(0, true, w.rng).applied.size(), 2u);
  ASSERT_TRUE(w.s->Admit(Job(10, 8, 50, 1, {a})).ok());
  w.s->RunCycle(10, true, w.rng);
  EXPECT_DOUBLE_EQ(w.s->Find(JobId(10))->estimated_start, 100);
  EXPECT_EQ(w.s->Complete(JobId(1), 100).spec.id, JobId(1));
  EXPECT_EQ(w.s->Complete(JobId(2), 100).spec.id, JobId(2));
  w.s->RunCycle(100, true, w.rng);
  ASSERT_EQ(w.s->Find(JobId(10))->phase, JobPhase::kRunning);
  EXPECT_LT(w.s->Find(JobId(10))->estimated_start, 0);
}

}  // namespace
}  // namespace cnet
