// ProcessRunner: real child processes on this machine, a fresh data directory per test.
#include "backends/local/process_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/local/inventory.h"
#include "backends/local/launch_prep.h"
#include "backends/local/proc_stat.h"
#include "backends/local/spawn.h"
#include "common/clock.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

// nvidia-smi names map to the catalogue by part and memory size (issue 10 item 4: an A100 40GB
// was taken for the 80 GB part, a V100 32GB for the 16 GB one).
TEST(DeviceNames, MapToTheRightCatalogueType) {
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA A100-SXM4-40GB"), "A100-40GB");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA A100-PCIE-40GB"), "A100-40GB");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA A100-SXM4-80GB"), "A100-80GB");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA A100 80GB PCIe"), "A100-80GB");
  EXPECT_EQ(CatalogueNameForDevice("Tesla V100-SXM2-32GB"), "V100-32GB");
  EXPECT_EQ(CatalogueNameForDevice("Tesla V100-SXM2-16GB"), "V100");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA A10"), "A10");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA L4"), "L4");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA L40S"), "L40S");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA L40"), "NVIDIA L40");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA GeForce RTX 4090"), "RTX-4090");
  EXPECT_EQ(CatalogueNameForDevice("NVIDIA H100 80GB HBM3"), "H100-SXM");
}

double Now() { return SystemClock().Now(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Gone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Waits up to `timeout_s` for no process to remain in group `pgid`.
bool GroupGone(int pgid, double timeout_s = 2) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (::kill(-pgid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Pids of the live (non-zombie) processes in group `pgid`, from /proc.
std::vector<int> GroupMembers(int pgid) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto ps = ReadProcStat(std::stoi(name));
    if (ps && ps->pgrp == pgid && !IsDeadState(ps->state)) out.push_back(std::stoi(name));
  }
  return out;
}

// Runs `service(out_fd)` in a forked "service" process that then exits, under a keeper process (a
// child subreaper) that takes its orphans as init would, so that adoption uses the /proc path.
// Returns what the service wrote to out_fd; *keeper is the keeper's pid (the caller waits for it).
std::string InDyingService(const std::function<void(int)>& service, pid_t* keeper) {
  int fds[2];
  if (::pipe(fds) != 0) return "";
  *keeper = ::fork();
  if (*keeper < 0) return "";
  if (*keeper == 0) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    ::close(fds[0]);
    if (::fork() == 0) {
      service(fds[1]);
      ::_exit(0);
    }
    ::close(fds[1]);
    while (::wait(nullptr) > 0 || errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  return out;
}

class ProcessRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cnet_local_site_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // Some container PID 1s never reap orphans, whose zombies would keep a killed job's process
    // group visible to kill(-pgid, 0). As a child subreaper this process inherits a job's orphans
    // instead, and ProcessRunner::Poll reaps them (it reaps zombie children found in the job's group).
    ::prctl(PR_GET_CHILD_SUBREAPER, &prev_subreaper_);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  }
  void TearDown() override {
    ::prctl(PR_SET_CHILD_SUBREAPER, prev_subreaper_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    fs::remove_all(dir_ + "-runs", ec);
  }

  // Polls every 20 ms until `job_id` ends or `timeout_s` passes.
  std::optional<ExitInfo> WaitFor(ProcessRunner& site, int64_t job_id, double timeout_s = 5) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      for (const ExitInfo& e : site.Poll(Now())) {
        if (e.job_id == job_id) return e;
        ADD_FAILURE() << "unexpected job " << e.job_id << " ended";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  LaunchSpec Spec(int64_t job_id, std::vector<std::string> argv) {
    LaunchSpec s;
    s.job_id = job_id;
    s.argv = std::move(argv);
    return s;
  }

  std::string dir_;
  int prev_subreaper_ = 0;
};

TEST_F(ProcessRunnerTest, ExitCodeAndLogs) {
  ProcessRunner site(dir_);
  auto h = site.Launch(Spec(1, {"sh", "-c", "echo hello; echo err >&2; exit 3"}));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->run_dir, dir_ + "/runs/1/1");
  EXPECT_EQ(h->pgid, h->pids[0]);
  ASSERT_EQ(h->start_ticks.size(), 1u);
  EXPECT_GT(h->start_ticks[0], 0);
  EXPECT_EQ(site.running(), 1u);
  auto e = WaitFor(site, 1);
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->success);
  EXPECT_EQ(e->exit_code, 3);
  EXPECT_FALSE(e->killed);
  EXPECT_FALSE(e->timed_out);
  EXPECT_EQ(e->reason, "exit code 3 (worker 0)");
  EXPECT_EQ(site.running(), 0u);
  EXPECT_EQ(ReadFile(site.StdoutPath(1, 1)), "hello\n");
  EXPECT_EQ(ReadFile(site.StderrPath(1, 1)), "err\n");
  EXPECT_EQ(ReadFile(h->run_dir + "/exit.0"), "3\n");
  EXPECT_TRUE(Gone(h->pids[0]));  // reaped: no zombie left behind
}

TEST_F(ProcessRunnerTest, SuccessReportsZero) {
  ProcessRunner site(dir_);
  auto h = site.Launch(Spec(2, {"true"}));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto e = WaitFor(site, 2);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success);
  EXPECT_EQ(e->exit_code, 0);
}

