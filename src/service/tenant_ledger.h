// Per-tenant counts the quotas and /v1/usage read, derived from job transitions (never adjusted
// by hand): queued jobs (PENDING, SCHEDULED, PREEMPTED), running jobs, jobs held by quota, and
// accelerators charged against max_accelerators. Also the tenants themselves.
// Thread-safe: HTTP threads reserve queue slots at submit and read usage; the loop thread reports
// transitions and charges.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace cnet::service {

// A job's standing for the counts: its state, whether it waits outside the scheduler (held by
// quota), and the accelerators it is charged for (type "" = several acceptable types).
struct Standing {
  std::optional<store::JobState> state;  // nullopt: not a live job (before insert, after the end)
  bool held = false;
  std::string charge_type;
  int charge = 0;  // accelerators; 0 for CPU-only jobs and jobs outside the scheduler
  bool operator==(const Standing&) const = default;
};

struct TenantUsage {
  int queued = 0, running = 0, held = 0;
  std::map<std::string, int> charged;  // accelerators by type ("" = not yet placed, several types)
  int charged_all = 0;
};

class TenantLedger {
 public:
  void PutTenant(const store::TenantRow& t);
  std::optional<store::TenantRow> Tenant(const std::string& name) const;
  bool HasTenant(const std::string& name) const;

  // Submit: reserves a queue slot unless the tenant is at max_queued_jobs (kResourceExhausted,
  // naming the quota). The slot becomes the job's PENDING standing (Move from {PENDING}) or is
  // given back with Unreserve if the insert fails or replays.
  [[nodiscard]] Status ReserveQueued(const std::string& tenant);
  void Unreserve(const std::string& tenant);
  // A job's standing changed from `from` to `to` (loop thread).
  void Move(const std::string& tenant, const Standing& from, const Standing& to);
  // Whether charging `accelerators` more (of `type`, "" = several) keeps the tenant within
  // max_accelerators.
  bool QuotaAllows(const std::string& tenant, const std::string& type, int accelerators) const;
  TenantUsage Usage(const std::string& tenant) const;

 private:
  static bool Queued(const Standing& s);
  mutable std::mutex mu_;
  std::map<std::string, store::TenantRow> tenants_;
  std::map<std::string, TenantUsage> usage_;
};

}  // namespace cnet::service
