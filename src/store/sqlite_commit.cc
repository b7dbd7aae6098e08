// InsertJob's group commit: concurrent callers are batched into one transaction by the writer
// thread, each row under its own savepoint, and each caller returns once that transaction committed.
#include <algorithm>

#include "store/sqlite_store_impl.h"

namespace cnet::store {
namespace {

constexpr size_t kMaxBatch = 512;

}  // namespace

Result<Store::Inserted> SqliteStore::InsertJob(JobRow row) {
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

void SqliteStore::WriterLoop() {
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

void SqliteStore::CommitBatch(const std::vector<Pending*>& batch) {
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

Result<Store::Inserted> SqliteStore::InsertOne(JobRow row, KeyMap& created) {
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

Status SqliteStore::InsertRowLocked(JobRow& row) {
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
}  // namespace cnet::store
