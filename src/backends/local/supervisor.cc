// The supervisor and the job's process of a local run (see supervisor.h): log pumping with a size
// cap and gang labels, privilege drop, cgroup join, exit file. Async-signal-safe calls only.
#include "backends/local/supervisor.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cnet::backends::local {
namespace {

void WriteAll(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}
void WriteAll(int fd, const char* s) { WriteAll(fd, s, std::strlen(s)); }

// Decimal text of v into buf (at least 24 bytes); returns its start.
char* FormatInt(long long v, char* buf, size_t size) {
  size_t i = size - 1;
  buf[i] = '\0';
  bool neg = v < 0;
  unsigned long long u = neg ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
  do {
    buf[--i] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0 && i > 1);
  if (neg) buf[--i] = '-';
  return buf + i;
}

}  // namespace

[[noreturn]] void ChildFail(const char* what, const char* detail) {
  int e = errno;
  WriteAll(2, "cnet: ");
  WriteAll(2, what);
  if (detail != nullptr) {
    WriteAll(2, " ");
    WriteAll(2, detail);
  }
  // strerror may translate (locks, malloc): print the number instead.
  char num[24];
  WriteAll(2, ": errno ");
  WriteAll(2, FormatInt(e, num, sizeof num));
  WriteAll(2, "\n");
  ::_exit(127);
}

namespace {

int MoveAbove2(int fd) {
  if (fd < 0 || fd > 2) return fd;
  return ::fcntl(fd, F_DUPFD_CLOEXEC, 3);  // the low copy is overwritten by dup2 below
}

void CloseFrom3(int max_fd) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, ~0U, 0U) == 0) return;
#endif
  for (int fd = 3; fd < max_fd; ++fd) ::close(fd);
}

// Closes every descriptor from 3 up except `keep` (when >= 3). Other launches' gate pipes, forked
// into this process by accident of timing, must not stay open here: two supervisors waiting at
// their gates while holding each other's write ends would never see end of file.
void CloseFrom3Except(int keep, int max_fd) {
  if (keep < 3) return CloseFrom3(max_fd);
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, 3U, static_cast<unsigned>(keep - 1), 0U) == 0 &&
      ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0U, 0U) == 0)
    return;
#endif
  for (int fd = 3; fd < max_fd; ++fd)
    if (fd != keep) ::close(fd);
}

// Blocks until the service opens the gate (one byte) or dies (end of file: exits 125, no exit
// file, nothing ran), then records that this worker began (w.began_file) before anything of the
// job runs: a restarted service that finds neither that file nor this process knows the job never
// ran. No gate: returns at once.
void WaitAtGate(int go_fd, const WorkerPlan& w) {
  if (go_fd < 0) return;
  char b;
  ssize_t n;
  do {
    n = ::read(go_fd, &b, 1);
  } while (n < 0 && errno == EINTR);
  ::close(go_fd);
  if (n != 1) ::_exit(125);
  int fd = ::open(w.began_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) ::_exit(125);  // unrecorded, so it must not run
  ::close(fd);
}

}  // namespace

// Exec keeps ignored dispositions and the signal mask; the service may ignore some (SIGPIPE) or
// block some (SIGTERM for a sigwait thread), and a job must start with the defaults. Children are
// forked with every signal blocked (so that no handler of the service runs in them); supervisors
// keep them blocked (a SIGTERM meant for the job leaves them be), the job's process resets the
// dispositions and unblocks just before execve: a signal sent meanwhile then takes its default
// action.
void ResetSignalDispositions() {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
}

