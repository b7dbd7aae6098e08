// The SiteBackend contract, one suite run against every backend. A new backend joins by adding
// one Harness (how to build it over a data directory, which node shapes to use) and one line to
// an INSTANTIATE_TEST_SUITE_P below. For the fake, the test scripts what happens (Start, End); for
// the local and Slurm backends real commands (sh -c) decide. The Slurm instantiation
// (SlurmContract*) needs the loopback Slurm and runs only in the serial ctest entry slurm_backend.
#include "backends/site_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <algorithm>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "backends/fake/fake_backend.h"
#include "backends/local/local_backend.h"
#include "backends/slurm/slurm_backend.h"
#include "common/clock.h"
#include "testing/loopback_slurm.h"

namespace cnet::backends {
namespace {

namespace fs = std::filesystem;

// How the suite drives one kind of backend.
class Harness {
 public:
  virtual ~Harness() = default;
  // Non-empty: the backend cannot run here (the reason is the skip message).
  virtual std::string Skip() { return ""; }
  // A new instance over `data_dir` (two instances over one dir = a restart).
  virtual std::unique_ptr<SiteBackend> Make(const std::string& data_dir) = 0;
  // Whether commands really run (logs, ranks and devices can be checked).
  virtual bool RunsCommands() const { return true; }
  // The fake's script: the run starts and ends with `code`. Others: nothing (the command decides).
  virtual void Finish(SiteBackend& b, int64_t job, int code) {}
  virtual void StartRun(SiteBackend& b, int64_t job) {}
  // A node for `workers` workers, with accelerators if the backend has them ("" if none).
  virtual std::string Node(bool accel) const = 0;
  virtual std::string Accelerator() const { return ""; }
  virtual double TimeoutS() const { return 20; }
};

class FakeHarness : public Harness {
 public:
  explicit FakeHarness(bool starts_at_launch) : starts_(starts_at_launch) {}
  std::unique_ptr<SiteBackend> Make(const std::string&) override {
    FakeOptions o;
    o.nodes = {{"n1", "H100-SXM", 8, 64, 512, true, ""}};
    o.caps.starts_at_launch = starts_;
    o.caps.can_withdraw = !starts_;
    return std::make_unique<FakeBackend>("fake", o);
  }
  bool RunsCommands() const override { return false; }
  void StartRun(SiteBackend& b, int64_t job) override { static_cast<FakeBackend&>(b).Start(job); }
  void Finish(SiteBackend& b, int64_t job, int code) override {
    StartRun(b, job);
    static_cast<FakeBackend&>(b).End(job, code);
  }
  std::string Node(bool) const override { return "n1"; }
  std::string Accelerator() const override { return "H100-SXM"; }

