// ProcessRunner: workers as child processes. See process_runner.h for the contract.
//
// Process layout of a job with N workers:
//   * Worker 0's supervisor is forked by the service and calls setsid(): it leads a new session and
//     a new process group whose id (the job's pgid) is its pid.
//   * Supervisors 1..N-1 must be in that same group, but setpgid() cannot move a process into a
//     group of another session, so they cannot be forked by the service directly. Worker 0, after
//     setsid(), creates them with clone(CLONE_PARENT): they are born in its session and group yet
//     are children of the service (which can therefore waitpid them), and their pids come back to
//     the service through a pipe. Should CLONE_PARENT be refused (some sandboxes), Launch falls
//     back to forking every supervisor from the service into a new process group of the service's
//     session (setpgid), which still gives one group per job.
//   * Each supervisor forks the job's process (see process_runner.h) and records its exit code in
//     <private run dir>/exit.<k> (tmp + rename).
//
// Between fork and exec (and in supervisors, which never exec) a child of this multi-threaded
// process only makes async-signal-safe calls; everything it needs (argv, envp, paths) is built
// before the fork.
#include "backends/local/process_runner.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

constexpr double kDefaultGraceS = 5;     // SIGTERM -> SIGKILL for time limits, gang failures, strays
constexpr double kGiveUpAfterKillS = 10;  // report a job even if SIGKILLed members linger (D state)

std::string FormatSeconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// ---- /proc ----

struct ProcStat {
  char state = '?';
  int ppid = 0;
  int pgrp = 0;
  long long start_ticks = 0;
};

std::optional<ProcStat> ReadProcStat(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  // comm (field 2) is in parentheses and may contain spaces or ')': parse after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string tok;
  while (f.size() < 20 && rest >> tok) f.push_back(tok);
  if (f.size() < 20) return std::nullopt;
  ProcStat st;
  try {
    st.state = f[0].empty() ? '?' : f[0][0];
    st.ppid = std::stoi(f[1]);
    st.pgrp = std::stoi(f[2]);
    st.start_ticks = std::stoll(f[19]);  // field 22
  } catch (...) {
    return std::nullopt;
  }
  return st;
}

bool IsDeadState(char s) { return s == 'Z' || s == 'X' || s == 'x'; }

// ---- program lookup ----

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Where `prog` is: found through `path_env` unless it contains '/', in which case relative to
// `cwd`, as a shell would find it; nullopt if not found or not executable.
std::optional<std::string> FindProgram(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  if (prog.empty()) return std::nullopt;
  if (prog.find('/') != std::string::npos) {
    std::string full = prog[0] == '/' ? prog : cwd + "/" + prog;
    if (IsExecutableFile(full)) return full;
    return std::nullopt;
  }
  size_t start = 0;
  while (true) {
    size_t colon = path_env.find(':', start);
    std::string dir = path_env.substr(start, colon == std::string::npos ? std::string::npos
                                                                        : colon - start);
    if (dir.empty()) dir = ".";
    std::string full = (dir[0] == '/' ? dir : cwd + "/" + dir) + "/" + prog;
    if (IsExecutableFile(full)) return full;
    if (colon == std::string::npos) return std::nullopt;
    start = colon + 1;
  }
}

// Every path a shell would try for `prog`, in order.
std::vector<std::string> ProgramCandidates(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  if (prog.find('/') != std::string::npos) return {prog[0] == '/' ? prog : cwd + "/" + prog};
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t colon = path_env.find(':', start);
    std::string dir = path_env.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    out.push_back((dir[0] == '/' ? dir : cwd + "/" + dir) + "/" + prog);
    if (colon == std::string::npos) return out;
    start = colon + 1;
  }
}

bool ProgramExists(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  return FindProgram(prog, path_env, cwd).has_value();
}

bool ValidEnvName(const std::string& k) {
  return !k.empty() && k.find('=') == std::string::npos && k.find('\0') == std::string::npos;
}

// ---- the child side (async-signal-safe only) ----

struct WorkerPlan {
  std::vector<std::string> arg_store, env_store;
  std::vector<char*> argv, envp;
  // Where the command may be, in PATH order, tried by the job's process with its own
  // credentials (a directory only root can enter must not decide the search).
  std::vector<std::string> candidates;
  std::string exit_file;  // private: where the supervisor records the exit code
  std::string exit_tmp;
  std::string label;      // "[k] " before each line this worker writes (a gang), "" for one worker
};

