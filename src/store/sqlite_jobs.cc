// Jobs and their event history in the SQLite store: transitions, arrays, reads and listings.
#include <algorithm>
#include <variant>

#include "store/sqlite_store_impl.h"

namespace cnet::store {
namespace {

bool ValidLabelKey(const std::string& k) {
  if (k.empty() || k.size() > 63) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

}  // namespace

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
  j.energy_j = s.Real(18);
  j.energy_source = s.Text(19);
  j.stage_in_bytes = s.Real(20);
  j.stage_in_s = s.Real(21);
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

Status SqliteStore::Transition(int64_t id, JobState to, const std::string& reason, double time,
                  const Update& u) {
  std::lock_guard l(write_mu_);
  Status st = w_.Exec("BEGIN IMMEDIATE");
  if (st.ok()) st = TransitionLocked(id, to, reason, time, u);
  if (st.ok()) st = w_.Exec("COMMIT");
  if (!st.ok()) AfterWriteFault(st);
  return st;
}

std::vector<Status> SqliteStore::TransitionMany(const std::vector<TransitionOp>& ops) {
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
    out[i] = OpLocked(ops[i]);
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

Status SqliteStore::OpLocked(const TransitionOp& op) {
  switch (op.kind) {
    case TransitionOp::Kind::kReason: return SetReasonLocked(op.id, op.reason);
    case TransitionOp::Kind::kReopen: return ReopenLocked(op.id, op.reason, op.time);
    case TransitionOp::Kind::kTransition: break;
  }
  return TransitionLocked(op.id, op.to, op.reason, op.time, op.update);
}

Status SqliteStore::SetReasonLocked(int64_t id, const std::string& reason) {
  {  // the statement is reset before a fault handler may close the connection
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("UPDATE jobs SET reason = ? WHERE id = ?"));
    s.Bind(1, reason).BindInt(2, id);
    CNET_RETURN_IF_ERROR(s.Run("set reason"));
  }
  if (sqlite3_changes(w_.db()) == 0) return JobNotFound(id);
  return Status::Ok();
}

Status SqliteStore::SetReason(int64_t id, const std::string& reason) {
  std::lock_guard l(write_mu_);
  Status st = SetReasonLocked(id, reason);
  if (!st.ok() && st.code() != Code::kNotFound) AfterWriteFault(st);
  return st;
}

Result<Store::Inserted> SqliteStore::InsertArray(std::vector<JobRow> rows) {
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

Result<std::string> SqliteStore::StateNameLocked(int64_t id, const char* what) {
  CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("SELECT state FROM jobs WHERE id = ?"));
  s.BindInt(1, id);
  CNET_ASSIGN_OR_RETURN(bool row, s.Step(what));
  if (!row) return JobNotFound(id);
  return s.Text(0);
}

Status SqliteStore::ReopenLocked(int64_t id, const std::string& reason, double time) {
  CNET_ASSIGN_OR_RETURN(const std::string from, StateNameLocked(id, "reopen"));
  auto state = ParseState(from);
  if (!state || !IsTerminal(*state))
    return FailedPrecondition("job " + std::to_string(id) + " is " + from + ", not ended");
  {
    CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("UPDATE jobs SET state = 'PENDING', reason = ?, start_time = 0, "
                                             "end_time = 0, exit_code = NULL, site = '', placement_json = '', "
                                             "runtime_json = '', energy_j = 0, energy_source = '', stage_in_bytes = 0, stage_in_s = 0 WHERE id = ?"));
    s.Bind(1, reason).BindInt(2, id);
    CNET_RETURN_IF_ERROR(s.Run("reopen"));
  }
  return InsertEvent(id, time, from, StateName(JobState::kPending), reason);
}

Status SqliteStore::Reopen(int64_t id, const std::string& reason, double time) {
  std::lock_guard l(write_mu_);
  Status st = w_.Exec("BEGIN IMMEDIATE");
  if (st.ok()) st = ReopenLocked(id, reason, time);
  if (st.ok()) st = w_.Exec("COMMIT");
  if (!st.ok()) w_.RollbackIfOpen();
  return st;
}

Result<std::vector<std::pair<int64_t, JobState>>> SqliteStore::ArrayTasks(int64_t array_id) {
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

Result<JobRow> SqliteStore::GetJob(int64_t id) {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s,
                        r_.Prepare(std::string("SELECT ") + kJobCols + " FROM jobs WHERE id = ?"));
  s.BindInt(1, id);
  CNET_ASSIGN_OR_RETURN(bool row, s.Step("get job"));
  if (!row) return JobNotFound(id);
  return ReadJob(s);
}

Result<std::optional<JobRow>> SqliteStore::FindByIdempotencyKey(const std::string& tenant, const std::string& key) {
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

Result<std::vector<JobRow>> SqliteStore::ListJobs(const JobFilter& f) {
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

Result<std::vector<JobRow>> SqliteStore::ActiveJobs() {
  std::lock_guard l(read_mu_);
  CNET_ASSIGN_OR_RETURN(Stmt s, r_.Prepare(std::string("SELECT ") + kJobCols +
                                           " FROM jobs WHERE state NOT IN "
                                           "('SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OOM') ORDER BY id"));
  return ReadJobs(s, "active jobs");
}

Result<std::vector<EventRow>> SqliteStore::Events(int64_t job_id) {
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

Result<std::map<std::string, int64_t>> SqliteStore::CountByState() {
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

Status SqliteStore::TransitionLocked(int64_t id, JobState to, const std::string& reason, double time,
                        const Update& u) {
  CNET_ASSIGN_OR_RETURN(const std::string from_name, StateNameLocked(id, "transition"));
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
                           "energy_j = COALESCE(?, energy_j), "
                           "energy_source = COALESCE(?, energy_source), "
                           "stage_in_bytes = COALESCE(?, stage_in_bytes), "
                           "stage_in_s = COALESCE(?, stage_in_s), "
                           "attempts = attempts + ? WHERE id = ?"));
    s.Bind(1, StateName(to)).Bind(2, reason).BindOpt(3, u.start_time).BindOpt(4, u.end_time);
    s.BindOpt(5, u.exit_code).BindOpt(6, u.site).BindOpt(7, u.placement_json);
    s.BindOpt(8, u.runtime_json).BindOpt(9, u.held_by).BindOpt(10, u.energy_j).BindOpt(11, u.energy_source);
    s.BindOpt(12, u.stage_in_bytes).BindOpt(13, u.stage_in_s);
    s.BindInt(14, u.increment_attempts ? 1 : 0).BindInt(15, id);
    CNET_RETURN_IF_ERROR(s.Run("transition"));
  }
  return InsertEvent(id, time, from_name, StateName(to), reason);
}

Status SqliteStore::InsertEvent(int64_t id, double time, const std::string& from, const std::string& to,
                   const std::string& reason) {
  CNET_ASSIGN_OR_RETURN(Stmt s, w_.Prepare("INSERT INTO events "
                                           "(job_id, time, from_state, to_state, reason) "
                                           "VALUES (?, ?, ?, ?, ?)"));
  s.BindInt(1, id).Bind(2, time).Bind(3, from).Bind(4, to).Bind(5, reason);
  return s.Run("insert event");
}
}  // namespace cnet::store
