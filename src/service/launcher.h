// Runs SiteBackend::Launch off the control loop: one small pool of threads per site (as many as
// the backend's launch_concurrency), so that a slow or unreachable site never holds the loop, and
// hands the outcomes back in the order they finish. Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/site_backend.h"

namespace cnet::service {

struct LaunchOutcome {
  int site = -1;
  backends::LaunchRequest req;
  Result<backends::LaunchResult> result = Status(Code::kInternal, "not launched");
  double finished_at = 0;  // MonotonicSeconds
};

class Launcher {
 public:
  // `on_done` is called (from a launcher thread) after each outcome is queued: it wakes the loop.
  // `inline_launches`: Submit launches on the caller's thread (deterministic tests); no threads.
  explicit Launcher(std::function<void()> on_done, bool inline_launches = false)
      : on_done_(std::move(on_done)), inline_(inline_launches) {}
  ~Launcher();  // finishes the launches in flight, then joins
  // Adds a site's pool; returns its index (== the service's site index when added in order).
  int AddSite(backends::SiteBackend* backend, int concurrency);
  void Submit(int site, backends::LaunchRequest req);
  std::vector<LaunchOutcome> Take();
  // Launches queued or running (all sites).
  size_t in_flight() const;

 private:
  struct Pool {
    backends::SiteBackend* backend = nullptr;
    std::deque<backends::LaunchRequest> queue;
    std::vector<std::thread> threads;
  };
  void Work(int site);
  std::function<void()> on_done_;
  const bool inline_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  size_t in_flight_ = 0;
  std::vector<std::unique_ptr<Pool>> pools_;
  std::vector<LaunchOutcome> done_;
};

}  // namespace cnet::service
