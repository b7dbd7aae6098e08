// The control loop on its own thread with launches on launcher threads (as in production): a
// site whose launch hangs on the network never holds readers, cancels or other sites (issue 8's
// bug 7: network I/O under the core lock). Also run under ThreadSanitizer in CI.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using store::JobState;

// A site whose Launch blocks until the test opens the gate (a slurmrestd that stopped answering).
class Gate {
 public:
  void Wait() {
    std::unique_lock l(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(l, [this] { return open_; });
  }
  void AwaitEntered() {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return entered_; });
  }
  void Open() {
    std::lock_guard l(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false, entered_ = false;
};

class GatedSite final : public backends::SiteBackend {
 public:
  GatedSite(std::string name, Gate& gate) : name_(std::move(name)), gate_(gate) {
    backends::FakeOptions o;
    o.nodes = {GpuNode("n1", "H100", 8)};
    o.caps = SlurmLike();
    fake_ = std::make_unique<backends::FakeBackend>(name_, o);
  }
  const std::string& name() const override { return name_; }
  std::string_view type() const override { return "gated"; }
  backends::Capabilities capabilities() const override { return fake_->capabilities(); }
  backends::SiteInventory Inventory() override { return fake_->Inventory(); }
  Result<backends::LaunchResult> Launch(const backends::LaunchRequest& r) override {
    gate_.Wait();
    return fake_->Launch(r);
  }
  std::vector<backends::SiteEvent> Poll(double now) override { return fake_->Poll(now); }
  Status Kill(int64_t id, const std::string& why) override { return fake_->Kill(id, why); }
  Result<backends::WithdrawOutcome> Withdraw(int64_t id, int a) override { return fake_->Withdraw(id, a); }
  Result<backends::AdoptOutcome> Adopt(int64_t id, int a, const std::string& h) override { return fake_->Adopt(id, a, h); }
  backends::Interrupted FindInterrupted(int64_t id, int a) override { return fake_->FindInterrupted(id, a); }
  std::string LogPath(int64_t id, int a, std::string_view s) const override { return fake_->LogPath(id, a, s); }

 private:
  std::string name_;
  Gate& gate_;
  std::unique_ptr<backends::FakeBackend> fake_;
};

TEST(ThreadedLoop, AHangingLaunchHoldsNoReaderCancelOrOtherSite) {
  Gate gate;
  backends::BackendRegistry reg;
  backends::FakeBackend* local = nullptr;
  ASSERT_TRUE(reg.Register("gated", [&gate](const std::string& n, const YAML::Node&, const backends::BackendEnv&)
                                        -> Result<std::unique_ptr<backends::SiteBackend>> {
                    return std::unique_ptr<backends::SiteBackend>(std::make_unique<GatedSite>(n, gate));
                  }).ok());
  ASSERT_TRUE(reg.Register("fake", [&local](const std::string& n, const YAML::Node&, const backends::BackendEnv&)
                                       -> Result<std::unique_ptr<backends::SiteBackend>> {
                    backends::FakeOptions o;
                    o.nodes = {GpuNode("g0", "V100", 1)};
                    o.caps = LocalLike();
                    auto f = std::make_unique<backends::FakeBackend>(n, o);
                    local = f.get();
                    return std::unique_ptr<backends::SiteBackend>(std::move(f));
                  }).ok());
  const auto dir = std::filesystem::temp_directory_path() / ("cnet-threaded-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  service::ServiceConfig cfg;
  cfg.data_dir = dir.string();
  cfg.cycle_interval_s = 0.01;
  cfg.policy = "fifo-hetero";
  for (const char* n : {"hpc", "local"}) {
    service::SiteConfig s;
    s.name = n;
    s.type = std::string(n) == "hpc" ? "gated" : "fake";
    s.block = YAML::Load("{}");
    cfg.sites.push_back(s);
  }
  cfg.tenants.push_back({"t", {}, 0, ""});
  service::ServiceDeps deps;
  deps.backends = &reg;
  auto svc = service::Service::Create(cfg, deps, DataPath("accelerators.yaml"), "");
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  (*svc)->Start();
  service::Caller t{"t", false}, admin{"", true};
  auto hpc_job = (*svc)->Submit(t, LoopHarness::Job(8, 1, {"H100"}), "");
  ASSERT_TRUE(hpc_job.ok());
  gate.AwaitEntered();  // its launch now hangs on a launcher thread
  // Readers, a cancel, and another site's dispatch all go through while it hangs.
  EXPECT_EQ((*svc)->Read()->sites.size(), 2u);
  auto usage = (*svc)->Usage(admin, "t");
  ASSERT_TRUE(usage.ok());
  auto v100 = (*svc)->Submit(t, LoopHarness::Job(1, 1, {"V100"}), "");
  auto waiting = (*svc)->Submit(t, LoopHarness::Job(1, 1, {"V100"}), "");
  ASSERT_TRUE(v100.ok() && waiting.ok());
  for (int i = 0; i < 500; ++i) {  // the loop thread dispatches it while the other launch hangs
    auto row = (*svc)->GetJob(admin, v100->job.id, false);
    if (row.ok() && row->row.state == JobState::kRunning) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*svc)->GetJob(admin, v100->job.id, false)->row.state, JobState::kRunning);
  auto c = (*svc)->Cancel(t, waiting->job.id);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->state, JobState::kCancelled);
  EXPECT_EQ((*svc)->GetJob(admin, hpc_job->job.id, false)->row.state, JobState::kScheduled);
  gate.Open();
  (*svc)->Stop();
  ASSERT_NE(local, nullptr);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cnet::testing
