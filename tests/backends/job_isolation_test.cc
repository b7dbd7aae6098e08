// Attacks of one tenant's job on another tenant's job and on the service, on the local site with
// real Unix accounts, real processes and real cgroups (as root, as CI runs). Each test tries what a
// job could do before jobs had their own accounts, private bookkeeping and cgroups, and checks that
// it fails now. The "service" is this test process.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "backends/local/local_backend.h"
#include "backends/unix_account.h"
#include "common/clock.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Pids of live processes whose command line contains `marker`.
std::vector<int> ProcessesWith(const std::string& marker) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = ReadFile(e.path().string() + "/cmdline");
    std::string stat = ReadFile(e.path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') continue;
    if (cmd.find(marker) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

// The child processes of `ppid` (the job's processes under a supervisor).
std::vector<int> ChildrenOf(int ppid) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFile(e.path().string() + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state;
    int parent = 0;
    rest >> state >> parent;
    if (parent == ppid) out.push_back(std::stoi(name));
  }
  return out;
}

class JobIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (accounts, cgroups)";
    for (const char* acct : {"cnet-iso-alice", "cnet-iso-bob"}) ASSERT_TRUE(CreateSystemAccount(acct).ok());
    base_ = "/tmp/cnet-iso-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ + "/data");
    fs::permissions(base_ + "/data", fs::perms::owner_all);  // as the service makes it
    // What a job must not read: the database and a token file, in the service's data dir.
    std::ofstream(base_ + "/data/cnet.db") << "SQLITE-SECRET-ROWS\n";
    std::ofstream(base_ + "/data/admin.token") << "TOKEN-SECRET\n";
    std::ofstream(base_ + "/data/listed-only-by-the-service") << "\n";
    Make(LocalOptions{});
  }
  void TearDown() override {
    b_.reset();
    fs::remove_all(base_);
    // This process's cgroup subtree, empty once its runs have ended (rmdir fails otherwise).
    const std::string parent = "cnet-iso-test-" + std::to_string(::getpid());
    for (const char* h : {"", "memory/", "cpu/", "pids/", "freezer/"}) ::rmdir(("/sys/fs/cgroup/" + std::string(h) + parent).c_str());
  }

  void Make(LocalOptions o) {
    b_.reset();
    o.data_dir = base_ + "/data";
    o.cpus = 4;
    o.memory_gib = 8;
    o.cgroup_parent = "cnet-iso-test-" + std::to_string(::getpid());
    b_ = std::make_unique<LocalBackend>("local", o, LocalInventory{}, DetectCgroups());
  }
  bool HaveCgroups() const { return b_->Inventory().reason.empty(); }

  LaunchRequest Req(int64_t job, const std::string& tenant, const std::string& script) {
    LaunchRequest r;
    r.job_id = job;
    r.tenant = tenant;
    r.unix_user = "cnet-iso-" + tenant;
    r.argv = {"sh", "-c", script};
    r.nodes = {{"cpu", 1}};
    r.memory_gib_per_worker = 0.5;
    r.env = {{"SECRET", "ENV-SECRET-" + tenant}};
    return r;
  }

  // Launches and returns the supervisors' pids from the handle.
  std::vector<int> Launch(const LaunchRequest& r) {
    auto res = b_->Launch(r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    if (!res.ok()) return {};
    return nlohmann::json::parse(res->handle)["pids"].get<std::vector<int>>();
  }

  SiteEvent WaitEnded(int64_t job, double timeout_s = 60) {
    auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::duration<double>(timeout_s)) {
      for (SiteEvent& e : b_->Poll(SystemClock().Now())) {
        if (e.job_id == job && e.kind == SiteEvent::kEnded) return e;
        others_.push_back(e);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << job << " did not end";
    return SiteEvent{};
  }
  bool Ended(int64_t job) {
    for (SiteEvent& e : b_->Poll(SystemClock().Now())) others_.push_back(e);
    for (const SiteEvent& e : others_)
      if (e.job_id == job && e.kind == SiteEvent::kEnded) return true;
    return false;
  }
  // Waits (bounded) for a file to appear and be non-empty.
  static void WaitForFile(const std::string& path) {
    for (int i = 0; i < 400 && (!fs::exists(path) || fs::file_size(path) == 0); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  std::string Stdout(int64_t job) { return ReadFile(b_->LogPath(job, 1, "stdout")); }

  std::string base_;
  std::unique_ptr<LocalBackend> b_;
  std::vector<SiteEvent> others_;
};

TEST_F(JobIsolationTest, LaunchWithoutAUsableAccountIsRefused) {
  for (const std::string user : {"", "root"}) {
    LaunchRequest r = Req(1, "alice", "true");
    r.unix_user = user;
    auto res = b_->Launch(r);
    ASSERT_FALSE(res.ok()) << "launched as '" << user << "'";
    EXPECT_EQ(res.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(res.status().message().find("tenant alice maps to no Unix account"), std::string::npos) << res.status().message();
    EXPECT_NE(res.status().message().find("cnet admin tenant alice --unix-user"), std::string::npos);
  }
  // --allow-root-jobs: a single-user machine runs such jobs as the service's own user.
  LocalOptions o;
  o.allow_root_jobs = true;
  Make(o);
  LaunchRequest r = Req(2, "alice", "id -u");
  r.unix_user = "";
  Launch(r);
  EXPECT_TRUE(WaitEnded(2).success);
  EXPECT_EQ(Stdout(2), std::to_string(::geteuid()) + "\n");
}

TEST_F(JobIsolationTest, JobRunsAsItsTenantsAccountInItsOwnRunDirectory) {
  auto acct = LookupAccount("cnet-iso-alice");
  ASSERT_TRUE(acct.ok() && *acct);
  Launch(Req(1, "alice", "id -u; id -g; pwd; echo $HOME"));
  SiteEvent e = WaitEnded(1);
  ASSERT_TRUE(e.success) << e.reason;
  const std::string run_dir = base_ + "/data-runs/1-1";
  EXPECT_EQ(Stdout(1), std::to_string((*acct)->uid) + "\n" + std::to_string((*acct)->gid) + "\n" + run_dir + "\n" + run_dir + "\n");
  struct stat st;
  ASSERT_EQ(::stat(run_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, (*acct)->uid);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat((base_ + "/data-runs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
  EXPECT_EQ(st.st_uid, 0u);
}

// Bob's job reads what it can of alice's: her logs, run dir, environment, and the service's
// database and token file (by absolute path and by ../ from its own run dir).
TEST_F(JobIsolationTest, AJobCannotReadAnotherTenantsLogsRunDirEnvironmentOrServiceState) {
  std::vector<int> alice = Launch(Req(1, "alice", "echo LOG-SECRET-alice; echo FILE-SECRET-alice > notes; sleep 120"));
  ASSERT_EQ(alice.size(), 1u);
  WaitForFile(b_->LogPath(1, 1, "stdout"));
  WaitForFile(base_ + "/data-runs/1-1/notes");
  const std::string d = base_ + "/data";
  const std::string attack =
      "cat " + b_->LogPath(1, 1, "stdout") + " " + d + "/runs/1/1/stdout.log " + base_ + "/data-runs/1-1/notes; "
      "ls " + base_ + "/data-runs/1-1; "
      "for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null | tr '\\000' '\\n' | grep SECRET; done; "
      "cat " + d + "/cnet.db " + d + "/admin.token ../data/cnet.db ../../data/cnet.db; ls " + d + " ../data; "
      "echo attack-done";
  Launch(Req(2, "bob", attack));
  SiteEvent e = WaitEnded(2);
  const std::string got = Stdout(2) + ReadFile(b_->LogPath(2, 1, "stderr"));
  EXPECT_NE(got.find("attack-done"), std::string::npos) << got;
  for (const char* secret : {"LOG-SECRET-alice", "FILE-SECRET-alice", "ENV-SECRET-alice", "SQLITE-SECRET", "TOKEN-SECRET", "listed-only-by-the-service"})
    EXPECT_EQ(got.find(secret), std::string::npos) << "bob's job read " << secret << ":\n" << got;
  ASSERT_TRUE(b_->Kill(1, "test done").ok());
  WaitEnded(1);
}

// Bob's job writes "0" where exit codes were recorded, and kills alice's job, her supervisor and
// the service: alice's job keeps running, and its outcome is its own.
TEST_F(JobIsolationTest, AJobCannotForgeOrKillAnotherTenantsJobNorKillTheService) {
  std::vector<int> alice = Launch(Req(1, "alice", "sleep 3; exit 3"));
  ASSERT_EQ(alice.size(), 1u);
  std::vector<int> job;
  for (int i = 0; i < 200 && job.empty(); ++i) {
    job = ChildrenOf(alice[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(job.size(), 1u);
  const std::string d = base_ + "/data";
  const std::string attack =
      "for f in " + d + "/runs/1/1/exit.0 " + base_ + "/data-runs/1-1/exit.0; do echo 0 > $f.tmp; mv $f.tmp $f; echo 0 > $f; done; "
      "kill -9 " + std::to_string(job[0]) + " " + std::to_string(alice[0]) + " " + std::to_string(::getpid()) + "; "
      "kill -STOP " + std::to_string(job[0]) + "; echo attack-done";
  Launch(Req(2, "bob", attack));
  WaitEnded(2);
  EXPECT_NE(Stdout(2).find("attack-done"), std::string::npos);
  EXPECT_EQ(::kill(job[0], 0), 0) << "alice's job was killed";
  SiteEvent e = WaitEnded(1);
  EXPECT_FALSE(e.success);
  EXPECT_EQ(e.exit_code, 3) << e.reason;
}

// setsid and a double fork leave the process group; the cgroup holds them: the time limit and a
// cancel end every process the job started.
TEST_F(JobIsolationTest, SetsidAndDoubleForkDoNotEscapeTimeLimitOrCancel) {
  if (!HaveCgroups()) GTEST_SKIP() << b_->Inventory().reason;
  const std::string escape =
      "setsid sleep 7771 & (sleep 7772 &) ; perl -e 'if (fork) { exit } else { setpgrp; exec q(sleep), 7773 }'; sleep 7774";
  LaunchRequest r = Req(1, "alice", escape);
  r.time_limit_s = 1;
  Launch(r);
  SiteEvent e = WaitEnded(1);
  EXPECT_TRUE(e.timed_out);
  EXPECT_NE(e.reason.find("TIMEOUT: time limit 1 s exceeded"), std::string::npos) << e.reason;
  for (const char* m : {"sleep 7771", "sleep 7772", "sleep 7773", "sleep 7774"}) EXPECT_TRUE(ProcessesWith(m).empty()) << m << " escaped";

  LaunchRequest c = Req(2, "alice", "setsid sleep 7775 & (sleep 7776 &) ; sleep 7777");
  Launch(c);
  for (int i = 0; i < 400 && ProcessesWith("sleep 7776").empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(b_->Kill(2, "cancelled").ok());
  e = WaitEnded(2);
  EXPECT_TRUE(e.killed);
  for (const char* m : {"sleep 7775", "sleep 7776", "sleep 7777"}) EXPECT_TRUE(ProcessesWith(m).empty()) << m << " escaped";
}

TEST_F(JobIsolationTest, MemoryBeyondTheLimitIsAnOomKillReportedAsSuch) {
  if (!HaveCgroups()) GTEST_SKIP() << b_->Inventory().reason;
  LaunchRequest r = Req(1, "alice", "perl -e '$x = q(a) x (400*1024*1024); print qq(survived\\n)'");
  r.memory_gib_per_worker = 0.0625;  // 64 MiB
  Launch(r);
  SiteEvent e = WaitEnded(1);
  EXPECT_FALSE(e.success);
  EXPECT_NE(e.reason.find("out of memory: limit 0.1 GiB"), std::string::npos) << e.reason;
  EXPECT_EQ(Stdout(1).find("survived"), std::string::npos);
}

TEST_F(JobIsolationTest, ProcessesBeyondThePidsLimitCannotStart) {
  if (!HaveCgroups()) GTEST_SKIP() << b_->Inventory().reason;
  LocalOptions o;
  o.pids_per_job = 20;
  Make(o);
  Launch(Req(1, "alice", "for i in $(seq 60); do sleep 3 & done; wait; echo loop-done"));
  WaitEnded(1);
  const std::string err = ReadFile(b_->LogPath(1, 1, "stderr"));
  EXPECT_NE(err.find("Cannot fork"), std::string::npos) << "60 processes started under a limit of 20:\n" << Stdout(1) << err;
}

// The job replaces stdout.log (in its run dir, and at the log's real path) with a link to
// /etc/shadow: the log the service serves is still the job's own output.
TEST_F(JobIsolationTest, ASymlinkedStdoutLogIsNotWhatTheServiceReads) {
  const std::string log = b_->LogPath(1, 1, "stdout");
  Launch(Req(1, "alice", "echo mine; ln -sf /etc/shadow stdout.log; ln -sf /etc/shadow " + log + "; "
                         "rm -f " + log + "; ln -sf /etc/shadow ../../data/runs/1/1/stdout.log; true"));
  WaitEnded(1);
  struct stat st;
  ASSERT_EQ(::lstat(log.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(ReadFile(log), "mine\n");
}

TEST_F(JobIsolationTest, LogsStopAtTheCapWithANote) {
  LocalOptions o;
  o.log_cap_bytes = 4096;
  Make(o);
  Launch(Req(1, "alice", "yes 0123456789 | head -c 100000; echo tail-marker"));
  SiteEvent e = WaitEnded(1);
  EXPECT_TRUE(e.success) << e.reason;
  const std::string out = Stdout(1);
  EXPECT_LT(out.size(), 4096u + 200u);
  EXPECT_NE(out.find("cnet: log size limit of 4096 bytes reached; further output is discarded"), std::string::npos);
  EXPECT_EQ(out.find("tail-marker"), std::string::npos);
}

}  // namespace
}  // namespace cnet::backends::local
