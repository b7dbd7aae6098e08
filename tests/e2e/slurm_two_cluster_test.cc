// Issue 16 items 1, 2, 3, 7 against two real Slurm clusters on one host (scripts/slurm, each with
// its own BASE, ports, munge and JWT key): "east" with 2 nodes x 8 gpu:h100, "west" with 2 nodes x
// 8 npu:910b, and computenet's service dispatching to both. Asserts: each worker of a 2 x 2 gang
// on one node sees its own devices through the vendor's variable; the nodes computenet holds are
// the nodes Slurm runs the job on, also after slurmctld and the service restart; a CPU-only job
// runs on a GPU node's CPUs; the job's Slurm id and cluster are fields of the job. Ports from 21400
// up (never Slurm's defaults); skipped, saying so, where Slurm is not installed or not root.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "api/json_views.h"
#include "common/strings.h"
#include "service/service.h"
#include "testing/loopback_slurm.h"
#include "testing/test_util.h"

namespace cnet::service {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using cnet::testing::LoopbackSlurm;
using cnet::testing::MakeSlurmSaveJobState;
using cnet::testing::LoopbackSlurmOptions;

LoopbackSlurm g_east, g_west;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string w; std::getline(ss, w, sep);)
    if (!w.empty()) out.push_back(w);
  return out;
}