// What every worker of a run shares; all pointers stay valid until the spawn returns.
struct ChildCommon {
  const char* stdout_path;  // private log files, written by the supervisors
  const char* stderr_path;
  const char* cwd;
  int max_fd;  // fallback when close_range is unavailable
  bool drop = false;  // switch to uid/gid/groups before exec
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;
  size_t ngroups = 0;
  std::vector<const char*> cgroup_procs;  // cgroup.procs files the job's process joins
  int64_t log_cap = 0;                    // bytes per log file; 0 = none
  bool reap_all = false;                  // cgroup mode: the supervisor waits for every descendant
};

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
// file whole (one append) after the label, so workers' lines do not mix mid-line; a line longer
// than the buffer, or one left unfinished while the job is quiet, is written in pieces, and an
// unfinished last line is ended with a newline.
struct LogPump {
  static constexpr size_t kLine = 4096;
  int pipe_fd = -1;
  int file_fd = -1;
  int64_t cap = 0;
  bool noted = false;
  const char* label = "";
  char line[kLine];     // the current line's bytes not yet written (labelled mode)
  size_t held = 0;
  bool mid_line = false;  // the current line's label is already in the file

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
    char out[kLine + 32];
    size_t k = 0;
    if (!mid_line) {
      const size_t l = std::min<size_t>(std::strlen(label), 32);
      std::memcpy(out, label, l);
      k = l;
    }
    std::memcpy(out + k, line, held);
    k += held;
    mid_line = line[held - 1] != '\n';
    held = 0;
    Write(out, k);
  }
  // At the end of the stream: a labelled last line without its newline gets one, so that another
  // worker's next line does not run into it.
  void End() {
    Flush();
    if (*label == '\0' || !mid_line) return;
    Write("\n", 1);
    mid_line = false;
  }

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

