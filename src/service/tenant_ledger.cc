#include "service/tenant_ledger.h"

namespace cnet::service {

using store::JobState;

void TenantLedger::PutTenant(const store::TenantRow& t) {
  std::lock_guard l(mu_);
  tenants_[t.name] = t;
}

std::optional<store::TenantRow> TenantLedger::Tenant(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = tenants_.find(name);
  if (it == tenants_.end()) return std::nullopt;
  return it->second;
}

bool TenantLedger::HasTenant(const std::string& name) const {
  std::lock_guard l(mu_);
  return tenants_.count(name) > 0;
}

Status TenantLedger::ReserveQueued(const std::string& tenant) {
  std::lock_guard l(mu_);
  TenantUsage& u = usage_[tenant];
  auto it = tenants_.find(tenant);
  const int limit = it == tenants_.end() ? 0 : it->second.max_queued_jobs;
  if (limit > 0 && u.queued >= limit)
    return Status(Code::kResourceExhausted, "tenant: " + tenant + " has " + std::to_string(u.queued) +
                                                " jobs queued, its quota (max_queued_jobs) is " + std::to_string(limit));
  ++u.queued;
  return Status::Ok();
}

void TenantLedger::Unreserve(const std::string& tenant) {
  std::lock_guard l(mu_);
  --usage_[tenant].queued;
}

bool TenantLedger::Queued(const Standing& s) {
  return s.state && (*s.state == JobState::kPending || *s.state == JobState::kScheduled || *s.state == JobState::kPreempted);
}

void TenantLedger::Move(const std::string& tenant, const Standing& from, const Standing& to) {
  if (from == to) return;
  std::lock_guard l(mu_);
  TenantUsage& u = usage_[tenant];
  auto apply = [&u](const Standing& s, int sign) {
    if (Queued(s)) u.queued += sign;
    if (s.state == JobState::kRunning) u.running += sign;
    if (s.held) u.held += sign;
    if (s.charge > 0) {
      u.charged[s.charge_type] += sign * s.charge;
      u.charged_all += sign * s.charge;
    }
  };
  apply(from, -1);
  apply(to, +1);
}

bool TenantLedger::QuotaAllows(const std::string& tenant, const std::string& type, int accelerators) const {
  std::lock_guard l(mu_);
  auto t = tenants_.find(tenant);
  if (t == tenants_.end() || accelerators <= 0) return true;
  auto u = usage_.find(tenant);
  const int all = u == usage_.end() ? 0 : u->second.charged_all;
  for (const auto& [limit_type, limit] : t->second.max_accelerators) {
    if (limit <= 0) continue;
    if (limit_type == "*" && all + accelerators > limit) return false;
    if (limit_type != "*" && limit_type == type) {
      int of_type = 0;
      if (u != usage_.end()) {
        auto c = u->second.charged.find(type);
        if (c != u->second.charged.end()) of_type = c->second;
      }
      if (of_type + accelerators > limit) return false;
    }
  }
  return true;
}

TenantUsage TenantLedger::Usage(const std::string& tenant) const {
  std::lock_guard l(mu_);
  auto it = usage_.find(tenant);
  return it == usage_.end() ? TenantUsage{} : it->second;
}

}  // namespace cnet::service