 private:
  bool starts_;
};

class LocalHarness : public Harness {
 public:
  std::unique_ptr<SiteBackend> Make(const std::string& dir) override {
    local::LocalOptions o;
    o.data_dir = dir;
    o.accelerator = "H100-SXM";
    o.accelerators = 4;
    o.cpus = 4;
    o.memory_gib = 8;
    // Real cgroups where the host has them, in a subtree of this test process's own.
    o.cgroup_parent = "cnet-contract-" + std::to_string(::getpid());
    return std::make_unique<local::LocalBackend>("local", o, local::LocalInventory{}, local::DetectCgroups());
  }
  std::string Node(bool accel) const override { return accel ? "gpu" : "cpu"; }
  std::string Accelerator() const override { return "H100-SXM"; }
};

class SlurmHarness : public Harness {
 public:
  static cnet::testing::LoopbackSlurm& Site() {
    static cnet::testing::LoopbackSlurm site;
    return site;
  }
  std::string Skip() override {
    if (!Site().started && Site().skip.empty() && Site().error.empty()) Site().Start("cnet-slurm-contract.");
    return Site().skip;
  }
  std::unique_ptr<SiteBackend> Make(const std::string& dir) override {
    slurm::SlurmOptions o;
    o.url = "http://127.0.0.1:" + Site().rest_port;
    o.jwt_key_file = Site().base + "/state/jwt_hs256.key";
    o.gres_map = {{"gpu:h100", "H100-SXM"}};
    o.poll_interval_s = 0.2;
    o.inventory_interval_s = 0.5;
    o.timeout_s = 5;
    ::chmod(dir.c_str(), 0755);
    return slurm::NewSlurmBackend("slurm", o, dir);
  }
  std::string Node(bool) const override { return "node1"; }
  std::string Accelerator() const override { return "H100-SXM"; }
  double TimeoutS() const override { return 40; }
};

struct BackendCase {
  std::string name;
  std::function<std::unique_ptr<Harness>()> make;
};
void PrintTo(const BackendCase& c, std::ostream* os) { *os << c.name; }

SiteEvent NoEvent() {
  SiteEvent e;
  e.kind = SiteEvent::kNote;
  return e;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class BackendContractTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    h_ = GetParam().make();
    std::string skip = h_->Skip();
    if (!skip.empty()) GTEST_SKIP() << skip;
    if (auto* s = dynamic_cast<SlurmHarness*>(h_.get())) {
      ASSERT_TRUE(s->Site().error.empty()) << s->Site().error;
    }
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '_');
    // Under /tmp, not TempDir(): Slurm's nodes (other users) must reach the run directories.
    dir_ = "/tmp/cnet-contract-" + test;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    b_ = h_->Make(dir_);
    WaitHealthy(*b_);
  }
  void TearDown() override {
    b_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
    if (!dir_.empty()) fs::remove_all(dir_ + "-runs");  // the local site's job run dirs
    // The local harness's cgroup subtree, empty once its runs have ended (rmdir fails otherwise).
    const std::string parent = "cnet-contract-" + std::to_string(::getpid());
    for (const char* h : {"", "memory/", "cpu/", "pids/", "freezer/"}) ::rmdir(("/sys/fs/cgroup/" + std::string(h) + parent).c_str());
  }
  static void TearDownTestSuite() { SlurmHarness::Site().Stop(); }