TEST_F(ProcessRunnerTest, EnvironmentAndDevices) {
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(3, {"sh", "-c",
                          "echo \"w=$CNET_WORKER_INDEX dev=$CUDA_VISIBLE_DEVICES foo=$FOO "
                          "job=$CNET_JOB_ID ws=$CNET_WORLD_SIZE\""});
  s.workers = 2;
  s.devices = {{0, 1}, {2, 3}};
  s.env = {{"FOO", "bar"}};
  auto h = site.Launch(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->pids.size(), 2u);
  auto e = WaitFor(site, 3);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success) << e->reason;
  std::string out = ReadFile(site.StdoutPath(3, 1));
  EXPECT_NE(out.find("w=0 dev=0,1 foo=bar job=3 ws=2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("w=1 dev=2,3 foo=bar job=3 ws=2\n"), std::string::npos) << out;
}

// A gang's workers share one log: each line is labelled with its worker's rank ("[k] ", as srun
// --label), a last line without its newline too (ended with one, so that another worker's next line
// does not run into it: that happened under load); a one-worker job's log is the bytes it wrote.
TEST_F(ProcessRunnerTest, GangLogLinesArePrefixedByRank) {
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(30, {"sh", "-c", "for i in 1 2 3; do echo line $i of $CNET_WORKER_INDEX; done; "
                                       "echo err of $CNET_WORKER_INDEX >&2; printf 'tail-%s' $CNET_WORKER_INDEX"});
  s.workers = 2;
  ASSERT_TRUE(site.Launch(s).ok());
  auto e = WaitFor(site, 30);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success) << e->reason;
  std::vector<std::string> lines;
  std::stringstream out(ReadFile(site.StdoutPath(30, 1)));
  for (std::string l; std::getline(out, l);) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"[0] line 1 of 0", "[0] line 2 of 0", "[0] line 3 of 0", "[0] tail-0",
                                             "[1] line 1 of 1", "[1] line 2 of 1", "[1] line 3 of 1", "[1] tail-1"}));
  const std::string err = ReadFile(site.StderrPath(30, 1));
  EXPECT_NE(err.find("[0] err of 0\n"), std::string::npos) << err;
  EXPECT_NE(err.find("[1] err of 1\n"), std::string::npos) << err;

  ASSERT_TRUE(site.Launch(Spec(31, {"sh", "-c", "echo one; printf two"})).ok());
  ASSERT_TRUE(WaitFor(site, 31).has_value());
  EXPECT_EQ(ReadFile(site.StdoutPath(31, 1)), "one\ntwo");
}