class TwoClusterSlurm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LoopbackSlurmOptions e;
    e.cluster = "east";
    e.nodes = 2;
    e.ctld_port = 21417, e.rest_port = 21420, e.slurmd_port_base = 21430;
    g_east.Start("cnet-slurm-east.", e);
    LoopbackSlurmOptions w = e;
    w.cluster = "west";
    w.gres_name = "npu", w.gres_type = "910b";
    w.ctld_port = 21517, w.rest_port = 21520, w.slurmd_port_base = 21530;
    if (g_east.started) g_west.Start("cnet-slurm-west.", w);
  }
  static void TearDownTestSuite() {
    g_west.Stop();
    g_east.Stop();
  }

  void SetUp() override {
    if (!g_east.skip.empty()) GTEST_SKIP() << g_east.skip;
    ASSERT_TRUE(g_east.started) << g_east.error;
    ASSERT_TRUE(g_west.started) << g_west.error;
    dir_ = fs::temp_directory_path() / ("cnet-two-cluster-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    cfg_ = DefaultConfig();
    cfg_.data_dir = dir_;
    cfg_.cycle_interval_s = 0.05;
    cfg_.policy = "fifo-hetero";
    cfg_.sites[0].block["cpus"] = 2;
    cfg_.sites.push_back(SlurmSite("east", g_east, "{'gpu:h100': H100-SXM}"));
    cfg_.sites.push_back(SlurmSite("west", g_west, "{'npu:910b': Ascend-910B}"));
    StartService();
  }
  void TearDown() override {
    if (svc_) svc_->Stop();
    svc_.reset();
    // Nothing of this test may outlive it on the clusters.
    for (LoopbackSlurm* c : {&g_east, &g_west})
      if (c->started) Slurm(*c, "scancel --full $(squeue -h -o %i) 2>/dev/null; true");
    for (LoopbackSlurm* c : {&g_east, &g_west})
      if (c->started) WaitFor([c] { return Slurm(*c, "squeue -h -o %i").empty(); }, 15);
    std::error_code ec;  // a cancelled job's script may still be writing its exit file
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  static SiteConfig SlurmSite(const std::string& name, const LoopbackSlurm& c, const std::string& gres_map) {
    SiteConfig s;
    s.name = name;
    s.type = "slurm";
    s.region = "loopback";
    s.block = YAML::Load("{name: " + name + ", type: slurm, url: 'http://127.0.0.1:" + c.rest_port +
                         "', gres_map: " + gres_map + ", poll_interval_s: 0.2, inventory_interval_s: 0.5}");
    s.block["jwt_key_file"] = c.base + "/state/jwt_hs256.key";
    s.where = "test: " + name;
    s.inventory_interval_s = 0.5;
    return s;
  }
  void StartService() {
    if (svc_) svc_->Stop();
    svc_.reset();
    ServiceDeps deps;
    deps.clock = &clock_;
    auto s = Service::Create(cfg_, deps, cnet::testing::DataPath("accelerators.yaml"), "");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(s).value();
    ASSERT_TRUE(svc_->PutTenant(admin_, store::TenantRow{"t", {}, 0}).ok());
    svc_->Start();
  }
  // Runs `cmd` with the cluster's Slurm environment; its output.
  static std::string Slurm(const LoopbackSlurm& c, const std::string& cmd, int* rc = nullptr) {
    std::string out;
    int r = cnet::testing::Shell(c.env + " bash -c '. " + c.scripts + "/env.sh; slurm_need_base; PATH=" + c.scripts +
                                     ":$PATH; " + cmd + "'",
                                 &out);
    if (rc) *rc = r;
    return out;
  }
  // The nodes Slurm runs job `slurm_id` on (expanded, sorted).
  static std::vector<std::string> SlurmNodes(const LoopbackSlurm& c, const std::string& slurm_id) {
    auto v = Split(Slurm(c, "scontrol show hostnames $(squeue -h -j " + slurm_id + " -o %N)"), '\n');
    std::sort(v.begin(), v.end());
    return v;
  }
  static std::vector<std::string> PlacedNodes(const json& j) {
    std::vector<std::string> v;
    if (j["placement"].is_object())
      for (const auto& n : j["placement"]["nodes"]) v.push_back(n);
    std::sort(v.begin(), v.end());
    return v;
  }
  json Site(const std::string& name) {
    json sites = api::SitesJson(*svc_->Read());
    for (const auto& s : sites["sites"])
      if (s["name"] == name) return s;
    return json();
  }
  // Free accelerators per node of a site as computenet models them.
  std::map<std::string, int> FreeByNode(const std::string& site) {
    std::map<std::string, int> out;
    for (const auto& n : Site(site)["nodes"])
      if (n["kind"] == "accelerator") out[n["name"]] = n["free"];
    return out;
  }
  int64_t Submit(json job) {
    auto req = api::JobRequestFromJson(job);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    if (!req.ok()) return -1;
    auto r = svc_->Submit(tenant_, *req, "");
    if (!r.ok()) {
      last_error_ = r.status();
      return -1;
    }
    return r->job.id;
  }
  json JobJson(int64_t id) {
    auto v = svc_->GetJob(admin_, id, true);
    return v.ok() ? api::JobJson(*v, true) : json{{"state", "?"}, {"error", v.status().ToString()}};
  }
  json Wait(int64_t id, const std::string& state = "", double secs = 60) {
    json j;
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
    while (std::chrono::steady_clock::now() < end) {
      j = JobJson(id);
      std::string s = j["state"];
      if (s == state || (state.empty() && (s == "SUCCEEDED" || s == "FAILED" || s == "CANCELLED"))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return j;
  }
  bool WaitFor(const std::function<bool()>& cond, double secs) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }
  std::string Log(int64_t id) {
    auto p = svc_->Logs(admin_, id, "stdout", 0);
    if (!p.ok()) return "";
    auto t = ReadWholeFile(p->path);
    return t.ok() ? *t : "";
  }
  static json Gpus(const std::string& name, const std::string& site, const std::string& type, int workers, int per,
                   const std::string& command) {
    return {{"name", name},         {"command", {"sh", "-c", command}}, {"workers", workers},
            {"accelerators_per_worker", per}, {"accelerator_types", {type}}, {"sites", {site}},
            {"time_limit_s", 300}};
  }

  // Item 1: a gang of 2 workers x 2 devices placed on one node; each worker prints its rank,
  // node and both device variables. The lists must be 2 long, disjoint, in the right variable.
  void CheckDisjointDevices(const std::string& site, const std::string& type, const std::string& var,
                            const std::string& other_var) {
    // A first job holds some devices so that the gang's are not simply 0-3.
    // (It is one worker: it runs in the batch step without srun, and must see its own 3 too.)
    const std::string print = "echo \"dev w=$CNET_WORKER_INDEX node=$SLURMD_NODENAME var=${" + var +
                              "-unset} other=${" + other_var + "-unset}\"";
    int64_t hold = Submit(Gpus("hold", site, type, 1, 3, print + "; sleep 30"));
    ASSERT_GT(hold, 0) << last_error_.message();
    ASSERT_EQ(Wait(hold, "RUNNING")["state"], "RUNNING");
    int64_t id = Submit(Gpus("gang", site, type, 2, 2, print));
    ASSERT_GT(id, 0) << last_error_.message();
    json j = Wait(id);
    ASSERT_EQ(j["state"], "SUCCEEDED") << j.dump(1);
    ASSERT_EQ(PlacedNodes(j).size(), 1u) << j.dump(1);
    std::vector<std::set<std::string>> lists;
    std::set<std::string> nodes;
    for (std::string line : Split(Log(id), '\n')) {
      // A gang's lines carry their worker's rank: "[1] dev w=1 ...".
      if (line.size() > 4 && line[0] == '[' && line.find("] ") != std::string::npos) {
        EXPECT_EQ(line.substr(0, line.find("] ") + 2), "[" + line.substr(line.find("w=") + 2, 1) + "] ") << line;
        line = line.substr(line.find("] ") + 2);
      }
      if (line.rfind("dev ", 0) != 0) continue;
      std::map<std::string, std::string> kv;
      for (const std::string& w : Split(line.substr(4), ' ')) kv[w.substr(0, w.find('='))] = w.substr(w.find('=') + 1);
      EXPECT_EQ(kv["other"], "unset") << line;
      nodes.insert(kv["node"]);
      auto devs = Split(kv["var"], ',');
      EXPECT_EQ(devs.size(), 2u) << line;
      lists.emplace_back(devs.begin(), devs.end());
    }
    ASSERT_EQ(lists.size(), 2u) << Log(id);
    const std::string hold_line = Log(hold);
    ASSERT_NE(hold_line.find("dev w=0 "), std::string::npos) << hold_line;
    std::map<std::string, std::string> hk;
    const size_t at = hold_line.find("dev w=0 ") + 4;
    for (const std::string& w : Split(Trim(hold_line.substr(at, hold_line.find('\n', at) - at)), ' '))
      hk[w.substr(0, w.find('='))] = w.substr(w.find('=') + 1);
    EXPECT_EQ(hk["other"], "unset") << hold_line;
    auto hold_devs = Split(hk["var"], ',');
    EXPECT_EQ(hold_devs.size(), 3u) << hold_line;
    if (hk["node"] == PlacedNodes(j)[0])
      for (const std::string& d : hold_devs)
        EXPECT_TRUE(!lists[0].count(d) && !lists[1].count(d)) << "the gang shares device " << d << " with job " << hold;
    EXPECT_EQ(nodes, std::set<std::string>{PlacedNodes(j)[0]});
    std::set<std::string> all(lists[0]);
    all.insert(lists[1].begin(), lists[1].end());
    EXPECT_EQ(all.size(), 4u) << "workers share devices:\n" << Log(id);
  }

  SystemClock clock_;
  ServiceConfig cfg_;
  std::unique_ptr<Service> svc_;
  Caller admin_{"", true}, tenant_{"t", false};
  Status last_error_;
  std::string dir_;
};

// Was: both workers saw CUDA_VISIBLE_DEVICES=0,1,2,3.
TEST_F(TwoClusterSlurm, GangOfTwoByTwoSeesDisjointCudaDevices) {
  CheckDisjointDevices("east", "H100-SXM", "CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES");
}

// Was: no device variable at all on the npu:910b cluster.
TEST_F(TwoClusterSlurm, GangOfTwoByTwoSeesDisjointAscendDevices) {
  CheckDisjointDevices("west", "Ascend-910B", "ASCEND_RT_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES");
}

// Item 2: computenet places a one-node job on the best-fitting node, Slurm on the first that fits:
// 4 GPUs -> node1, 6 -> node2, then 2 fill node2 in the model while Slurm, given only a count,
// chose node1. The nodes must agree while running, and again after slurmctld and the service
// both restart.
TEST_F(TwoClusterSlurm, NodeShapesAgreeWithSlurmAlsoAfterRestarts) {
  std::vector<int64_t> ids;
  for (int per : {4, 6, 2}) ids.push_back(Submit(Gpus("shape", "east", "H100-SXM", 1, per, "sleep 120")));
  for (int64_t id : ids) ASSERT_GT(id, 0) << last_error_.message();
  auto agree = [&](std::string* why) {
    std::map<std::string, int> used;
    for (int64_t id : ids) {
      json j = JobJson(id);
      if (j["state"] != "RUNNING" || !j["site_job"].is_object()) {
        *why = "job " + std::to_string(id) + " not running yet: " + j.dump();
        return false;
      }
      const std::string sid = j["site_job"]["id"];
      if (SlurmNodes(g_east, sid) != PlacedNodes(j)) {
        *why = "job " + std::to_string(id) + ": computenet holds " + j["placement"].dump() + ", Slurm job " + sid +
               " runs on " + Slurm(g_east, "scontrol show job " + sid + " | grep -E \"JobState|NodeList|JobName\"") +
               "\n" + j["events"].dump();
        return false;
      }
      used[PlacedNodes(j)[0]] += j["spec"]["accelerators_per_worker"].get<int>();
    }
    std::map<std::string, int> free = FreeByNode("east");
    for (const auto& [node, f] : free)
      if (f != 8 - used[node]) {
        *why = node + ": computenet shows " + std::to_string(f) + " free, Slurm's jobs leave " + std::to_string(8 - used[node]);
        return false;
      }
    return true;
  };
  std::string why;
  ASSERT_TRUE(WaitFor([&] { return agree(&why); }, 30)) << why;
  std::set<std::string> spread;
  for (int64_t id : ids) spread.insert(PlacedNodes(JobJson(id))[0]);
  EXPECT_EQ(spread.size(), 2u) << "the test needs computenet to use both nodes";

  // slurmctld crashes after saving its state (killed before, it forgets jobs and reuses their ids:
  // Slurm's own loss, not the one under test); the service restarts too; both come back.
  ASSERT_TRUE(MakeSlurmSaveJobState(
      [&](const std::string& cmd) {
        int rc = 0;
        Slurm(g_east, cmd, &rc);
        return rc;
      },
      g_east.base + "/state/job_state"));
  int rc = 0;
  Slurm(g_east, "daemon.sh kill slurmctld", &rc);
  ASSERT_EQ(rc, 0);
  svc_->Stop();
  StartService();
  Slurm(g_east, "daemon.sh start slurmctld", &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(WaitFor([&] { return Site("east")["healthy"].get<bool>(); }, 30)) << Site("east").dump();
  EXPECT_TRUE(WaitFor([&] { return agree(&why); }, 30)) << "after the restarts: " << why;
}

// Item 3: was 422 "no site can run a gang of 1 accelerators of type Xeon-8480 ... (largest: 0)".
TEST_F(TwoClusterSlurm, CpuJobRunsOnAGpuNodesSpareCpus) {
  int64_t gpu = Submit(Gpus("gpu", "east", "H100-SXM", 1, 8, "sleep 20"));
  ASSERT_GT(gpu, 0) << last_error_.message();
  ASSERT_EQ(Wait(gpu, "RUNNING")["state"], "RUNNING");
  int64_t cpu = Submit({{"name", "cpu"}, {"command", {"sh", "-c", "echo cpu-on=$SLURMD_NODENAME gpus=${CUDA_VISIBLE_DEVICES-none}"}},
                        {"workers", 2}, {"accelerators_per_worker", 0}, {"cpus_per_worker", 2}, {"sites", {"east"}},
                        {"time_limit_s", 120}});
  ASSERT_GT(cpu, 0) << last_error_.message();
  json j = Wait(cpu);
  ASSERT_EQ(j["state"], "SUCCEEDED") << j.dump(1);
  EXPECT_EQ(j["site"], "east");
  std::string out = Log(cpu);
  EXPECT_NE(out.find("cpu-on=node"), std::string::npos) << out;
  EXPECT_NE(out.find("gpus=none"), std::string::npos) << out;
  EXPECT_EQ(out.find("gpus=0"), std::string::npos) << out;
  EXPECT_NE(j["placement"]["accelerator"], "H100-SXM") << j.dump(1);  // the CPU type
  EXPECT_EQ(JobJson(gpu)["state"], "RUNNING");  // beside the GPU job, not after it
}

// Item 7: the Slurm job id and cluster are fields of the job.
TEST_F(TwoClusterSlurm, SlurmJobIdAndClusterAreJobFields) {
  int64_t a = Submit(Gpus("a", "east", "H100-SXM", 1, 1, "sleep 3"));
  int64_t b = Submit(Gpus("b", "west", "Ascend-910B", 1, 1, "sleep 3"));
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  json ja = Wait(a, "RUNNING"), jb = Wait(b, "RUNNING");
  ASSERT_TRUE(ja["site_job"].is_object()) << ja.dump(1);
  ASSERT_TRUE(jb["site_job"].is_object()) << jb.dump(1);
  EXPECT_EQ(ja["site_job"]["kind"], "slurm");
  EXPECT_EQ(ja["site_job"]["cluster"], "east");
  EXPECT_EQ(jb["site_job"]["cluster"], "west");
  const std::string name = Split(Slurm(g_east, "squeue -h -j " + ja["site_job"]["id"].get<std::string>() + " -o %j"), '\n').at(0);
  EXPECT_EQ(name, "cnet-" + std::to_string(a) + "-1");
}

}  // namespace
}  // namespace cnet::service
