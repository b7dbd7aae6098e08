// computenet's service dispatching onto a real Slurm (slurmctld, 4 slurmd with 8 fake H100 each,
// slurmrestd with JWT) started on loopback by scripts/slurm, through computenet's own API, with a
// local site beside it. Skipped, saying so, where Slurm is not installed.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <thread>

#include "common/csv.h"
#include "api/json_views.h"
#include "service/service.h"
#include "testing/loopback_slurm.h"
#include "testing/test_util.h"

namespace cnet::service {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using cnet::testing::MakeSlurmSaveJobState;

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
    // The tests share one Slurm: each starts with no job there and every node idle (a job an
    // earlier test left, or a node it left drained, would otherwise fail this one misleadingly).
    const std::string state = fs::temp_directory_path() / ("cnet-slurm-svc-state-" + std::to_string(getpid()));
    auto quiet = [&] {
      return Slurm("{ squeue -h -o \"job %i %j %T %r\"; sinfo -h -N -o \"node %N %T %E\" | grep -v \" idle \"; } > " + state +
                   "; test ! -s " + state) == 0;
    };
    const bool was_quiet = WaitFor(quiet, 60);
    auto left = ReadWholeFile(state);
    fs::remove(state);
    ASSERT_TRUE(was_quiet) << "Slurm is not quiet after the previous test:\n" << (left.ok() ? *left : "");
    dir_ = fs::temp_directory_path() / ("cnet-slurm-svc-data-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (const char* suffix : {"", "-ran", "-cli-data", "-cli-data-runs"}) fs::remove_all(dir_ + suffix);
    fs::create_directories(dir_);
    cfg_ = DefaultConfig();
    cfg_.data_dir = dir_;
    cfg_.cycle_interval_s = 0.05;
    cfg_.policy = "fifo-hetero";
    cfg_.sites[0].block["cpus"] = 2;
    SiteConfig hpc;
    hpc.name = "hpc";
    hpc.type = "slurm";
    hpc.region = "loopback";
    hpc.block = YAML::Load("{name: hpc, type: slurm, url: 'http://127.0.0.1:7820', gres_map: {'gpu:h100': H100-SXM}, "
                           "poll_interval_s: 0.2, inventory_interval_s: 0.5}");
    hpc.block["jwt_key_file"] = g_base + "/state/jwt_hs256.key";
    hpc.where = "test: hpc";
    hpc.inventory_interval_s = 0.5;
    cfg_.sites.push_back(hpc);
    StartService();
  }
  // (Re)starts the service on cfg_ (a test may change cfg_ and call it again).
  void StartService() {
    if (svc_) svc_->Stop();
    svc_.reset();
    ServiceDeps deps;
    deps.clock = &clock_;
    auto s = Service::Create(cfg_, deps, testing::DataPath("accelerators.yaml"), "");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(s).value();
    ASSERT_TRUE(svc_->PutTenant(admin_, store::TenantRow{"t", {}, 0}).ok());
    svc_->Start();
  }
  // Runs a command with this site's Slurm environment (scontrol, squeue, sbatch, daemon.sh).
  int Slurm(const std::string& cmd) {
    std::string scripts = std::string(CNET_TEST_DATA_DIR) + "/../scripts/slurm/";
    return Sh(Env() + "bash -c '. " + scripts + "env.sh; slurm_need_base; PATH=" + scripts + ":$PATH; " + cmd + "'");
  }
  json Site(const std::string& name) {
    json sites = api::SitesJson(*svc_->Read());  // keep the document alive while reading into it
    for (const auto& s : sites["sites"])
      if (s["name"] == name) return s;
    return json();
  }
  bool WaitFor(const std::function<bool()>& cond, double secs) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }
  // Where jobs (as their tenant's account on the local site, as root on Slurm) record their runs:
  // outside the data dir (the service's own, 0700), open to every account like /tmp.
  std::string RanDir() {
    const std::string ran = dir_ + "-ran";
    fs::create_directories(ran);
    fs::permissions(ran, static_cast<fs::perms>(01777));
    return ran;
  }
  // A command that appends the job's id to <ran>/<id> (counting its runs), then sleeps.
  json Marked(const std::string& name, int gpus, double sleep_s) {
    return {{"name", name}, {"command", "echo run >> " + RanDir() + "/$CNET_JOB_ID; sleep " + std::to_string(sleep_s)},
            {"accelerators_per_worker", gpus}, {"accelerator_types", {"H100-SXM"}}, {"time_limit_s", 300}};
  }
  // Before a test kills slurmctld (testing/loopback_slurm.h: why). True once saved.
  bool SlurmSavedItsJobState() {
    return MakeSlurmSaveJobState([&](const std::string& cmd) { return Slurm(cmd); }, g_base + "/state/job_state");
  }
  int Runs(int64_t id) {
    auto t = ReadWholeFile(dir_ + "-ran/" + std::to_string(id));
    return t.ok() ? static_cast<int>(std::count(t->begin(), t->end(), '\n')) : 0;
  }
  std::string State(int64_t id) { return JobJson(id)["state"]; }

  void TearDown() override {
    if (svc_) svc_->Stop();
    svc_.reset();
    if (!dir_.empty())
      for (const char* suffix : {"", "-ran", "-cli-data", "-cli-data-runs"}) fs::remove_all(dir_ + suffix);
  }
  int64_t Submit(json job) {
    auto req = api::JobRequestFromJson(job);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    auto r = svc_->Submit(tenant_, *req, "");
    if (!r.ok()) {
      last_error_ = r.status();
      return -1;
    }
    return r->job.id;
  }
  json Wait(int64_t id, const std::string& state = "", double secs = 30) {
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
  std::string Log(int64_t id, const std::string& stream = "stdout") {
    auto p = svc_->Logs(admin_, id, stream, 0);
    if (!p.ok()) return "";
    auto t = ReadWholeFile(p->path);
    return t.ok() ? *t : "";
  }

  SystemClock clock_;
  ServiceConfig cfg_;
  std::unique_ptr<Service> svc_;
  Caller admin_{"", true}, tenant_{"t", false};
  json JobJson(int64_t id) {
    auto v = svc_->GetJob(admin_, id, true);
    return v.ok() ? api::JobJson(*v, true) : json{{"state", "?"}, {"error", v.status().ToString()}};
  }
  Status last_error_;
  std::string dir_;
};