// A worker's unfinished line is shown while the job is quiet (after 0.1 s); another worker's line
// written meanwhile must not run into it (CI saw "[1] tail-1[0] line 2 of 0" once).
TEST_F(ProcessRunnerTest, AnUnfinishedLineShownWhileQuietDoesNotTakeAnotherWorkersLine) {
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(32, {"sh", "-c", "if [ \"$CNET_WORKER_INDEX\" = 1 ]; then printf tail-1; sleep 1; printf ' more'; "
                                       "else sleep 0.5; echo late; fi"});
  s.workers = 2;
  ASSERT_TRUE(site.Launch(s).ok());
  auto e = WaitFor(site, 32);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success) << e->reason;
  EXPECT_EQ(ReadFile(site.StdoutPath(32, 1)), "[1] tail-1\n[0] late\n[1]  more\n");
}

TEST_F(ProcessRunnerTest, WorkersShareOneProcessGroupAndSession) {
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(4, {"sh", "-c", "sleep 0.3"});
  s.workers = 3;
  auto h = site.Launch(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  for (int pid : h->pids) {
    EXPECT_EQ(::getpgid(pid), h->pgid);
    EXPECT_EQ(::getsid(pid), ::getsid(h->pids[0]));
  }
  EXPECT_NE(::getsid(h->pids[0]), ::getsid(0));  // a session of its own, not the service's
  auto e = WaitFor(site, 4);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success) << e->reason;
}

// Where clone(CLONE_PARENT) is refused, all workers are forked by the site into one new process
// group of its own session; the knob forces that path.
TEST_F(ProcessRunnerTest, GroupModeFallback) {
  ::setenv("CNET_LOCAL_SITE_GROUP_MODE", "1", 1);
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(22, {"sh", "-c", "echo w=$CNET_WORKER_INDEX; sleep 100"});
  s.workers = 3;
  auto h = site.Launch(s);
  ::unsetenv("CNET_LOCAL_SITE_GROUP_MODE");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  for (int pid : h->pids) EXPECT_EQ(::getpgid(pid), h->pgid);
  EXPECT_EQ(::getsid(h->pids[0]), ::getsid(0));
  EXPECT_NE(h->pgid, ::getpgid(0));
  // Three lines "[k] w=k\n" (a gang's lines carry their rank) before the kill.
  for (int i = 0; i < 100 && ReadFile(site.StdoutPath(22, 1)).size() < 24; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(site.Kill(22, "stop", 1).ok());
  auto e = WaitFor(site, 22, 4);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->killed);
  EXPECT_TRUE(GroupGone(h->pgid));
  std::string out = ReadFile(site.StdoutPath(22, 1));
  for (const char* w : {"w=0\n", "w=1\n", "w=2\n"}) EXPECT_NE(out.find(w), std::string::npos) << out;
}

TEST_F(ProcessRunnerTest, AscendDeviceEnv) {
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(5, {"sh", "-c",
                          "echo \"asc=$ASCEND_RT_VISIBLE_DEVICES "
                          "cuda=${CUDA_VISIBLE_DEVICES-unset}\""});
  s.devices = {{4, 5, 6}};
  s.device_env = "ASCEND_RT_VISIBLE_DEVICES";
  ASSERT_TRUE(site.Launch(s).ok());
  auto e = WaitFor(site, 5);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success) << e->reason;
  EXPECT_EQ(ReadFile(site.StdoutPath(5, 1)), "asc=4,5,6 cuda=unset\n");
}

TEST_F(ProcessRunnerTest, WorkingDirectory) {
  ProcessRunner site(dir_);
  fs::create_directories(dir_ + "/work");
  LaunchSpec s = Spec(6, {"pwd"});
  s.working_dir = dir_ + "/work";
  ASSERT_TRUE(site.Launch(s).ok());
  ASSERT_TRUE(WaitFor(site, 6).has_value());
  EXPECT_EQ(ReadFile(site.StdoutPath(6, 1)), fs::canonical(dir_ + "/work").string() + "\n");

  // Without one, the run directory; a second attempt gets its own directory.
  LaunchSpec d = Spec(7, {"pwd"});
  d.attempt = 2;
  auto h = site.Launch(d);
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(WaitFor(site, 7).has_value());
  // The job's own run directory is outside the data dir; the private record stays inside it.
  EXPECT_EQ(ReadFile(site.StdoutPath(7, 2)), fs::canonical(dir_ + "-runs/7-2").string() + "\n");
  EXPECT_EQ(h->work_dir, dir_ + "-runs/7-2");
  EXPECT_EQ(h->run_dir, dir_ + "/runs/7/2");
}

