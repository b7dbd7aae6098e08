// computenet's service dispatching onto a real Slurm (slurmctld, 4 slurmd with 8 fake H100 each,
// slurmrestd with JWT) started on loopback by scripts/slurm, through computenet's own API, with a
// local site beside it. Skipped, saying so, where Slurm is not installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/csv.h"
#include "service/service.h"
#include "test_util.h"

namespace cnet::service {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string g_base;
bool g_up = false;

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }
std::string Env() {
  return "BASE=" + g_base + " SLURMCTLD_PORT=7817 SLURMD_PORT_BASE=17300 RESTPORT=7820 ";
}

class SlurmService : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access("/usr/sbin/slurmctld", X_OK) != 0 || access("/usr/sbin/slurmrestd", X_OK) != 0) return;
    g_base = (fs::temp_directory_path() / ("cnet-slurm-svc-" + std::to_string(getpid()))).string();
    std::string scripts = std::string(CNET_TEST_DATA_DIR) + "/../scripts/slurm/";
    g_up = Sh(Env() + scripts + "setup.sh > /dev/null") == 0 && Sh(Env() + scripts + "start.sh") == 0;
  }
  static void TearDownTestSuite() {
    if (!g_base.empty()) {
      Sh(Env() + std::string(CNET_TEST_DATA_DIR) + "/../scripts/slurm/stop.sh > /dev/null 2>&1");
      fs::remove_all(g_base);
    }
  }
  void SetUp() override {
    if (g_base.empty()) GTEST_SKIP() << "Slurm is not installed (scripts/install-deps.sh installs it)";
    ASSERT_TRUE(g_up) << "scripts/slurm/start.sh failed; see " << g_base << "/log";
    dir_ = fs::temp_directory_path() / ("cnet-slurm-svc-data-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ServiceConfig cfg = DefaultConfig();
    cfg.data_dir = dir_;
    cfg.cycle_interval_s = 0.05;
    cfg.policy = "fifo-hetero";
    cfg.sites[0].cpus = 2;
    SiteConfig hpc;
    hpc.name = "hpc";
    hpc.type = "slurm";
    hpc.region = "loopback";
    hpc.url = "http://127.0.0.1:7820";
    hpc.jwt_key_file = g_base + "/state/jwt_hs256.key";
    hpc.gres_map = {{"gpu:h100", "H100-SXM"}};
    hpc.poll_interval_s = 0.2;
    cfg.sites.push_back(hpc);
    auto s = Service::Create(cfg, clock_, testing::DataPath("accelerators.yaml"), "");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(s).value();
    svc_->PutTenant(admin_, {{"name", "t"}});
    svc_->Start();
  }
  void TearDown() override {
    if (svc_) svc_->Stop();
    svc_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  int64_t Submit(json job) {
    auto req = api::JobRequestFromJson(job);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    auto r = svc_->Submit(tenant_, *req, "");
    if (auto* e = std::get_if<ApiError>(&r)) {
      last_error_ = *e;
      return -1;
    }
    return std::get<Service::Submitted>(r).job.id;
  }
  json Wait(int64_t id, const std::string& state = "", double secs = 30) {
    json j;
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
    while (std::chrono::steady_clock::now() < end) {
      j = std::get<json>(svc_->GetJob(admin_, id));
      std::string s = j["state"];
      if (s == state || (state.empty() && (s == "SUCCEEDED" || s == "FAILED" || s == "CANCELLED"))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return j;
  }
  std::string Log(int64_t id) {
    auto p = std::get<std::pair<std::string, bool>>(svc_->LogPath(admin_, id, "stdout", 0));
    auto t = ReadWholeFile(p.first);
    return t.ok() ? *t : "";
  }

  SystemClock clock_;
  std::unique_ptr<Service> svc_;
  Caller admin_{"", true}, tenant_{"t", false};
  ApiError last_error_;
  std::string dir_;
};

TEST_F(SlurmService, SitesShowsLocalAndSlurmWithCapacity) {
  json s = svc_->Sites()["sites"];
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0]["name"], "local");
  EXPECT_EQ(s[1]["name"], "hpc");
  EXPECT_EQ(s[1]["type"], "slurm");
  EXPECT_TRUE(s[1]["healthy"].get<bool>()) << s[1].dump();
  EXPECT_EQ(s[1]["capacity"]["H100-SXM"], 32);
  EXPECT_EQ(s[1]["nodes"].size(), 4u);
}

TEST_F(SlurmService, TwoNodeGangGetsItsGpusOnSlurm) {
  int64_t id = Submit({{"name", "gang"}, {"command", {"sh", "-c", "echo worker=$CNET_WORKER_INDEX/$CNET_WORLD_SIZE gpus=$CUDA_VISIBLE_DEVICES"}},
                       {"workers", 2}, {"accelerators_per_worker", 8}, {"accelerator_types", {"H100-SXM"}}, {"time_limit_s", 120}});
  ASSERT_GT(id, 0) << last_error_.message;
  json j = Wait(id);
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump(1);
  EXPECT_EQ(j["site"], "hpc");
  EXPECT_EQ(j["placement"]["nodes"].size(), 2u);
  std::string out = Log(id);
  EXPECT_NE(out.find("worker=0/2 gpus=0,1,2,3,4,5,6,7"), std::string::npos) << out;
  EXPECT_NE(out.find("worker=1/2 gpus=0,1,2,3,4,5,6,7"), std::string::npos) << out;
  std::vector<std::string> states;
  for (const auto& e : j["events"]) states.push_back(e["to"]);
  EXPECT_EQ(states.front(), "PENDING");
  EXPECT_EQ(states.back(), "SUCCEEDED");
  EXPECT_NE(std::find(states.begin(), states.end(), "RUNNING"), states.end());
}

TEST_F(SlurmService, WorkerLargerThanANodeIsRefusedWithTheReason) {
  int64_t id = Submit({{"name", "too-big"}, {"command", "true"}, {"workers", 1}, {"accelerators_per_worker", 9},
                       {"accelerator_types", {"H100-SXM"}}});
  EXPECT_EQ(id, -1);
  EXPECT_EQ(last_error_.http, 422);
  EXPECT_NE(last_error_.message.find("9 per worker, on one node"), std::string::npos) << last_error_.message;
}

TEST_F(SlurmService, ExitCodesAndCancelPropagate) {
  int64_t fail = Submit({{"name", "fail"}, {"command", "exit 3"}, {"accelerators_per_worker", 1}, {"accelerator_types", {"H100-SXM"}}});
  int64_t slow = Submit({{"name", "slow"}, {"command", "sleep 60"}, {"accelerators_per_worker", 1}, {"accelerator_types", {"H100-SXM"}}});
  json f = Wait(fail);
  EXPECT_EQ(f["state"], "FAILED") << f.dump(1);
  EXPECT_EQ(f["exit_code"], 3);
  ASSERT_EQ(Wait(slow, "RUNNING")["state"], "RUNNING");
  ASSERT_FALSE(std::holds_alternative<ApiError>(svc_->Cancel(tenant_, slow)));
  json c = Wait(slow);
  EXPECT_EQ(c["state"], "CANCELLED") << c.dump(1);
}

TEST_F(SlurmService, ADownNodeLeavesTheCapacityComputenetSees) {
  ASSERT_EQ(Sh(Env() + "bash -c '. " + std::string(CNET_TEST_DATA_DIR) + "/../scripts/slurm/env.sh; slurm_need_base; "
                       "scontrol update nodename=node4 state=down reason=cnet-test'"), 0);
  auto usable = [&](const std::string& node) {
    json sites = svc_->Sites();  // keep the document alive while iterating into it
    for (const auto& n : sites["sites"][1]["nodes"])
      if (n["name"] == node) return n["usable"].get<bool>();
    return true;
  };
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (usable("node4") && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(usable("node4"));
  EXPECT_EQ(svc_->Sites()["sites"][1]["free"]["H100-SXM"], 24);
  ASSERT_EQ(Sh(Env() + "bash -c '. " + std::string(CNET_TEST_DATA_DIR) + "/../scripts/slurm/env.sh; slurm_need_base; "
                       "scontrol update nodename=node4 state=resume'"), 0);
  end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!usable("node4") && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(usable("node4"));
}

}  // namespace
}  // namespace cnet::service
