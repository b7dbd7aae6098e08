// Authentication: a bearer token -> the caller it acts for. Tokens are stored as hashes only; a
// cache keeps answers (including "unknown") so a request costs one hash, not a store read.
// A store error is "unavailable" (kUnavailable, HTTP 503), never "unknown token" (401).
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace cnet::service {

// Who is calling: an admin, or a tenant.
struct Caller {
  std::string tenant;  // "" for admins
  bool admin = false;
};

class Authenticator {
 public:
  explicit Authenticator(store::Store& store) : store_(&store) {}
  // kUnauthenticated if unknown or malformed; kUnavailable if the store cannot answer.
  Result<Caller> Authenticate(const std::string& bearer);

 private:
  static constexpr size_t kMaxCached = 100000;
  store::Store* store_;
  std::mutex mu_;
  std::map<std::string, std::optional<store::TokenRow>> cache_;  // token hash -> row (nullopt: unknown)
};

}  // namespace cnet::service
