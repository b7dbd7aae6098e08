// The store's schema: migrations from any earlier version, and the integrity check at open.
#include <iterator>

#include "common/clock.h"
#include "store/sqlite_store_impl.h"

namespace cnet::store {
namespace {

// Schema migrations: kMigrations[i] takes the schema from version i to i + 1.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  submit_time REAL NOT NULL,
  start_time REAL NOT NULL DEFAULT 0,
  end_time REAL NOT NULL DEFAULT 0,
  exit_code INTEGER,
  site TEXT NOT NULL DEFAULT '',
  placement_json TEXT NOT NULL DEFAULT '',
  runtime_json TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  idempotency_key TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs(tenant, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX jobs_tenant ON jobs(tenant, id);
CREATE INDEX jobs_state ON jobs(state, id);
CREATE INDEX jobs_tenant_state ON jobs(tenant, state, id);
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id INTEGER NOT NULL REFERENCES jobs(id),
  time REAL NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_job ON events(job_id, seq);
CREATE TABLE tenants (
  name TEXT PRIMARY KEY,
  max_queued_jobs INTEGER NOT NULL DEFAULT 0,
  max_accelerators TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE tokens (
  token_hash TEXT PRIMARY KEY,
  tenant TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL CHECK (role IN ('admin', 'tenant')),
  created REAL NOT NULL,
  label TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tokens_role ON tokens(role);
)sql",
    // 2: tenants map to a Unix account; tokens get a public id, an expiry, last use, revocation.
    R"sql(
ALTER TABLE tenants ADD COLUMN unix_user TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN id TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires REAL NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN last_used REAL NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN revoked REAL NOT NULL DEFAULT 0;
UPDATE tokens SET id = 'tok_' || substr(token_hash, 1, 16);
CREATE UNIQUE INDEX tokens_id ON tokens(id);
)sql",
    // 3: job arrays (each task a row, array_id = the first task's id) and user holds.
    R"sql(
ALTER TABLE jobs ADD COLUMN array_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN array_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN held_by TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_array ON jobs(array_id, id) WHERE array_id <> 0;
)sql",
    // 4: the energy a job's site measured (joules) and its source ("" = not measured).
    R"sql(
ALTER TABLE jobs ADD COLUMN energy_j REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN energy_source TEXT NOT NULL DEFAULT '';
)sql",
    // 5: admins' power-budget overrides per site, kept across restarts.
    R"sql(
CREATE TABLE IF NOT EXISTS power_overrides (
  site TEXT PRIMARY KEY,
  kw REAL NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  set_by TEXT NOT NULL DEFAULT '',
  set_at REAL NOT NULL DEFAULT 0
);
)sql",
    // 6: a run's stage-in of its input datasets (bytes, seconds).
    R"sql(
ALTER TABLE jobs ADD COLUMN stage_in_bytes REAL NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN stage_in_s REAL NOT NULL DEFAULT 0;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace

Status SqliteStore::IntegrityCheck() {
  if (opts_.integrity_check_s <= 0) return Status::Ok();
  double deadline = MonotonicSeconds() + opts_.integrity_check_s;
  sqlite3_progress_handler(
      w_.db(), 1000, [](void* d) { return MonotonicSeconds() > *static_cast<double*>(d) ? 1 : 0; },
      &deadline);
  std::string problems;
  int rc = SQLITE_OK;
  {
    sqlite3_stmt* s = nullptr;
    rc = sqlite3_prepare_v2(w_.db(), "PRAGMA quick_check(10)", -1, &s, nullptr);
    while (rc == SQLITE_OK) {
      int step = sqlite3_step(s);
      if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE ? SQLITE_OK : step;
        break;
      }
      const char* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      std::string line = t ? t : "";
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    sqlite3_finalize(s);
  }
  sqlite3_progress_handler(w_.db(), 0, nullptr, nullptr);
  const std::string where = "store " + path_ + ": ";
  if (rc == SQLITE_INTERRUPT)
    return FailedPrecondition(where + "the integrity check did not finish within " +
                              std::to_string(opts_.integrity_check_s) +
                              " s; raise integrity_check_s (0 skips the check)");
  if (rc != SQLITE_OK)
    return FailedPrecondition(where + "corrupt database (integrity check: " +
                              sqlite3_errstr(rc) + "); restore it from a backup");
  if (!problems.empty())
    return FailedPrecondition(where + "corrupt database (integrity check: " + problems +
                              "); restore it from a backup");
  return Status::Ok();
}

Status SqliteStore::Migrate() {
  CNET_RETURN_IF_ERROR(Wrap(w_.Exec("BEGIN IMMEDIATE")));
  Status st = MigrateLocked();
  if (st.ok()) st = Wrap(w_.Exec("COMMIT"));
  if (!st.ok()) w_.RollbackIfOpen();
  return st;
}

Status SqliteStore::MigrateLocked() {
  CNET_RETURN_IF_ERROR(
      Wrap(w_.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")));
  int version = 0;
  {
    auto s = w_.Prepare("SELECT MAX(version) FROM schema_version");
    if (!s.ok()) return Wrap(s.status());
    auto row = s->Step("schema version");
    if (!row.ok()) return Wrap(row.status());
    if (*row && !s->IsNull(0)) version = static_cast<int>(s->Int(0));
  }
  if (version > kSchemaVersion)
    return FailedPrecondition("store " + path_ + " has schema version " +
                              std::to_string(version) + ", newer than supported " +
                              std::to_string(kSchemaVersion) +
                              " (written by a newer cnet; run that version or restore a backup)");
  if (version == kSchemaVersion) return Status::Ok();
  for (int v = version; v < kSchemaVersion; ++v)
    CNET_RETURN_IF_ERROR(Wrap(w_.Script(kMigrations[v])));
  CNET_RETURN_IF_ERROR(Wrap(w_.Exec("DELETE FROM schema_version")));
  auto s = w_.Prepare("INSERT INTO schema_version (version) VALUES (?)");
  if (!s.ok()) return Wrap(s.status());
  s->BindInt(1, kSchemaVersion);
  return Wrap(s->Run("schema version"));
}
}  // namespace cnet::store
