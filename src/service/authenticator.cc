#include "service/authenticator.h"

namespace cnet::service {

Result<Caller> Authenticator::Authenticate(const std::string& bearer) {
  const Status unknown(Code::kUnauthenticated, "Authorization: unknown or malformed token");
  if (bearer.empty() || bearer.size() > 256) return unknown;
  const std::string h = store::HashToken(bearer);
  std::optional<store::TokenRow> row;
  {
    std::lock_guard l(mu_);
    auto it = cache_.find(h);
    if (it != cache_.end()) {
      row = it->second;
    } else {
      auto r = store_->FindToken(h);
      if (!r.ok()) return Unavailable("store: cannot check the token now: " + r.status().message());
      row = *r;
      if (cache_.size() > kMaxCached) cache_.clear();
      cache_[h] = row;
    }
  }
  if (!row) return unknown;
  return Caller{row->tenant, row->role == store::Role::kAdmin};
}

}  // namespace cnet::service
