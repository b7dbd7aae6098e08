// Per-job cgroups (backends/local/cgroup.h): real cgroups as root where the host has them, and the
// v2 code path against a fake cgroup2 tree (a temp dir and a fake mounts file).
#include "backends/local/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/strings.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  auto r = ReadWholeFile(path);
  return r.ok() ? Trim(*r) : "<unreadable " + path + ">";
}

void Put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// ---- Detection on fake mounts files ----

class CgroupDetectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cnet-cgdetect-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "root");
    mounts_ = (dir_ / "mounts").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Root() const { return (dir_ / "root").string(); }
  fs::path dir_;
  std::string mounts_;
};

TEST_F(CgroupDetectTest, V2WhenCgroup2MountedAtRootWithControllers) {
  Put(mounts_, "proc /proc proc rw 0 0\ncgroup2 " + Root() + " cgroup2 rw,nosuid 0 0\n");
  Put(Root() + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
  CgroupHost h = DetectCgroups(Root(), mounts_);
  EXPECT_EQ(h.version, CgroupVersion::kV2) << h.why_none;
}

TEST_F(CgroupDetectTest, V2LackingPidsControllerIsNone) {
  Put(mounts_, "cgroup2 " + Root() + " cgroup2 rw 0 0\n");
  Put(Root() + "/cgroup.controllers", "cpu io memory\n");
  CgroupHost h = DetectCgroups(Root(), mounts_);
  EXPECT_EQ(h.version, CgroupVersion::kNone);
  EXPECT_NE(h.why_none.find("pids"), std::string::npos) << h.why_none;
}

TEST_F(CgroupDetectTest, V1WhenAllFourHierarchiesMounted) {
  std::string m = "tmpfs " + Root() + " tmpfs rw 0 0\n";
  for (std::string c : {"memory", "cpu,cpuacct", "pids", "freezer"}) {
    fs::create_directories(Root() + "/" + c);
    m += "cgroup " + Root() + "/" + c + " cgroup rw,nosuid," + c + " 0 0\n";
  }
  fs::create_directory_symlink("cpu,cpuacct", Root() + "/cpu");
  // A hybrid host's unified tree elsewhere does not make it v2.
  m += "cgroup2 " + Root() + "/unified cgroup2 rw 0 0\n";
  Put(mounts_, m);
  CgroupHost h = DetectCgroups(Root(), mounts_);
  EXPECT_EQ(h.version, CgroupVersion::kV1) << h.why_none;
}

TEST_F(CgroupDetectTest, V1MissingFreezerIsNoneAndSaysWhy) {
  std::string m;
  for (std::string c : {"memory", "cpu", "pids"}) {
    fs::create_directories(Root() + "/" + c);
    m += "cgroup " + Root() + "/" + c + " cgroup rw," + c + " 0 0\n";
  }
  Put(mounts_, m);
  CgroupHost h = DetectCgroups(Root(), mounts_);
  EXPECT_EQ(h.version, CgroupVersion::kNone);
  EXPECT_NE(h.why_none.find("freezer"), std::string::npos) << h.why_none;
}

TEST_F(CgroupDetectTest, NoCgroupsAtAllIsNone) {
  Put(mounts_, "proc /proc proc rw 0 0\nsysfs /sys sysfs rw 0 0\n");
  CgroupHost h = DetectCgroups(Root(), mounts_);
  EXPECT_EQ(h.version, CgroupVersion::kNone);
  EXPECT_FALSE(h.why_none.empty());
  EXPECT_EQ(DetectCgroups(Root(), (dir_ / "absent").string()).version, CgroupVersion::kNone);
}

// ---- The v2 code path on a fake cgroup2 tree ----

TEST_F(CgroupDetectTest, V2CreateWritesLimitsAndDelegatesControllers) {
  Put(mounts_, "cgroup2 " + Root() + " cgroup2 rw 0 0\n");
  Put(Root() + "/cgroup.controllers", "cpu memory pids\n");
  CgroupHost h = DetectCgroups(Root(), mounts_);
  ASSERT_EQ(h.version, CgroupVersion::kV2) << h.why_none;
  CgroupLimits l{.memory_bytes = 32 << 20, .cpus = 1.5, .pids = 64};
  auto g = JobCgroup::Create(h, "job-7-1", l);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::string job = Root() + "/cnet/job-7-1";
  EXPECT_EQ(Slurp(job + "/memory.max"), "33554432");
  EXPECT_EQ(Slurp(job + "/cpu.max"), "150000 100000");
  EXPECT_EQ(Slurp(job + "/pids.max"), "64");
  EXPECT_EQ(Slurp(Root() + "/cgroup.subtree_control"), "+memory +cpu +pids");
  EXPECT_EQ(Slurp(Root() + "/cnet/cgroup.subtree_control"), "+memory +cpu +pids");
  ASSERT_EQ(g->procs_files().size(), 1u);
  EXPECT_EQ(g->procs_files()[0], job + "/cgroup.procs");
  // Re-created after a restart with no limits: every limit is reset, not left over.
  auto again = JobCgroup::Create(h, "job-7-1", CgroupLimits{});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Slurp(job + "/memory.max"), "max");
  EXPECT_EQ(Slurp(job + "/cpu.max"), "max 100000");
  EXPECT_EQ(Slurp(job + "/pids.max"), "max");
  // Attach writes the pid; v2 signalling freezes through cgroup.freeze when there is no cgroup.kill.
  ASSERT_TRUE(g->Attach(4242).ok());
  EXPECT_EQ(Slurp(job + "/cgroup.procs"), "4242");
  Put(job + "/cgroup.procs", "");
  Put(job + "/cgroup.events", "populated 0\nfrozen 1\n");
  auto n = g->Signal(SIGTERM);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(Slurp(job + "/cgroup.freeze"), "0");  // thawed after signalling
  Put(job + "/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  EXPECT_TRUE(g->OomKilled());
  Put(job + "/memory.peak", "1234\n");
  EXPECT_EQ(g->PeakMemoryBytes(), 1234);
}

TEST_F(CgroupDetectTest, BadNamesAndNoCgroupsAreRefused) {
  Put(mounts_, "cgroup2 " + Root() + " cgroup2 rw 0 0\n");
  Put(Root() + "/cgroup.controllers", "cpu memory pids\n");
  CgroupHost h = DetectCgroups(Root(), mounts_);
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "a/b", "../escape", "x y", std::string(201, 'a')}) {
    auto g = JobCgroup::Create(h, bad, CgroupLimits{});
    ASSERT_FALSE(g.ok()) << bad;
    EXPECT_EQ(g.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(fs::exists(Root() + "/escape"));
  CgroupHost none;
  none.why_none = "not root";
  auto g = JobCgroup::Create(none, "job-1-1", CgroupLimits{});
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kUnavailable);
  EXPECT_NE(g.status().message().find("not root"), std::string::npos);
  EXPECT_EQ(JobCgroup::Open(h, "never-made").status().code(), Code::kNotFound);
}

