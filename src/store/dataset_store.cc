#include "store/dataset_store.h"

#include <sodium.h>
#include <sqlite3.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "store/sqlite_stmt.h"

namespace cnet::store {
namespace {

using nlohmann::json;

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS datasets (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  replicas_json TEXT NOT NULL,
  policy TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  purposes_json TEXT NOT NULL,
  expires REAL NOT NULL,
  created REAL NOT NULL,
  updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dataset_grants (
  dataset TEXT NOT NULL,
  tenant TEXT NOT NULL,
  policy TEXT NOT NULL,
  created REAL NOT NULL,
  PRIMARY KEY (dataset, tenant)
);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  job INTEGER NOT NULL,
  dataset TEXT NOT NULL,
  site TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_dataset ON audit_log(dataset, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql";

const std::string kGenesis(64, '0');

Status SqlErr(sqlite3* db, const std::string& what) {
  return Unavailable("dataset store: " + what + ": " + (db ? sqlite3_errmsg(db) : "no connection"));
}

// The dataset store's wording of SQLite's errors (see SqlErr).
Status DatasetSqlError(sqlite3* db, int /*rc*/, const std::string& what) { return SqlErr(db, what); }

Result<Stmt> Prepare(sqlite3* db, const std::string& sql, const std::string& what) {
  return Stmt::Prepare(db, sql, what, DatasetSqlError);
}

AuditRecord ReadAudit(const Stmt& q) {
  AuditRecord r;
  r.seq = q.Int(0);
  r.time = q.Real(1);
  r.actor = q.Text(2);
  r.action = q.Text(3);
  r.job = q.Int(4);
  r.dataset = q.Text(5);
  r.site = q.Text(6);
  r.policy_version = q.Int(7);
  r.decision = q.Text(8);
  r.reason = q.Text(9);
  r.prev_hash = q.Text(10);
  r.hash = q.Text(11);
  return r;
}

constexpr const char* kAuditColumns =
    "seq, time, actor, action, job, dataset, site, policy_version, decision, reason, prev_hash, hash";

}  // namespace

std::string AuditHash(const AuditRecord& r) {
  json j = {{"seq", r.seq},         {"time", r.time},     {"actor", r.actor},
            {"action", r.action},   {"job", r.job},       {"dataset", r.dataset},
            {"site", r.site},       {"policy_version", r.policy_version},
            {"decision", r.decision}, {"reason", r.reason}, {"prev_hash", r.prev_hash}};
  const std::string text = j.dump();
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char hex[2 * sizeof h + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

Result<std::unique_ptr<DatasetStore>> DatasetStore::Open(const std::string& path) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqlErr(db, "open " + path);
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<DatasetStore> s(new DatasetStore(db));
  if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK)
    return SqlErr(db, "schema of " + path);
  CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
                                       "read the audit head"));
  s->head_ = kGenesis;
  CNET_ASSIGN_OR_RETURN(bool row, q.Step("read the audit head"));
  if (row) {
    s->head_seq_ = q.Int(0);
    s->head_ = q.Text(1);
  }
  return s;
}

DatasetStore::~DatasetStore() { sqlite3_close_v2(db_); }

Status DatasetStore::InTransaction(const std::function<Status()>& body) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return SqlErr(db_, "begin");
  const std::string head = head_;
  const int64_t head_seq = head_seq_;
  Status st = body();
  if (st.ok() && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) st = SqlErr(db_, "commit");
  if (!st.ok()) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    head_ = head;  // nothing was appended
    head_seq_ = head_seq;
  }
  return st;
}

Status DatasetStore::AppendLocked(AuditRecord& r) {
  r.seq = head_seq_ + 1;
  r.prev_hash = head_;
  r.hash = AuditHash(r);
  CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_, "INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                                       "append audit record"));
  q.Bind(1, r.seq).Bind(2, r.time).Bind(3, r.actor).Bind(4, r.action).Bind(5, r.job).Bind(6, r.dataset);
  q.Bind(7, r.site).Bind(8, r.policy_version).Bind(9, r.decision).Bind(10, r.reason).Bind(11, r.prev_hash);
  q.Bind(12, r.hash);
  CNET_RETURN_IF_ERROR(q.Run("append audit record"));
  head_seq_ = r.seq;
  head_ = r.hash;
  return Status::Ok();
}

