// LocalBackend: device ids per worker from its ledger, released at the end, shape checks.
#include "backends/local/local_backend.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "common/csv.h"

namespace cnet::backends::local {
namespace {

class LocalBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/local-backend-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    LocalOptions o;
    o.data_dir = dir_;
    o.accelerator = "H100-SXM";
    o.accelerators = 4;
    o.cpus = 8;
    b_ = std::make_unique<LocalBackend>("local", o, LocalInventory{});
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(dir_ + "-runs");
  }

  LaunchRequest Req(int64_t job, std::vector<NodeShare> nodes, int apw, const std::string& cmd = "sleep 30") {
    LaunchRequest r;
    r.job_id = job;
    r.tenant = "t";
    r.unix_user = "cnet-test-local";  // created by the backend (these tests run as root)
    r.argv = {"sh", "-c", cmd};
    r.nodes = std::move(nodes);
    r.accelerators_per_worker = apw;
    r.accelerator = apw > 0 ? "H100-SXM" : "";
    r.device_env = apw > 0 ? "CUDA_VISIBLE_DEVICES" : "";
    return r;
  }

  SiteEvent WaitEnded(int64_t job) {
    for (int i = 0; i < 200; ++i) {
      for (SiteEvent& e : b_->Poll(SystemClock().Now())) {
        if (e.job_id == job && e.kind == SiteEvent::kEnded) return e;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << job << " did not end";
    return SiteEvent{};
  }

  std::string dir_;
  std::unique_ptr<LocalBackend> b_;
};

TEST_F(LocalBackendTest, EachWorkerGetsItsOwnDevicesInRankOrder) {
  auto r = b_->Launch(Req(1, {{"gpu", 2}}, 2));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->devices, (std::vector<std::vector<int>>{{0, 1}, {2, 3}}));
  EXPECT_EQ(b_->BusyDevices("gpu"), (std::vector<int>{0, 1, 2, 3}));
  auto busy = b_->Launch(Req(2, {{"gpu", 1}}, 1));
  EXPECT_EQ(busy.status().code(), Code::kUnavailable) << busy.status().ToString();
  ASSERT_TRUE(b_->Kill(1, "test").ok());
  SiteEvent e = WaitEnded(1);
  EXPECT_TRUE(e.killed);
  EXPECT_TRUE(b_->BusyDevices("gpu").empty()) << "a killed run gives its devices back";
}

TEST_F(LocalBackendTest, DevicesComeBackWhenTheRunEnds) {
  auto r = b_->Launch(Req(3, {{"gpu", 1}}, 3, "exit 0"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->devices, (std::vector<std::vector<int>>{{0, 1, 2}}));
  EXPECT_TRUE(WaitEnded(3).success);
  EXPECT_TRUE(b_->BusyDevices("gpu").empty());
}

TEST_F(LocalBackendTest, BadShapesAreRejectedAndTakeNothing) {
  EXPECT_EQ(b_->Launch(Req(4, {{"nope", 1}}, 0)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b_->Launch(Req(4, {{"cpu", 1}}, 1)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b_->Launch(Req(4, {{"gpu", 5}}, 1)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b_->Launch(Req(4, {}, 0)).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(b_->BusyDevices("gpu").empty());
  LaunchRequest missing = Req(4, {{"gpu", 1}}, 1);
  missing.argv = {"no-such-program-xyz"};
  EXPECT_EQ(b_->Launch(missing).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(b_->BusyDevices("gpu").empty()) << "a failed launch gives its devices back";
}

TEST_F(LocalBackendTest, FindInterruptedHandleRetakesDevices) {
  auto r = b_->Launch(Req(5, {{"gpu", 1}}, 2));
  ASSERT_TRUE(r.ok());
  LocalOptions o;
  o.data_dir = dir_;
  o.accelerator = "H100-SXM";
  o.accelerators = 4;
  LocalBackend restarted("local", o, LocalInventory{});
  Interrupted i = restarted.FindInterrupted(5, 1);
  ASSERT_EQ(i.kind, Interrupted::kFound);
  auto a = restarted.Adopt(5, 1, i.handle);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(restarted.BusyDevices("gpu"), (std::vector<int>{0, 1}));
  ASSERT_TRUE(restarted.Kill(5, "test").ok());
  for (int k = 0; k < 200 && !restarted.BusyDevices("gpu").empty(); ++k) {
    (void)restarted.Poll(SystemClock().Now());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(restarted.BusyDevices("gpu").empty());
  ASSERT_TRUE(b_->Kill(5, "test").ok());  // the first instance still tracks it too
  (void)WaitEnded(5);
}

std::string Slurp(const std::string& path) {
  auto text = ReadWholeFile(path);
  return text.ok() ? *text : "";
}

// Issue 12: an input the site lacks is copied into the run before its command, by the job's own
// account: both workers of a gang read the copy at $CNET_INPUT_<NAME>, and the end reports the
// bytes and seconds. A source only root may read is not copied: the run fails saying so.
TEST_F(LocalBackendTest, StageInCopiesAsTheJobsAccountBeforeTheCommand) {
  namespace fs = std::filesystem;
  const std::string src = dir_ + "-src";
  fs::remove_all(src);
  fs::create_directories(src + "/genome");
  fs::permissions(src, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                           fs::perms::others_exec);
  fs::permissions(src + "/genome", fs::perms(0755));
  std::ofstream(src + "/genome/data.bin") << std::string(1 << 20, 'x');
  fs::permissions(src + "/genome/data.bin", fs::perms(0644));
  std::ofstream(src + "/secret") << "root only";
  fs::permissions(src + "/secret", fs::perms(0600));

  LaunchRequest r = Req(6, {{"cpu", 2}}, 0, "echo \"$CNET_WORKER_INDEX $(wc -c < \"$CNET_INPUT_GENOME_V1/data.bin\")\"");
  r.stage_in = {{"genome.v1", src + "/genome"}};
  auto l = b_->Launch(r);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  SiteEvent e = WaitEnded(6);
  EXPECT_TRUE(e.success) << e.reason << "\n" << Slurp(b_->LogPath(6, 1, "stderr"));
  const std::string out = Slurp(b_->LogPath(6, 1, "stdout"));
  EXPECT_NE(out.find("[0] 0 1048576"), std::string::npos) << out;
  EXPECT_NE(out.find("[1] 1 1048576"), std::string::npos) << out;
  EXPECT_EQ(e.fields[kStageInBytesField], "1048576");
  ASSERT_TRUE(e.fields.count(kStageInSecondsField));
  EXPECT_GE(std::stod(e.fields[kStageInSecondsField]), 0);

  LaunchRequest bad = Req(7, {{"cpu", 1}}, 0, "echo ran");
  bad.stage_in = {{"secret", src + "/secret"}};
  ASSERT_TRUE(b_->Launch(bad).ok());
  SiteEvent f = WaitEnded(7);
  EXPECT_FALSE(f.success);
  EXPECT_NE(Slurp(b_->LogPath(7, 1, "stderr")).find("computenet: stage-in of dataset 'secret' from '" + src + "/secret' failed"),
            std::string::npos)
      << Slurp(b_->LogPath(7, 1, "stderr"));
  EXPECT_EQ(Slurp(b_->LogPath(7, 1, "stdout")).find("ran"), std::string::npos) << "the command did not run";
  fs::remove_all(src);
}

}  // namespace
}  // namespace cnet::backends::local