TEST_F(ProcessRunnerTest, MissingProgramRejectedBeforeAnythingRuns) {
  ProcessRunner site(dir_);
  auto h = site.Launch(Spec(8, {"cnet-no-such-program-xyz", "arg"}));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), Code::kInvalidArgument);
  EXPECT_NE(h.status().message().find("program 'cnet-no-such-program-xyz' not found in PATH"),
            std::string::npos)
      << h.status().message();
  EXPECT_EQ(site.running(), 0u);
  EXPECT_FALSE(fs::exists(dir_ + "/runs/8"));

  auto abs = site.Launch(Spec(9, {dir_ + "/nope"}));
  EXPECT_EQ(abs.status().code(), Code::kInvalidArgument);
  LaunchSpec bad_dir = Spec(10, {"true"});
  bad_dir.working_dir = dir_ + "/missing";
  EXPECT_EQ(site.Launch(bad_dir).status().code(), Code::kInvalidArgument);
  LaunchSpec bad_devices = Spec(11, {"true"});
  bad_devices.workers = 2;
  bad_devices.devices = {{0}};
  EXPECT_EQ(site.Launch(bad_devices).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(site.running(), 0u);
}

TEST_F(ProcessRunnerTest, TimeLimitTerminatesGroup) {
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(12, {"sleep", "30"});
  s.time_limit_s = 1;
  auto h = site.Launch(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto t0 = std::chrono::steady_clock::now();
  auto e = WaitFor(site, 12, 4);
  ASSERT_TRUE(e.has_value());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 4);
  EXPECT_TRUE(e->timed_out);
  EXPECT_FALSE(e->success);
  EXPECT_FALSE(e->killed);
  EXPECT_EQ(e->reason, "TIMEOUT: time limit 1 s exceeded");
  EXPECT_NE(e->exit_code, 0);
  EXPECT_TRUE(Gone(h->pids[0]));
  EXPECT_TRUE(GroupGone(h->pgid)) << "the shim's child `sleep` survived";
}

TEST_F(ProcessRunnerTest, KillEndsWholeGroupIncludingBackgroundChildren) {
  ProcessRunner site(dir_);
  auto h = site.Launch(Spec(13, {"sh", "-c", "sleep 100 & sleep 100"}));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  // Wait for the shim, the foreground and the background sleep.
  std::vector<int> members;
  for (int i = 0; i < 100 && members.size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    members = GroupMembers(h->pgid);
  }
  ASSERT_GE(members.size(), 3u);
  EXPECT_TRUE(site.Poll(Now()).empty());
  ASSERT_TRUE(site.Kill(13, "cancelled by user", 2).ok());
  auto e = WaitFor(site, 13, 4);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->killed);
  EXPECT_FALSE(e->success);
  EXPECT_FALSE(e->timed_out);
  EXPECT_EQ(e->reason, "cancelled by user");
  EXPECT_EQ(e->exit_code, 128 + SIGTERM);
  EXPECT_TRUE(GroupGone(h->pgid));
  for (int pid : members) EXPECT_TRUE(Gone(pid)) << pid;
  EXPECT_EQ(site.Kill(13, "again").code(), Code::kNotFound);
}