// ---- Real cgroups (root on a host that has them) ----

// Runs `body` in a forked child that joins `g` first, exactly as a job's worker does.
template <typename F>
pid_t ForkInto(const JobCgroup& g, F body) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  for (const std::string& f : g.procs_files()) {
    int fd = open(f.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0\n", 2) != 2) _exit(120);
    close(fd);
  }
  body();
  _exit(0);
}

class RealCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = DetectCgroups();
    if (host_.version == CgroupVersion::kNone) {
      GTEST_SKIP() << "no usable cgroups on this host: " << host_.why_none;
    }
    host_.parent = "cnet-test-" + std::to_string(getpid());
  }
  void TearDown() override {
    if (host_.version == CgroupVersion::kNone) return;
    for (const char* c : {"memory", "cpu", "pids", "freezer", ""}) {
      std::string p = host_.version == CgroupVersion::kV2 ? host_.root + "/" + host_.parent
                                                         : host_.root + "/" + c + "/" + host_.parent;
      if (host_.version == CgroupVersion::kV2 && *c) continue;
      if (host_.version == CgroupVersion::kV1 && !*c) continue;
      rmdir(p.c_str());
    }
  }
  JobCgroup Make(const std::string& name, CgroupLimits l = {}) {
    auto g = JobCgroup::Create(host_, name, l);
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return std::move(g).value();
  }
  // Hang guard only: the kernel drops exited tasks from cgroup.procs promptly.
  static bool WaitEmpty(const JobCgroup& g) {
    for (int i = 0; i < 3000 && !g.Empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return g.Empty();
  }
  CgroupHost host_;
};

