// Tenants and API tokens (hashes only) in the SQLite store.
#include <nlohmann/json.hpp>

#include "store/sqlite_store_impl.h"

namespace cnet::store {
namespace {

constexpr const char* kTokenCols = "token_hash, tenant, role, created, label, id, expires, last_used, revoked";
// An admin token usable at the time bound to its one parameter.
constexpr const char* kUsableAdmin = "role = 'admin' AND revoked = 0 AND (expires = 0 OR expires > ?)";

const char* RoleName(Role r) { return r == Role::kAdmin ? "admin" : "tenant"; }

}  // namespace

Status SqliteStore::PutTenant(const TenantRow& t) {
  if (t.name.empty()) return InvalidArgument("tenant name must not be empty");
  std::string quotas = nlohmann::json(t.max_accelerators).dump();
  std::lock_guard l(write_mu_);
  Status st = [&] {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("INSERT OR REPLACE INTO tenants "
                                             "(name, max_queued_jobs, max_accelerators, unix_user) "
                                             "VALUES (?, ?, ?, ?)"));
    s.Bind(1, t.name).BindInt(2, t.max_queued_jobs).Bind(3, quotas).Bind(4, t.unix_user);
    return s.Run("put tenant");
  }();
  AfterWriteFault(st);
  return st;
}

Status SqliteStore::PutPowerOverride(const PowerOverrideRow& o) {
  if (o.site.empty()) return InvalidArgument("power override: site must not be empty");
  std::lock_guard l(write_mu_);
  Status st = [&] {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("INSERT OR REPLACE INTO power_overrides (site, kw, reason, set_by, set_at) "
                                             "VALUES (?, ?, ?, ?, ?)"));
    s.Bind(1, o.site).Bind(2, o.kw).Bind(3, o.reason).Bind(4, o.set_by).Bind(5, o.set_at);
    return s.Run("put power override");
  }();
  AfterWriteFault(st);
  return st;
}

Status SqliteStore::ClearPowerOverride(const std::string& site) {
  std::lock_guard l(write_mu_);
  Status st = [&] {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("DELETE FROM power_overrides WHERE site = ?"));
    s.Bind(1, site);
    return s.Run("clear power override");
  }();
  AfterWriteFault(st);
  return st;
}

Result<std::vector<PowerOverrideRow>> SqliteStore::PowerOverrides() {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT site, kw, reason, set_by, set_at FROM power_overrides ORDER BY site"));
  std::vector<PowerOverrideRow> out;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("power overrides"));
    if (!row) break;
    out.push_back({s.Text(0), s.Real(1), s.Text(2), s.Text(3), s.Real(4)});
  }
  return out;
}

Result<std::optional<TenantRow>> SqliteStore::GetTenant(const std::string& name) {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT name, max_queued_jobs, max_accelerators, unix_user "
                                           "FROM tenants WHERE name = ?"));
  s.Bind(1, name);
  CNET_ASSIGN_OR_RETURN(bool row, s.Step("get tenant"));
  if (!row) return std::optional<TenantRow>();
  CNET_ASSIGN_OR_RETURN(TenantRow t, ReadTenant(s));
  return std::optional<TenantRow>(std::move(t));
}

Result<std::vector<TenantRow>> SqliteStore::ListTenants() {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT name, max_queued_jobs, max_accelerators, unix_user "
                                           "FROM tenants ORDER BY name"));
  std::vector<TenantRow> out;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("list tenants"));
    if (!row) return out;
    CNET_ASSIGN_OR_RETURN(TenantRow t, ReadTenant(s));
    out.push_back(std::move(t));
  }
}