TEST_F(ProcessRunnerTest, KillEscalatesToSigkillAfterGrace) {
  ProcessRunner site(dir_);
  // The shim dies on SIGTERM, but the program ignores it: SIGKILL after the grace period.
  auto h = site.Launch(Spec(14, {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}));
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  for (int i = 0; i < 100 && ReadFile(site.StdoutPath(14, 1)).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(site.Kill(14, "preempted", 0.5).ok());
  auto e = WaitFor(site, 14, 4);
  ASSERT_TRUE(e.has_value());
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(took, 0.4);  // the grace period was honoured
  EXPECT_TRUE(e->killed);
  EXPECT_EQ(e->reason, "preempted");
  EXPECT_TRUE(GroupGone(h->pgid));
}

TEST_F(ProcessRunnerTest, GangFailureStopsTheOtherWorkers) {
  ProcessRunner site(dir_);
  LaunchSpec s = Spec(15, {"sh", "-c", "if [ \"$CNET_WORKER_INDEX\" = 0 ]; then exit 1; fi; sleep 100"});
  s.workers = 2;
  auto h = site.Launch(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto t0 = std::chrono::steady_clock::now();
  auto e = WaitFor(site, 15, 4);
  ASSERT_TRUE(e.has_value());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2);
  EXPECT_FALSE(e->success);
  EXPECT_FALSE(e->killed);
  EXPECT_FALSE(e->timed_out);
  EXPECT_EQ(e->exit_code, 1);
  EXPECT_EQ(e->reason, "exit code 1 (worker 0)");
  EXPECT_TRUE(Gone(h->pids[1]));
  EXPECT_TRUE(GroupGone(h->pgid));
}

TEST_F(ProcessRunnerTest, AdoptRunningJobAfterRestart) {
  RunHandle h;
  {
    ProcessRunner first(dir_);
    auto r = first.Launch(Spec(16, {"sleep", "1"}));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    h = *r;
  }  // the destructor leaves running jobs alone
  EXPECT_EQ(::kill(h.pids[0], 0), 0);
  auto restored = RunHandle::FromJson(h.ToJson());
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();

  ProcessRunner second(dir_);
  EXPECT_TRUE(second.Adopt(*restored));
  EXPECT_EQ(second.running(), 1u);
  auto e = WaitFor(second, 16, 4);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success) << e->reason;
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_TRUE(Gone(h.pids[0]));
}

TEST_F(ProcessRunnerTest, AdoptJobOfAnotherProcess) {
  // A service process launches a job and exits; the worker is not a child of this process.
  pid_t keeper = -1;
  const std::string json = InDyingService(
      [&](int out) {
        ProcessRunner site(dir_);
        auto r = site.Launch(Spec(17, {"sh", "-c", "sleep 0.5; exit 4"}));
        std::string text = r.ok() ? r->ToJson() : "";
        (void)!::write(out, text.data(), text.size());
      },
      &keeper);
  auto h = RunHandle::FromJson(json);
  ASSERT_TRUE(h.ok()) << h.status().ToString() << " " << json;

  ProcessRunner site(dir_);
  EXPECT_TRUE(site.Adopt(*h));
  auto ps = ReadProcStat(h->pids[0]);
  ASSERT_TRUE(ps.has_value());
  EXPECT_NE(ps->ppid, ::getpid());  // not our child: the /proc path
  auto e = WaitFor(site, 17, 4);
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->success);
  EXPECT_EQ(e->exit_code, 4);  // from the exit file
  EXPECT_EQ(e->reason, "exit code 4 (worker 0)");
  int st;
  ASSERT_EQ(::waitpid(keeper, &st, 0), keeper);
}