  void WaitHealthy(SiteBackend& b) {
    auto t0 = std::chrono::steady_clock::now();
    while (!b.Inventory().healthy && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(b.Inventory().healthy) << b.Inventory().reason;
  }

  LaunchRequest Req(int64_t job, const std::string& cmd, std::vector<NodeShare> nodes, bool accel = false) {
    LaunchRequest r;
    r.job_id = job;
    r.attempt = 1;
    r.tenant = "t";
    r.unix_user = "cnet-contract";  // the local site creates it when it runs as root
    r.name = "contract";
    r.argv = {"sh", "-c", cmd};
    r.nodes = std::move(nodes);
    r.memory_gib_per_worker = 0.25;
    if (accel) {
      r.accelerator = h_->Accelerator();
      r.accelerators_per_worker = 1;
      r.device_env = "CUDA_VISIBLE_DEVICES";
    }
    r.time_limit_s = 300;
    return r;
  }

  // Polls until `job` ends; collects its events (kStarted, notes) on the way.
  SiteEvent WaitEnded(SiteBackend& b, int64_t job, std::vector<SiteEvent>* seen = nullptr) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(h_->TimeoutS())) {
      for (SiteEvent& e : b.Poll(SystemClock().Now())) {
        if (e.job_id != job) continue;
        if (seen) seen->push_back(e);
        if (e.kind == SiteEvent::kEnded) return e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << job << " did not end within " << h_->TimeoutS() << " s";
    return NoEvent();
  }

  // Polls until `job` has started (at once for starts_at_launch backends).
  void WaitStarted(SiteBackend& b, int64_t job, bool launched_started) {
    if (launched_started) return;
    h_->StartRun(b, job);
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(h_->TimeoutS())) {
      for (SiteEvent& e : b.Poll(SystemClock().Now())) {
        if (e.job_id == job && e.kind == SiteEvent::kStarted) return;
        ASSERT_NE(e.kind, SiteEvent::kEnded) << "job " << job << " ended before it started: " << e.reason;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << job << " did not start";
  }

  std::unique_ptr<Harness> h_;
  std::unique_ptr<SiteBackend> b_;
  std::string dir_;
};

TEST_P(BackendContractTest, OneWorkerRunsAndSucceeds) {
  auto r = b_->Launch(Req(1, "echo hello-$CNET_WORKER_INDEX", {{h_->Node(false), 1}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->handle.empty());
  EXPECT_EQ(r->started, b_->capabilities().starts_at_launch);
  h_->Finish(*b_, 1, 0);
  std::vector<SiteEvent> seen;
  SiteEvent e = WaitEnded(*b_, 1, &seen);
  EXPECT_EQ(e.kind, SiteEvent::kEnded);
  EXPECT_TRUE(e.success) << e.reason;
  EXPECT_EQ(e.exit_code, 0);
  EXPECT_FALSE(e.killed);
  if (!b_->capabilities().starts_at_launch) {
    bool started = false;
    for (const SiteEvent& s : seen) started |= s.kind == SiteEvent::kStarted;
    EXPECT_TRUE(started) << "a submitted run reports kStarted before kEnded";
  }
  if (h_->RunsCommands()) {
    EXPECT_NE(ReadFile(b_->LogPath(1, 1, "stdout")).find("hello-0"), std::string::npos);
  }
}

TEST_P(BackendContractTest, FailingCommandReportsItsExitCode) {
  auto r = b_->Launch(Req(2, "echo oops >&2; exit 3", {{h_->Node(false), 1}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  h_->Finish(*b_, 2, 3);
  SiteEvent e = WaitEnded(*b_, 2);
  EXPECT_FALSE(e.success);
  EXPECT_EQ(e.exit_code, 3) << e.reason;
  EXPECT_FALSE(e.killed);
  if (h_->RunsCommands()) {
    EXPECT_NE(ReadFile(b_->LogPath(2, 1, "stderr")).find("oops"), std::string::npos);
  }
}

TEST_P(BackendContractTest, KillEndsTheRunAsKilled) {
  auto r = b_->Launch(Req(3, "sleep 120", {{h_->Node(false), 1}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WaitStarted(*b_, 3, r->started);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(b_->Kill(3, "cancelled by test").ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500)) << "Kill must not wait";
  SiteEvent e = WaitEnded(*b_, 3);
  EXPECT_TRUE(e.killed) << e.reason;
  EXPECT_FALSE(e.success);
  EXPECT_EQ(b_->Kill(3, "again").code(), Code::kNotFound);
  EXPECT_EQ(b_->Kill(12345, "unknown").code(), Code::kNotFound);
}

// Both workers' lines "r=<rank> w=<world> d=<devices>" from the run's stdout.
std::vector<std::smatch> WorkerLines(const std::string& log, std::vector<std::string>* store) {
  std::regex line("r=([0-9]+) w=([0-9]+) d=([0-9,]*) n=([a-z0-9]*)");
  std::vector<std::smatch> out;
  store->push_back(log);
  const std::string& s = store->back();
  for (auto it = std::sregex_iterator(s.begin(), s.end(), line); it != std::sregex_iterator(); ++it) out.push_back(*it);
  return out;
}

TEST_P(BackendContractTest, TwoWorkersOnOneNodeSeeRanksAndDisjointDevices) {
  LaunchRequest req = Req(4, "echo \"r=$CNET_WORKER_INDEX w=$CNET_WORLD_SIZE d=$CUDA_VISIBLE_DEVICES n=$SLURMD_NODENAME\"",
                          {{h_->Node(true), 2}}, true);
  auto r = b_->Launch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  h_->Finish(*b_, 4, 0);
  SiteEvent e = WaitEnded(*b_, 4);
  EXPECT_TRUE(e.success) << e.reason;
  if (!h_->RunsCommands()) {
    auto& fake = static_cast<FakeBackend&>(*b_);
    ASSERT_FALSE(fake.launches().empty());
    EXPECT_EQ(fake.launches().back().nodes, req.nodes);
    return;
  }
  std::vector<std::string> store;
  auto lines = WorkerLines(ReadFile(b_->LogPath(4, 1, "stdout")), &store);
  ASSERT_EQ(lines.size(), 2u) << store.back();
  std::set<std::string> ranks, devices;
  for (const auto& m : lines) {
    ranks.insert(m[1]);
    EXPECT_EQ(m[2], "2");
    EXPECT_FALSE(m[3].str().empty()) << "each worker sees its device";
    devices.insert(m[3]);
  }
  EXPECT_EQ(ranks, (std::set<std::string>{"0", "1"}));
  EXPECT_EQ(devices.size(), 2u) << "disjoint devices";
  if (!r->devices.empty()) {
    EXPECT_EQ(r->devices.size(), 2u);
  }
}

TEST_P(BackendContractTest, WithdrawFollowsCapabilities) {
  const Capabilities caps = b_->capabilities();
  auto never = b_->Withdraw(77, 1);
  ASSERT_TRUE(never.ok()) << never.status().ToString();
  EXPECT_EQ(*never, caps.can_withdraw ? WithdrawOutcome::kWithdrawn : WithdrawOutcome::kMayRun);
  if (caps.can_withdraw) {
    // A withdrawn attempt never starts: FindInterrupted agrees, and launching it does not run it.
    EXPECT_EQ(b_->FindInterrupted(77, 1).kind, Interrupted::kNeverStarted);
  }
  auto r = b_->Launch(Req(5, "sleep 120", {{h_->Node(false), 1}}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  WaitStarted(*b_, 5, r->started);
  auto started = b_->Withdraw(5, 1);
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(*started, WithdrawOutcome::kMayRun) << "a started run cannot be withdrawn";
  ASSERT_TRUE(b_->Kill(5, "done").ok());
  EXPECT_TRUE(WaitEnded(*b_, 5).killed);
}

TEST_P(BackendContractTest, NewInstanceAdoptsARunningJobAndReportsItsEnd) {
  const bool accel = !h_->Accelerator().empty();
  auto r = b_->Launch(Req(6, "sleep 3; exit 5", {{h_->Node(accel), 1}}, accel));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string handle = r->handle;
  if (!r->started) {  // the handle may change at kStarted
    h_->StartRun(*b_, 6);
    auto t0 = std::chrono::steady_clock::now();
    bool started = false;
    while (!started && std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(h_->TimeoutS())) {
      for (const SiteEvent& e : b_->Poll(SystemClock().Now())) {
        if (e.job_id == 6 && e.kind == SiteEvent::kStarted) {
          started = true;
          if (!e.handle.empty()) handle = e.handle;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(started);
  }
  b_.reset();  // the service stops; the run goes on
  b_ = h_->Make(dir_);
  WaitHealthy(*b_);
  auto a = b_->Adopt(6, 1, handle);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, AdoptOutcome::kAdopted);
  if (auto* l = dynamic_cast<local::LocalBackend*>(b_.get()); l && accel) {
    EXPECT_EQ(l->BusyDevices("gpu").size(), 1u) << "adoption re-takes the run's devices";
  }
  h_->Finish(*b_, 6, 5);
  SiteEvent e = WaitEnded(*b_, 6);
  EXPECT_FALSE(e.success);
  EXPECT_EQ(e.exit_code, 5) << e.reason;
  if (auto* l = dynamic_cast<local::LocalBackend*>(b_.get()); l && accel) {
    EXPECT_TRUE(l->BusyDevices("gpu").empty());
  }
}

TEST_P(BackendContractTest, FindInterruptedForANeverLaunchedAttemptSaysNeverStarted) {
  Interrupted i = b_->FindInterrupted(99, 1);
  EXPECT_EQ(i.kind, Interrupted::kNeverStarted);
}

TEST_P(BackendContractTest, InventoryAndCapabilitiesAreConsistent) {
  SiteInventory inv = b_->Inventory();
  EXPECT_TRUE(inv.healthy);
  std::set<std::string> names;
  for (const SiteNode& n : inv.nodes) names.insert(n.name);
  EXPECT_TRUE(names.count(h_->Node(false))) << "the node the suite uses is in the inventory";
  EXPECT_GE(b_->capabilities().launch_concurrency, 1);
}

// Slurm only: a 2-node gang with an uneven shape runs exactly 2 + 1 tasks, ranks node by node,
// each node its own task count, disjoint devices per worker.
class SlurmContractGangTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { SlurmHarness::Site().Stop(); }
};

TEST_F(SlurmContractGangTest, TwoPlusOneRunsExactlyThreeTasksOnTwoNodes) {
  SlurmHarness h;
  std::string skip = h.Skip();
  if (!skip.empty()) GTEST_SKIP() << skip;
  ASSERT_TRUE(h.Site().error.empty()) << h.Site().error;
  const std::string dir = "/tmp/cnet-contract-slurm-gang";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto b = h.Make(dir);
  LaunchRequest req;
  req.job_id = 21;
  req.argv = {"sh", "-c", "echo \"r=$CNET_WORKER_INDEX w=$CNET_WORLD_SIZE d=$CUDA_VISIBLE_DEVICES n=$SLURMD_NODENAME t=$SLURM_NTASKS\""};
  req.nodes = {{"node1", 2}, {"node2", 1}};
  req.accelerator = "H100-SXM";
  req.accelerators_per_worker = 1;
  req.device_env = "CUDA_VISIBLE_DEVICES";
  req.memory_gib_per_worker = 0.25;
  auto r = b->Launch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string nodes;
  SiteEvent end = NoEvent();
  auto t0 = std::chrono::steady_clock::now();
  while (end.kind != SiteEvent::kEnded && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(40)) {
    for (SiteEvent& e : b->Poll(SystemClock().Now())) {
      if (e.kind == SiteEvent::kStarted) nodes = e.fields["nodes"];
      if (e.kind == SiteEvent::kEnded) end = e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(end.kind, SiteEvent::kEnded);
  EXPECT_TRUE(end.success) << end.reason;
  std::string log = ReadFile(b->LogPath(21, 1, "stdout"));
  std::regex line("r=([0-9]+) w=([0-9]+) d=([0-9,]*) n=([a-z0-9]+) t=([0-9]+)");
  std::map<std::string, std::vector<std::string>> ranks_by_node;  // node -> ranks
  std::map<std::string, std::string> tasks_by_node;
  std::set<std::string> devices_node_of_rank0;
  int count = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it, ++count) {
    const auto& m = *it;
    EXPECT_EQ(m[2], "3") << "world size is the gang's total";
    ranks_by_node[m[4]].push_back(m[1]);
    tasks_by_node[m[4]] = m[5];
  }
  ASSERT_EQ(count, 3) << "exactly 3 tasks:\n" << log;
  ASSERT_EQ(ranks_by_node.size(), 2u) << log;
  for (auto& [node, ranks] : ranks_by_node) {
    std::sort(ranks.begin(), ranks.end());
    if (ranks.size() == 2) {
      EXPECT_EQ(ranks, (std::vector<std::string>{"0", "1"})) << "ranks node by node";
      EXPECT_EQ(tasks_by_node[node], "2");
    } else {
      EXPECT_EQ(ranks, (std::vector<std::string>{"2"}));
      EXPECT_EQ(tasks_by_node[node], "1");
    }
    EXPECT_NE(nodes.find(node), std::string::npos) << node << " is one of the job's nodes " << nodes;
  }
  std::regex rank_dev("r=([01]) w=3 d=([0-9,]+)");
  std::set<std::string> devs;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), rank_dev); it != std::sregex_iterator(); ++it) devs.insert((*it)[2]);
  EXPECT_EQ(devs.size(), 2u) << "the two workers of the first node see disjoint devices:\n" << log;
  b.reset();
  fs::remove_all(dir);
}

std::string CaseName(const ::testing::TestParamInfo<BackendCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Contract, BackendContractTest,
                         ::testing::Values(BackendCase{"fake_local_like", [] { return std::make_unique<FakeHarness>(true); }},
                                           BackendCase{"fake_slurm_like", [] { return std::make_unique<FakeHarness>(false); }},
                                           BackendCase{"local", [] { return std::make_unique<LocalHarness>(); }}),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(SlurmContract, BackendContractTest,
                         ::testing::Values(BackendCase{"slurm", [] { return std::make_unique<SlurmHarness>(); }}),
                         CaseName);

}  // namespace
}  // namespace cnet::backends
