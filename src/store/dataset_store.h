// Datasets, grants and the residency audit log (docs/data.md), in the service's SQLite file beside
// the job store's tables (its own connection and tables, created if absent; the job store's schema
// version is untouched). Every dataset or grant change is written in one transaction with its audit
// record; audit records are append-only and hash-chained: record n carries SHA-256 (libsodium) of
// record n-1's hash and its own canonical fields, so `cnet audit verify` (VerifyAuditChain) finds
// the first record changed, inserted or removed in the middle of the chain, offline.
// Thread-safe: one connection behind a mutex.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct sqlite3;

namespace cnet::store {

struct DatasetRow {
  std::string name;                           // unique in the service
  std::string owner;                          // tenant
  int64_t size_bytes = 0;
  std::map<std::string, std::string> replicas;  // site -> path there
  std::string policy = "*";                   // residency expression (model/residency_expr.h)
  int64_t policy_version = 1;                 // +1 at every policy change
  std::vector<std::string> purposes;          // free-form, informational
  double expires = 0;                         // epoch s; 0 = never
  double created = 0, updated = 0;            // epoch s
};

struct GrantRow {
  std::string dataset, tenant;
  std::string policy;  // a narrower residency expression for this grantee; "" = the dataset's own
  double created = 0;
};

// One audit record. action: register, update, remove, grant, revoke (dataset changes) or
// residency (a decision about a job); decision: allow or deny for residency records, "" else.
struct AuditRecord {
  int64_t seq = 0;  // 1, 2, ... assigned by the store
  double time = 0;
  std::string actor;  // tenant (or "admin", "service")
  std::string action;
  int64_t job = 0;    // 0 = none
  std::string dataset, site;
  int64_t policy_version = 0;
  std::string decision, reason;
  std::string prev_hash, hash;  // hex SHA-256; the first record's prev_hash is 64 zeros
};

// The hex SHA-256 a record must carry: over its prev_hash and its fields in canonical JSON.
std::string AuditHash(const AuditRecord& r);

struct AuditFilter {
  std::string dataset;  // "" = every dataset
  int64_t after_seq = 0;
  int limit = 100;      // 1..1000
};

class DatasetStore {
 public:
  // Opens (creating the tables if absent) the SQLite file at `path`.
  static Result<std::unique_ptr<DatasetStore>> Open(const std::string& path);
  ~DatasetStore();

  Result<std::vector<DatasetRow>> ListDatasets();  // by name
  Result<std::vector<GrantRow>> ListGrants();      // by dataset, tenant

  // create: kAlreadyExists when the name is taken; else kNotFound when absent (an update).
  Status PutDataset(const DatasetRow& d, bool create, AuditRecord audit);
  Status DeleteDataset(const std::string& name, AuditRecord audit);  // and its grants
  Status PutGrant(const GrantRow& g, AuditRecord audit);             // insert or replace
  Status DeleteGrant(const std::string& dataset, const std::string& tenant, AuditRecord audit);
  // Residency decisions, in one transaction.
  Status Append(std::vector<AuditRecord> records);
  Result<std::vector<AuditRecord>> ListAudit(const AuditFilter& f);

 private:
  explicit DatasetStore(sqlite3* db) : db_(db) {}
  Status AppendLocked(AuditRecord& r);  // inside a transaction, mu_ held
  Status InTransaction(const std::function<Status()>& body);
  std::mutex mu_;
  sqlite3* db_;
  std::string head_;  // the last record's hash (64 zeros when empty)
  int64_t head_seq_ = 0;
};

struct AuditVerdict {
  int64_t records = 0;
  bool ok = true;
  int64_t first_bad_seq = 0;  // when !ok: the first record whose hash, link or number is wrong
  std::string why;
};
// Reads the audit table of the SQLite file at `path` read-only and checks the chain. kNotFound when
// the file has no audit table; an unreadable (corrupt) file is an error naming the file.
Result<AuditVerdict> VerifyAuditChain(const std::string& path);

}  // namespace cnet::store
