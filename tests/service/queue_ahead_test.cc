// Issue 16 item 6: a bounded queue of work ahead of free capacity (service/queue_ahead.h), on fake
// Slurm-like sites with a manual clock. Each promise of docs/formats.md (`queue_ahead`) is a test:
// depth and policy order, pinned nodes and booking where the site runs a job, freed capacity kept
// for the queued job, residency, quotas, re-dispatch when the site dies, cancel.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "service/dispatcher.h"
#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using store::JobState;

api::JobRequest OneGpu(std::vector<std::string> sites = {}, double seconds = 60, int accel = 1) {
  api::JobRequest r = LoopHarness::Job(1, accel, {"H100"});
  r.sites = std::move(sites);
  r.estimated_duration_s = seconds;
  return r;
}

std::vector<int64_t> Launched(backends::FakeBackend& f) {
  std::vector<int64_t> ids;
  for (const auto& l : f.launches()) ids.push_back(l.job_id);
  return ids;
}

int FreeOn(LoopHarness& h, const std::string& site, const std::string& node) {
  for (const auto& s : h.svc().loop().Read()->sites)
    if (s.name == site)
      for (const auto& n : s.nodes)
        if (n.name == node) return n.free;
  ADD_FAILURE() << "no node " << site << "/" << node;
  return -1;
}

int64_t Must(Result<int64_t> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : -1;
}

// Two jobs fill the node; the next two (queue_ahead: 2) are submitted at once, in queue order,
// pinned to the node; the fifth waits. When the site starts one, the model books it there.
TEST(QueueAhead, DispatchesUpToTheDepthInQueueOrderPinnedToTheNodes) {
  LoopHarness h;
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 2)}, SlurmLike());
  h.config().sites[0].queue_ahead = 2;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  std::vector<int64_t> j;
  for (int i = 0; i < 5; ++i) j.push_back(Must(h.Submit("t", OneGpu())));
  h.Tick(3);
  ASSERT_EQ(Launched(hpc), (std::vector<int64_t>{j[0], j[1], j[2], j[3]}));
  EXPECT_EQ(h.State(j[2]), JobState::kScheduled);
  EXPECT_EQ(h.State(j[4]), JobState::kPending);
  EXPECT_EQ(hpc.launches()[2].nodes, (std::vector<backends::NodeShare>{{"n1", 1}}));
  EXPECT_EQ(FreeOn(h, "hpc", "n1"), 0) << "a queued-ahead job holds nothing until its node frees";
  hpc.Start(j[0]);
  hpc.Start(j[1]);
  h.Tick(2);
  // The site starts the queued job the moment the first one ends, in the same poll.
  hpc.End(j[0], 0);
  hpc.Start(j[2]);
  h.Tick(2);
  EXPECT_EQ(h.State(j[2]), JobState::kRunning);
  EXPECT_EQ(FreeOn(h, "hpc", "n1"), 0) << "booked on the node the site runs it on";
  EXPECT_EQ(Launched(hpc).back(), j[4]) << "its place in the queue ahead went to the next job";
  // A node that frees before the site has said so: the model books the waiting job there at once.
  hpc.End(j[1], 0);
  h.Tick(2);
  EXPECT_EQ(h.State(j[3]), JobState::kScheduled);
  EXPECT_EQ(FreeOn(h, "hpc", "n1"), 0);
  auto usage = h.Usage("t");
  EXPECT_EQ(usage.charged_all, 3) << "two booked, one queued ahead";
}

backends::Capabilities ChoosesNode() {
  backends::Capabilities c = SlurmLike();
  c.chooses_node = true;
  return c;
}

// Site "hpc" of two nodes of `gpus` H100 each that picks nodes itself, queue_ahead 1, tenant t;
// the service started.
backends::FakeBackend& StartChoosingSite(LoopHarness& h, int gpus) {
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", gpus), GpuNode("n2", "H100", gpus)}, ChoosesNode());
  h.config().sites[0].queue_ahead = 1;
  h.AddTenant("t");
  Status st = h.Start();
  EXPECT_TRUE(st.ok()) << st.ToString();
  return hpc;
}

