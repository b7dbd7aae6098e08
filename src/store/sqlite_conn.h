// A SQLite connection with its prepared-statement cache, under SqliteStore. Internal to the store.
// Thread-safety: none; a Conn and its Stmts are used under the owner's mutex.
#pragma once

#include <sqlite3.h>

#include <string>
#include <unordered_map>

#include "common/status.h"
#include "store/sqlite_stmt.h"

namespace cnet::store {

// A connection with its prepared-statement cache. Not thread-safe: callers hold its mutex.
class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { Close(); }

  // Opens (creating) the file read-write, with a busy timeout of 5 s.
  Status Open(const std::string& path);
  // Finalizes the cached statements and closes; no Stmt of this connection may be alive.
  void Close();
  sqlite3* db() const { return db_; }
  bool InTransaction() const { return db_ && !sqlite3_get_autocommit(db_); }

  // `sql` prepared once (persistent) and cached by its text; the Stmt borrows it.
  Result<Stmt> Prepare(const std::string& sql);
  // Runs one constant statement (cached).
  Status Exec(const std::string& sql);
  // Runs a constant multi-statement script (not cached).
  Status Script(const char* sql);
  // Rolls back the open transaction, if any (after a failed write).
  void RollbackIfOpen();

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace cnet::store