TEST_F(SlurmService, SitesShowsLocalAndSlurmWithCapacity) {
  json s = api::SitesJson(*svc_->Read())["sites"];
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
  ASSERT_GT(id, 0) << last_error_.message();
  json j = Wait(id);
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump(1);
  EXPECT_EQ(j["site"], "hpc");
  EXPECT_EQ(j["placement"]["nodes"].size(), 2u);
  std::string out = Log(id);
  EXPECT_NE(out.find("[0] worker=0/2 gpus=0,1,2,3,4,5,6,7\n"), std::string::npos) << out;  // rank-labelled
  EXPECT_NE(out.find("[1] worker=1/2 gpus=0,1,2,3,4,5,6,7\n"), std::string::npos) << out;
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
  EXPECT_EQ(last_error_.code(), Code::kInfeasible);
  EXPECT_NE(last_error_.message().find("9 per worker, on one node"), std::string::npos) << last_error_.message();
}

TEST_F(SlurmService, ExitCodesAndCancelPropagate) {
  int64_t fail = Submit({{"name", "fail"}, {"command", "exit 3"}, {"accelerators_per_worker", 1}, {"accelerator_types", {"H100-SXM"}}});
  int64_t slow = Submit({{"name", "slow"}, {"command", "sleep 60"}, {"accelerators_per_worker", 1}, {"accelerator_types", {"H100-SXM"}}});
  json f = Wait(fail);
  EXPECT_EQ(f["state"], "FAILED") << f.dump(1);
  EXPECT_EQ(f["exit_code"], 3);
  ASSERT_EQ(Wait(slow, "RUNNING")["state"], "RUNNING");
  ASSERT_FALSE(!svc_->Cancel(tenant_, slow).ok());
  json c = Wait(slow);
  EXPECT_EQ(c["state"], "CANCELLED") << c.dump(1);
}

