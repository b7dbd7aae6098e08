// SlurmBackend's exit-file completion path, against a scripted stand-in for slurmrestd: a started
// run ends when its batch script writes <run_dir>/exit, before Slurm reports it; a run Kill asked
// to stop whose killed script wrote its code (143 for SIGTERM) is reported as a kill, also after
// the cancel was delivered (the cause of the contract's WithdrawFollowsCapabilities failing once
// one-worker jobs ran without an srun step).
#include "backends/slurm/slurm_backend.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "common/clock.h"

namespace cnet::backends::slurm {
namespace {

using json = nlohmann::json;

// Plays slurmrestd v0.0.38: one node, jobs as the test sets their state, cancels recorded (the
// job's state is left as it is: Slurm reports a killed job's end late).
class ScriptedSlurmrestd {
 public:
  ScriptedSlurmrestd() {
    const std::string api = "/slurm/v0.0.38";
    server_.Get(api + "/nodes", [](const httplib::Request&, httplib::Response& res) {
      json n = {{"name", "node1"}, {"cpus", 16}, {"gres", "gpu:h100:8"}, {"state", "idle"}, {"state_flags", json::array()},
                {"partitions", {"debug"}}, {"real_memory", 65536}, {"reason", ""}};
      res.set_content(json{{"errors", json::array()}, {"nodes", {n}}}.dump(), "application/json");
    });
    server_.Get(api + "/jobs", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      json jobs = json::array();
      for (const auto& [id, j] : jobs_) {
        jobs.push_back({{"job_id", id}, {"name", j.first}, {"job_state", j.second}, {"nodes", "node1"},
                        {"exit_code", 0}, {"cluster", "fake"}, {"state_reason", "None"}});
      }
      res.set_content(json{{"errors", json::array()}, {"jobs", jobs}}.dump(), "application/json");
    });
    server_.Post(api + "/job/submit", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      const int64_t id = static_cast<int64_t>(jobs_.size()) + 1;
      jobs_[id] = {json::parse(req.body)["job"].value("name", ""), "PENDING"};
      res.set_content(json{{"errors", json::array()}, {"job_id", id}}.dump(), "application/json");
    });
    server_.Delete(R"(/slurm/v0\.0\.38/job/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> l(mu_);
      cancelled_.push_back(std::stoll(req.matches[1]));
      res.set_content(json{{"errors", json::array()}}.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ScriptedSlurmrestd() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void SetState(int64_t id, const std::string& state) {
    std::lock_guard<std::mutex> l(mu_);
    jobs_[id].second = state;
  }
  bool Cancelled(int64_t id) {
    std::lock_guard<std::mutex> l(mu_);
    return std::find(cancelled_.begin(), cancelled_.end(), id) != cancelled_.end();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::map<int64_t, std::pair<std::string, std::string>> jobs_;  // id -> (name, state)
  std::vector<int64_t> cancelled_;
};

class SlurmExitFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/slurm-exit-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SlurmOptions& o = opts_;
    o.url = fake_.url();
    o.token = "t";
    o.gres_map = {{"gpu:h100", "H100-SXM"}};
    // Job reads are rare: an end seen within them comes from the exit file.
    o.poll_interval_s = 0.3;
    o.inventory_interval_s = 0.3;
    o.output_dir = dir_ + "/runs";
    o.timeout_s = 2;
    b_ = NewSlurmBackend("hpc", o, dir_);
  }
  void TearDown() override {
    b_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Launches job `id` (its Slurm id is `id` too: the fake numbers submits from 1) and has Slurm
  // start it.
  void LaunchAndStart(int64_t id) {
    LaunchRequest req;
    req.job_id = id;
    req.argv = {"sleep", "100"};
    req.nodes = {{"node1", 1}};
    auto r = b_->Launch(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    fake_.SetState(id, "RUNNING");
    ASSERT_EQ(Next(id).kind, SiteEvent::kStarted);
  }
  // As the batch script does: the code into exit.tmp, renamed to exit.
  void WriteExit(int64_t id, int code) {
    const std::string run = dir_ + "/runs/" + std::to_string(id) + "/1";
    std::ofstream(run + "/exit.tmp") << code << "\n";
    std::filesystem::rename(run + "/exit.tmp", run + "/exit");
  }
  // The next event of `id` (kNote events skipped; other jobs' kept for later); a default event
  // after 10 s.
  SiteEvent Next(int64_t id) {
    for (int i = 0; i < 200; ++i) {
      for (SiteEvent& e : b_->Poll(SystemClock().Now()))
        if (e.kind != SiteEvent::kNote) seen_.push_back(std::move(e));
      for (auto it = seen_.begin(); it != seen_.end(); ++it) {
        if (it->job_id != id) continue;
        SiteEvent e = std::move(*it);
        seen_.erase(it);
        return e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "no event for job " << id;
    return SiteEvent{};
  }
  std::vector<SiteEvent> seen_;
  SlurmOptions opts_;
  ScriptedSlurmrestd fake_;
  std::string dir_;
  std::unique_ptr<SiteBackend> b_;
};

TEST_F(SlurmExitFileTest, ExitFileEndsARunThatSlurmStillListsRunning) {
  ASSERT_NO_FATAL_FAILURE(LaunchAndStart(1));
  ASSERT_NO_FATAL_FAILURE(LaunchAndStart(2));
  WriteExit(1, 0);
  WriteExit(2, 3);
  SiteEvent e1 = Next(1), e2 = Next(2);
  EXPECT_EQ(e1.kind, SiteEvent::kEnded);
  EXPECT_TRUE(e1.success) << e1.reason;
  EXPECT_FALSE(e1.killed);
  EXPECT_EQ(e1.reason, "exit code 0");
  EXPECT_EQ(e2.kind, SiteEvent::kEnded);
  EXPECT_FALSE(e2.success);
  EXPECT_FALSE(e2.killed) << "nobody asked to kill it";
  EXPECT_EQ(e2.exit_code, 3);
  EXPECT_FALSE(fake_.Cancelled(1) || fake_.Cancelled(2));
}

// The sequence that made WithdrawFollowsCapabilities flaky: the cancel is delivered (which
// cleared the run's "cancel" flag), then the killed script writes 143 while Slurm still lists the
// job; the exit-file check took that for an ordinary failure.
TEST_F(SlurmExitFileTest, KilledScriptsExitFileIsReportedAsAKill) {
  ASSERT_NO_FATAL_FAILURE(LaunchAndStart(1));
  ASSERT_TRUE(b_->Kill(1, "cancelled by user").ok());
  for (int i = 0; i < 200 && !fake_.Cancelled(1); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fake_.Cancelled(1)) << "the cancel reached Slurm";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several exit-file checks and a job read
  WriteExit(1, 143);
  SiteEvent e = Next(1);
  EXPECT_EQ(e.kind, SiteEvent::kEnded);
  EXPECT_TRUE(e.killed) << e.reason;
  EXPECT_FALSE(e.success);
  EXPECT_EQ(e.reason, "cancelled by user (exit code 143)");
}

// Slurm restarted from state saved before a job's completion reached it: it lists the job RUNNING
// (holding its node) although its script has ended, and later requeues it (PENDING). A job Slurm
// lists active for lost_end_cancel_s after its exit file was read is cancelled there; one it lists
// ended is left alone, until it comes back active.
TEST_F(SlurmExitFileTest, EndedRunThatSlurmKeepsListingActiveIsCancelledThere) {
  b_.reset();
  opts_.lost_end_cancel_s = 0.5;
  b_ = NewSlurmBackend("hpc", opts_, dir_);
  ASSERT_NO_FATAL_FAILURE(LaunchAndStart(1));
  ASSERT_NO_FATAL_FAILURE(LaunchAndStart(2));
  WriteExit(1, 0);
  WriteExit(2, 0);
  fake_.SetState(2, "COMPLETED");
  EXPECT_EQ(Next(1).kind, SiteEvent::kEnded);
  EXPECT_EQ(Next(2).kind, SiteEvent::kEnded);
  for (int i = 0; i < 250 && !fake_.Cancelled(1); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(fake_.Cancelled(1)) << "Slurm still lists job 1 RUNNING after its end";
  EXPECT_FALSE(fake_.Cancelled(2)) << "Slurm listed job 2 ended: nothing to cancel";
  fake_.SetState(2, "PENDING");  // restarted from older state, then requeued
  for (int i = 0; i < 250 && !fake_.Cancelled(2); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(fake_.Cancelled(2)) << "Slurm lists the ended job 2 PENDING again";
}

// The same after an end Slurm itself reported (no exit file read): a controller killed before it
// saved that completion restarts with the job RUNNING again (seen in the loopback suite, where it
// then held node1 for a minute and was requeued). cnet forgot the run when it reported the end;
// it still cancels the resurrected one.
TEST_F(SlurmExitFileTest, EndSlurmReportedThenLostInARestartIsCancelledThere) {
  b_.reset();
  opts_.lost_end_cancel_s = 0.5;
  b_ = NewSlurmBackend("hpc", opts_, dir_);
  ASSERT_NO_FATAL_FAILURE(LaunchAndStart(1));
  fake_.SetState(1, "COMPLETED");
  EXPECT_EQ(Next(1).kind, SiteEvent::kEnded);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  EXPECT_FALSE(fake_.Cancelled(1)) << "Slurm listed job 1 ended: nothing to cancel";
  fake_.SetState(1, "RUNNING");  // restarted from state saved before the completion
  for (int i = 0; i < 250 && !fake_.Cancelled(1); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(fake_.Cancelled(1)) << "Slurm lists the ended job 1 RUNNING again";
}

// Kill that comes when the command has already succeeded: its end is a success, not a kill.
TEST_F(SlurmExitFileTest, SuccessBeforeTheKillStaysASuccess) {
  ASSERT_NO_FATAL_FAILURE(LaunchAndStart(1));
  WriteExit(1, 0);
  ASSERT_TRUE(b_->Kill(1, "cancelled by user").ok());
  SiteEvent e = Next(1);
  EXPECT_EQ(e.kind, SiteEvent::kEnded);
  EXPECT_TRUE(e.success) << e.reason;
  EXPECT_FALSE(e.killed);
}

}  // namespace
}  // namespace cnet::backends::slurm