Result<std::vector<DatasetRow>> DatasetStore::ListDatasets() {
  std::lock_guard<std::mutex> l(mu_);
  CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_,
                                       "SELECT name, owner, size_bytes, replicas_json, policy, policy_version, "
                                       "purposes_json, expires, created, updated FROM datasets ORDER BY name",
                                       "list datasets"));
  std::vector<DatasetRow> out;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(bool row, q.Step("list datasets"));
    if (!row) return out;
    DatasetRow d;
    d.name = q.Text(0);
    d.owner = q.Text(1);
    d.size_bytes = q.Int(2);
    json rep = json::parse(q.Text(3), nullptr, false), pur = json::parse(q.Text(6), nullptr, false);
    if (!rep.is_object() || !pur.is_array())
      return Internal("dataset store: dataset '" + d.name + "' has corrupt replicas or purposes");
    for (auto& [site, path] : rep.items())
      if (path.is_string()) d.replicas[site] = path.get<std::string>();
    for (auto& p : pur)
      if (p.is_string()) d.purposes.push_back(p.get<std::string>());
    d.policy = q.Text(4);
    d.policy_version = q.Int(5);
    d.expires = q.Real(7);
    d.created = q.Real(8);
    d.updated = q.Real(9);
    out.push_back(std::move(d));
  }
}

Result<std::vector<GrantRow>> DatasetStore::ListGrants() {
  std::lock_guard<std::mutex> l(mu_);
  CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_, "SELECT dataset, tenant, policy, created FROM dataset_grants ORDER BY "
                                       "dataset, tenant", "list grants"));
  std::vector<GrantRow> out;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(bool row, q.Step("list grants"));
    if (!row) return out;
    out.push_back({q.Text(0), q.Text(1), q.Text(2), q.Real(3)});
  }
}

Status DatasetStore::PutDataset(const DatasetRow& d, bool create, AuditRecord audit) {
  std::lock_guard<std::mutex> l(mu_);
  return InTransaction([&]() -> Status {
    CNET_ASSIGN_OR_RETURN(Stmt exists, Prepare(db_, "SELECT 1 FROM datasets WHERE name = ?", "find dataset"));
    exists.Bind(1, d.name);
    CNET_ASSIGN_OR_RETURN(const bool there, exists.Step("find dataset"));
    if (create && there) return Status(Code::kAlreadyExists, "dataset '" + d.name + "' already exists");
    if (!create && !there) return NotFound("no dataset '" + d.name + "'");
    json rep = d.replicas, pur = d.purposes;
    CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_, "INSERT OR REPLACE INTO datasets VALUES (?,?,?,?,?,?,?,?,?,?)",
                                         "write dataset"));
    q.Bind(1, d.name).Bind(2, d.owner).Bind(3, d.size_bytes).Bind(4, rep.dump()).Bind(5, d.policy);
    q.Bind(6, d.policy_version).Bind(7, pur.dump()).Bind(8, d.expires).Bind(9, d.created).Bind(10, d.updated);
    CNET_RETURN_IF_ERROR(q.Run("write dataset"));
    return AppendLocked(audit);
  });
}

Status DatasetStore::DeleteDataset(const std::string& name, AuditRecord audit) {
  std::lock_guard<std::mutex> l(mu_);
  return InTransaction([&]() -> Status {
    CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_, "DELETE FROM datasets WHERE name = ?", "delete dataset"));
    q.Bind(1, name);
    CNET_RETURN_IF_ERROR(q.Run("delete dataset"));
    if (sqlite3_changes(db_) == 0) return NotFound("no dataset '" + name + "'");
    CNET_ASSIGN_OR_RETURN(Stmt g, Prepare(db_, "DELETE FROM dataset_grants WHERE dataset = ?", "delete grants"));
    g.Bind(1, name);
    CNET_RETURN_IF_ERROR(g.Run("delete grants"));
    return AppendLocked(audit);
  });
}