Status SqliteStore::PutToken(const TokenRow& t) {
  if (t.token_hash.empty()) return InvalidArgument("token hash must not be empty");
  std::lock_guard l(write_mu_);
  std::string id = t.id.empty() ? TokenId(t.token_hash) : t.id;
  Status st = [&] {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("INSERT OR REPLACE INTO tokens "
                                             "(token_hash, tenant, role, created, label, id, expires, "
                                             "last_used, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(1, t.token_hash).Bind(2, t.tenant).Bind(3, RoleName(t.role)).Bind(4, t.created);
    s.Bind(5, t.label).Bind(6, id).Bind(7, t.expires).Bind(8, t.last_used).Bind(9, t.revoked);
    return s.Run("put token");
  }();
  AfterWriteFault(st);
  return st;
}

Result<std::optional<TokenRow>> SqliteStore::FindToken(const std::string& token_hash) {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT ") + kTokenCols + " FROM tokens WHERE token_hash = ?"));
  s.Bind(1, token_hash);
  CNET_ASSIGN_OR_RETURN(bool row, s.Step("find token"));
  if (!row) return std::optional<TokenRow>();
  return std::optional<TokenRow>(ReadToken(s));
}

Result<int64_t> SqliteStore::CountAdminTokens() {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT COUNT(*) FROM tokens WHERE role = 'admin'"));
  CNET_ASSIGN_OR_RETURN(bool row, s.Step("count admin tokens"));
  return row ? s.Int(0) : int64_t{0};
}

Result<int64_t> SqliteStore::CountUsableAdminTokens(double now) {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT COUNT(*) FROM tokens WHERE ") + kUsableAdmin));
  s.Bind(1, now);
  CNET_ASSIGN_OR_RETURN(bool row, s.Step("count usable admin tokens"));
  return row ? s.Int(0) : int64_t{0};
}

Result<std::vector<TokenRow>> SqliteStore::ListTokens() {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT ") + kTokenCols + " FROM tokens ORDER BY created, id"));
  std::vector<TokenRow> out;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("list tokens"));
    if (!row) return out;
    out.push_back(ReadToken(s));
  }
}

Result<TokenRow> SqliteStore::RevokeToken(const std::string& id, double time) {
  std::lock_guard l(write_mu_);
  CNET_RETURN_IF_ERROR(w_.Exec("BEGIN IMMEDIATE"));
  Result<TokenRow> r = RevokeLocked(id, time);
  Status st = r.ok() ? w_.Exec("COMMIT") : Status::Ok();
  if (!r.ok() || !st.ok()) w_.RollbackIfOpen();
  if (!st.ok()) return st;
  return r;
}

Status SqliteStore::RecordTokenUse(const std::map<std::string, double>& last_used) {
  if (last_used.empty()) return Status::Ok();
  std::lock_guard l(write_mu_);
  CNET_RETURN_IF_ERROR(w_.Exec("BEGIN IMMEDIATE"));
  Status st = Status::Ok();
  for (const auto& [hash, t] : last_used) {
    auto s = w_.Prepare("UPDATE tokens SET last_used = MAX(last_used, ?) WHERE token_hash = ?");
    st = s.ok() ? s->Bind(1, t).Bind(2, hash).Run("record token use") : s.status();
    if (!st.ok()) break;
  }
  if (st.ok()) st = w_.Exec("COMMIT");
  if (!st.ok()) w_.RollbackIfOpen();
  return st;
}

TokenRow SqliteStore::ReadToken(const Stmt& s) {
  TokenRow t;
  t.token_hash = s.Text(0);
  t.tenant = s.Text(1);
  t.role = s.Text(2) == "admin" ? Role::kAdmin : Role::kTenant;
  t.created = s.Real(3);
  t.label = s.Text(4);
  t.id = s.Text(5);
  t.expires = s.Real(6);
  t.last_used = s.Real(7);
  t.revoked = s.Real(8);
  return t;
}

Result<TokenRow> SqliteStore::RevokeLocked(const std::string& id, double time) {
  TokenRow t;
  {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare(std::string("SELECT ") + kTokenCols + " FROM tokens WHERE id = ?"));
    s.Bind(1, id);
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("find token"));
    if (!row) return NotFound("id: no token " + id);
    t = ReadToken(s);
  }
  if (t.revoked > 0) return t;
  if (t.role == Role::kAdmin) {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare(std::string("SELECT COUNT(*) FROM tokens WHERE id <> ? AND ") + kUsableAdmin));
    s.Bind(1, id).Bind(2, time);
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("count usable admin tokens"));
    if (!row || s.Int(0) == 0)
      return FailedPrecondition("id: " + id + " is the last usable admin token; create another admin token first");
  }
  CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("UPDATE tokens SET revoked = ? WHERE id = ?"));
  s.Bind(1, time).Bind(2, id);
  CNET_RETURN_IF_ERROR(s.Run("revoke token"));
  t.revoked = time;
  return t;
}

Result<TenantRow> SqliteStore::ReadTenant(const Stmt& s) {
  TenantRow t;
  t.name = s.Text(0);
  t.max_queued_jobs = static_cast<int>(s.Int(1));
  t.unix_user = s.Text(3);
  auto j = nlohmann::json::parse(s.Text(2), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Internal("store: tenant " + t.name + " has bad quotas JSON");
  for (auto& [k, v] : j.items()) {
    if (!v.is_number_integer()) return Internal("store: tenant " + t.name + " has bad quota " + k);
    t.max_accelerators[k] = v.get<int>();
  }
  return t;
}
}  // namespace cnet::store
