#include "backends/local/run_tracking.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "backends/local/proc_stat.h"

namespace cnet::backends::local {
namespace {

std::string FormatSeconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// Whether this job's pgid is known to still name the job's group: some worker (which never
// leaves the group: it is the supervisor) is unreaped or alive. After the group has emptied, the
// number could in principle be reused, so we never signal it blindly.
bool WorkerHoldsGroup(const TrackedJob& j) {
  for (const TrackedWorker& w : j.workers) {
    if (w.done) continue;
    if (w.own) return true;
    auto st = ReadProcStat(w.pid);
    if (st && st->start_ticks == w.start_ticks) return true;
  }
  return false;
}

// Signals the run's cgroup (every process of the job, wherever it moved), else its group.
void SignalGroup(const TrackedJob& j, int sig) {
  if (j.cg && j.cg->Signal(sig).ok()) return;
  if (j.h.pgid <= 1) return;
  if (WorkerHoldsGroup(j) || GroupHasLiveMembers(j)) ::kill(-j.h.pgid, sig);
}

// Marks a worker done and settles its exit code: the shim's record first, else the wait status,
// else "ended without a trace".
void FinishWorker(const TrackedJob& j, TrackedWorker& w, int k) {
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

}  // namespace

bool GroupHasLiveMembers(const TrackedJob& j) {
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
                                 [&](const TrackedWorker& w) { return w.pid == pid; });
    if (st->ppid == self && !is_worker) {
      int ws;
      ::waitpid(static_cast<int>(pid), &ws, WNOHANG);
    }
  }
  ::closedir(d);
  return live;
}

void Terminate(TrackedJob& j, double grace_s, double mono) {
  if (j.term_sent) {
    j.sigkill_at = std::min(j.sigkill_at, mono + std::max(0.0, grace_s));
    return;
  }
  j.term_sent = true;
  j.sigkill_at = mono + std::max(0.0, grace_s);
  SignalGroup(j, SIGTERM);
  SignalGroup(j, SIGCONT);  // a stopped process would not act on SIGTERM
}

void SendKill(TrackedJob& j, double mono) {
  SignalGroup(j, SIGKILL);
  j.kill_sent = true;
  j.kill_sent_at = mono;
}

std::optional<int> ReadExitFile(const std::string& run_dir, int k) {
  std::ifstream in(run_dir + "/exit." + std::to_string(k));
  if (!in) return std::nullopt;
  long long v;
  if (!(in >> v)) return std::nullopt;
  return static_cast<int>(v);
}

// Checks (and reaps) one unfinished worker.
void CheckWorker(TrackedJob& j, int k) {
  TrackedWorker& w = j.workers[k];
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

ExitInfo Report(const TrackedJob& j) {
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

}  // namespace cnet::backends::local
