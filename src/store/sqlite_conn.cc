#include "store/sqlite_conn.h"

namespace cnet::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;

}  // namespace

Status Conn::Open(const std::string& path) {
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return SqlError(db_, rc, "open");
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  return Status::Ok();
}

void Conn::Close() {
  for (auto& [sql, s] : cache_) sqlite3_finalize(s);
  cache_.clear();
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Result<Stmt> Conn::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) return SqlError(db_, rc, "prepare");
    it = cache_.emplace(sql, s).first;
  }
  return Stmt(db_, it->second);
}

Status Conn::Exec(const std::string& sql) {
  CNET_ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
  return s.Run(sql);
}

Status Conn::Script(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : SqlError(db_, rc, "schema");
}

void Conn::RollbackIfOpen() {
  if (InTransaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace cnet::store