Status DatasetStore::PutGrant(const GrantRow& g, AuditRecord audit) {
  std::lock_guard<std::mutex> l(mu_);
  return InTransaction([&]() -> Status {
    CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_, "INSERT OR REPLACE INTO dataset_grants VALUES (?,?,?,?)", "write grant"));
    q.Bind(1, g.dataset).Bind(2, g.tenant).Bind(3, g.policy).Bind(4, g.created);
    CNET_RETURN_IF_ERROR(q.Run("write grant"));
    return AppendLocked(audit);
  });
}

Status DatasetStore::DeleteGrant(const std::string& dataset, const std::string& tenant, AuditRecord audit) {
  std::lock_guard<std::mutex> l(mu_);
  return InTransaction([&]() -> Status {
    CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_, "DELETE FROM dataset_grants WHERE dataset = ? AND tenant = ?",
                                         "delete grant"));
    q.Bind(1, dataset).Bind(2, tenant);
    CNET_RETURN_IF_ERROR(q.Run("delete grant"));
    if (sqlite3_changes(db_) == 0) return NotFound("dataset '" + dataset + "' has no grant to '" + tenant + "'");
    return AppendLocked(audit);
  });
}

Status DatasetStore::Append(std::vector<AuditRecord> records) {
  if (records.empty()) return Status::Ok();
  std::lock_guard<std::mutex> l(mu_);
  return InTransaction([&]() -> Status {
    for (auto& r : records) CNET_RETURN_IF_ERROR(AppendLocked(r));
    return Status::Ok();
  });
}

Result<std::vector<AuditRecord>> DatasetStore::ListAudit(const AuditFilter& f) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string sql = std::string("SELECT ") + kAuditColumns + " FROM audit_log WHERE seq > ?" +
                          (f.dataset.empty() ? "" : " AND dataset = ?") + " ORDER BY seq LIMIT ?";
  CNET_ASSIGN_OR_RETURN(Stmt q, Prepare(db_, sql, "list audit"));
  int i = 1;
  q.Bind(i++, f.after_seq);
  if (!f.dataset.empty()) q.Bind(i++, f.dataset);
  q.Bind(i, static_cast<int64_t>(std::clamp(f.limit, 1, 1000)));
  std::vector<AuditRecord> out;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(bool row, q.Step("list audit"));
    if (!row) return out;
    out.push_back(ReadAudit(q));
  }
}

Result<AuditVerdict> VerifyAuditChain(const std::string& path) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    Status st = InvalidArgument(path + ": cannot open: " + (db ? sqlite3_errmsg(db) : "?"));
    sqlite3_close_v2(db);
    return st;
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> guard(db, sqlite3_close_v2);
  auto q = Prepare(db, std::string("SELECT ") + kAuditColumns + " FROM audit_log ORDER BY seq", "verify");
  if (!q.ok()) return NotFound(path + ": no audit log (" + sqlite3_errmsg(db) + ")");
  AuditVerdict v;
  std::string prev = kGenesis;
  for (;;) {
    Result<bool> row = q->Step("verify");
    if (!row.ok())
      return InvalidArgument(path + ": unreadable after record " + std::to_string(v.records) + ": " + sqlite3_errmsg(db) +
                             " (record " + std::to_string(v.records + 1) + " or the file's structure is damaged)");
    if (!*row) return v;
    AuditRecord r = ReadAudit(*q);
    ++v.records;
    std::string why;
    if (r.seq != v.records) why = "numbered " + std::to_string(r.seq) + ", expected " + std::to_string(v.records) + " (a record is missing)";
    else if (r.prev_hash != prev) why = "its prev_hash does not match record " + std::to_string(r.seq - 1) + "'s hash";
    else if (AuditHash(r) != r.hash) why = "its content does not match its hash (changed after it was written)";
    if (!why.empty()) {
      v.ok = false;
      v.first_bad_seq = v.records;
      v.why = "record " + std::to_string(v.records) + ": " + why;
      return v;
    }
    prev = r.hash;
  }
}

}  // namespace cnet::store