namespace {

// Switches to the job's account and checks that it took (including that root cannot be regained).
void DropPrivileges(const ChildCommon& c) {
  if (::setgroups(c.ngroups, c.groups) != 0) ChildFail("setgroups", nullptr);
  if (::setresgid(c.gid, c.gid, c.gid) != 0) ChildFail("setgid", nullptr);
  if (::setresuid(c.uid, c.uid, c.uid) != 0) ChildFail("setuid", nullptr);
  uid_t r, e, s;
  gid_t rg, eg, sg;
  if (::getresuid(&r, &e, &s) != 0 || r != c.uid || e != c.uid || s != c.uid) ChildFail("uid did not change", nullptr);
  if (::getresgid(&rg, &eg, &sg) != 0 || rg != c.gid || eg != c.gid || sg != c.gid) ChildFail("gid did not change", nullptr);
  if (c.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) ChildFail("could regain root after setuid", nullptr);
}

// The job's process: joins the cgroup, takes the pipes as stdout/stderr, drops privileges, execs.
[[noreturn]] void ExecJob(const WorkerPlan& w, const ChildCommon& c, int out_w, int err_w) {
  ResetSignalDispositions();
  int in = MoveAbove2(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (in < 0 || ::dup2(in, 0) < 0 || ::dup2(out_w, 1) < 0 || ::dup2(err_w, 2) < 0) ChildFail("dup2", nullptr);
  CloseFrom3(c.max_fd);
  for (const char* procs : c.cgroup_procs) {  // before any of the job's code runs
    int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0\n", 2) != 2) ChildFail("cannot join the job's cgroup:", procs);
    ::close(fd);
  }
  if (c.drop) DropPrivileges(c);
  if (::chdir(c.cwd) != 0) ChildFail("cannot enter working directory", c.cwd);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int first_errno = ENOENT;
  for (const std::string& path : w.candidates) {
    ::execve(path.c_str(), w.argv.data(), w.envp.data());
    if (errno != ENOENT && errno != ENOTDIR && first_errno == ENOENT) first_errno = errno;
  }
  errno = first_errno;
  ChildFail("cannot execute", w.argv[0]);
}

// A log file fed by a pipe, capped: at the cap (the file's size, which all workers share) one note
// line is written and the rest is discarded. With a label (a gang's worker), each line goes to the
// file whole (one append) after the label, so workers' lines do not mix. A line longer than the
// buffer, one left unfinished while the job is quiet, or an unfinished last line is written as a
// labelled piece ended by a newline (its rest, if any, follows as another labelled line): the
// file is never left mid-line, where another worker's next line would run into it.
struct LogPump {
  static constexpr size_t kLine = 4096;
  int pipe_fd = -1;
  int file_fd = -1;
  int64_t cap = 0;
  bool noted = false;
  const char* label = "";
  char line[kLine];     // the current line's bytes not yet written (labelled mode)
  size_t held = 0;

  void Put(const char* buf, size_t n) {
    if (*label == '\0') return Write(buf, n);
    while (n > 0) {
      const char* nl = static_cast<const char*>(std::memchr(buf, '\n', n));
      size_t take = std::min(nl ? static_cast<size_t>(nl - buf) + 1 : n, kLine - held);
      std::memcpy(line + held, buf, take);
      held += take;
      buf += take;
      n -= take;
      if (line[held - 1] == '\n' || held == kLine) Flush();
    }
  }
  void Flush() {
    if (held == 0) return;
    char out[kLine + 33];
    const size_t l = std::min<size_t>(std::strlen(label), 32);
    std::memcpy(out, label, l);
    size_t k = l;
    std::memcpy(out + k, line, held);
    k += held;
    if (line[held - 1] != '\n') out[k++] = '\n';
    held = 0;
    Write(out, k);
  }
  void End() { Flush(); }

  void Write(const char* buf, size_t n) {
    if (cap > 0) {
      struct stat st;
      int64_t size = ::fstat(file_fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
      if (size >= cap) return Note();
      if (static_cast<int64_t>(n) > cap - size) {
        WriteAll(file_fd, buf, static_cast<size_t>(cap - size));
        return Note();
      }
    }
    WriteAll(file_fd, buf, n);
  }
  void Note() {
    if (noted) return;
    noted = true;
    char num[24];
    WriteAll(file_fd, "\ncnet: log size limit of ");
    WriteAll(file_fd, FormatInt(cap, num, sizeof num));
    WriteAll(file_fd, " bytes reached; further output is discarded\n");
  }
  // One read; false at end of file (the pipe is closed then).
  bool ReadOnce() {
    char buf[65536];
    ssize_t n = ::read(pipe_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {
      ::close(pipe_fd);
      pipe_fd = -1;
      End();
      return false;
    }
    Put(buf, static_cast<size_t>(n));
    return true;
  }
};

void WriteExitFile(const WorkerPlan& w, int code) {
  char num[24];
  char* text = FormatInt(code, num, sizeof num - 1);
  size_t len = std::strlen(text);
  text[len] = '\n';
  int fd = ::open(w.exit_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  WriteAll(fd, text, len + 1);
  ::fsync(fd);
  ::close(fd);
  ::rename(w.exit_tmp.c_str(), w.exit_file.c_str());
}

int ExitCodeOf(int wait_status) {
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 1;
}

// Pumps the logs and reaps until the job's process has exited (and, in reap_all mode, every
// descendant the supervisor inherited), recording the job's exit code as soon as it is known.
int PumpAndWait(const WorkerPlan& w, const ChildCommon& c, pid_t job, LogPump (&pumps)[2]) {
  int code = -1;
  bool children_left = true;
  while (code < 0 || (c.reap_all && children_left)) {
    struct pollfd fds[2];
    for (int i = 0; i < 2; ++i) fds[i] = {pumps[i].pipe_fd, POLLIN, 0};
    if (::poll(fds, 2, 100) > 0) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) pumps[i].ReadOnce();
      }
    } else {
      for (LogPump& p : pumps) p.Flush();  // quiet: an unfinished line shows now, not at its end
    }
    for (;;) {
      int st = 0;
      pid_t r = ::waitpid(-1, &st, WNOHANG);
      if (r == job) {
        code = ExitCodeOf(st);
        WriteExitFile(w, code);
      }
      if (r > 0) continue;
      if (r < 0 && errno == EINTR) continue;
      children_left = !(r < 0 && errno == ECHILD);
      break;
    }
  }
  // What is already in the pipes; writers left behind (fallback mode) are not waited for.
  for (LogPump& p : pumps) {
    while (p.pipe_fd >= 0) {
      struct pollfd f = {p.pipe_fd, POLLIN, 0};
      if (::poll(&f, 1, 0) <= 0 || !p.ReadOnce()) break;
    }
    p.End();
  }
  return code;
}

}  // namespace

// A supervisor (never returns): runs as the service's user, outside the job's cgroup.
[[noreturn]] void Supervise(const WorkerPlan& w, const ChildCommon& c) {
  CloseFrom3Except(c.go_fd, c.max_fd);
  ::prctl(PR_SET_NAME, "cnet-supervise", 0, 0, 0);  // in ps, not mistaken for the service
  WaitAtGate(c.go_fd, w);
  // With 0-2 open, the pipes and log files below are never given the job's stdio numbers.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) ::open("/dev/null", O_RDWR);
  }
  if (c.reap_all) ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  const int flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
  int out_f = MoveAbove2(::open(c.stdout_path, flags, 0600));
  int err_f = MoveAbove2(::open(c.stderr_path, flags, 0600));
  int out_p[2], err_p[2];
  if (out_f < 0 || err_f < 0) ChildFail("cannot open log files", c.stdout_path);
  if (::pipe2(out_p, O_CLOEXEC) != 0 || ::pipe2(err_p, O_CLOEXEC) != 0) ChildFail("pipe", nullptr);
  pid_t job = ::fork();
  if (job == 0) ExecJob(w, c, out_p[1], err_p[1]);
  ::close(out_p[1]);
  ::close(err_p[1]);
  if (job < 0) {
    WriteAll(err_f, "cnet: cannot fork the job's process\n");
    WriteExitFile(w, 127);
    ::_exit(127);
  }
  LogPump pumps[2];
  pumps[0].pipe_fd = out_p[0];
  pumps[0].file_fd = out_f;
  pumps[1].pipe_fd = err_p[0];
  pumps[1].file_fd = err_f;
  for (LogPump& p : pumps) {
    p.cap = c.log_cap;
    p.label = w.label.c_str();
  }
  int code = PumpAndWait(w, c, job, pumps);
  ::_exit(code & 0xff);
}

}  // namespace cnet::backends::local
