#include "service/launcher.h"

#include "common/clock.h"

namespace cnet::service {

Launcher::~Launcher() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& p : pools_)
    for (auto& t : p->threads) t.join();
}

int Launcher::AddSite(backends::SiteBackend* backend, int concurrency) {
  std::lock_guard l(mu_);
  const int site = static_cast<int>(pools_.size());
  pools_.push_back(std::make_unique<Pool>());
  pools_.back()->backend = backend;
  if (inline_) return site;
  for (int i = 0; i < std::max(1, concurrency); ++i) pools_.back()->threads.emplace_back([this, site] { Work(site); });
  return site;
}

void Launcher::Submit(int site, backends::LaunchRequest req) {
  if (inline_) {
    LaunchOutcome o;
    o.site = site;
    o.req = std::move(req);
    o.result = pools_.at(site)->backend->Launch(o.req);
    o.finished_at = MonotonicSeconds();
    std::lock_guard l(mu_);
    done_.push_back(std::move(o));
    return;
  }
  {
    std::lock_guard l(mu_);
    pools_.at(site)->queue.push_back(std::move(req));
    ++in_flight_;
  }
  cv_.notify_all();
}

void Launcher::Work(int site) {
  std::unique_lock l(mu_);
  Pool& pool = *pools_[site];
  for (;;) {
    cv_.wait(l, [&] { return !pool.queue.empty() || (stop_ && pool.queue.empty()); });
    if (pool.queue.empty()) return;  // stopping, nothing left
    LaunchOutcome o;
    o.site = site;
    o.req = std::move(pool.queue.front());
    pool.queue.pop_front();
    l.unlock();
    o.result = pool.backend->Launch(o.req);
    o.finished_at = MonotonicSeconds();
    l.lock();
    done_.push_back(std::move(o));
    --in_flight_;
    l.unlock();
    on_done_();
    l.lock();
  }
}

std::vector<LaunchOutcome> Launcher::Take() {
  std::lock_guard l(mu_);
  std::vector<LaunchOutcome> out;
  out.swap(done_);
  return out;
}

size_t Launcher::in_flight() const {
  std::lock_guard l(mu_);
  return in_flight_ + done_.size();
}

}  // namespace cnet::service
