// Durable state of the service in one SQLite file (WAL mode, synchronous=FULL): jobs, their event
// history, tenants, API tokens (hashes only) and idempotency keys. Writes that must be durable
// before they are acknowledged (InsertJob) go through group commit: concurrent callers are batched
// into one transaction by a writer thread and each returns only after that transaction committed.
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace cnet::store {

// Job states, as stored (upper case strings in the database).
// kTimeout: ended by its time limit (a failure, told apart as Slurm does).
// kOom: killed by the kernel at its memory limit (a failure, as Slurm's OUT_OF_MEMORY; "OOM").
enum class JobState { kPending, kScheduled, kRunning, kSucceeded, kFailed, kCancelled, kPreempted, kTimeout, kOom };
const char* StateName(JobState s);                 // "PENDING", ...
std::optional<JobState> ParseState(const std::string& s);
bool IsTerminal(JobState s);                       // SUCCEEDED, FAILED, CANCELLED, TIMEOUT, OOM

struct JobRow {
  int64_t id = 0;                 // assigned by InsertJob (1, 2, ...)
  std::string tenant;
  std::string name;
  std::string spec_json;          // the accepted job spec, normalised JSON (api layer's format)
  JobState state = JobState::kPending;
  std::string reason;             // latest reason (scheduler's or site's)
  double submit_time = 0;         // seconds since the Unix epoch
  double start_time = 0;          // 0 = not started
  double end_time = 0;            // 0 = not ended
  std::optional<int> exit_code;
  std::string site;               // site it was dispatched to ("" before)
  std::string placement_json;     // where it runs (service layer's format), "" when not placed
  std::string runtime_json;       // site-specific handle (pids, slurm job id...), "" when none
  int attempts = 0;               // number of starts
  std::string idempotency_key;    // "" when none
  // Job arrays: every task is a row; the array's id is its first task's id (as Slurm's). 0 = not
  // a task of an array.
  int64_t array_id = 0;
  int array_index = 0;            // the task's index (CNET_ARRAY_TASK_ID)
  std::string held_by;            // a user hold: who placed it ("" = not held)
  // Energy its site measured for its run (joules) and where the figure comes from ("rapl",
  // "nvidia-smi", "rapl+nvidia-smi", "slurm"); "" = not measured (the service estimates it).
  double energy_j = 0;
  std::string energy_source;
  // Its run's stage-in (docs/data.md): bytes copied and seconds taken; 0 = none.
  double stage_in_bytes = 0, stage_in_s = 0;
};

struct EventRow {
  int64_t job_id = 0;
  int64_t seq = 0;                // per-store increasing
  double time = 0;
  std::string from_state, to_state;  // from_state "" for the submit event
  std::string reason;
};

struct JobFilter {
  std::optional<std::string> tenant;      // only this tenant's jobs
  std::optional<JobState> state;
  std::optional<std::string> name_prefix;
  std::optional<std::string> label;       // "key=value": spec_json's labels contain it
  int64_t after_id = 0;                   // keyset pagination: ids > after_id
  int limit = 100;                        // 1..1000
  bool newest_first = false;              // descending id (then before_id pages, after_id still bounds)
  int64_t before_id = 0;                  // > 0: only ids < before_id
  bool active_only = false;               // only jobs not in a terminal state
  double submitted_since = 0;             // > 0: only jobs with submit_time >= this (epoch s)
  int64_t array_id = 0;                   // > 0: only the tasks of this array
};

struct TenantRow {
  std::string name;
  // Quotas: accelerators in use per accelerator type ("*" = all types), and jobs queued
  // (PENDING + SCHEDULED). Missing key / 0 = no limit.
  std::map<std::string, int> max_accelerators;
  int max_queued_jobs = 0;
  // The Unix account this tenant's jobs run as on sites that run processes here (local site);
  // "" = not mapped.
  std::string unix_user;
};

enum class Role { kAdmin, kTenant };

struct TokenRow {
  std::string token_hash;  // hex of a BLAKE2b-256 of the token (libsodium crypto_generichash)
  std::string tenant;      // "" for admin tokens
  Role role = Role::kTenant;
  double created = 0;
  std::string label;
  std::string id;          // public id "tok_<16 hex>" (TokenId of the hash); PutToken fills it if ""
  double expires = 0;      // epoch seconds; 0 = never
  double last_used = 0;    // epoch seconds; 0 = never used
  double revoked = 0;      // epoch seconds; 0 = not revoked
};

struct OpenOptions {
  // Start-up integrity check (PRAGMA quick_check over every page) bounded to this many seconds:
  // a database that fails it, or a check that does not finish in time, is refused (raise the
  // bound for a very large database; 0 skips the check).
  double integrity_check_s = 30;
};

// An admin's override of a site's power budget (service/power_budget.h), kept until cleared.
struct PowerOverrideRow {
  std::string site;
  double kw = 0;
  std::string reason, set_by;
  double set_at = 0;  // epoch s
};

class Store {
 public:
  // Opens or creates `path` (parent directory must exist; created with mode 0600). Applies the
  // schema, WAL mode, synchronous=FULL, busy timeout. Fails with the path in the message; refuses
  // (kFailedPrecondition, naming the file) a database that is corrupt or has a newer schema.
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  static Result<std::unique_ptr<Store>> Open(const std::string& path, const OpenOptions& opts);
  virtual ~Store() = default;

  // Durable insert of a new job (state PENDING, with a "submitted" event). If idempotency_key is
  // not empty and (tenant, key) was used before, returns the existing job and created=false, and
  // writes nothing. Returns only after the transaction has committed (group commit).
  struct Inserted {
    JobRow job;
    bool created = true;
  };
  virtual Result<Inserted> InsertJob(JobRow row) = 0;

  // Moves a job to `to` with an event (from -> to, reason, time) in one transaction, updating
  // the given optional columns. Fails with kFailedPrecondition if the job is in a terminal state
  // or its current state is not `expected_from` (when given): a compare-and-set.
  struct Update {
    std::optional<JobState> expected_from;
    std::optional<double> start_time, end_time;
    std::optional<int> exit_code;
    std::optional<std::string> site, placement_json, runtime_json;
    bool increment_attempts = false;
    std::optional<std::string> held_by;  // sets the user hold ("" releases it)
    std::optional<double> energy_j;               // measured energy (JobRow::energy_j)
    std::optional<std::string> energy_source;     // and its source
    std::optional<double> stage_in_bytes, stage_in_s;  // its run's stage-in (JobRow)
  };
  virtual Status Transition(int64_t id, JobState to, const std::string& reason, double time,
                            const Update& u) = 0;
  // Several writes to jobs in one transaction (one fsync): each op fails alone (its own
  // savepoint); returns one Status per op, in order. An op is a transition (a compare-and-set as
  // above), a reason (SetReason's write), or a reopen (Reopen's write), by `kind`.
  struct TransitionOp {
    int64_t id = 0;
    JobState to = JobState::kPending;
    std::string reason;
    double time = 0;
    Update update;
    enum class Kind { kTransition, kReason, kReopen };
    Kind kind = Kind::kTransition;  // kReason uses id and reason; kReopen id, reason and time
  };
  virtual std::vector<Status> TransitionMany(const std::vector<TransitionOp>& ops) = 0;
  // Durable insert of a job array: one row per task (rows[i].array_index set by the caller), in one
  // transaction, with consecutive ids; every row's array_id becomes the first row's id. The
  // idempotency key (rows[0]'s) replays as InsertJob's does: the first task comes back, created=false.
  virtual Result<Inserted> InsertArray(std::vector<JobRow> rows) = 0;
  // Puts a job that ended back to PENDING (a requeue): clears start/end time, exit code, site,
  // placement and run handle; keeps attempts (logs stay per attempt); records the event.
  // kFailedPrecondition if the job has not ended.
  virtual Status Reopen(int64_t id, const std::string& reason, double time) = 0;
  // The tasks of an array (id, state), ascending index; empty if there is no such array.
  virtual Result<std::vector<std::pair<int64_t, JobState>>> ArrayTasks(int64_t array_id) = 0;
  // Updates the reason only (no event), e.g. the scheduler's latest word on a waiting job.
  virtual Status SetReason(int64_t id, const std::string& reason) = 0;

  virtual Result<JobRow> GetJob(int64_t id) = 0;  // kNotFound if absent
  // The job a tenant submitted with this Idempotency-Key, if any ("" key: none).
  virtual Result<std::optional<JobRow>> FindByIdempotencyKey(const std::string& tenant, const std::string& key) = 0;
  virtual Result<std::vector<JobRow>> ListJobs(const JobFilter& f) = 0;  // ascending id, or descending if newest_first
  // Every job not in a terminal state, ascending id (for recovery at start).
  virtual Result<std::vector<JobRow>> ActiveJobs() = 0;
  virtual Result<std::vector<EventRow>> Events(int64_t job_id) = 0;  // ascending seq
  // Jobs per state, for /metrics.
  virtual Result<std::map<std::string, int64_t>> CountByState() = 0;

  virtual Status PutTenant(const TenantRow& t) = 0;  // insert or replace
  virtual Result<std::optional<TenantRow>> GetTenant(const std::string& name) = 0;
  virtual Result<std::vector<TenantRow>> ListTenants() = 0;

  virtual Status PutToken(const TokenRow& t) = 0;
  virtual Result<std::optional<TokenRow>> FindToken(const std::string& token_hash) = 0;
  virtual Result<int64_t> CountAdminTokens() = 0;
  // Admin tokens usable at `now` (not revoked, not expired).
  virtual Result<int64_t> CountUsableAdminTokens(double now) = 0;
  // Every token (hashes included), oldest first.
  virtual Result<std::vector<TokenRow>> ListTokens() = 0;
  // Marks the token with public id `id` revoked at `time` and returns its row; a token revoked
  // before keeps its first time (idempotent). kNotFound if there is no such id;
  // kFailedPrecondition if it is the last admin token usable at `time`: checked in the same
  // transaction as the write, so concurrent revocations cannot leave no usable admin token.
  virtual Result<TokenRow> RevokeToken(const std::string& id, double time) = 0;
  // last_used = max(last_used, t) for each token hash -> t given; one transaction.
  virtual Status RecordTokenUse(const std::map<std::string, double>& last_used) = 0;

  // Sets (insert or replace) or clears a site's power-budget override; committed on return.
  // Clearing one that is not set is not an error.
  virtual Status PutPowerOverride(const PowerOverrideRow& o) = 0;
  virtual Status ClearPowerOverride(const std::string& site) = 0;
  virtual Result<std::vector<PowerOverrideRow>> PowerOverrides() = 0;  // by site name

  // One small committed write transaction that changes nothing: Ok when writes commit now,
  // kUnavailable (disk full, read-only, I/O error) when they do not. For health checks.
  virtual Status CheckWritable() = 0;
};

// Token helpers (libsodium): a new random token "cnet_<43 base64url chars>" and its hash.
std::string NewToken();
std::string HashToken(const std::string& token);
// The public id of a token, from its hash: "tok_" + the hash's first 16 hex digits.
std::string TokenId(const std::string& token_hash);

}  // namespace cnet::store