TEST_F(SlurmService, ADownNodeLeavesTheCapacityComputenetSees) {
  ASSERT_EQ(Sh(Env() + "bash -c '. " + std::string(CNET_TEST_DATA_DIR) + "/../scripts/slurm/env.sh; slurm_need_base; "
                       "scontrol update nodename=node4 state=down reason=cnet-test'"), 0);
  auto usable = [&](const std::string& node) {
    json sites = api::SitesJson(*svc_->Read());  // keep the document alive while iterating into it
    for (const auto& n : sites["sites"][1]["nodes"])
      if (n["name"] == node) return n["usable"].get<bool>();
    return true;
  };
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (usable("node4") && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(usable("node4"));
  EXPECT_EQ(api::SitesJson(*svc_->Read())["sites"][1]["free"]["H100-SXM"], 24);
  ASSERT_EQ(Sh(Env() + "bash -c '. " + std::string(CNET_TEST_DATA_DIR) + "/../scripts/slurm/env.sh; slurm_need_base; "
                       "scontrol update nodename=node4 state=resume'"), 0);
  end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!usable("node4") && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(usable("node4"));
}

// slurmctld crashes (SIGKILL) while 8 jobs run on Slurm and 2 wait in computenet; 2 more are
// submitted and one running job is cancelled during the outage; then slurmctld restarts from its
// saved state. Nothing may be lost or run twice, and every state must converge.
// Slurm saves its job state lazily (batched, seconds apart): killed before that save it forgets
// jobs it had accepted and reuses their ids, and its nodes drain with "Duplicate jobid". That is
// Slurm's own loss, not the one under test here, so the crash comes after the save.
TEST_F(SlurmService, SlurmctldKilledAndRestartedWhileJobsRunAndQueue) {
  std::vector<int64_t> quick;
  for (int i = 0; i < 6; ++i) quick.push_back(Submit(Marked("a" + std::to_string(i), 4, 8)));
  int64_t doomed = Submit(Marked("doomed", 4, 120));
  quick.push_back(Submit(Marked("q0", 4, 8)));
  for (int i = 1; i < 3; ++i) quick.push_back(Submit(Marked("q" + std::to_string(i), 4, 2)));
  for (int64_t id : quick) ASSERT_GT(id, 0) << last_error_.message();
  ASSERT_TRUE(WaitFor([&] {
    for (int i = 0; i < 7; ++i)
      if (State(quick[i]) != "RUNNING") return false;
    return State(doomed) == "RUNNING";
  }, 30));
  ASSERT_TRUE(SlurmSavedItsJobState()) << "slurmctld did not save its job state";
  ASSERT_EQ(Slurm("daemon.sh kill slurmctld"), 0);

  // The outage: the site turns unhealthy; submissions are still accepted; cancel is accepted.
  ASSERT_TRUE(WaitFor([&] { return !Site("hpc")["healthy"].get<bool>(); }, 10)) << Site("hpc").dump();
  EXPECT_NE(Site("hpc")["reason"].get<std::string>().find("slurmrestd"), std::string::npos) << Site("hpc").dump();
  for (int i = 0; i < 2; ++i) quick.push_back(Submit(Marked("d" + std::to_string(i), 4, 1)));
  ASSERT_GT(quick.back(), 0) << last_error_.message();
  ASSERT_FALSE(!svc_->Cancel(tenant_, doomed).ok());
  std::this_thread::sleep_for(std::chrono::seconds(4));  // the first jobs end while slurmctld is down
  for (int64_t id : quick) EXPECT_NE(State(id), "FAILED") << JobJson(id).dump(1);

  ASSERT_EQ(Slurm("daemon.sh start slurmctld"), 0);
  for (int64_t id : quick) {
    json j = Wait(id, "", 90);
    EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump(1);
    EXPECT_EQ(Runs(id), 1) << "job " << id << " ran " << Runs(id) << " times";
  }
  json c = Wait(doomed, "", 30);
  EXPECT_EQ(c["state"], "CANCELLED") << c.dump(1);
  EXPECT_TRUE(WaitFor([&] { json s = Site("hpc"); return s["healthy"].get<bool>() && s["free"]["H100-SXM"] == 32; }, 30))
      << Site("hpc").dump();
  // computenet hears of an end from the job's exit file within 0.1 s; Slurm, after its outage,
  // only once slurmstepd's retried completion message gets through, so for a while it may still
  // list jobs computenet saw end. What must not happen is a job left there for good (a cancel
  // lost, a withdrawn attempt still queued): wait, bounded (well within the doomed job's 120 s,
  // so a cancel that never reached Slurm still shows), then show what is left.
  const std::string left = dir_ + "/squeue.txt";
  auto slurm_empty = [&] {
    return Slurm("squeue -h -t PD,R,CG -o \"%i %j %T %M %r\" > " + left + "; test ! -s " + left) == 0;
  };
  EXPECT_TRUE(WaitFor(slurm_empty, 30)) << "Slurm still has jobs:\n" << (ReadWholeFile(left).ok() ? *ReadWholeFile(left) : "");
}

// A job submitted to Slurm but still pending there (a foreign job holds every node) is withdrawn
// and dispatched to the local site once slurmctld has been down longer than redispatch_after_s;
// when Slurm returns, the withdrawn attempt never runs the command.
TEST_F(SlurmService, PendingJobIsRedispatchedWhenItsSiteStaysDown) {
  cfg_.sites[0].block["accelerator"] = "H100-SXM";
  cfg_.sites[0].block["accelerators"] = 1;
  cfg_.sites[1].redispatch_after_s = 1;
  StartService();
  ASSERT_EQ(Slurm("sbatch -Q -J foreign -N4 --gres=gpu:h100:8 -o /dev/null --wrap \"sleep 300\""), 0);
  ASSERT_TRUE(WaitFor([&] { return Slurm("squeue -h -n foreign -t R | grep -q .") == 0; }, 20));
  json local_blocker = Marked("local-blocker", 1, 3);
  local_blocker["sites"] = {"local"};
  int64_t blocker = Submit(local_blocker);
  ASSERT_EQ(Wait(blocker, "RUNNING")["state"], "RUNNING");
  int64_t id = Submit(Marked("movable", 1, 0));
  ASSERT_GT(id, 0) << last_error_.message();
  json j = Wait(id, "SCHEDULED");
  ASSERT_EQ(j["site"], "hpc") << j.dump(1);
  ASSERT_TRUE(WaitFor([&] { return Slurm("squeue -h -n cnet-" + std::to_string(id) + "-1 -t PD | grep -q .") == 0; }, 20));
  // Why it waits, in Slurm's words.
  EXPECT_TRUE(WaitFor([&] {
    std::string r = JobJson(id)["reason"];
    return r.find("submitted to hpc; Slurm job") != std::string::npos && r.find("PENDING (Resources)") != std::string::npos;
  }, 10)) << JobJson(id).dump(1);

  ASSERT_TRUE(SlurmSavedItsJobState()) << "slurmctld did not save its job state";
  ASSERT_EQ(Slurm("daemon.sh kill slurmctld"), 0);
  j = Wait(id, "", 60);
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump(1);
  EXPECT_EQ(j["site"], "local") << j.dump(1);
  bool redispatched = false;
  for (const auto& e : j["events"])
    redispatched |= e["reason"].get<std::string>().find("re-dispatched: hpc has been unreachable") != std::string::npos;
  EXPECT_TRUE(redispatched) << j.dump(1);

  // Slurm returns and the foreign job ends: the withdrawn attempt is cancelled (or, had it run,
  // its script would have found the claim taken).
  ASSERT_EQ(Slurm("daemon.sh start slurmctld"), 0);
  ASSERT_EQ(Slurm("scancel -n foreign"), 0);
  EXPECT_TRUE(WaitFor([&] { return Slurm("squeue -h -n cnet-" + std::to_string(id) + "-1 | grep -q .") != 0; }, 30));
  EXPECT_EQ(Runs(id), 1);
  EXPECT_EQ(Wait(blocker)["state"], "SUCCEEDED");
}

// Issue 12 end to end on a real Slurm: data that may only be computed on in the US (hpc) stays
// submitted there through a controller outage that moves a job without inputs to the local site
// (CN); explain names the policy's clause for the local candidate; when Slurm returns the job runs
// on hpc, its input staged in from the replica the local site holds (real bytes, in acct), and
// the audit log has the placement on hpc and none elsewhere.
TEST_F(SlurmService, DataThatMayOnlyGoToSlurmStaysThereThroughAnOutage) {
  cfg_.sites[0].block["accelerator"] = "H100-SXM";
  cfg_.sites[0].block["accelerators"] = 1;
  cfg_.sites[0].attributes["country"] = "CN";
  cfg_.sites[1].attributes["country"] = "US";
  cfg_.sites[1].redispatch_after_s = 1;
  StartService();
  const std::string replica = RanDir() + "/usdata";
  fs::create_directories(replica);
  std::ofstream(replica + "/part-0") << "rows computed only in the US";
  store::DatasetRow d;
  d.name = "usdata";
  d.size_bytes = 28;
  d.policy = "country=US";
  d.replicas = {{"local", replica}};
  ASSERT_TRUE(svc_->datasets().Register(tenant_, d).ok());
  ASSERT_EQ(Slurm("sbatch -Q -J foreign -N4 --gres=gpu:h100:8 -o /dev/null --wrap \"sleep 300\""), 0);
  ASSERT_TRUE(WaitFor([&] { return Slurm("squeue -h -n foreign -t R | grep -q .") == 0; }, 20));
  json local_blocker = Marked("local-blocker", 1, 3);
  local_blocker["sites"] = {"local"};
  int64_t blocker = Submit(local_blocker);
  ASSERT_EQ(Wait(blocker, "RUNNING")["state"], "RUNNING");
  json reads = Marked("resident", 1, 0);
  reads["inputs"] = {"usdata"};
  reads["command"] = "cat \"$CNET_INPUT_USDATA/part-0\"; " + reads["command"].get<std::string>();
  int64_t resident = Submit(reads);
  int64_t movable = Submit(Marked("movable", 1, 0));
  ASSERT_GT(resident, 0) << last_error_.message();
  for (int64_t id : {resident, movable}) ASSERT_EQ(Wait(id, "SCHEDULED")["site"], "hpc");
  auto v = svc_->Explain(tenant_, resident);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  bool local_h100 = false;
  for (const auto& c : v->candidates)
    if (c.site_name == "local" && c.accel_name == "H100-SXM") {
      local_h100 = true;
      EXPECT_NE(c.rejected.find("usdata"), std::string::npos) << c.rejected;
      EXPECT_NE(c.rejected.find("country"), std::string::npos) << c.rejected;
    }
  EXPECT_TRUE(local_h100) << "explain lists the local H100 as a candidate";

  ASSERT_TRUE(SlurmSavedItsJobState()) << "slurmctld did not save its job state";
  ASSERT_EQ(Slurm("daemon.sh kill slurmctld"), 0);
  json m = Wait(movable, "", 60);
  EXPECT_EQ(m["state"], "SUCCEEDED") << m.dump(1);
  EXPECT_EQ(m["site"], "local") << "the job without inputs was moved";
  json r = JobJson(resident);
  EXPECT_EQ(r["state"], "SCHEDULED") << r.dump(1);
  EXPECT_EQ(r["site"], "hpc") << "its data may go nowhere else: it stays";
  EXPECT_EQ(Runs(resident), 0);

  ASSERT_EQ(Slurm("daemon.sh start slurmctld"), 0);
  ASSERT_EQ(Slurm("scancel -n foreign"), 0);
  r = Wait(resident, "", 90);
  ASSERT_EQ(r["state"], "SUCCEEDED") << r.dump(1) << "\n" << Log(resident, "stderr");
  EXPECT_EQ(r["site"], "hpc");
  EXPECT_EQ(Runs(resident), 1);
  EXPECT_NE(Log(resident).find("rows computed only in the US"), std::string::npos) << Log(resident);
  bool truncated = false;
  auto rows = svc_->Acct(tenant_, {}, &truncated);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  for (const auto& row : *rows)
    if (row.id == resident) EXPECT_DOUBLE_EQ(row.stage_in_bytes, 28);
  auto audit = svc_->datasets().Audit(tenant_, "usdata", 0, 100);
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  int on_hpc = 0, elsewhere = 0;
  for (const auto& a : *audit)
    if (a.action == "residency" && a.decision == "allow") (a.site == "hpc" ? on_hpc : elsewhere)++;
  EXPECT_GE(on_hpc, 1);
  EXPECT_EQ(elsewhere, 0);
  EXPECT_EQ(Wait(blocker)["state"], "SUCCEEDED");
}

// A node added to Slurm while the service runs is taken into the model (no restart) and used; one
// removed takes no new work.
TEST_F(SlurmService, NodeAddedToSlurmIsUsedWithoutARestart) {
  std::vector<int64_t> fill;
  for (int i = 0; i < 4; ++i) fill.push_back(Submit(Marked("fill" + std::to_string(i), 8, 120)));
  for (int64_t id : fill) ASSERT_EQ(Wait(id, "RUNNING")["state"], "RUNNING");
  int64_t probe = Submit(Marked("probe", 8, 0));
  ASSERT_GT(probe, 0) << last_error_.message();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(State(probe), "PENDING");

  ASSERT_EQ(Slurm("nodes.sh add"), 0);
  std::shared_ptr<void> shrink(nullptr, [this](void*) { Slurm("nodes.sh remove"); });
  json j = Wait(probe, "", 30);
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump(1) << "\nstdout:\n" << Log(probe) << "\nstderr:\n" << Log(probe, "stderr");
  EXPECT_EQ(j["placement"]["nodes"], json({"node5"})) << j.dump(1);
  json hpc = Site("hpc");
  EXPECT_EQ(hpc["capacity"]["H100-SXM"], 40) << hpc.dump();
  EXPECT_EQ(hpc["nodes"].size(), 5u);

  for (int64_t id : fill) ASSERT_FALSE(!svc_->Cancel(tenant_, id).ok());
  for (int64_t id : fill) EXPECT_EQ(Wait(id)["state"], "CANCELLED");
  ASSERT_TRUE(WaitFor([&] { return Slurm("test -z \"$(squeue -h)\"") == 0; }, 30));
  shrink.reset();
  auto node5 = [&] {
    json h = Site("hpc");
    for (const auto& n : h["nodes"])
      if (n["name"] == "node5") return n;
    return json();
  };
  ASSERT_TRUE(WaitFor([&] { return !node5()["usable"].get<bool>(); }, 10)) << node5().dump();
  EXPECT_EQ(node5()["reason"], "no longer reported by the site");
}

// Issue 16 items 2 and 6: a one-GPU job queued ahead is one Slurm may start on any node (as a
// plain sbatch job): it starts on the first node to free, not the one the policy previewed, and
// the model books it where Slurm ran it (the job's placement and the node's free count).
TEST_F(SlurmService, AQueuedAheadJobRunsWhereSlurmStartsItAndIsBookedThere) {
  cfg_.sites[1].queue_ahead = 2;
  StartService();
  std::vector<int64_t> fill;
  for (int i = 0; i < 4; ++i) {
    json j = Marked("fill" + std::to_string(i), 8, i == 3 ? 3 : 120);
    j["sites"] = {"hpc"};
    fill.push_back(Submit(j));
  }
  for (int64_t id : fill) ASSERT_EQ(Wait(id, "RUNNING")["state"], "RUNNING");
  const std::string first_free = JobJson(fill[3])["placement"]["nodes"][0];
  std::vector<int64_t> q;
  for (int i = 0; i < 2; ++i) {
    json j = Marked("q" + std::to_string(i), 1, 60);
    j["sites"] = {"hpc"};
    j["command"] = "echo gpus=$CUDA_VISIBLE_DEVICES; " + j["command"].get<std::string>();
    q.push_back(Submit(j));
  }
  for (int64_t id : q) {
    json j = Wait(id, "RUNNING", 30);
    ASSERT_EQ(j["state"], "RUNNING") << j.dump(1);
    EXPECT_EQ(j["placement"]["nodes"], json({first_free})) << j.dump(1);
    EXPECT_FALSE(j["placement"].contains("any_of")) << j.dump(1);
  }
  EXPECT_EQ(State(fill[0]), "RUNNING") << "the others still run: Slurm chose the freed node";
  auto free_on = [&] {
    const json hpc = Site("hpc");
    for (const auto& n : hpc["nodes"])
      if (n["name"] == first_free) return n["free"].get<int>();
    return -1;
  };
  EXPECT_TRUE(WaitFor([&] { return free_on() == 6; }, 5)) << "the model books both where Slurm ran them: " << Site("hpc").dump();
  EXPECT_NE(Log(q[0]), Log(q[1])) << "each its own GPU";
  for (int64_t id : fill) (void)svc_->Cancel(tenant_, id);
  for (int64_t id : q) (void)svc_->Cancel(tenant_, id);
  for (int64_t id : q) EXPECT_EQ(Wait(id)["state"], "CANCELLED");
  ASSERT_TRUE(WaitFor([&] { return Slurm("test -z \"$(squeue -h)\"") == 0; }, 30));
}

// Issue 12: an input the Slurm site holds no replica of is copied by the batch script into the
// run before the command (which reads it at $CNET_INPUT_<NAME>); its bytes are the job's accounting.
TEST_F(SlurmService, AnInputTheSiteLacksIsStagedInByTheBatchScript) {
  const std::string replica = RanDir() + "/replica";
  fs::create_directories(replica);
  std::ofstream(replica + "/part-0") << "payload of the replica";
  store::DatasetRow d;
  d.name = "corpus";
  d.size_bytes = 22;
  d.replicas = {{"local", replica}};
  ASSERT_TRUE(svc_->datasets().Register(tenant_, d).ok());
  int64_t id = Submit({{"name", "reads"}, {"command", "cat \"$CNET_INPUT_CORPUS/part-0\""}, {"sites", {"hpc"}},
                       {"inputs", {"corpus"}}, {"accelerators_per_worker", 1}, {"accelerator_types", {"H100-SXM"}},
                       {"time_limit_s", 60}});
  ASSERT_GT(id, 0) << last_error_.message();
  json j = Wait(id);
  ASSERT_EQ(j["state"], "SUCCEEDED") << j.dump(1) << "\n" << Log(id, "stderr");
  EXPECT_EQ(Log(id), "payload of the replica");
  bool truncated = false;
  auto rows = svc_->Acct(tenant_, {}, &truncated);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  bool seen = false;
  for (const auto& r : *rows)
    if (r.id == id) {
      seen = true;
      EXPECT_DOUBLE_EQ(r.stage_in_bytes, 22);
      EXPECT_GE(r.stage_in_s, 0);
    }
  EXPECT_TRUE(seen);
}

// The real `cnet serve` with one local site (2 declared V100) and the Slurm site (32 H100), driven
// by the `cnet` CLI: `cnet sites` shows both with their capacity, and each job goes where the
// policy (fifo-hetero: the fastest acceptable type with room) and its `sites` put it.
TEST_F(SlurmService, CliServesLocalAndSlurmSitesAndThePolicyPicks) {
  svc_->Stop();
  const std::string bin = CNET_BINARY, data = std::string(CNET_TEST_DATA_DIR);
  int port = 0;
  {  // a free loopback port
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    close(fd);
  }
  ASSERT_GT(port, 0);
  const std::string addr = "127.0.0.1:" + std::to_string(port), cfg = dir_ + "/cnet.yaml", out = dir_ + "/serve.out";
  {
    std::ofstream f(cfg);
    f << "addr: " << addr << "\ndata: " << dir_ << "-cli-data\npolicy: fifo-hetero\ncycle_interval_s: 0.05\n"
      << "catalogue: " << data << "/accelerators.yaml\nthroughputs: " << data << "/gavel/throughputs.csv\n"
      << "sites:\n"
      << "  - {name: local, type: local, cpus: 2, accelerator: V100, accelerators: 2}\n"
      << "  - name: hpc\n    type: slurm\n    region: loopback\n    url: http://127.0.0.1:7820\n"
      << "    jwt_key_file: " << g_base << "/state/jwt_hs256.key\n"
      << "    gres_map: {\"gpu:h100\": H100-SXM}\n    poll_interval_s: 0.2\n";
  }
  pid_t server = fork();
  if (server == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(bin.c_str(), bin.c_str(), "serve", "--config", cfg.c_str(), "--init", (char*)nullptr);
    _exit(127);
  }
  std::shared_ptr<void> reap(nullptr, [server](void*) {
    kill(server, SIGTERM);
    waitpid(server, nullptr, 0);
  });
  auto run = [&](const std::string& args, const std::string& token) {
    std::string cmd = "CNET_ADDR=" + addr + " CNET_TOKEN=" + token + " " + bin + " " + args + " 2>&1";
    std::string text;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
    int rc = pclose(p);
    return std::make_pair(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, text);
  };
  std::string admin;
  ASSERT_TRUE(WaitFor([&] {
    auto t = ReadWholeFile(out);
    size_t at = t.ok() ? t->find("cnet_") : std::string::npos;
    if (at == std::string::npos) return false;
    admin = t->substr(at, t->find_first_of(" \n", at) - at);
    return run("sites", admin).first == 0;
  }, 30)) << (ReadWholeFile(out).ok() ? *ReadWholeFile(out) : std::string());

  auto [src, sites] = run("sites", admin);
  EXPECT_NE(sites.find("local"), std::string::npos) << sites;
  EXPECT_NE(sites.find("hpc"), std::string::npos) << sites;
  json sj = json::parse(run("sites --json", admin).second, nullptr, false);
  ASSERT_TRUE(sj.is_object()) << sites;
  EXPECT_EQ(sj["sites"][0]["capacity"]["V100"], 2) << sj.dump();
  EXPECT_EQ(sj["sites"][1]["capacity"]["H100-SXM"], 32) << sj.dump();
  EXPECT_TRUE(sj["sites"][1]["healthy"].get<bool>()) << sj.dump();

  ASSERT_EQ(run("admin tenant lab", admin).first, 0);
  auto [trc, tok_out] = run("admin token --tenant lab --json", admin);
  ASSERT_EQ(trc, 0) << tok_out;
  const std::string token = json::parse(tok_out)["token"];
  auto submit = [&](const std::string& name, const std::string& yaml) -> int64_t {
    std::string path = dir_ + "/" + name + ".yaml";
    std::ofstream(path) << "name: " << name << "\ncommand: [\"true\"]\n" << yaml;
    auto [rc, text] = run("submit --json " + path, token);
    EXPECT_EQ(rc, 0) << text;
    json j = json::parse(text, nullptr, false);
    return j.is_object() ? j.value("id", int64_t{-1}) : -1;
  };
  const std::string resnet = "job_type: ResNet-18 (batch size 32)\naccelerator_types: [V100, H100-SXM]\n";
  int64_t fastest = submit("fastest", resnet);
  int64_t resident = submit("resident", resnet + "sites: [local]\n");
  int64_t cpu = submit("cpu", "accelerators_per_worker: 0\n");
  auto done = [&](int64_t id) {
    json j;
    WaitFor([&] {
      j = json::parse(run("show --json " + std::to_string(id), token).second, nullptr, false);
      return j.is_object() && (j["state"] == "SUCCEEDED" || j["state"] == "FAILED");
    }, 60);
    return j;
  };
  json f = done(fastest), r = done(resident), c = done(cpu);
  EXPECT_EQ(f["state"], "SUCCEEDED") << f.dump(1);
  EXPECT_EQ(f["site"], "hpc") << f.dump(1);
  EXPECT_EQ(f["placement"]["accelerator"], "H100-SXM") << f.dump(1);
  EXPECT_EQ(r["site"], "local") << r.dump(1);
  EXPECT_EQ(r["placement"]["accelerator"], "V100") << r.dump(1);
  EXPECT_EQ(c["site"], "local") << c.dump(1);
  EXPECT_EQ(c["state"], "SUCCEEDED") << c.dump(1);
}

// Issue 16 item 4: what a waiting job's reason says while its site's controller is dead, and
// after: text classes and times, sampled, never garbage (before: "reserved 2 x H100-SXM at t+9 s"
// counting down to "t+-15 s", then "reserved 2 x ? at t+-1796038870 s").
bool SaneReason(const std::string& r) {
  return !std::regex_search(r, std::regex("[+ ]-[0-9]")) && r.find("x ?") == std::string::npos &&
         !std::regex_search(r, std::regex("[0-9]{7,}"));
}

TEST_F(SlurmService, ReasonsDuringAndAfterAControllerKill) {
  cfg_.policy = "backfill";
  StartService();
  std::vector<int64_t> fill;
  for (int i = 0; i < 4; ++i) {
    json j = Marked("fill" + std::to_string(i), 8, 25);
    j["sites"] = {"hpc"};
    j["estimated_duration_s"] = 5;  // they overrun it: the reservation is "as soon as", never in the past
    fill.push_back(Submit(j));
  }
  for (int64_t id : fill) ASSERT_EQ(Wait(id, "RUNNING")["state"], "RUNNING") << JobJson(id).dump(1);
  json w = Marked("waits", 2, 1);
  w["sites"] = {"hpc"};
  int64_t id = Submit(w);
  ASSERT_GT(id, 0) << last_error_.message();
  EXPECT_TRUE(WaitFor([&] { return JobJson(id)["reason"].get<std::string>().find("reserved 2 x H100-SXM") != std::string::npos; }, 10))
      << JobJson(id).dump(1);
  ASSERT_TRUE(SlurmSavedItsJobState()) << "slurmctld did not save its job state";

  ASSERT_EQ(Slurm("daemon.sh kill slurmctld"), 0);
  ASSERT_TRUE(WaitFor([&] { return !Site("hpc")["healthy"].get<bool>(); }, 15)) << Site("hpc").dump();
  const std::string health = Site("hpc")["reason"];
  EXPECT_EQ(health.rfind("slurmctld: ", 0), 0u) << "names what failed: " << health;
  for (int k = 0; k < 12; ++k) {  // 6 s of the outage
    const std::string r = JobJson(id)["reason"];
    EXPECT_TRUE(SaneReason(r)) << r;
    if (k > 4) {  // a cycle has run since the site went down
      EXPECT_EQ(r.rfind("waiting for site hpc, unreachable since ", 0), 0u) << r;
      EXPECT_NE(r.find("(slurmctld: "), std::string::npos) << r;
      EXPECT_EQ(r.find("reserved"), std::string::npos) << "no reservation on a dead site: " << r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  ASSERT_EQ(Slurm("daemon.sh start slurmctld"), 0);
  ASSERT_TRUE(WaitFor([&] { return Site("hpc")["healthy"].get<bool>(); }, 30)) << Site("hpc").dump();
  ASSERT_TRUE(WaitFor([&] {
    json j = JobJson(id);
    const std::string r = j["reason"];
    EXPECT_TRUE(SaneReason(r)) << r;
    return j["state"] != "PENDING" || r.find("unreachable") == std::string::npos;
  }, 10)) << JobJson(id).dump(1);
  json j = JobJson(id);
  if (j["state"] == "PENDING") EXPECT_NE(j["reason"].get<std::string>().find("reserved 2 x H100-SXM as soon as"), std::string::npos) << j.dump(1);
  EXPECT_EQ(Wait(id, "", 90)["state"], "SUCCEEDED") << JobJson(id).dump(1);
  EXPECT_EQ(Runs(id), 1);
  for (int64_t f : fill) EXPECT_EQ(Wait(f, "", 60)["state"], "SUCCEEDED") << JobJson(f).dump(1);
}

// Issue 16 item 5: a submit that slurmctld never answers (frozen: slurmrestd takes the request and
// waits) leaves its attempt unconfirmed; it is re-dispatched to the local site within the bound
// of docs/formats.md (k): the submit's 3 s timeout + redispatch_unconfirmed_after_s (here 2 s) +
// a tick, not redispatch_after_s (120 s, the default, kept). When slurmctld wakes and takes the
// stale submit, the fenced attempt never runs the command.
TEST_F(SlurmService, UnconfirmedSubmitIsRedispatchedWithinTheBound) {
  cfg_.sites[0].block["accelerator"] = "H100-SXM";
  cfg_.sites[0].block["accelerators"] = 1;
  cfg_.sites[1].redispatch_unconfirmed_after_s = 2;
  ASSERT_EQ(cfg_.sites[1].redispatch_after_s, 120);
  StartService();
  json local_blocker = Marked("local-blocker", 1, 4);
  local_blocker["sites"] = {"local"};
  int64_t blocker = Submit(local_blocker);
  ASSERT_EQ(Wait(blocker, "RUNNING")["state"], "RUNNING");
  std::shared_ptr<void> thaw(nullptr, [this](void*) { Slurm("kill -CONT $(cat $BASE/pid/slurmctld.pid)"); });
  ASSERT_EQ(Slurm("kill -STOP $(cat $BASE/pid/slurmctld.pid)"), 0);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t id = Submit(Marked("movable", 1, 0));
  ASSERT_GT(id, 0) << last_error_.message();
  json j = Wait(id, "", 60);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump(1);
  EXPECT_EQ(j["site"], "local") << j.dump(1);
  bool unconfirmed = false, redispatched = false;
  for (const auto& e : j["events"]) {
    const std::string r = e["reason"];
    unconfirmed |= r.find("unconfirmed") != std::string::npos;
    redispatched |= r.find("its submit was never confirmed") != std::string::npos;
  }
  EXPECT_TRUE(unconfirmed) << j.dump(1);
  EXPECT_TRUE(redispatched) << j.dump(1);
  // 3 + 2 + 0.05 s, plus the blocker's 4 s on the one local GPU and this loaded machine's slack;
  // far below the 120 s it took before.
  EXPECT_LT(took, 30) << j.dump(1);
  const std::string health = Site("hpc")["reason"];
  EXPECT_EQ(health.rfind("slurmctld: ", 0), 0u) << health;

  thaw.reset();
  ASSERT_TRUE(WaitFor([&] { return Site("hpc")["healthy"].get<bool>(); }, 30)) << Site("hpc").dump();
  EXPECT_TRUE(WaitFor([&] { return Slurm("squeue -h -n cnet-" + std::to_string(id) + "-1 | grep -q .") != 0; }, 30));
  EXPECT_EQ(Runs(id), 1) << "the withdrawn attempt must not run the command";
}

}  // namespace
}  // namespace cnet::service
