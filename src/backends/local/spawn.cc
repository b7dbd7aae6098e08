#include "backends/local/spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace cnet::backends::local {
namespace {

// Blocks every signal in the calling thread for its lifetime (around fork).
class BlockAllSignals {
 public:
  BlockAllSignals() {
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old_);
  }
  ~BlockAllSignals() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockAllSignals(const BlockAllSignals&) = delete;
  BlockAllSignals& operator=(const BlockAllSignals&) = delete;

 private:
  sigset_t old_;
};

// Reaps `pid` (blocking); only for processes that were just SIGKILLed.
void ReapBlocking(int pid) {
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

void AbortSpawn(int pgid, std::vector<int>& pids) {
  if (pgid > 0) ::kill(-pgid, SIGKILL);
  for (int pid : pids) {
    ::kill(pid, SIGKILL);
    ReapBlocking(pid);
  }
  pids.clear();
}

namespace {

// Reads one (index, value) record from worker 0's pipe; false at EOF or error.
bool ReadRecord(int fd, int32_t rec[2]) {
  size_t got = 0;
  while (got < 2 * sizeof(int32_t)) {
    ssize_t r = ::read(fd, reinterpret_cast<char*>(rec) + got, 2 * sizeof(int32_t) - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

// The forked worker 0 (never returns): leads a new session, clones the others into it with
// CLONE_PARENT, reports their pids and a final "ready" record on `wfd`, then execs.
[[noreturn]] void RunWorkerZero(const std::vector<WorkerPlan>& plans, const ChildCommon& common, int wfd) {
  auto send = [&](int32_t a, int32_t b) {
    int32_t rec[2] = {a, b};
    ssize_t wr;
    do {
      wr = ::write(wfd, rec, sizeof rec);
    } while (wr < 0 && errno == EINTR);
  };
  const int n = static_cast<int>(plans.size());
  ResetSignalDispositions();
  if (::setsid() < 0) ChildFail("setsid", nullptr);
  for (int k = 1; k < n; ++k) {
    long r = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) Supervise(plans[k], common);
    send(k, r < 0 ? -errno : static_cast<int32_t>(r));
    if (r < 0) ::_exit(126);
  }
  send(n, 0);  // ready
  Supervise(plans[0], common);
}

// Session mode (setsid + CLONE_PARENT). Worker 0 reports the other workers' pids through a pipe,
// then a final record once the session and group exist, so that a Kill right after Launch cannot
// miss the group. kUnavailable when CLONE_PARENT is refused (the caller falls back); nothing is
// left running on error.
Result<std::vector<int>> SpawnSession(const std::vector<WorkerPlan>& plans, const ChildCommon& common) {
  const int n = static_cast<int>(plans.size());
  int fds[2] = {-1, -1};
  if (::pipe2(fds, O_CLOEXEC) != 0) return Internal(std::string("launch: pipe: ") + std::strerror(errno));
  pid_t pid0;
  int fork_errno = 0;
  {
    BlockAllSignals blocked;
    pid0 = ::fork();
    fork_errno = errno;
    if (pid0 == 0) RunWorkerZero(plans, common, fds[1]);
  }
  ::close(fds[1]);
  if (pid0 < 0) {
    ::close(fds[0]);
    return Internal(std::string("launch: fork: ") + std::strerror(fork_errno));
  }
  std::vector<int> pids{pid0};
  Status failed;
  for (int k = 1; k <= n && failed.ok(); ++k) {
    int32_t rec[2];
    if (!ReadRecord(fds[0], rec) || rec[0] != k) {
      failed = Internal("launch: worker 0 failed to start");
    } else if (rec[1] < 0) {
      failed = Status(Code::kUnavailable, std::string("launch: clone: ") + std::strerror(-rec[1]));
    } else if (k < n) {
      pids.push_back(rec[1]);
    }
  }
  ::close(fds[0]);
  if (!failed.ok()) {
    AbortSpawn(pid0, pids);
    return failed;
  }
  return pids;
}

// Group mode (CLONE_PARENT refused): every worker forked here, one new group in our session.
Result<std::vector<int>> SpawnGroup(const std::vector<WorkerPlan>& plans, const ChildCommon& common) {
  std::vector<int> pids;
  int pgid = 0;
  for (size_t k = 0; k < plans.size(); ++k) {
    pid_t pid;
    int fork_errno = 0;
    {
      BlockAllSignals blocked;
      pid = ::fork();
      fork_errno = errno;
      if (pid == 0) {
        ResetSignalDispositions();
        if (::setpgid(0, pgid) != 0) ChildFail("setpgid", nullptr);
        Supervise(plans[k], common);
      }
    }
    if (pid < 0) {
      AbortSpawn(pgid, pids);
      return Internal(std::string("launch: fork: ") + std::strerror(fork_errno));
    }
    if (k == 0) pgid = pid;
    ::setpgid(pid, pgid);  // also from here, so the group is complete when fork returns
    pids.push_back(pid);
  }
  return pids;
}

}  // namespace

Result<std::vector<int>> SpawnWorkers(const std::vector<WorkerPlan>& plans, const ChildCommon& common) {
  // Testing knob: CNET_LOCAL_SITE_GROUP_MODE=1 in the service's environment forces group mode.
  const char* force_group = std::getenv("CNET_LOCAL_SITE_GROUP_MODE");
  if (force_group == nullptr || std::string(force_group) != "1") {
    auto pids = SpawnSession(plans, common);
    if (pids.ok() || pids.status().code() != Code::kUnavailable) return pids;
  }
  return SpawnGroup(plans, common);
}

StartGate::~StartGate() {
  CloseReadEnd();
  CloseWriteEnd();
}

bool StartGate::Open() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return false;
  read_fd = fds[0];
  write_fd = fds[1];
  ::shutdown(read_fd, SHUT_WR);  // one way: the supervisors only read
  return true;
}

void StartGate::CloseReadEnd() {
  if (read_fd >= 0) ::close(read_fd);
  read_fd = -1;
}

void StartGate::CloseWriteEnd() {
  if (write_fd >= 0) ::close(write_fd);
  write_fd = -1;
}

void StartGate::Release(int n) {
  const std::string bytes(static_cast<size_t>(std::max(0, n)), 'g');
  size_t sent = 0;
  while (write_fd >= 0 && sent < bytes.size()) {
    ssize_t w = ::send(write_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;  // every supervisor is gone already: nothing waits
    sent += static_cast<size_t>(w);
  }
  CloseWriteEnd();
}

ChildCommon MakeChildCommon(const std::string& out_path, const std::string& err_path, const std::string& cwd) {
  ChildCommon common;
  common.stdout_path = out_path.c_str();
  common.stderr_path = err_path.c_str();
  common.cwd = cwd.c_str();
  common.max_fd = 1024;
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    common.max_fd = static_cast<int>(std::min<rlim_t>(rl.rlim_cur, 65536));
  }
  return common;
}

}  // namespace cnet::backends::local