// A service that dies between recording a run's handle and opening its start gate (the window a
// SIGKILL during a burst of submits hit): the job must never run, and a restarted service must be
// able to tell, so that it starts it again exactly once. With the gate opened just before the
// death, the job runs once and is adopted. The dying service is a forked child; a keeper process
// (a child subreaper) takes its orphans, as init would, so adoption uses the /proc path.
void DieAtTheGate(const std::string& dir, const LaunchSpec& spec, bool open_gate, int out_fd) {
  const std::string run_dir = dir + "/runs/" + std::to_string(spec.job_id) + "/1";
  if (!MakePrivateDir(dir, run_dir).ok()) ::_exit(3);
  std::map<std::string, std::string> env = BaseEnv(spec, dir);
  std::vector<WorkerPlan> plans = BuildPlans(spec, env, run_dir, {"/bin/sh"});
  const std::string out = run_dir + "/stdout.log", err = run_dir + "/stderr.log";
  ChildCommon common = MakeChildCommon(out, err, dir);
  StartGate gate;
  if (!gate.Open()) ::_exit(4);
  common.go_fd = gate.read_fd;
  auto pids = SpawnWorkers(plans, common);
  gate.CloseReadEnd();
  if (!pids.ok()) ::_exit(5);
  RunHandle h;
  h.job_id = spec.job_id;
  h.pgid = (*pids)[0];
  h.pids = *pids;
  for (int pid : h.pids) {
    auto ps = ReadProcStat(pid);
    if (!ps) ::_exit(7);
    h.start_ticks.push_back(ps->start_ticks);
  }
  h.run_dir = run_dir;
  h.gated = true;
  if (!WriteHandleFile(h).ok()) ::_exit(6);
  if (open_gate) gate.Release(static_cast<int>(h.pids.size()));
  const std::string json = h.ToJson();
  (void)!::write(out_fd, json.data(), json.size());
  ::_exit(0);  // no destructors: the gate's write end closes with the process
}

// Runs DieAtTheGate in a dying service (InDyingService); returns the handle it recorded.
std::optional<RunHandle> LaunchAndDie(const std::string& dir, const LaunchSpec& spec, bool open_gate, pid_t* keeper) {
  auto h = RunHandle::FromJson(InDyingService([&](int out) { DieAtTheGate(dir, spec, open_gate, out); }, keeper));
  if (!h.ok()) return std::nullopt;
  return *h;
}

TEST_F(ProcessRunnerTest, ServiceDeathBeforeTheGateOpensMeansTheJobNeverRan) {
  const std::string marker = dir_ + "/ran";
  for (int workers : {1, 3}) {
    SCOPED_TRACE("workers " + std::to_string(workers));
    fs::remove(marker);
    LaunchSpec spec = Spec(30 + workers, {"sh", "-c", "echo ran >> " + marker});
    spec.workers = workers;
    pid_t keeper = -1;
    auto h = LaunchAndDie(dir_, spec, false, &keeper);
    ASSERT_TRUE(h.has_value());
    ASSERT_TRUE(h->gated);
    ProcessRunner site(dir_);
    EXPECT_FALSE(site.Adopt(*h));  // waits for the supervisors at the gate to give up
    EXPECT_TRUE(ProcessRunner::NeverBegan(*h));
    int st;
    ASSERT_EQ(::waitpid(keeper, &st, 0), keeper);
    EXPECT_FALSE(fs::exists(marker)) << "the job ran although its gate never opened";
    for (int k = 0; k < workers; ++k) EXPECT_FALSE(fs::exists(h->run_dir + "/began." + std::to_string(k)));
  }
}

TEST_F(ProcessRunnerTest, ServiceDeathJustAfterTheGateOpensLeavesOneRunToAdopt) {
  const std::string marker = dir_ + "/ran";
  LaunchSpec spec = Spec(40, {"sh", "-c", "sleep 0.3; echo ran >> " + marker});
  spec.workers = 2;
  pid_t keeper = -1;
  auto h = LaunchAndDie(dir_, spec, true, &keeper);
  ASSERT_TRUE(h.has_value());
  ProcessRunner site(dir_);
  EXPECT_TRUE(site.Adopt(*h));
  EXPECT_FALSE(ProcessRunner::NeverBegan(*h));
  auto e = WaitFor(site, 40, 5);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->success) << e->reason;
  int st;
  ASSERT_EQ(::waitpid(keeper, &st, 0), keeper);
  EXPECT_EQ(ReadFile(marker), "ran\nran\n");  // each of the two workers once
}

// A handle from before the gate (no "gated") is never taken for a run that did not begin.
TEST_F(ProcessRunnerTest, UngatedHandlesAreNeverCalledUnstarted) {
  RunHandle h;
  h.job_id = 41;
  h.pgid = 999999;
  h.pids = {999999};
  h.start_ticks = {1};
  h.run_dir = dir_ + "/runs/41/1";
  EXPECT_FALSE(ProcessRunner::NeverBegan(h));
  h.gated = true;
  EXPECT_TRUE(ProcessRunner::NeverBegan(h));
  fs::create_directories(h.run_dir);
  std::ofstream(h.run_dir + "/exit.0") << "0\n";
  EXPECT_FALSE(ProcessRunner::NeverBegan(h));
}

