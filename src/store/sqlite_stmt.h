// A SQLite statement for the store: binds by position, steps, reads columns, and maps SQLite's
// errors to Status. Internal to the store. Thread-safety: none; one thread at a time (the owner of
// its connection).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "common/status.h"

namespace cnet::store {

// `rc` as a Status, "store: <what>: <SQLite's message>": kUnavailable for faults of the file or
// the disk (busy, locked, I/O, full, corrupt, read-only, permissions), kAlreadyExists for a
// constraint violation, kInternal otherwise. `db` may be null (then SQLite's text for rc).
Status SqlError(sqlite3* db, int rc, const std::string& what);

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

}  // namespace cnet::store