std::string NodeOfRow(LoopHarness& h, int64_t id) {
  auto shape = service::ShapeFromPlacementJson(h.Row(id).placement_json, 1);
  return shape.ok() && shape->size() == 1 ? shape->front().node : "?";
}

// Where the site picks the node itself (Slurm), a one-node job queued ahead may run on any node
// that could hold it: the site starts it on whichever frees first, and the model books it there,
// not where the policy previewed it. Until then the freed room is held for it.
TEST(QueueAhead, TheSitePlacesAOneNodeJobAndTheModelBooksItWhereItStarted) {
  LoopHarness h;
  auto& hpc = StartChoosingSite(h, 2);
  std::vector<int64_t> j;
  for (int i = 0; i < 6; ++i) j.push_back(Must(h.Submit("t", OneGpu())));
  h.Tick(3);
  ASSERT_EQ(Launched(hpc), (std::vector<int64_t>{j[0], j[1], j[2], j[3], j[4]}));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(hpc.launches()[i].any_of.empty()) << "dispatched on free capacity: pinned";
  EXPECT_EQ(hpc.launches()[4].any_of, (std::vector<std::string>{"n1", "n2"}));
  auto v = h.svc().GetJob(service::Caller{"", true}, j[4], true);
  ASSERT_TRUE(v.ok());
  bool said = false;
  for (const auto& e : v->events) said |= e.reason.find("queued ahead on hpc (starts on the first of 2 nodes to free)") == 0;
  EXPECT_TRUE(said) << "its history says the site picks among 2 nodes";
  for (int i = 0; i < 4; ++i) hpc.Start(j[i]);
  h.Tick(2);
  // Find a job on the node the policy did not preview the queued one on, and end it there.
  const std::string previewed = hpc.launches()[4].nodes.front().node;
  const std::string other = previewed == "n1" ? "n2" : "n1";
  int64_t on_other = -1;
  for (int i = 0; i < 4; ++i)
    if (hpc.launches()[i].nodes.front().node == other) on_other = j[i];
  ASSERT_GE(on_other, 0);
  hpc.End(on_other, 0);
  h.Tick(3);
  EXPECT_EQ(FreeOn(h, "hpc", other), 1) << "the model has seen the end";
  EXPECT_EQ(h.State(j[5]), JobState::kPending) << "the freed GPU is the queued job's: held for it";
  EXPECT_EQ(hpc.launches().size(), 5u);
  hpc.Start(j[4], other);
  h.Tick(2);
  EXPECT_EQ(h.State(j[4]), JobState::kRunning);
  EXPECT_EQ(FreeOn(h, "hpc", other), 0) << "booked where the site started it";
  EXPECT_EQ(FreeOn(h, "hpc", previewed), 0);
  EXPECT_EQ(NodeOfRow(h, j[4]), other) << "the row names the node it runs on";
  EXPECT_EQ(h.Row(j[4]).placement_json.find("any_of"), std::string::npos);
  ASSERT_EQ(Launched(hpc).back(), j[5]) << "its place in the queue went to the next job";
  EXPECT_EQ(h.Usage("t").charged_all, 5);
}

// A site-placed job still waiting at a restart is taken back as such: not booked anywhere until
// the site starts it, then booked there.
TEST(QueueAhead, ASitePlacedJobIsBookedWhereItStartsAfterARestart) {
  LoopHarness h;
  auto& hpc = StartChoosingSite(h, 1);
  const int64_t a = Must(h.Submit("t", OneGpu()));
  const int64_t b = Must(h.Submit("t", OneGpu()));
  const int64_t q = Must(h.Submit("t", OneGpu()));
  h.Tick(3);
  ASSERT_EQ(Launched(hpc), (std::vector<int64_t>{a, b, q}));
  hpc.Start(a);
  hpc.Start(b);
  h.Tick(2);
  ASSERT_TRUE(h.Start().ok());
  h.Tick(2);
  EXPECT_EQ(h.State(q), JobState::kScheduled);
  EXPECT_EQ(FreeOn(h, "hpc", "n1") + FreeOn(h, "hpc", "n2"), 0);
  const std::string where = hpc.launches()[0].nodes.front().node;  // a's node
  hpc.End(a, 0);
  hpc.Start(q, where);
  h.Tick(3);
  EXPECT_EQ(h.State(q), JobState::kRunning);
  EXPECT_EQ(NodeOfRow(h, q), where);
  EXPECT_EQ(FreeOn(h, "hpc", "n1") + FreeOn(h, "hpc", "n2"), 0) << "q booked on a's node, b on its own";
}

