// SQLite implementation of Store: one write connection (guarded by write_mu_, shared by the
// group-commit writer thread and the direct writes) and one read connection (read_mu_).
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>

#include "common/clock.h"
#include "store/store.h"

namespace cnet::store {
namespace {

constexpr size_t kMaxBatch = 512;
constexpr int kBusyTimeoutMs = 5000;

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
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kTokenCols = "token_hash, tenant, role, created, label, id, expires, last_used, revoked";
// An admin token usable at the time bound to its one parameter.
constexpr const char* kUsableAdmin = "role = 'admin' AND revoked = 0 AND (expires = 0 OR expires > ?)";

constexpr const char* kJobCols =
    "id, tenant, name, spec_json, state, reason, submit_time, start_time, end_time, exit_code, "
    "site, placement_json, runtime_json, attempts, idempotency_key, array_id, array_index, held_by";

Status SqlError(sqlite3* db, int rc, const std::string& what) {
  Code code = Code::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_PERM:
      code = Code::kUnavailable;
      break;
    case SQLITE_CONSTRAINT:
      code = Code::kAlreadyExists;
      break;
  }
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Status(code, "store: " + what + ": " + msg);
}

// A borrowed cached statement; reset (ending its implicit read transaction) and unbound on
// destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)), bind_rc_(o.bind_rc_) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }

