// Authentication: a bearer token -> the caller it acts for. Tokens are stored as hashes only and
// looked up by hash (no comparison of secrets, so no timing signal). A cache keeps answers
// (including "unknown") so a request costs one hash, not a store read, and never outlives what
// it caches:
//  - expiry is checked against the clock on every request: a token is refused from the second
//    its `expires` is reached;
//  - a change made through the service (revocation, creation) calls Forget: the next request,
//    on any thread, reads the store again;
//  - every answer is read again after kRecheckS, so a change made behind the service's back
//    (an edited database) takes effect within that time.
// Last use is kept in memory and written by FlushLastUse (a background thread in the service),
// at most once per kLastUseEveryS per token: no store write on the request path.
// A store error is "unavailable" (kUnavailable, HTTP 503), never "unknown token" (401).
// Thread-safe.
#pragma once

#include <spdlog/logger.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace cnet::service {

// Who is calling: an admin, or a tenant.
struct Caller {
  std::string tenant;  // "" for admins
  bool admin = false;
  // The public id of the token used ("" when not from a token), for audit; initialised so that
  // callers may omit it.
  std::string token_id = {};
};

class Authenticator {
 public:
  static constexpr double kRecheckS = 60;
  static constexpr double kLastUseEveryS = 60;

  Authenticator(store::Store& store, const Clock& clock) : store_(&store), clock_(&clock) {}
  // kUnauthenticated if unknown, malformed, revoked or expired; kUnavailable if the store
  // cannot answer.
  Result<Caller> Authenticate(const std::string& bearer);
  // Drops the cached answer for a token whose row changed; returns after any request that read
  // the old row has finished reading it.
  void Forget(const std::string& token_hash);
  // Writes the last-use times not yet written (one store transaction). On failure they are kept
  // for the next call.
  Status FlushLastUse();
  // Last-use times seen but not yet written (token hash -> epoch seconds), for listings.
  std::map<std::string, double> UnflushedUse() const;
  // A thread that calls FlushLastUse every `period_s` (real time), logging failures; StopFlushing
  // ends it after a last flush. Both idempotent.
  void StartFlushing(double period_s, std::shared_ptr<spdlog::logger> log);
  void StopFlushing();
  ~Authenticator() { StopFlushing(); }

 private:
  struct Entry {
    std::optional<store::TokenRow> row;  // nullopt: unknown token
    double read_at = 0;                  // when row was read from the store
    double use_noted = 0;                // last use recorded (stored or pending)
  };
  static constexpr size_t kMaxCached = 100000;
  Result<Entry*> Lookup(const std::string& hash, double now);  // mu_ held

  store::Store* store_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> cache_;       // token hash -> entry
  std::map<std::string, double> unflushed_;  // token hash -> last use not yet written

  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  bool flush_stop_ = false;  // guarded by flush_mu_
  std::thread flusher_;
};

}  // namespace cnet::service
