// SqliteStore: the SQLite implementation of Store (store.h states the contract). One write
// connection (guarded by write_mu_, shared by the group-commit writer thread and the direct writes)
// and one read connection (read_mu_). Internal to the store; built by Store::Open. Its methods are
// defined by area:
//   sqlite_store.cc   open, close, the write probe
//   sqlite_schema.cc  schema migrations and the integrity check
//   sqlite_jobs.cc    jobs and their events
//   sqlite_commit.cc  InsertJob's group commit
//   sqlite_tokens.cc  tenants and API tokens
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite_conn.h"
#include "store/store.h"

namespace cnet::store {

// The columns ReadJob reads, in its order.
inline constexpr const char* kJobCols =
    "id, tenant, name, spec_json, state, reason, submit_time, start_time, end_time, exit_code, "
    "site, placement_json, runtime_json, attempts, idempotency_key, array_id, array_index, held_by, energy_j, "
    "energy_source, stage_in_bytes, stage_in_s";

// The current row of a statement that selected kJobCols; kInternal for an unknown state.
Result<JobRow> ReadJob(const Stmt& s);
// Every row of such a statement.
Result<std::vector<JobRow>> ReadJobs(Stmt& s, const std::string& what);

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, OpenOptions opts) : path_(std::move(path)), opts_(opts) {}
  // Drains the group-commit queue, then closes both connections.
  ~SqliteStore() override;

  // Creates the file (0600), enables WAL, checks integrity, migrates the schema, opens the read
  // connection and starts the writer thread. kUnavailable or kFailedPrecondition naming the file.
  Status Init();

  // Store (see store.h).
  Result<Inserted> InsertJob(JobRow row) override;
  Status Transition(int64_t id, JobState to, const std::string& reason, double time,
                    const Update& u) override;
  std::vector<Status> TransitionMany(const std::vector<TransitionOp>& ops) override;
  Status SetReason(int64_t id, const std::string& reason) override;
  Result<Inserted> InsertArray(std::vector<JobRow> rows) override;
  Status Reopen(int64_t id, const std::string& reason, double time) override;
  Result<std::vector<std::pair<int64_t, JobState>>> ArrayTasks(int64_t array_id) override;
  Result<JobRow> GetJob(int64_t id) override;
  Result<std::optional<JobRow>> FindByIdempotencyKey(const std::string& tenant, const std::string& key) override;
  Result<std::vector<JobRow>> ListJobs(const JobFilter& f) override;
  Result<std::vector<JobRow>> ActiveJobs() override;
  Result<std::vector<EventRow>> Events(int64_t job_id) override;
  Result<std::map<std::string, int64_t>> CountByState() override;
  Status PutTenant(const TenantRow& t) override;
  Status PutPowerOverride(const PowerOverrideRow& o) override;
  Status ClearPowerOverride(const std::string& site) override;
  Result<std::vector<PowerOverrideRow>> PowerOverrides() override;
  Result<std::optional<TenantRow>> GetTenant(const std::string& name) override;
  Result<std::vector<TenantRow>> ListTenants() override;
  Status PutToken(const TokenRow& t) override;
  Result<std::optional<TokenRow>> FindToken(const std::string& token_hash) override;
  Status CheckWritable() override;
  Result<int64_t> CountAdminTokens() override;
  Result<int64_t> CountUsableAdminTokens(double now) override;
  Result<std::vector<TokenRow>> ListTokens() override;
  Result<TokenRow> RevokeToken(const std::string& id, double time) override;
  Status RecordTokenUse(const std::map<std::string, double>& last_used) override;

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

  // After a failed write: whatever SQLite left of the transaction is rolled back, so the next
  // write starts clean and commits as soon as the fault is gone (no reopen needed: the full-disk
  // test shows writes commit again on the same connection). Caller holds write_mu_.
  void AfterWriteFault(const Status& st) {
    if (!st.ok()) w_.RollbackIfOpen();
  }

  // --- schema (sqlite_schema.cc) ---
  // PRAGMA quick_check, interrupted at the deadline by a progress handler. A damaged page makes
  // reads return short or wrong results (a queue that looks empty), so the service must not start.
  Status IntegrityCheck();
  // Brings the schema to the current version in one transaction; kFailedPrecondition for a file
  // written by a newer version.
  Status Migrate();
  Status MigrateLocked();

  // --- tenants and tokens (sqlite_tokens.cc) ---
  static TokenRow ReadToken(const Stmt& s);  // the columns of kTokenCols
  // Inside the caller's write transaction.
  Result<TokenRow> RevokeLocked(const std::string& id, double time);
  static Result<TenantRow> ReadTenant(const Stmt& s);

  // --- jobs (sqlite_jobs.cc); inside the caller's write transaction ---
  // SetReason's and Reopen's writes inside the caller's transaction (caller holds write_mu_).
  Status SetReasonLocked(int64_t id, const std::string& reason);
  Status ReopenLocked(int64_t id, const std::string& reason, double time);
  Status OpLocked(const TransitionOp& op);
  // A job's state column as stored (kNotFound if there is no such job).
  Result<std::string> StateNameLocked(int64_t id, const char* what);
  Status TransitionLocked(int64_t id, JobState to, const std::string& reason, double time,
                          const Update& u);
  Status InsertEvent(int64_t id, double time, const std::string& from, const std::string& to,
                     const std::string& reason);

  // --- group commit (sqlite_commit.cc) ---
  using KeyMap = std::map<std::pair<std::string, std::string>, JobRow>;
  void WriterLoop();
  void CommitBatch(const std::vector<Pending*>& batch);
  Result<Inserted> InsertOne(JobRow row, KeyMap& created);
  // Inserts `row` and its submit event; sets row.id.
  Status InsertRowLocked(JobRow& row);

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

}  // namespace cnet::store