  Stmt& Bind(int i, const std::string& v) {
    return Check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string(v)); }
  Stmt& Bind(int i, double v) { return Check(sqlite3_bind_double(s_, i, v)); }
  Stmt& BindInt(int i, int64_t v) { return Check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& BindNull(int i) { return Check(sqlite3_bind_null(s_, i)); }
  template <typename T>
  Stmt& BindOpt(int i, const std::optional<T>& v) {
    if (!v) return BindNull(i);
    if constexpr (std::is_integral_v<T>) return BindInt(i, *v);
    else return Bind(i, *v);
  }

  // true: a row is available; false: done.
  Result<bool> Step(const std::string& what) {
    if (bind_rc_ != SQLITE_OK) return SqlError(db_, bind_rc_, what);
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlError(db_, rc, what);
  }
  Status Run(const std::string& what) {
    for (;;) {
      CNET_ASSIGN_OR_RETURN(bool row, Step(what));
      if (!row) return Status::Ok();
    }
  }

  bool IsNull(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  int64_t Int(int c) const { return sqlite3_column_int64(s_, c); }
  double Real(int c) const { return sqlite3_column_double(s_, c); }
  std::string Text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string(p, sqlite3_column_bytes(s_, c)) : std::string();
  }

 private:
  Stmt& Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

// A connection with its prepared-statement cache. Not thread-safe: callers hold its mutex.
class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { Close(); }

  Status Open(const std::string& path) {
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) return SqlError(db_, rc, "open");
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    return Status::Ok();
  }
  void Close() {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    cache_.clear();
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
  }
  sqlite3* db() const { return db_; }
  bool InTransaction() const { return db_ && !sqlite3_get_autocommit(db_); }

  Result<Stmt> Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) return SqlError(db_, rc, "prepare");
      it = cache_.emplace(sql, s).first;
    }
    return Stmt(db_, it->second);
  }
  // Runs one constant statement (cached).
  Status Exec(const std::string& sql) {
    CNET_ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
    return s.Run(sql);
  }
  // Runs a constant multi-statement script (not cached).
  Status Script(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? Status::Ok() : SqlError(db_, rc, "schema");
  }
  void RollbackIfOpen() {
    if (InTransaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

Result<JobRow> ReadJob(const Stmt& s) {
  JobRow j;
  j.id = s.Int(0);
  j.tenant = s.Text(1);
  j.name = s.Text(2);
  j.spec_json = s.Text(3);
  std::string state = s.Text(4);
  auto st = ParseState(state);
  if (!st) return Internal("store: job " + std::to_string(j.id) + " has unknown state '" + state + "'");
  j.state = *st;
  j.reason = s.Text(5);
  j.submit_time = s.Real(6);
  j.start_time = s.Real(7);
  j.end_time = s.Real(8);
  if (!s.IsNull(9)) j.exit_code = static_cast<int>(s.Int(9));
  j.site = s.Text(10);
  j.placement_json = s.Text(11);
  j.runtime_json = s.Text(12);
  j.attempts = static_cast<int>(s.Int(13));
  j.idempotency_key = s.Text(14);
  j.array_id = s.Int(15);
  j.array_index = static_cast<int>(s.Int(16));
  j.held_by = s.Text(17);
  return j;
}

Result<std::vector<JobRow>> ReadJobs(Stmt& s, const std::string& what) {
  std::vector<JobRow> out;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(bool row, s.Step(what));
    if (!row) return out;
    CNET_ASSIGN_OR_RETURN(JobRow j, ReadJob(s));
    out.push_back(std::move(j));
  }
}

bool ValidLabelKey(const std::string& k) {
  if (k.empty() || k.size() > 63) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

const char* RoleName(Role r) { return r == Role::kAdmin ? "admin" : "tenant"; }

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, OpenOptions opts) : path_(std::move(path)), opts_(opts) {}

  ~SqliteStore() override {
    {
      std::lock_guard l(q_mu_);
      stopping_ = true;
    }
    q_cv_.notify_all();
    if (writer_.joinable()) writer_.join();  // drains the queue first
    std::scoped_lock l(write_mu_, read_mu_);
    r_.Close();
    w_.Close();
  }

  Status Init() {
    // Create the file ourselves so that it gets mode 0600 (the WAL and shm files copy it).
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Unavailable(std::strerror(errno));
    ::close(fd);

    CNET_RETURN_IF_ERROR(Wrap(w_.Open(path_)));
    {
      auto s = w_.Prepare("PRAGMA journal_mode=WAL");
      if (!s.ok()) return Wrap(s.status());
      auto row = s->Step("journal_mode");
      if (!row.ok()) return Wrap(row.status());
      if (!*row || s->Text(0) != "wal") return Unavailable("cannot enable WAL journal mode");
    }
    CNET_RETURN_IF_ERROR(Wrap(w_.Script("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")));
    CNET_RETURN_IF_ERROR(IntegrityCheck());
    CNET_RETURN_IF_ERROR(Migrate());

    CNET_RETURN_IF_ERROR(Wrap(r_.Open(path_)));
    CNET_RETURN_IF_ERROR(Wrap(r_.Script("PRAGMA foreign_keys=ON; PRAGMA query_only=ON;")));

    writer_ = std::thread([this] { WriterLoop(); });
    return Status::Ok();
  }

  Result<Inserted> InsertJob(JobRow row) override {
    Pending p;
    p.row = std::move(row);
    {
      std::unique_lock l(q_mu_);
      if (stopping_) return Status(Code::kUnavailable, "store: closing");
      queue_.push_back(&p);
      q_cv_.notify_one();
      done_cv_.wait(l, [&] { return p.done; });
    }
    return std::move(*p.result);
  }

  Status Transition(int64_t id, JobState to, const std::string& reason, double time,
                    const Update& u) override {
    std::lock_guard l(write_mu_);
    Status st = w_.Exec("BEGIN IMMEDIATE");
    if (st.ok()) st = TransitionLocked(id, to, reason, time, u);
    if (st.ok()) st = w_.Exec("COMMIT");
    if (!st.ok()) AfterWriteFault(st);
    return st;
  }

  std::vector<Status> TransitionMany(const std::vector<TransitionOp>& ops) override {
    std::vector<Status> out(ops.size());
    if (ops.empty()) return out;
    std::lock_guard l(write_mu_);
    Status begin = w_.Exec("BEGIN IMMEDIATE");
    if (!begin.ok()) {
      AfterWriteFault(begin);
      std::fill(out.begin(), out.end(), begin);
      return out;
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      Status sp = w_.Exec("SAVEPOINT op");
      if (!sp.ok()) {
        out[i] = sp;
        continue;
      }
      out[i] = TransitionLocked(ops[i].id, ops[i].to, ops[i].reason, ops[i].time, ops[i].update);
      if (!out[i].ok()) (void)w_.Exec("ROLLBACK TO op");
      (void)w_.Exec("RELEASE op");
    }
    Status commit = w_.Exec("COMMIT");
    if (!commit.ok()) {
      AfterWriteFault(commit);
      for (auto& s : out)
        if (s.ok()) s = commit;
    }
    return out;
  }

  Status SetReason(int64_t id, const std::string& reason) override {
    std::lock_guard l(write_mu_);
    Status st = [&] {  // the statement is reset before a fault handler may close the connection
      CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("UPDATE jobs SET reason = ? WHERE id = ?"));
      s.Bind(1, reason).BindInt(2, id);
      return s.Run("set reason");
    }();
    if (!st.ok()) {
      AfterWriteFault(st);
      return st;
    }
    if (sqlite3_changes(w_.db()) == 0) return JobNotFound(id);
    return Status::Ok();
  }

  Result<Inserted> InsertArray(std::vector<JobRow> rows) override {
    if (rows.empty()) return InvalidArgument("store: an array needs at least one task");
    std::lock_guard l(write_mu_);
    Result<Inserted> r = [&]() -> Result<Inserted> {
      CNET_RETURN_IF_ERROR(w_.Exec("BEGIN IMMEDIATE"));
      if (!rows[0].idempotency_key.empty()) {
        std::optional<JobRow> existing;
        {
          CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare(std::string("SELECT ") + kJobCols +
                                                   " FROM jobs WHERE tenant = ? AND idempotency_key = ?"));
          s.Bind(1, rows[0].tenant).Bind(2, rows[0].idempotency_key);
          CNET_ASSIGN_OR_RETURN(bool found, s.Step("idempotency lookup"));
          if (found) {
            CNET_ASSIGN_OR_RETURN(existing, ReadJob(s));
          }
        }
        if (existing) {
          CNET_RETURN_IF_ERROR(w_.Exec("COMMIT"));
          return Inserted{std::move(*existing), false};
        }
      }
      for (size_t i = 0; i < rows.size(); ++i) {
        rows[i].state = JobState::kPending;
        if (i > 0) rows[i].idempotency_key.clear();
        CNET_RETURN_IF_ERROR(InsertRowLocked(rows[i]));
      }
      {
        CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("UPDATE jobs SET array_id = ? WHERE id >= ? AND id <= ?"));
        s.BindInt(1, rows.front().id).BindInt(2, rows.front().id).BindInt(3, rows.back().id);
        CNET_RETURN_IF_ERROR(s.Run("array id"));
      }
      CNET_RETURN_IF_ERROR(w_.Exec("COMMIT"));
      rows[0].array_id = rows[0].id;
      return Inserted{std::move(rows[0]), true};
    }();
    if (!r.ok()) AfterWriteFault(r.status());
    return r;
  }

  Status Reopen(int64_t id, const std::string& reason, double time) override {
    std::lock_guard l(write_mu_);
    Status st = [&]() -> Status {
      CNET_RETURN_IF_ERROR(w_.Exec("BEGIN IMMEDIATE"));
      std::string from;
      {
        CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("SELECT state FROM jobs WHERE id = ?"));
        s.BindInt(1, id);
        CNET_ASSIGN_OR_RETURN(bool row, s.Step("reopen"));
        if (!row) return JobNotFound(id);
        from = s.Text(0);
      }
      auto state = ParseState(from);
      if (!state || !IsTerminal(*state))
        return FailedPrecondition("job " + std::to_string(id) + " is " + from + ", not ended");
      {
        CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("UPDATE jobs SET state = 'PENDING', reason = ?, start_time = 0, "
                                                 "end_time = 0, exit_code = NULL, site = '', placement_json = '', "
                                                 "runtime_json = '' WHERE id = ?"));
        s.Bind(1, reason).BindInt(2, id);
        CNET_RETURN_IF_ERROR(s.Run("reopen"));
      }
      CNET_RETURN_IF_ERROR(InsertEvent(id, time, from, StateName(JobState::kPending), reason));
      return w_.Exec("COMMIT");
    }();
    if (!st.ok()) w_.RollbackIfOpen();
    return st;
  }

  Result<std::vector<std::pair<int64_t, JobState>>> ArrayTasks(int64_t array_id) override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT id, state FROM jobs WHERE array_id = ? ORDER BY array_index, id"));
    s.BindInt(1, array_id);
    std::vector<std::pair<int64_t, JobState>> out;
    for (;;) {
      CNET_ASSIGN_OR_RETURN(bool row, s.Step("array tasks"));
      if (!row) return out;
      auto st = ParseState(s.Text(1));
      if (!st) return Internal("store: job " + std::to_string(s.Int(0)) + " has an unknown state");
      out.emplace_back(s.Int(0), *st);
    }
  }

  Result<JobRow> GetJob(int64_t id) override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s,
                          r_.Prepare(std::string("SELECT ") + kJobCols + " FROM jobs WHERE id = ?"));
    s.BindInt(1, id);
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("get job"));
    if (!row) return JobNotFound(id);
    return ReadJob(s);
  }

  Result<std::optional<JobRow>> FindByIdempotencyKey(const std::string& tenant, const std::string& key) override {
    if (key.empty()) return std::optional<JobRow>();
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT ") + kJobCols +
                                             " FROM jobs WHERE tenant = ? AND idempotency_key = ?"));
    s.Bind(1, tenant).Bind(2, key);
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("idempotency lookup"));
    if (!row) return std::optional<JobRow>();
    CNET_ASSIGN_OR_RETURN(JobRow j, ReadJob(s));
    return std::optional<JobRow>(std::move(j));
  }

  Result<std::vector<JobRow>> ListJobs(const JobFilter& f) override {
    if (f.limit < 1 || f.limit > 1000) return InvalidArgument("limit must be in 1..1000");
    if (f.after_id < 0) return InvalidArgument("after_id must be >= 0");
    // Only constant fragments go into the SQL; every value is bound.
    std::string sql = std::string("SELECT ") + kJobCols + " FROM jobs WHERE id > ?";
    std::vector<std::variant<int64_t, std::string>> args{f.after_id};
    if (f.before_id < 0) return InvalidArgument("before_id must be >= 0");
    if (f.before_id > 0) {
      sql += " AND id < ?";
      args.emplace_back(f.before_id);
    }
    if (f.active_only) sql += " AND state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OOM')";
    if (f.submitted_since > 0) {
      // Bound as whole milliseconds: values are bound as integers or text only.
      sql += " AND submit_time * 1000 >= ?";
      args.emplace_back(static_cast<int64_t>(f.submitted_since * 1000));
    }
    if (f.array_id < 0) return InvalidArgument("array_id must be >= 0");
    if (f.array_id > 0) {
      sql += " AND array_id = ?";
      args.emplace_back(f.array_id);
    }
    if (f.tenant) {
      sql += " AND tenant = ?";
      args.emplace_back(*f.tenant);
    }
    if (f.state) {
      sql += " AND state = ?";
      args.emplace_back(std::string(StateName(*f.state)));
    }
    if (f.name_prefix) {
      sql += " AND substr(name, 1, length(?)) = ?";
      args.emplace_back(*f.name_prefix);
      args.emplace_back(*f.name_prefix);
    }
    if (f.label) {
      size_t eq = f.label->find('=');
      if (eq == std::string::npos) return InvalidArgument("label filter must be key=value");
      std::string key = f.label->substr(0, eq), value = f.label->substr(eq + 1);
      if (!ValidLabelKey(key))
        return InvalidArgument("label key '" + key + "' must match [A-Za-z0-9_.-]{1,63}");
      // The key is quoted in the JSON path (it may contain '.'); it cannot contain '"'.
      sql += " AND (CASE WHEN json_valid(spec_json) THEN "
             "json_extract(spec_json, '$.labels.\"' || ? || '\"') END) = ?";
      args.emplace_back(std::move(key));
      args.emplace_back(std::move(value));
    }
    sql += f.newest_first ? " ORDER BY id DESC LIMIT ?" : " ORDER BY id LIMIT ?";
    args.emplace_back(static_cast<int64_t>(f.limit));

    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(sql));
    for (size_t i = 0; i < args.size(); ++i) {
      int idx = static_cast<int>(i) + 1;
      if (auto* v = std::get_if<int64_t>(&args[i])) s.BindInt(idx, *v);
      else s.Bind(idx, std::get<std::string>(args[i]));
    }
    return ReadJobs(s, "list jobs");
  }

  Result<std::vector<JobRow>> ActiveJobs() override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT ") + kJobCols +
                                             " FROM jobs WHERE state NOT IN "
                                             "('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OOM') ORDER BY id"));
    return ReadJobs(s, "active jobs");
  }

  Result<std::vector<EventRow>> Events(int64_t job_id) override {
    std::lock_guard l(read_mu_);
    std::vector<EventRow> out;
    {
      CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT seq, time, from_state, to_state, reason "
                                               "FROM events WHERE job_id = ? ORDER BY seq"));
      s.BindInt(1, job_id);
      for (;;) {
        CNET_ASSIGN_OR_RETURN(bool row, s.Step("events"));
        if (!row) break;
        out.push_back(EventRow{job_id, s.Int(0), s.Real(1), s.Text(2), s.Text(3), s.Text(4)});
      }
    }
    // Every job has its submit event, so no events means no such job.
    if (out.empty()) return JobNotFound(job_id);
    return out;
  }

  Result<std::map<std::string, int64_t>> CountByState() override {
    std::map<std::string, int64_t> out;
    for (JobState st : {JobState::kPending, JobState::kScheduled, JobState::kRunning,
                        JobState::kSucceeded, JobState::kFailed, JobState::kCancelled,
                        JobState::kPreempted, JobState::kTimeout, JobState::kOom})
      out[StateName(st)] = 0;
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
    for (;;) {
      CNET_ASSIGN_OR_RETURN(bool row, s.Step("count by state"));
      if (!row) return out;
      out[s.Text(0)] = s.Int(1);
    }
  }

  Status PutTenant(const TenantRow& t) override {
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

  Result<std::optional<TenantRow>> GetTenant(const std::string& name) override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT name, max_queued_jobs, max_accelerators, unix_user "
                                             "FROM tenants WHERE name = ?"));
    s.Bind(1, name);
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("get tenant"));
    if (!row) return std::optional<TenantRow>();
    CNET_ASSIGN_OR_RETURN(TenantRow t, ReadTenant(s));
    return std::optional<TenantRow>(std::move(t));
  }

  Result<std::vector<TenantRow>> ListTenants() override {
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

  Status PutToken(const TokenRow& t) override {
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

  Result<std::optional<TokenRow>> FindToken(const std::string& token_hash) override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT ") + kTokenCols + " FROM tokens WHERE token_hash = ?"));
    s.Bind(1, token_hash);
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("find token"));
    if (!row) return std::optional<TokenRow>();
    return std::optional<TokenRow>(ReadToken(s));
  }

  Status CheckWritable() override {
    std::lock_guard l(write_mu_);
    // A real page write (the header's user_version, which nothing reads) must reach the WAL.
    Status st = w_.Exec("BEGIN IMMEDIATE");
    if (st.ok()) st = w_.Exec(++probes_ % 2 ? "PRAGMA user_version = 1" : "PRAGMA user_version = 0");
    if (st.ok()) st = w_.Exec("COMMIT");
    if (!st.ok()) AfterWriteFault(st);
    return st;
  }

  Result<int64_t> CountAdminTokens() override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare("SELECT COUNT(*) FROM tokens WHERE role = 'admin'"));
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("count admin tokens"));
    return row ? s.Int(0) : int64_t{0};
  }

  Result<int64_t> CountUsableAdminTokens(double now) override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT COUNT(*) FROM tokens WHERE ") + kUsableAdmin));
    s.Bind(1, now);
    CNET_ASSIGN_OR_RETURN(bool row, s.Step("count usable admin tokens"));
    return row ? s.Int(0) : int64_t{0};
  }

  Result<std::vector<TokenRow>> ListTokens() override {
    std::lock_guard l(read_mu_);
    CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT ") + kTokenCols + " FROM tokens ORDER BY created, id"));
    std::vector<TokenRow> out;
    for (;;) {
      CNET_ASSIGN_OR_RETURN(bool row, s.Step("list tokens"));
      if (!row) return out;
      out.push_back(ReadToken(s));
    }
  }

  Result<TokenRow> RevokeToken(const std::string& id, double time) override {
    std::lock_guard l(write_mu_);
    CNET_RETURN_IF_ERROR(w_.Exec("BEGIN IMMEDIATE"));
    Result<TokenRow> r = RevokeLocked(id, time);
    Status st = r.ok() ? w_.Exec("COMMIT") : Status::Ok();
    if (!r.ok() || !st.ok()) w_.RollbackIfOpen();
    if (!st.ok()) return st;
    return r;
  }

  Status RecordTokenUse(const std::map<std::string, double>& last_used) override {
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

 private:
  struct Pending {
    JobRow row;
    std::optional<Result<Inserted>> result;
    bool done = false;
  };

  Status Unavailable(const std::string& why) const {
    return Status(Code::kUnavailable, "cannot open store " + path_ + ": " + why);
  }
  Status Wrap(const Status& st) const { return st.ok() ? st : Unavailable(st.message()); }
  static Status JobNotFound(int64_t id) { return NotFound("job " + std::to_string(id) + " not found"); }

  // PRAGMA quick_check, interrupted at the deadline by a progress handler. A damaged page makes
  // reads return short or wrong results (a queue that looks empty), so the service must not start.
  Status IntegrityCheck() {
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

  // After a failed write: whatever SQLite left of the transaction is rolled back, so the next
  // write starts clean and commits as soon as the fault is gone (no reopen needed: the full-disk
  // test shows writes commit again on the same connection). Caller holds write_mu_.
  void AfterWriteFault(const Status& st) {
    if (!st.ok()) w_.RollbackIfOpen();
  }

  Status Migrate() {
    CNET_RETURN_IF_ERROR(Wrap(w_.Exec("BEGIN IMMEDIATE")));
    Status st = MigrateLocked();
    if (st.ok()) st = Wrap(w_.Exec("COMMIT"));
    if (!st.ok()) w_.RollbackIfOpen();
    return st;
  }

  Status MigrateLocked() {
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

  static TokenRow ReadToken(const Stmt& s) {  // the columns of kTokenCols
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

  // Inside the caller's write transaction.
  Result<TokenRow> RevokeLocked(const std::string& id, double time) {
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

  static Result<TenantRow> ReadTenant(const Stmt& s) {
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

  Status TransitionLocked(int64_t id, JobState to, const std::string& reason, double time,
                          const Update& u) {
    std::string from_name;
    {
      CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("SELECT state FROM jobs WHERE id = ?"));
      s.BindInt(1, id);
      CNET_ASSIGN_OR_RETURN(bool row, s.Step("transition"));
      if (!row) return JobNotFound(id);
      from_name = s.Text(0);
    }
    auto from = ParseState(from_name);
    if (!from) return Internal("store: job " + std::to_string(id) + " has unknown state '" + from_name + "'");
    if (IsTerminal(*from))
      return FailedPrecondition("job " + std::to_string(id) + " is already " + from_name);
    if (u.expected_from && *u.expected_from != *from)
      return FailedPrecondition("job " + std::to_string(id) + " is " + from_name + ", not " +
                                StateName(*u.expected_from));
    {
      CNET_ASSIGN_OR_RETURN(
          Stmt s, w_.Prepare("UPDATE jobs SET state = ?, reason = ?, "
                             "start_time = COALESCE(?, start_time), "
                             "end_time = COALESCE(?, end_time), "
                             "exit_code = COALESCE(?, exit_code), "
                             "site = COALESCE(?, site), "
                             "placement_json = COALESCE(?, placement_json), "
                             "runtime_json = COALESCE(?, runtime_json), "
                             "held_by = COALESCE(?, held_by), "
                             "attempts = attempts + ? WHERE id = ?"));
      s.Bind(1, StateName(to)).Bind(2, reason).BindOpt(3, u.start_time).BindOpt(4, u.end_time);
      s.BindOpt(5, u.exit_code).BindOpt(6, u.site).BindOpt(7, u.placement_json);
      s.BindOpt(8, u.runtime_json).BindOpt(9, u.held_by).BindInt(10, u.increment_attempts ? 1 : 0).BindInt(11, id);
      CNET_RETURN_IF_ERROR(s.Run("transition"));
    }
    return InsertEvent(id, time, from_name, StateName(to), reason);
  }

  Status InsertEvent(int64_t id, double time, const std::string& from, const std::string& to,
                     const std::string& reason) {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("INSERT INTO events "
                                             "(job_id, time, from_state, to_state, reason) "
                                             "VALUES (?, ?, ?, ?, ?)"));
    s.BindInt(1, id).Bind(2, time).Bind(3, from).Bind(4, to).Bind(5, reason);
    return s.Run("insert event");
  }

  // --- group commit ---

  void WriterLoop() {
    std::vector<Pending*> batch;
    for (;;) {
      {
        std::unique_lock l(q_mu_);
        q_cv_.wait(l, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) return;  // stopping, and drained
        size_t n = std::min(queue_.size(), kMaxBatch);
        batch.assign(queue_.begin(), queue_.begin() + n);
        queue_.erase(queue_.begin(), queue_.begin() + n);
      }
      CommitBatch(batch);
      {
        std::lock_guard l(q_mu_);
        for (Pending* p : batch) p->done = true;
      }
      done_cv_.notify_all();
    }
  }

  using KeyMap = std::map<std::pair<std::string, std::string>, JobRow>;

  void CommitBatch(const std::vector<Pending*>& batch) {
    std::lock_guard l(write_mu_);
    auto fail_all = [&](const Status& st) {
      for (Pending* p : batch) p->result = st;
    };
    Status st = w_.Exec("BEGIN IMMEDIATE");
    if (!st.ok()) {
      AfterWriteFault(st);
      return fail_all(st);
    }
    KeyMap created;  // (tenant, key) -> job created earlier in this batch
    for (Pending* p : batch) {
      Result<Inserted> r = InsertOne(std::move(p->row), created);
      if (!r.ok() && !w_.InTransaction()) {
        // SQLite rolled the whole transaction back (e.g. disk full): nothing of the batch stays.
        AfterWriteFault(r.status());
        return fail_all(r.status());
      }
      p->result = std::move(r);
    }
    st = w_.Exec("COMMIT");
    if (!st.ok()) {
      AfterWriteFault(st);
      fail_all(Status(Code::kUnavailable, "store: commit failed: " + st.message()));
    }
  }

  Result<Inserted> InsertOne(JobRow row, KeyMap& created) {
    const bool keyed = !row.idempotency_key.empty();
    if (keyed) {
      auto it = created.find({row.tenant, row.idempotency_key});
      if (it != created.end()) return Inserted{it->second, false};
      CNET_ASSIGN_OR_RETURN(
          Stmt s, w_.Prepare(std::string("SELECT ") + kJobCols +
                             " FROM jobs WHERE tenant = ? AND idempotency_key = ?"
                             " AND idempotency_key <> ''"));
      s.Bind(1, row.tenant).Bind(2, row.idempotency_key);
      CNET_ASSIGN_OR_RETURN(bool found, s.Step("idempotency lookup"));
      if (found) {
        CNET_ASSIGN_OR_RETURN(JobRow existing, ReadJob(s));
        return Inserted{std::move(existing), false};
      }
    }
    row.state = JobState::kPending;
    // A savepoint per row, so that a failing row is undone without losing the batch.
    CNET_RETURN_IF_ERROR(w_.Exec("SAVEPOINT insert_job"));
    Status st = InsertRowLocked(row);
    if (!st.ok()) {
      if (w_.InTransaction()) {
        (void)w_.Exec("ROLLBACK TO insert_job");
        (void)w_.Exec("RELEASE insert_job");
      }
      return st;
    }
    CNET_RETURN_IF_ERROR(w_.Exec("RELEASE insert_job"));
    if (keyed) created.emplace(std::make_pair(row.tenant, row.idempotency_key), row);
    return Inserted{std::move(row), true};
  }

  // Inserts `row` and its submit event; sets row.id.
  Status InsertRowLocked(JobRow& row) {
    {
      CNET_ASSIGN_OR_RETURN(
          Stmt s, w_.Prepare("INSERT INTO jobs (tenant, name, spec_json, state, reason, "
                             "submit_time, start_time, end_time, exit_code, site, placement_json, "
                             "runtime_json, attempts, idempotency_key, array_id, array_index, held_by) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      s.Bind(1, row.tenant).Bind(2, row.name).Bind(3, row.spec_json).Bind(4, StateName(row.state));
      s.Bind(5, row.reason).Bind(6, row.submit_time).Bind(7, row.start_time).Bind(8, row.end_time);
      s.BindOpt(9, row.exit_code).Bind(10, row.site).Bind(11, row.placement_json);
      s.Bind(12, row.runtime_json).BindInt(13, row.attempts).Bind(14, row.idempotency_key);
      s.BindInt(15, row.array_id).BindInt(16, row.array_index).Bind(17, row.held_by);
      CNET_RETURN_IF_ERROR(s.Run("insert job"));
    }
    row.id = sqlite3_last_insert_rowid(w_.db());
    return InsertEvent(row.id, row.submit_time, "", StateName(JobState::kPending), "submitted");
  }

  const std::string path_;
  const OpenOptions opts_;
  int64_t probes_ = 0;  // CheckWritable calls (guarded by write_mu_)

  std::mutex write_mu_;  // guards w_
  Conn w_;
  std::mutex read_mu_;   // guards r_
  Conn r_;

  std::mutex q_mu_;  // guards queue_, stopping_, Pending::done
  std::condition_variable q_cv_;     // writer: work or stop
  std::condition_variable done_cv_;  // callers: a batch finished
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) { return Open(path, OpenOptions{}); }

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const OpenOptions& opts) {
  auto s = std::make_unique<SqliteStore>(path, opts);
  CNET_RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace cnet::store