// Off by default: nothing is dispatched before capacity frees.
TEST(QueueAhead, OffByDefault) {
  LoopHarness h;
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 2)}, SlurmLike());
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  for (int i = 0; i < 4; ++i) Must(h.Submit("t", OneGpu()));
  h.Tick(3);
  EXPECT_EQ(hpc.launches().size(), 2u);
}

// Not for a site that starts at launch (it cannot queue) nor one that cannot withdraw.
TEST(QueueAhead, OnlyWhereTheBackendSubmitsAndCanWithdraw) {
  LoopHarness h;
  auto& local = h.AddSite("local", {GpuNode("n1", "H100", 2)}, LocalLike());
  h.config().sites[0].queue_ahead = 4;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  for (int i = 0; i < 4; ++i) Must(h.Submit("t", OneGpu()));
  h.Tick(3);
  EXPECT_EQ(local.launches().size(), 2u);
}

// Backfill would start a short later job on a GPU the 2-GPU queued job waits for; the site gives
// that GPU to the queued job, so the model must not offer it to anyone else.
TEST(QueueAhead, FreedCapacityUnderAQueuedJobGoesToNoOtherJob) {
  LoopHarness h;
  h.config().policy = "backfill";
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 2)}, SlurmLike());
  h.config().sites[0].queue_ahead = 1;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  const int64_t a = Must(h.Submit("t", OneGpu({}, 100)));
  const int64_t b = Must(h.Submit("t", OneGpu({}, 100)));
  h.Tick(2);
  const int64_t q = Must(h.Submit("t", OneGpu({}, 100, 2)));
  h.Tick(2);
  ASSERT_EQ(Launched(hpc), (std::vector<int64_t>{a, b, q}));
  const int64_t p = Must(h.Submit("t", OneGpu({}, 10)));
  hpc.Start(a);
  hpc.Start(b);
  h.Tick(2);
  hpc.End(a, 0);
  h.Tick(3);
  EXPECT_EQ(h.State(p), JobState::kPending) << "the freed GPU is the queued job's";
  EXPECT_EQ(Launched(hpc), (std::vector<int64_t>{a, b, q}));
  hpc.End(b, 0);
  h.Tick(2);
  EXPECT_EQ(FreeOn(h, "hpc", "n1"), 0) << "the queued job is booked on both GPUs";
  hpc.Start(q);
  h.Tick(2);
  EXPECT_EQ(h.State(q), JobState::kRunning);
}

// Residency: a job that may not use the site is never queued there, however long it waits
// (backfill: the unrestricted job behind it may go ahead to hpc).
TEST(QueueAhead, OnlyJobsThatMayUseTheSite) {
  LoopHarness h;
  h.config().policy = "backfill";
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 1)}, SlurmLike());
  auto& west = h.AddSite("west", {GpuNode("w1", "H100", 1)}, SlurmLike());
  h.config().sites[0].queue_ahead = 3;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  Must(h.Submit("t", OneGpu({"hpc"})));
  const int64_t w = Must(h.Submit("t", OneGpu({"west"})));
  const int64_t w2 = Must(h.Submit("t", OneGpu({"west"})));
  const int64_t any = Must(h.Submit("t", OneGpu()));
  h.Tick(3);
  EXPECT_EQ(Launched(west), (std::vector<int64_t>{w}));
  EXPECT_EQ(h.State(w2), JobState::kPending) << "west has no queue ahead; hpc is not its site";
  ASSERT_EQ(hpc.launches().size(), 2u);
  EXPECT_EQ(hpc.launches()[1].job_id, any);
}

