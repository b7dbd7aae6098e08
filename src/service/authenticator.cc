#include "service/authenticator.h"

#include <algorithm>
#include <chrono>

namespace cnet::service {

// The store is read under mu_, so that Forget (which takes mu_) cannot slip between a read of
// the old row and its insertion into the cache.
Result<Authenticator::Entry*> Authenticator::Lookup(const std::string& hash, double now) {
  auto it = cache_.find(hash);
  if (it != cache_.end() && now - it->second.read_at < kRecheckS && now >= it->second.read_at) return &it->second;
  auto r = store_->FindToken(hash);
  if (!r.ok()) return Unavailable("store: cannot check the token now: " + r.status().message());
  if (it == cache_.end()) {
    if (cache_.size() >= kMaxCached) cache_.clear();
    it = cache_.emplace(hash, Entry{}).first;
  }
  Entry& e = it->second;
  e.row = *r;
  e.read_at = now;
  if (e.row) e.use_noted = std::max(e.use_noted, e.row->last_used);
  return &e;
}

Result<Caller> Authenticator::Authenticate(const std::string& bearer) {
  const Status unknown(Code::kUnauthenticated, "Authorization: unknown or malformed token");
  if (bearer.empty() || bearer.size() > 256) return unknown;
  const std::string h = store::HashToken(bearer);
  const double now = clock_->Now();
  std::lock_guard l(mu_);
  CNET_ASSIGN_OR_RETURN(Entry * e, Lookup(h, now));
  if (!e->row) return unknown;
  const store::TokenRow& t = *e->row;
  if (t.revoked > 0) return Status(Code::kUnauthenticated, "Authorization: token " + t.id + " was revoked");
  if (t.expires > 0 && now >= t.expires) return Status(Code::kUnauthenticated, "Authorization: token " + t.id + " expired");
  if (now - e->use_noted >= kLastUseEveryS) {
    e->use_noted = now;
    unflushed_[h] = now;
  }
  return Caller{t.tenant, t.role == store::Role::kAdmin, t.id};
}

void Authenticator::Forget(const std::string& token_hash) {
  std::lock_guard l(mu_);
  cache_.erase(token_hash);
}

Status Authenticator::FlushLastUse() {
  std::map<std::string, double> batch;
  {
    std::lock_guard l(mu_);
    batch.swap(unflushed_);
  }
  if (batch.empty()) return Status::Ok();
  Status st = store_->RecordTokenUse(batch);
  if (!st.ok()) {
    std::lock_guard l(mu_);
    for (const auto& [h, t] : batch) unflushed_[h] = std::max(unflushed_[h], t);
  }
  return st;
}

std::map<std::string, double> Authenticator::UnflushedUse() const {
  std::lock_guard l(mu_);
  return unflushed_;
}

void Authenticator::StartFlushing(double period_s, std::shared_ptr<spdlog::logger> log) {
  if (flusher_.joinable()) return;
  flush_stop_ = false;
  flusher_ = std::thread([this, period_s, log = std::move(log)] {
    std::unique_lock l(flush_mu_);
    for (bool last = false; !last;) {
      last = flush_cv_.wait_for(l, std::chrono::duration<double>(period_s), [this] { return flush_stop_; });
      l.unlock();
      if (Status st = FlushLastUse(); !st.ok()) log->warn("tokens: last use not recorded (kept for the next try): {}", st.message());
      l.lock();
    }
  });
}

void Authenticator::StopFlushing() {
  if (!flusher_.joinable()) return;
  {
    std::lock_guard l(flush_mu_);
    flush_stop_ = true;
  }
  flush_cv_.notify_all();
  flusher_.join();
}

}  // namespace cnet::service
