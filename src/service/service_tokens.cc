// Service use cases for API tokens: the first admin token, creation with expiry, listing and
// revocation. Creation and revocation are audited in the log (who did what to which token id;
// never the token itself).
#include <cmath>

#include "service/service.h"

namespace cnet::service {

namespace {

std::string Who(const Caller& c) {
  std::string who = c.admin ? "admin" : "tenant " + c.tenant;
  return c.token_id.empty() ? who : who + " (token " + c.token_id + ")";
}

bool IsTokenId(const std::string& id) {
  if (id.size() != 20 || id.rfind("tok_", 0) != 0) return false;
  return id.find_first_not_of("0123456789abcdef", 4) == std::string::npos;
}

}  // namespace

Result<std::string> Service::InitAdminToken() {
  CNET_ASSIGN_OR_RETURN(int64_t n, store_->CountUsableAdminTokens(deps_.clock->Now()));
  if (n > 0) return std::string();
  std::string tok = store::NewToken();
  store::TokenRow row;
  row.token_hash = store::HashToken(tok);
  row.role = store::Role::kAdmin;
  row.created = deps_.clock->Now();
  row.label = "initial admin";
  row.id = store::TokenId(row.token_hash);
  CNET_RETURN_IF_ERROR(store_->PutToken(row));
  deps_.log->info("audit: --init created admin token {} (no usable admin token existed)", row.id);
  return tok;
}

Result<Service::NewToken> Service::CreateToken(const Caller& c, store::Role role, const std::string& tenant,
                                               const std::string& label, double ttl_s) {
  if (!c.admin) return PermissionDenied("admin role required");
  if (role == store::Role::kTenant) {
    if (tenant.empty()) return InvalidArgument("tenant: required for a tenant token");
    if (!ledger_.HasTenant(tenant)) return NotFound("tenant: no tenant '" + tenant + "' (create it with PUT /v1/tenants)");
  } else if (!tenant.empty()) {
    return InvalidArgument("tenant: an admin token acts for no tenant");
  }
  if (label.size() > 200) return InvalidArgument("label: at most 200 bytes");
  for (unsigned char ch : label)  // labels go into the audit log: no line breaks or escapes
    if (ch < 0x20 || ch == 0x7f) return InvalidArgument("label: no control characters");
  if (!std::isfinite(ttl_s) || ttl_s < 0 || ttl_s > kMaxTokenTtlS)
    return InvalidArgument("ttl_s: seconds from 1 to " + std::to_string(static_cast<int64_t>(kMaxTokenTtlS)) + " (0 or absent: never expires)");
  std::string tok = store::NewToken();
  const double now = deps_.clock->Now();
  store::TokenRow row;
  row.token_hash = store::HashToken(tok);
  row.tenant = role == store::Role::kAdmin ? "" : tenant;
  row.role = role;
  row.created = now;
  row.label = label;
  row.id = store::TokenId(row.token_hash);
  row.expires = ttl_s > 0 ? now + ttl_s : 0;
  Status st = store_->PutToken(row);
  if (!st.ok()) return Unavailable("store: " + st.message());
  auth_->Forget(row.token_hash);
  deps_.log->info("audit: {} created {} token {} (tenant '{}', label '{}', expires {})", Who(c),
                  role == store::Role::kAdmin ? "admin" : "tenant", row.id, row.tenant, row.label,
                  row.expires > 0 ? std::to_string(static_cast<int64_t>(row.expires)) : std::string("never"));
  return NewToken{tok, row};
}

Result<std::vector<store::TokenRow>> Service::ListTokens(const Caller& c) {
  if (!c.admin) return PermissionDenied("admin role required");
  auto rows = store_->ListTokens();
  if (!rows.ok()) return Unavailable("store: " + rows.status().message());
  const auto unflushed = auth_->UnflushedUse();
  for (auto& r : *rows)
    if (auto it = unflushed.find(r.token_hash); it != unflushed.end()) r.last_used = std::max(r.last_used, it->second);
  return rows;
}

Result<store::TokenRow> Service::RevokeToken(const Caller& c, const std::string& id) {
  if (!c.admin) return PermissionDenied("admin role required");
  if (!IsTokenId(id)) return InvalidArgument("id: not a token id ('tok_' and 16 hex digits, see GET /v1/tokens)");
  auto r = store_->RevokeToken(id, deps_.clock->Now());
  if (!r.ok()) {
    const Code code = r.status().code();
    if (code == Code::kFailedPrecondition)
      deps_.log->warn("audit: {} tried to revoke {}: refused, {}", Who(c), id, r.status().message());
    if (code == Code::kNotFound || code == Code::kFailedPrecondition) return r.status();
    return Unavailable("store: " + r.status().message());
  }
  auth_->Forget(r->token_hash);  // after the commit: the next request reads the revoked row
  deps_.log->info("audit: {} revoked {} token {} (tenant '{}', label '{}')", Who(c),
                  r->role == store::Role::kAdmin ? "admin" : "tenant", r->id, r->tenant, r->label);
  return r;
}

}  // namespace cnet::service