TEST_F(RealCgroupTest, AttachPidsSignalRemove) {
  JobCgroup g = Make("job-1-1");
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  ASSERT_TRUE(g.Attach(child).ok());
  EXPECT_EQ(g.Pids(), std::vector<pid_t>{child});
  EXPECT_FALSE(g.Empty());
  auto busy = g.Remove();
  EXPECT_EQ(busy.code(), Code::kFailedPrecondition);
  auto n = g.Signal(SIGKILL);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  ASSERT_TRUE(WaitEmpty(g));
  EXPECT_TRUE(g.Remove().ok());
  for (const std::string& f : g.procs_files()) EXPECT_FALSE(fs::exists(fs::path(f).parent_path()));
}

TEST_F(RealCgroupTest, MemoryHogIsOomKilledAndReported) {
  JobCgroup g = Make("job-2-1", {.memory_bytes = 32 << 20});
  EXPECT_FALSE(g.OomKilled());
  pid_t child = ForkInto(g, [] {
    const size_t size = 256u << 20;
    char* p = static_cast<char*>(mmap(nullptr, size, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) _exit(121);
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    _exit(122);  // reached only if the limit did not hold
  });
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  ASSERT_TRUE(WIFSIGNALED(st)) << "exit status " << WEXITSTATUS(st);
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
  EXPECT_TRUE(g.OomKilled());
  auto peak = g.PeakMemoryBytes();
  ASSERT_TRUE(peak.has_value());
  EXPECT_LE(*peak, int64_t{32} << 20);
  EXPECT_GT(*peak, int64_t{16} << 20);
  ASSERT_TRUE(WaitEmpty(g));
  EXPECT_TRUE(g.Remove().ok());
}

TEST_F(RealCgroupTest, ForkBombStopsAtPidsLimit) {
  JobCgroup g = Make("job-3-1", {.pids = 16});
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t bomb = ForkInto(g, [&] {
    close(pipefd[0]);
    int made = 0, refused = 0;
    for (int i = 0; i < 200; ++i) {
      pid_t p = fork();
      if (p == 0) {
        pause();
        _exit(0);
      }
      if (p > 0) ++made;
      if (p < 0 && errno == EAGAIN) ++refused;
    }
    int counts[2] = {made, refused};
    if (write(pipefd[1], counts, sizeof counts) != sizeof counts) _exit(123);
    pause();
  });
  close(pipefd[1]);
  int counts[2] = {0, 0};
  ASSERT_EQ(read(pipefd[0], counts, sizeof counts), static_cast<ssize_t>(sizeof counts));
  close(pipefd[0]);
  // pids.max counts tasks (threads too): the bomb and its children, plus whatever threads a
  // sanitizer's runtime starts in them (TSan does), share the 16. So: some forks made, the rest
  // refused with EAGAIN, never more than 15 children.
  EXPECT_GT(counts[0], 0);
  EXPECT_LE(counts[0], 15);
  EXPECT_EQ(counts[0] + counts[1], 200);
  const size_t procs = g.Pids().size();
  EXPECT_EQ(procs, static_cast<size_t>(counts[0]) + 1);
  EXPECT_LE(procs, 16u);
  auto n = g.Signal(SIGKILL);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(static_cast<size_t>(*n), procs);
  int st = 0;
  ASSERT_EQ(waitpid(bomb, &st, 0), bomb);
  ASSERT_TRUE(WaitEmpty(g));
  EXPECT_TRUE(g.Remove().ok());
}

TEST_F(RealCgroupTest, SetsidDoubleForkStaysInGroupAndDiesWithIt) {
  JobCgroup g = Make("job-4-1");
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = ForkInto(g, [&] {
    if (fork() == 0) {
      setsid();
      const pid_t middle = getpid();
      if (fork() == 0) {
        while (getppid() == middle) usleep(1000);  // reparented: the middle process has left
        pid_t me = getpid();
        if (write(pipefd[1], &me, sizeof me) != sizeof me) _exit(124);
        for (;;) pause();
      }
      _exit(0);
    }
    _exit(0);
  });
  close(pipefd[1]);
  pid_t escapee = 0;
  ASSERT_EQ(read(pipefd[0], &escapee, sizeof escapee), static_cast<ssize_t>(sizeof escapee));
  close(pipefd[0]);
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  // Its parent and grandparent are gone and it is in a session of its own, yet it is still ours.
  EXPECT_NE(getsid(escapee), getsid(0));
  EXPECT_EQ(g.Pids(), std::vector<pid_t>{escapee});
  auto n = g.Signal(SIGKILL);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  ASSERT_TRUE(WaitEmpty(g));
  EXPECT_TRUE(g.Remove().ok());
}

TEST_F(RealCgroupTest, SignalOtherThanKillThawsTheGroup) {
  JobCgroup g = Make("job-5-1");
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = ForkInto(g, [&] {
    signal(SIGUSR1, [](int) { _exit(7); });
    if (write(pipefd[1], "r", 1) != 1) _exit(125);  // in the group, handler installed
    for (;;) pause();
  });
  close(pipefd[1]);
  char ready = 0;
  ASSERT_EQ(read(pipefd[0], &ready, 1), 1);
  close(pipefd[0]);
  auto n = g.Signal(SIGUSR1);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);  // would hang if the group stayed frozen
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 7);
  ASSERT_TRUE(WaitEmpty(g));
  EXPECT_TRUE(g.Remove().ok());
}