// A supervisor (never returns): runs as the service's user, outside the job's cgroup.
[[noreturn]] void Supervise(const WorkerPlan& w, const ChildCommon& c) {
  CloseFrom3(c.max_fd);
  ::prctl(PR_SET_NAME, "cnet-supervise", 0, 0, 0);  // in ps, not mistaken for the service
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

// Reaps `pid` (blocking); only for processes that were just SIGKILLed.
void ReapBlocking(int pid) {
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RunHandle JSON

std::string RunHandle::ToJson() const {
  nlohmann::json j;
  j["job_id"] = job_id;
  j["attempt"] = attempt;
  j["pgid"] = pgid;
  j["pids"] = pids;
  j["start_ticks"] = start_ticks;
  j["started_at"] = started_at;
  j["time_limit_s"] = time_limit_s;
  j["run_dir"] = run_dir;
  j["work_dir"] = work_dir;
  j["cgroup"] = cgroup;
  j["memory_limit_bytes"] = memory_limit_bytes;
  return j.dump();
}

Result<RunHandle> RunHandle::FromJson(const std::string& s) {
  try {
    nlohmann::json j = nlohmann::json::parse(s);
    if (!j.is_object()) return InvalidArgument("run handle: not a JSON object");
    RunHandle h;
    h.job_id = j.at("job_id").get<int64_t>();
    h.attempt = j.value("attempt", 1);
    h.pgid = j.at("pgid").get<int>();
    h.pids = j.at("pids").get<std::vector<int>>();
    h.start_ticks = j.value("start_ticks", std::vector<long long>{});
    h.started_at = j.value("started_at", 0.0);
    h.time_limit_s = j.value("time_limit_s", 0.0);
    h.run_dir = j.value("run_dir", std::string());
    h.work_dir = j.value("work_dir", std::string());
    h.cgroup = j.value("cgroup", std::string());
    h.memory_limit_bytes = j.value("memory_limit_bytes", int64_t{0});
    return h;
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("run handle: ") + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Inventory

std::string CatalogueNameForDevice(const std::string& raw) {
  // Longer names first where one contains another (A100 / A10, L40S / L4); memory size decides
  // between parts that share a name, so an A100-SXM4-40GB is not taken for the 80 GB part.
  auto has = [&](const char* s) { return raw.find(s) != std::string::npos; };
  if (has("A100")) return has("40GB") ? "A100-40GB" : "A100-80GB";
  if (has("V100")) return has("32GB") ? "V100-32GB" : "V100";
  if (has("L40") && !has("L40S")) return raw;  // an L40 is no L4, and not in the catalogue
  static const std::pair<const char*, const char*> kMap[] = {
      {"H100", "H100-SXM"}, {"H200", "H200"}, {"T4", "T4"},   {"B200", "B200"},     {"P100", "P100"},
      {"K80", "K80"},       {"L40S", "L40S"}, {"L4", "L4"},   {"A10", "A10"},       {"RTX 4090", "RTX-4090"},
      {"MI300X", "MI300X"},
  };
  for (const auto& [needle, name] : kMap) {
    if (raw.find(needle) != std::string::npos) return name;
  }
  return raw;
}

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

LocalInventory DetectInventory() {
  LocalInventory inv;
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  inv.cpus = n > 0 ? static_cast<int>(n) : 0;
  std::ifstream mem("/proc/meminfo");
  std::string key;
  while (mem >> key) {
    if (key == "MemTotal:") {
      double kib = 0;
      mem >> kib;
      inv.memory_gib = kib / (1024.0 * 1024.0);
      break;
    }
    mem.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }

  const char* path = std::getenv("PATH");
  std::string path_env = path ? path : "/usr/local/bin:/usr/bin:/bin";
  if (!ProgramExists("nvidia-smi", path_env, "/")) return inv;
  std::string cmd = "nvidia-smi --query-gpu=index,name --format=csv,noheader 2>/dev/null";
  if (ProgramExists("timeout", path_env, "/")) cmd = "timeout 5 " + cmd;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return inv;
  std::string out;
  char buf[512];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  int rc = ::pclose(p);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) return inv;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::string name = Trim(line.substr(comma + 1));
    if (name.empty()) continue;
    inv.device_names.push_back(name);
  }
  inv.accelerator_count = static_cast<int>(inv.device_names.size());
  if (!inv.device_names.empty()) inv.accelerator = CatalogueNameForDevice(inv.device_names.front());
  return inv;
}

// ---------------------------------------------------------------------------------------------
// ProcessRunner

struct ProcessRunner::Impl {
  struct Worker {
    int pid = 0;
    long long start_ticks = 0;
    bool own = false;    // our child: waitpid works
    bool done = false;
    bool have_wait_status = false;
    int wait_status = 0;
    int exit_code = 0;   // valid once done
    std::string reason;  // "exit code 3 (worker 1)", ...
  };
  struct Job {
    RunHandle h;
    std::vector<Worker> workers;
    int first_failure = -1;  // first worker seen to end non-zero
    bool timed_out = false;
    bool killed = false;
    std::string kill_reason;
    bool term_sent = false;
    double sigkill_at = 0;  // monotonic
    bool kill_sent = false;
    double kill_sent_at = 0;  // monotonic
    std::optional<JobCgroup> cg;  // the run's cgroup, if it has one
  };

  std::string data_dir;
  std::string run_root;
  RunnerOptions opts;
  std::vector<JobCgroup> to_remove;  // guarded by mu: cgroups of ended runs not yet removed
  mutable std::mutex mu;
  std::map<int64_t, Job> jobs;   // guarded by mu
  std::set<int64_t> launching;   // guarded by mu: job ids between reservation and insertion

  struct LaunchGuard;
  // Marks `job_id` as being launched; kAlreadyExists if it runs or is being launched here.
  Status Reserve(int64_t job_id);
  // Starts tracking a just-spawned run: fills h.start_ticks, writes its handle file.
  void Track(RunHandle& h, std::optional<JobCgroup> cg);

  std::string RunDir(int64_t job_id, int attempt) const {
    return data_dir + "/runs/" + std::to_string(job_id) + "/" + std::to_string(attempt);
  }

  // Whether this job's pgid is known to still name the job's group: some worker (which never
  // leaves the group: it is the supervisor) is unreaped or alive. After the group has emptied, the
  // number could in principle be reused, so we never signal it blindly.
  static bool WorkerHoldsGroup(const Job& j) {
    for (const Worker& w : j.workers) {
      if (w.done) continue;
      if (w.own) return true;
      auto st = ReadProcStat(w.pid);
      if (st && st->start_ticks == w.start_ticks) return true;
    }
    return false;
  }

  // Scans /proc for members of the job's group. Zombie members that are our children (orphans
  // inherited because this process is a subreaper or PID 1) are reaped on the way. Returns whether
  // a live (non-zombie) member remains. Live members keep the pgid from being reused.
  static bool GroupHasLiveMembers(const Job& j) {
    const int pgid = j.h.pgid;
    const int self = ::getpid();
    bool live = false;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return false;
    while (struct dirent* e = ::readdir(d)) {
      char* end = nullptr;
      long pid = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0' || pid <= 0) continue;
      auto st = ReadProcStat(static_cast<int>(pid));
      if (!st || st->pgrp != pgid) continue;
      if (!IsDeadState(st->state)) {
        live = true;
        continue;
      }
      bool is_worker = std::any_of(j.workers.begin(), j.workers.end(),
                                   [&](const Worker& w) { return w.pid == pid; });
      if (st->ppid == self && !is_worker) {
        int ws;
        ::waitpid(static_cast<int>(pid), &ws, WNOHANG);
      }
    }
    ::closedir(d);
    return live;
  }

  // Signals the run's cgroup (every process of the job, wherever it moved), else its group.
  static void SignalGroup(const Job& j, int sig) {
    if (j.cg && j.cg->Signal(sig).ok()) return;
    if (j.h.pgid <= 1) return;
    if (WorkerHoldsGroup(j) || GroupHasLiveMembers(j)) ::kill(-j.h.pgid, sig);
  }

  static void Terminate(Job& j, double grace_s, double mono) {
    if (j.term_sent) {
      j.sigkill_at = std::min(j.sigkill_at, mono + std::max(0.0, grace_s));
      return;
    }
    j.term_sent = true;
    j.sigkill_at = mono + std::max(0.0, grace_s);
    SignalGroup(j, SIGTERM);
    SignalGroup(j, SIGCONT);  // a stopped process would not act on SIGTERM
  }

  static void SendKill(Job& j, double mono) {
    SignalGroup(j, SIGKILL);
    j.kill_sent = true;
    j.kill_sent_at = mono;
  }

  static std::optional<int> ReadExitFile(const std::string& run_dir, int k) {
    std::ifstream in(run_dir + "/exit." + std::to_string(k));
    if (!in) return std::nullopt;
    long long v;
    if (!(in >> v)) return std::nullopt;
    return static_cast<int>(v);
  }

  // Marks a worker done and settles its exit code: the shim's record first, else the wait status,
  // else "ended without a trace".
  static void FinishWorker(const Job& j, Worker& w, int k) {
    w.done = true;
    const std::string who = "(worker " + std::to_string(k) + ")";
    if (auto code = ReadExitFile(j.h.run_dir, k)) {
      w.exit_code = *code;
      w.reason = "exit code " + std::to_string(*code) + " " + who;
    } else if (w.have_wait_status && WIFSIGNALED(w.wait_status)) {
      w.exit_code = 128 + WTERMSIG(w.wait_status);
      w.reason = "killed by signal " + std::to_string(WTERMSIG(w.wait_status)) + " " + who;
    } else if (w.have_wait_status && WIFEXITED(w.wait_status)) {
      w.exit_code = WEXITSTATUS(w.wait_status);
      w.reason = "exit code " + std::to_string(w.exit_code) + " " + who;
    } else {
      w.exit_code = 137;
      w.reason = "process ended without recording an exit status " + who;
    }
  }

  // Checks (and reaps) one unfinished worker.
  static void CheckWorker(Job& j, int k) {
    Worker& w = j.workers[k];
    if (w.done) return;
    if (!w.own) {
      auto st = ReadProcStat(w.pid);
      if (!st || st->start_ticks != w.start_ticks) return FinishWorker(j, w, k);
      if (st->ppid == ::getpid()) {
        w.own = true;  // e.g. adopted by a new ProcessRunner in the same process
      } else {
        if (IsDeadState(st->state)) FinishWorker(j, w, k);
        return;
      }
    }
    int status = 0;
    pid_t r = ::waitpid(w.pid, &status, WNOHANG);
    if (r == w.pid) {
      w.have_wait_status = true;
      w.wait_status = status;
      FinishWorker(j, w, k);
    } else if (r < 0 && errno == ECHILD) {
      // Reaped by someone else (a stray wait(), SIGCHLD ignored): no status, maybe the exit file.
      w.own = false;
      FinishWorker(j, w, k);
    }
  }

  // Removes the cgroups of ended runs; those that still hold processes (e.g. in D state) are
  // retried by the next Poll.
  void RemoveEndedCgroups() {
    std::vector<JobCgroup> keep;
    for (JobCgroup& cg : to_remove) {
      if (!cg.Remove().ok()) keep.push_back(std::move(cg));
    }
    to_remove = std::move(keep);
  }

  ExitInfo Report(const Job& j) const {
    ExitInfo info;
    info.job_id = j.h.job_id;
    int culprit = j.first_failure;
    if (culprit < 0) {
      for (size_t k = 0; k < j.workers.size(); ++k) {
        if (j.workers[k].exit_code != 0) {
          culprit = static_cast<int>(k);
          break;
        }
      }
    }
    info.exit_code = culprit >= 0 ? j.workers[culprit].exit_code : 0;
    if (j.killed) {
      info.killed = true;
      info.success = false;
      info.reason = j.kill_reason.empty() ? "killed" : j.kill_reason;
    } else if (j.timed_out) {
      info.timed_out = true;
      info.success = false;
      info.reason = "TIMEOUT: time limit " + FormatSeconds(j.h.time_limit_s) + " s exceeded";
    } else if (j.cg && j.cg->OomKilled()) {
      info.oom_killed = true;
      info.success = false;
      if (info.exit_code == 0) info.exit_code = 137;
      char lim[64];
      std::snprintf(lim, sizeof lim, "%.1f GiB", static_cast<double>(j.h.memory_limit_bytes) / (1024.0 * 1024 * 1024));
      info.reason = std::string("out of memory: limit ") + (j.h.memory_limit_bytes > 0 ? lim : "none set") +
                    (culprit >= 0 ? "; " + j.workers[culprit].reason : "");
    } else if (culprit >= 0) {
      info.success = false;
      info.reason = j.workers[culprit].reason;
    } else {
      info.success = true;
      info.reason = j.workers.size() == 1
                        ? "exit code 0"
                        : "all " + std::to_string(j.workers.size()) + " workers exited 0";
    }
    return info;
  }
};

ProcessRunner::ProcessRunner(std::string data_dir, RunnerOptions opts) : impl_(std::make_unique<Impl>()) {
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  impl_->data_dir = std::move(data_dir);
  impl_->run_root = opts.run_root.empty() ? impl_->data_dir + "-runs" : opts.run_root;
  impl_->opts = std::move(opts);
}

// Deliberately neither kills nor reaps: the jobs run in their own session and outlive this object
// (and the service process); a successor adopts them through their RunHandles.
ProcessRunner::~ProcessRunner() = default;

std::string ProcessRunner::WorkDir(int64_t job_id, int attempt) const {
  return impl_->run_root + "/" + std::to_string(job_id) + "-" + std::to_string(attempt);
}

std::string ProcessRunner::StdoutPath(int64_t job_id, int attempt) const {
  return impl_->RunDir(job_id, attempt) + "/stdout.log";
}
std::string ProcessRunner::StderrPath(int64_t job_id, int attempt) const {
  return impl_->RunDir(job_id, attempt) + "/stderr.log";
}

size_t ProcessRunner::running() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->jobs.size();
}

namespace {

// Everything Launch checks before it creates or starts anything.
Status ValidateSpec(const LaunchSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return InvalidArgument("launch: empty argv");
  if (spec.workers < 1) {
    return InvalidArgument("launch: workers must be >= 1, got " + std::to_string(spec.workers));
  }
  if (!spec.devices.empty() && static_cast<int>(spec.devices.size()) != spec.workers) {
    return InvalidArgument("launch: devices has " + std::to_string(spec.devices.size()) +
                           " entries for " + std::to_string(spec.workers) + " workers");
  }
  if (!spec.devices.empty() && !ValidEnvName(spec.device_env)) {
    return InvalidArgument("launch: bad device_env '" + spec.device_env + "'");
  }
  for (const auto& [k, v] : spec.env) {
    if (!ValidEnvName(k)) return InvalidArgument("launch: bad environment variable name '" + k + "'");
  }
  if (!(spec.time_limit_s >= 0) || !std::isfinite(spec.time_limit_s)) {
    return InvalidArgument("launch: bad time_limit_s");
  }
  if (!spec.working_dir.empty()) {
    struct stat st;
    if (::stat(spec.working_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return InvalidArgument("launch: working directory '" + spec.working_dir +
                             "' does not exist");
    }
  }
  return Status::Ok();
}

// PATH, HOME, LANG from this process (defaults if absent; with an account, HOME is the job's run
// directory and USER, LOGNAME its name), then spec.env.
std::map<std::string, std::string> BaseEnv(const LaunchSpec& spec, const std::string& work_dir) {
  std::map<std::string, std::string> env;
  auto base = [&](const char* name, const char* dflt) {
    const char* v = std::getenv(name);
    env[name] = (v != nullptr && *v != '\0') ? v : dflt;
  };
  base("PATH", "/usr/local/bin:/usr/bin:/bin");
  base("HOME", "/");
  base("LANG", "C.UTF-8");
  if (spec.run_as) {
    env["HOME"] = work_dir;
    env["USER"] = env["LOGNAME"] = spec.run_as->name;
  }
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

Status CheckProgram(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  if (ProgramExists(prog, path_env, cwd)) return Status::Ok();
  if (prog.find('/') == std::string::npos) {
    return InvalidArgument("program '" + prog + "' not found in PATH");
  }
  return InvalidArgument("program '" + prog + "' not found or not executable");
}

// Each worker's argv, environment and exit file, built before any fork.
std::vector<WorkerPlan> BuildPlans(const LaunchSpec& spec, const std::map<std::string, std::string>& env,
                                   const std::string& private_dir, const std::vector<std::string>& candidates) {
  std::vector<WorkerPlan> plans(spec.workers);
  for (int k = 0; k < spec.workers; ++k) {
    WorkerPlan& p = plans[k];
    p.candidates = candidates;
    p.exit_file = private_dir + "/exit." + std::to_string(k);
    p.exit_tmp = p.exit_file + ".tmp";
    if (spec.workers > 1) p.label = "[" + std::to_string(k) + "] ";
    p.arg_store = spec.argv;
    std::map<std::string, std::string> wenv = env;
    if (!spec.devices.empty()) {
      std::string ids;
      for (int d : spec.devices[k]) ids += (ids.empty() ? "" : ",") + std::to_string(d);
      wenv[spec.device_env] = ids;  // "" for a worker without devices: it sees none
    }
    wenv["CNET_WORKER_INDEX"] = std::to_string(k);
    wenv["CNET_JOB_ID"] = std::to_string(spec.job_id);
    wenv["CNET_WORLD_SIZE"] = std::to_string(spec.workers);
    for (const auto& [key, v] : wenv) p.env_store.push_back(key + "=" + v);
    for (auto& s : p.arg_store) p.argv.push_back(s.data());
    p.argv.push_back(nullptr);
    for (auto& s : p.env_store) p.envp.push_back(s.data());
    p.envp.push_back(nullptr);
  }
  return plans;
}

// Kills and reaps what a failed spawn started.
void AbortSpawn(int pgid, std::vector<int>& pids) {
  if (pgid > 0) ::kill(-pgid, SIGKILL);
  for (int pid : pids) {
    ::kill(pid, SIGKILL);
    ReapBlocking(pid);
  }
  pids.clear();
}

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

Result<std::vector<int>> SpawnWorkers(const std::vector<WorkerPlan>& plans, const ChildCommon& common) {
  // Testing knob: CNET_LOCAL_SITE_GROUP_MODE=1 in the service's environment forces group mode.
  const char* force_group = std::getenv("CNET_LOCAL_SITE_GROUP_MODE");
  if (force_group == nullptr || std::string(force_group) != "1") {
    auto pids = SpawnSession(plans, common);
    if (pids.ok() || pids.status().code() != Code::kUnavailable) return pids;
  }
  return SpawnGroup(plans, common);
}

// The handle goes beside the run at once (tmp + rename): a service that dies before it has
// recorded the launch finds it there on restart, even if the workers have ended meanwhile.
void WriteHandleFile(const RunHandle& h) {
  std::string tmp = h.run_dir + "/handle.json.tmp";
  std::ofstream(tmp) << h.ToJson();
  ::rename(tmp.c_str(), (h.run_dir + "/handle.json").c_str());
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

}  // namespace

std::string CgroupName(int64_t job_id, int attempt) {
  return "job-" + std::to_string(job_id) + "-" + std::to_string(attempt);
}

// The run's private directory, under <data_dir>/runs (0700: only the service reads it).
Status MakePrivateDir(const std::string& data_dir, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("launch: cannot create run directory " + dir + ": " + ec.message());
  if (::chmod((data_dir + "/runs").c_str(), 0700) != 0) return Internal("launch: cannot chmod " + data_dir + "/runs: " + std::strerror(errno));
  return Status::Ok();
}

// The job's own directory: <run_root> (the service's, 0711: traversable, not listable) /
// <job>-<attempt> (the job's account's, 0700). Refuses a run_root others could write to, and a
// run directory that is not a directory (e.g. a symbolic link).
Status MakeWorkDir(const std::string& run_root, const std::string& dir, const std::optional<RunAs>& run_as) {
  std::error_code ec;
  fs::create_directories(run_root, ec);
  if (ec) return Internal("launch: cannot create run_root " + run_root + ": " + ec.message());
  struct stat st;
  if (::lstat(run_root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
    return FailedPrecondition("launch: run_root " + run_root + " must be a directory owned by the service");
  if (::chmod(run_root.c_str(), 0711) != 0) return Internal("launch: cannot chmod " + run_root + ": " + std::strerror(errno));
  // Another account must be able to reach its run directory: every parent lets others traverse.
  if (run_as) {
    std::error_code ec2;
    for (fs::path p = fs::absolute(run_root, ec2).parent_path(); !p.empty(); p = p.parent_path()) {
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0)
        return FailedPrecondition("launch: run_root " + run_root + " is not reachable by job accounts: " + p.string() +
                                  " does not let others traverse it; choose a run_root (site option) elsewhere");
      if (p == p.root_path()) break;
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Internal("launch: cannot create run directory " + dir + ": " + std::strerror(errno));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Internal("launch: run directory " + dir + " is not a directory: " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0700) == 0 && (!run_as || ::fchown(fd, run_as->uid, run_as->gid) == 0);
  int e = errno;
  ::close(fd);
  if (!ok) return Internal("launch: cannot give run directory " + dir + " to its account: " + std::strerror(e));
  return Status::Ok();
}

// Unmarks a job id reserved by Reserve.
struct ProcessRunner::Impl::LaunchGuard {
  Impl* impl;
  int64_t id;
  ~LaunchGuard() {
    std::lock_guard<std::mutex> lock(impl->mu);
    impl->launching.erase(id);
  }
};

Status ProcessRunner::Impl::Reserve(int64_t job_id) {
  std::lock_guard<std::mutex> lock(mu);
  if (jobs.count(job_id) || launching.count(job_id)) {
    return Status(Code::kAlreadyExists, "launch: job " + std::to_string(job_id) + " is already running here");
  }
  launching.insert(job_id);
  return Status::Ok();
}

void ProcessRunner::Impl::Track(RunHandle& h, std::optional<JobCgroup> cg) {
  Job job;
  job.cg = std::move(cg);
  for (size_t k = 0; k < h.pids.size(); ++k) {
    auto st = ReadProcStat(h.pids[k]);  // unreaped, so present even if it has already exited
    h.start_ticks.push_back(st ? st->start_ticks : 0);
    Worker w;
    w.pid = h.pids[k];
    w.start_ticks = h.start_ticks.back();
    w.own = true;
    job.workers.push_back(w);
  }
  job.h = h;
  WriteHandleFile(h);
  std::lock_guard<std::mutex> lock(mu);
  jobs.emplace(job.h.job_id, std::move(job));
}

Result<RunHandle> ProcessRunner::Launch(const LaunchSpec& spec) {
  CNET_RETURN_IF_ERROR(ValidateSpec(spec));
  const std::string private_dir = impl_->RunDir(spec.job_id, spec.attempt);
  const std::string work_dir = WorkDir(spec.job_id, spec.attempt);
  std::map<std::string, std::string> env = BaseEnv(spec, work_dir);
  const std::string cwd = spec.working_dir.empty() ? work_dir : spec.working_dir;
  // The run directory does not exist yet; a relative program path is checked against it later.
  const bool check_later = spec.argv[0].find('/') != std::string::npos && spec.working_dir.empty() &&
                           spec.argv[0][0] != '/';
  if (!check_later) CNET_RETURN_IF_ERROR(CheckProgram(spec.argv[0], env["PATH"], cwd));

  CNET_RETURN_IF_ERROR(impl_->Reserve(spec.job_id));
  Impl::LaunchGuard unreserve{impl_.get(), spec.job_id};
  CNET_RETURN_IF_ERROR(MakePrivateDir(impl_->data_dir, private_dir));
  CNET_RETURN_IF_ERROR(MakeWorkDir(impl_->run_root, work_dir, spec.run_as));
  CNET_RETURN_IF_ERROR(CheckProgram(spec.argv[0], env["PATH"], cwd));
  // A relaunch of the same attempt must not see the previous exit files.
  std::error_code ec;
  for (int k = 0; k < spec.workers; ++k) {
    fs::remove(private_dir + "/exit." + std::to_string(k), ec);
    fs::remove(private_dir + "/exit." + std::to_string(k) + ".tmp", ec);
  }
  std::optional<JobCgroup> cg;
  if (impl_->opts.cgroups.version != CgroupVersion::kNone) {
    auto made = JobCgroup::Create(impl_->opts.cgroups, CgroupName(spec.job_id, spec.attempt), spec.limits);
    if (!made.ok()) return Internal("launch: " + made.status().message());
    cg = std::move(made).value();
  }

  const std::vector<WorkerPlan> plans = BuildPlans(spec, env, private_dir, ProgramCandidates(spec.argv[0], env["PATH"], cwd));
  const std::string out_path = private_dir + "/stdout.log";
  const std::string err_path = private_dir + "/stderr.log";
  ChildCommon common = MakeChildCommon(out_path, err_path, cwd);
  common.log_cap = impl_->opts.log_cap_bytes;
  if (spec.run_as) {
    common.drop = true;
    common.uid = spec.run_as->uid;
    common.gid = spec.run_as->gid;
    common.groups = spec.run_as->groups.data();
    common.ngroups = spec.run_as->groups.size();
  }
  if (cg) {
    for (const std::string& f : cg->procs_files()) common.cgroup_procs.push_back(f.c_str());
    common.reap_all = true;
  }
  auto pids = SpawnWorkers(plans, common);
  if (!pids.ok()) {
    Status rm = cg ? cg->Remove() : Status::Ok();  // nothing runs in it
    if (rm.ok()) return pids.status();
    return Status(pids.status().code(), pids.status().message() + "; " + rm.message());
  }

  RunHandle h;
  h.job_id = spec.job_id;
  h.attempt = spec.attempt;
  h.pgid = (*pids)[0];
  h.pids = *pids;
  h.started_at = SystemClock().Now();
  h.time_limit_s = spec.time_limit_s;
  h.run_dir = private_dir;
  h.work_dir = work_dir;
  h.cgroup = cg ? cg->name() : "";
  h.memory_limit_bytes = spec.limits.memory_bytes;
  impl_->Track(h, std::move(cg));
  return h;
}

bool ProcessRunner::Adopt(const RunHandle& h) {
  if (h.pids.empty() || h.pgid <= 1 || h.start_ticks.size() != h.pids.size()) return false;
  Impl::Job job;
  job.h = h;
  bool any_alive = false;
  bool all_files = true;
  const int self = ::getpid();
  for (size_t k = 0; k < h.pids.size(); ++k) {
    Impl::Worker w;
    w.pid = h.pids[k];
    w.start_ticks = h.start_ticks[k];
    auto st = ReadProcStat(w.pid);
    if (st && st->start_ticks == w.start_ticks) {
      if (st->ppid == self) {
        w.own = true;  // still our child (same process); also counts if it is a zombie
        any_alive = true;
      } else if (!IsDeadState(st->state)) {
        any_alive = true;
      }
    }
    if (!Impl::ReadExitFile(h.run_dir, static_cast<int>(k))) all_files = false;
    job.workers.push_back(w);
  }
  if (!any_alive && !all_files) return false;
  if (!h.cgroup.empty() && impl_->opts.cgroups.version != CgroupVersion::kNone) {
    auto cg = JobCgroup::Open(impl_->opts.cgroups, h.cgroup);
    if (cg.ok()) job.cg = std::move(cg).value();  // gone: its processes have all ended
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->jobs.count(h.job_id) || impl_->launching.count(h.job_id)) return true;
  impl_->jobs.emplace(h.job_id, std::move(job));
  return true;
}

std::vector<ExitInfo> ProcessRunner::Poll(double now) {
  std::vector<ExitInfo> ended;
  std::lock_guard<std::mutex> lock(impl_->mu);
  const double mono = MonotonicSeconds();
  for (auto it = impl_->jobs.begin(); it != impl_->jobs.end();) {
    Impl::Job& j = it->second;
    bool all_done = true;
    bool all_recorded = true;  // every job process has ended (its supervisor may wait for strays)
    for (size_t k = 0; k < j.workers.size(); ++k) {
      Impl::CheckWorker(j, static_cast<int>(k));
      const Impl::Worker& w = j.workers[k];
      if (!w.done) {
        all_done = false;
        // With a cgroup a supervisor outlives its job's process until the cgroup's strays end.
        auto recorded = j.cg ? Impl::ReadExitFile(j.h.run_dir, static_cast<int>(k)) : std::nullopt;
        if (!recorded) all_recorded = false;
        else if (*recorded != 0 && j.first_failure < 0) j.first_failure = static_cast<int>(k);
      } else if (w.exit_code != 0 && j.first_failure < 0) {
        j.first_failure = static_cast<int>(k);
      }
    }
    if (!all_done && !j.term_sent) {
      if (j.h.time_limit_s > 0 && now - j.h.started_at > j.h.time_limit_s) {
        j.timed_out = true;
        Impl::Terminate(j, kDefaultGraceS, mono);
      } else if (j.first_failure >= 0) {
        Impl::Terminate(j, kDefaultGraceS, mono);  // a gang fails together
      } else if (j.cg && all_recorded) {
        Impl::Terminate(j, kDefaultGraceS, mono);  // strays of a finished job
      }
    }
    if (j.term_sent && !j.kill_sent && mono >= j.sigkill_at) Impl::SendKill(j, mono);
    if (all_done) {
      // The workers are gone; wait for the rest of the cgroup or group (background processes) too.
      bool live = j.cg ? !j.cg->Empty() : Impl::GroupHasLiveMembers(j);
      if (live) {
        if (!j.term_sent) Impl::Terminate(j, kDefaultGraceS, mono);  // strays of a finished job
        if (!(j.kill_sent && mono - j.kill_sent_at > kGiveUpAfterKillS)) {
          ++it;
          continue;
        }
      }
      ended.push_back(impl_->Report(j));
      if (j.cg) impl_->to_remove.push_back(std::move(*j.cg));
      it = impl_->jobs.erase(it);
      continue;
    }
    ++it;
  }
  impl_->RemoveEndedCgroups();
  return ended;
}

Status ProcessRunner::Kill(int64_t job_id, const std::string& reason, double grace_s) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->jobs.find(job_id);
  if (it == impl_->jobs.end()) {
    return NotFound("job " + std::to_string(job_id) + " is not running on the local site");
  }
  Impl::Job& j = it->second;
  const double mono = MonotonicSeconds();
  if (!j.killed) {
    j.killed = true;
    j.kill_reason = reason;
  }
  if (grace_s > 0) {
    Impl::Terminate(j, grace_s, mono);
  } else if (!j.kill_sent) {  // no grace: SIGKILL alone, now
    j.term_sent = true;
    j.sigkill_at = mono;
    Impl::SendKill(j, mono);
  }
  return Status::Ok();
}

}  // namespace cnet::backends::local