TEST_F(ProcessRunnerTest, AdoptFinishedJobFromItsExitFiles) {
  RunHandle h;
  h.job_id = 18;
  h.pgid = 999999;
  h.pids = {999999, 999998};
  h.start_ticks = {1, 1};
  h.run_dir = dir_ + "/runs/18/1";
  fs::create_directories(h.run_dir);
  std::ofstream(h.run_dir + "/exit.0") << "0\n";
  ProcessRunner site(dir_);
  EXPECT_FALSE(site.Adopt(h));  // worker 1 is gone without a trace
  std::ofstream(h.run_dir + "/exit.1") << "5\n";
  EXPECT_TRUE(site.Adopt(h));
  auto e = site.Poll(Now());
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].success);
  EXPECT_EQ(e[0].exit_code, 5);
  EXPECT_EQ(e[0].reason, "exit code 5 (worker 1)");
}

TEST_F(ProcessRunnerTest, AdoptGoneJobReturnsFalse) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(0);
  int st;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  RunHandle h;
  h.job_id = 19;
  h.pgid = pid;
  h.pids = {pid};
  h.start_ticks = {12345};
  h.run_dir = dir_ + "/runs/19/1";
  ProcessRunner site(dir_);
  EXPECT_FALSE(site.Adopt(h));
  EXPECT_EQ(site.running(), 0u);
  h.pids = {};
  h.start_ticks = {};
  EXPECT_FALSE(site.Adopt(h));
}

TEST_F(ProcessRunnerTest, DetectInventory) {
  LocalInventory inv = DetectInventory();
  EXPECT_GT(inv.cpus, 0);
  EXPECT_GT(inv.memory_gib, 0);
  EXPECT_EQ(inv.accelerator_count, static_cast<int>(inv.device_names.size()));
  EXPECT_EQ(inv.accelerator.empty(), inv.device_names.empty());
}

TEST_F(ProcessRunnerTest, RunHandleJsonRoundTrip) {
  RunHandle h;
  h.job_id = 123456789012;
  h.attempt = 3;
  h.pgid = 4242;
  h.pids = {4242, 4243};
  h.start_ticks = {1000000000001LL, 17};
  h.started_at = 1700000000.25;
  h.time_limit_s = 60;
  h.run_dir = "/data/runs/123456789012/3";
  auto r = RunHandle::FromJson(h.ToJson());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->job_id, h.job_id);
  EXPECT_EQ(r->attempt, h.attempt);
  EXPECT_EQ(r->pgid, h.pgid);
  EXPECT_EQ(r->pids, h.pids);
  EXPECT_EQ(r->start_ticks, h.start_ticks);
  EXPECT_DOUBLE_EQ(r->started_at, h.started_at);
  EXPECT_DOUBLE_EQ(r->time_limit_s, h.time_limit_s);
  EXPECT_EQ(r->run_dir, h.run_dir);
  EXPECT_EQ(RunHandle::FromJson("{").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RunHandle::FromJson("{\"job_id\": 1}").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(RunHandle::FromJson("[1]").status().code(), Code::kInvalidArgument);
}

TEST_F(ProcessRunnerTest, DuplicateLaunchAndUnknownKill) {
  ProcessRunner site(dir_);
  ASSERT_TRUE(site.Launch(Spec(20, {"sleep", "5"})).ok());
  EXPECT_EQ(site.Launch(Spec(20, {"true"})).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(site.Kill(21, "x").code(), Code::kNotFound);
  ASSERT_TRUE(site.Kill(20, "cleanup", 0).ok());
  auto e = WaitFor(site, 20, 3);
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->killed);
  EXPECT_EQ(e->exit_code, 128 + SIGKILL);
}

}  // namespace
}  // namespace cnet::backends::local