TEST_F(RealCgroupTest, OpenAfterRestartFindsTheSameGroup) {
  pid_t child = 0;
  {
    JobCgroup g = Make("job-6-1", {.memory_bytes = 64 << 20});
    child = ForkInto(g, [] { for (;;) pause(); });
  }  // the service "restarts": nothing of the first object survives
  EXPECT_EQ(JobCgroup::Open(host_, "job-6-2").status().code(), Code::kNotFound);
  auto g = JobCgroup::Open(host_, "job-6-1");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (int i = 0; i < 3000 && g->Empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(g->Pids(), std::vector<pid_t>{child});
  ASSERT_TRUE(g->Signal(SIGKILL).ok());
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  ASSERT_TRUE(WaitEmpty(*g));
  EXPECT_TRUE(g->Remove().ok());
  EXPECT_EQ(JobCgroup::Open(host_, "job-6-1").status().code(), Code::kNotFound);
}

TEST_F(RealCgroupTest, CpuQuotaAndLimitsAreWritten) {
  JobCgroup g = Make("job-8-1", {.memory_bytes = 48 << 20, .cpus = 0.5, .pids = 32});
  std::string dir = fs::path(g.procs_files()[0]).parent_path().string();
  if (host_.version == CgroupVersion::kV2) {
    EXPECT_EQ(Slurp(dir + "/cpu.max"), "50000 100000");
    EXPECT_EQ(Slurp(dir + "/memory.max"), std::to_string(48 << 20));
    EXPECT_EQ(Slurp(dir + "/pids.max"), "32");
  } else {
    std::string base = host_.root + "/%s/" + host_.parent + "/job-8-1";
    auto at = [&](const char* c, const char* f) {
      return Slurp(host_.root + "/" + c + "/" + host_.parent + "/job-8-1/" + f);
    };
    EXPECT_EQ(at("cpu", "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(at("cpu", "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(at("memory", "memory.limit_in_bytes"), std::to_string(48 << 20));
    EXPECT_EQ(at("pids", "pids.max"), "32");
  }
  // Limits can be raised and lowered again on the same group (v1 memsw ordering).
  ASSERT_TRUE(JobCgroup::Create(host_, "job-8-1", {.memory_bytes = 96 << 20}).ok());
  ASSERT_TRUE(JobCgroup::Create(host_, "job-8-1", {.memory_bytes = 24 << 20}).ok());
  EXPECT_TRUE(g.Remove().ok());
}

}  // namespace
}  // namespace cnet::backends::local