// Order: under strict FIFO nobody overtakes the head, queued ahead or not.
TEST(QueueAhead, StrictFifoQueuesNothingPastAHeadThatCannotGoThere) {
  LoopHarness h;
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 1)}, SlurmLike());
  h.AddSite("west", {GpuNode("w1", "H100", 1)}, SlurmLike());
  h.config().sites[0].queue_ahead = 3;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  Must(h.Submit("t", OneGpu({"hpc"})));
  Must(h.Submit("t", OneGpu({"west"})));
  Must(h.Submit("t", OneGpu({"west"})));
  const int64_t any = Must(h.Submit("t", OneGpu()));
  h.Tick(3);
  EXPECT_EQ(hpc.launches().size(), 1u);
  EXPECT_EQ(h.State(any), JobState::kPending);
}

// Quotas count queued-ahead jobs: at the tenant's limit nothing more is queued.
TEST(QueueAhead, QuotasCountQueuedJobs) {
  LoopHarness h;
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 2)}, SlurmLike());
  h.config().sites[0].queue_ahead = 4;
  h.AddTenant("t", {{"*", 3}});
  ASSERT_TRUE(h.Start().ok());
  for (int i = 0; i < 5; ++i) Must(h.Submit("t", OneGpu()));
  h.Tick(4);
  EXPECT_EQ(hpc.launches().size(), 3u);
  EXPECT_EQ(h.Usage("t").charged_all, 3);
}

// The site dies: a queued-ahead attempt that never started is withdrawn and dispatched again
// elsewhere after redispatch_after_s, as any submitted attempt.
TEST(QueueAhead, QueuedAttemptIsRedispatchedWhenItsSiteDies) {
  LoopHarness h;
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 1)}, SlurmLike(), 5);
  auto& local = h.AddSite("local", {GpuNode("g1", "H100", 1)});
  h.config().sites[0].queue_ahead = 1;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  const int64_t blocker = Must(h.Submit("t", OneGpu({"local"})));
  h.Tick(2);
  const int64_t first = Must(h.Submit("t", OneGpu({"hpc", "local"})));
  h.Tick(2);
  const int64_t queued = Must(h.Submit("t", OneGpu({"hpc", "local"})));
  h.Tick(2);
  ASSERT_EQ(Launched(hpc), (std::vector<int64_t>{first, queued}));
  hpc.Start(first);
  h.Tick(2);
  hpc.SetReachable(false, "slurmctld: connection refused");
  local.End(blocker, 0);
  h.Tick(80);  // 8 s
  EXPECT_EQ(Launched(local).back(), queued);
  EXPECT_EQ(h.Row(queued).site, "local");
  EXPECT_EQ(h.Row(queued).attempts, 2);
}

// Cancel: the queued run is killed on the site, the job ends CANCELLED, its place is freed.
TEST(QueueAhead, CancelStopsAQueuedJob) {
  LoopHarness h;
  auto& hpc = h.AddSite("hpc", {GpuNode("n1", "H100", 1)}, SlurmLike());
  h.config().sites[0].queue_ahead = 1;
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  Must(h.Submit("t", OneGpu()));
  const int64_t queued = Must(h.Submit("t", OneGpu()));
  const int64_t next = Must(h.Submit("t", OneGpu()));
  h.Tick(3);
  ASSERT_EQ(h.State(queued), JobState::kScheduled);
  auto f = h.svc().loop().Cancel({queued}, "t");
  h.Tick();
  auto c = f.get().front();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  h.Tick(3);
  EXPECT_EQ(h.State(queued), JobState::kCancelled);
  EXPECT_EQ(hpc.kills(), (std::vector<int64_t>{queued}));
  EXPECT_EQ(Launched(hpc).back(), next);
  EXPECT_EQ(h.Usage("t").charged_all, 2);
}

TEST(QueueAhead, ConfigKeyIsCheckedPerSite) {
  const std::string path = ::testing::TempDir() + "/queue-ahead-" + std::to_string(getpid()) + ".yaml";
  auto load = [&](const std::string& v) {
    std::ofstream(path) << "sites:\n  - name: hpc\n    type: fake\n    queue_ahead: " << v << "\n";
    return service::LoadConfig(path);
  };
  auto ok = load("16");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->sites[0].queue_ahead, 16);
  auto bad = load("-1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":4"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("queue_ahead"), std::string::npos) << bad.status().message();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace cnet::testing
