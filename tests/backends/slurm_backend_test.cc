// SlurmBackend without a Slurm: an unreachable slurmrestd. Health names what failed, Kill never
// waits on the network, and a run that never started is withdrawn and reported killed.
#include "backends/slurm/slurm_backend.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "testing/loopback_slurm.h"

namespace cnet::backends::slurm {
namespace {

using Clock = std::chrono::steady_clock;

class SlurmBackendUnreachableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/slurm-backend-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SlurmOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(cnet::testing::PickPorts(39871));  // nothing listens
    o.token = "t";
    o.poll_interval_s = 0.1;
    o.inventory_interval_s = 0.1;
    o.timeout_s = 1;
    b_ = NewSlurmBackend("hpc", o, dir_);
  }
  void TearDown() override {
    b_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<SiteBackend> b_;
};

TEST_F(SlurmBackendUnreachableTest, UnhealthyReasonNamesSlurmrestd) {
  for (int i = 0; i < 100 && b_->Inventory().reason.find("not read yet") != std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  SiteInventory inv = b_->Inventory();
  EXPECT_FALSE(inv.healthy);
  EXPECT_EQ(inv.reason.rfind("slurmrestd: unreachable", 0), 0u) << inv.reason;
}

TEST_F(SlurmBackendUnreachableTest, KillOfAnUnconfirmedSubmitWithdrawsItWithoutWaiting) {
  LaunchRequest req;
  req.job_id = 7;
  req.argv = {"true"};
  req.nodes = {{"node1", 1}};
  auto r = b_->Launch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();  // perhaps submitted: tracked by name
  EXPECT_FALSE(r->started);
  EXPECT_NE(r->note.find("unconfirmed"), std::string::npos) << r->note;
  EXPECT_TRUE(r->unconfirmed) << "the service re-dispatches it after redispatch_unconfirmed_after_s";
  EXPECT_FALSE(b_->Inventory().healthy) << "suspect at once";
  auto again = b_->Launch([&] { LaunchRequest q = req; q.job_id = 8; return q; }());
  EXPECT_EQ(again.status().code(), Code::kUnavailable) << "fails fast right after an unanswered submit";
  auto t0 = Clock::now();
  ASSERT_TRUE(b_->Kill(7, "cancelled by user").ok());
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(100));
  SiteEvent ended;
  bool got = false;
  for (int i = 0; i < 200 && !got; ++i) {
    for (SiteEvent& e : b_->Poll(SystemClock().Now())) {
      if (e.job_id == 7 && e.kind == SiteEvent::kEnded) {
        ended = e;
        got = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(got);
  EXPECT_TRUE(ended.killed);
  EXPECT_NE(ended.reason.find("withdrawn before it started"), std::string::npos) << ended.reason;
  // The attempt is fenced: it never runs, and a restart may dispatch it again.
  EXPECT_EQ(b_->Kill(7, "again").code(), Code::kNotFound);
}

TEST_F(SlurmBackendUnreachableTest, FindInterruptedCannotTellYet) {
  EXPECT_EQ(b_->FindInterrupted(3, 1).kind, Interrupted::kUnknown);
}

TEST_F(SlurmBackendUnreachableTest, AdoptChecksTheHandleName) {
  EXPECT_EQ(b_->Adopt(3, 1, "not json").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b_->Adopt(3, 1, R"({"name":"cnet-4-1","attempt":1})").status().code(), Code::kInvalidArgument);
  auto ok = b_->Adopt(3, 1, R"({"name":"cnet-3-1","attempt":1,"slurm_job_id":17})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, AdoptOutcome::kAdopted);
}

}  // namespace
}  // namespace cnet::backends::slurm
