// The store's one SQLite statement helper: prepare, bind by position with typed overloads, step,
// read columns, and release through RAII; SQLite's errors become Status. Used by the job store
// (through Conn's statement cache) and the dataset store (one-off statements). Internal to the
// store. Thread-safety: none; one thread at a time (the owner of its connection).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "common/status.h"

namespace cnet::store {

// How a failed SQLite call becomes a Status: the connection, SQLite's result code, what was being
// done. Each store words its errors its own way.
using SqlErrorFn = Status (*)(sqlite3* db, int rc, const std::string& what);

// The job store's wording, "store: <what>: <SQLite's message>": kUnavailable for faults of the file
// or the disk (busy, locked, I/O, full, corrupt, read-only, permissions), kAlreadyExists for a
// constraint violation, kInternal otherwise. `db` may be null (then SQLite's text for rc).
Status SqlError(sqlite3* db, int rc, const std::string& what);

// A prepared statement. Made by Prepare, it is owned and finalized on destruction; made from a
// connection's cache (Conn::Prepare), it is borrowed and reset (ending its implicit read
// transaction) and unbound on destruction. Binds are 1-based, columns 0-based, as in SQLite. A
// failed bind is kept and reported by the next Step or Run.
class Stmt {
 public:
  // Prepares `sql` on `db` (owned); a failure is err(db, rc, what).
  static Result<Stmt> Prepare(sqlite3* db, const std::string& sql, const std::string& what,
                              SqlErrorFn err = SqlError) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    if (rc != SQLITE_OK) return err(db, rc, what);
    return Stmt(db, s, /*owned=*/true, err);
  }
  // Borrows `s`, a statement its connection keeps (and finalizes).
  Stmt(sqlite3* db, sqlite3_stmt* s) : Stmt(db, s, /*owned=*/false, SqlError) {}
  Stmt(Stmt&& o) noexcept
      : db_(o.db_), s_(std::exchange(o.s_, nullptr)), owned_(o.owned_), err_(o.err_), bind_rc_(o.bind_rc_) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt() {
    if (!s_) return;
    if (owned_) {
      sqlite3_finalize(s_);
      return;
    }
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  Stmt& Bind(int i, const std::string& v) {
    return Check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string(v)); }
  Stmt& Bind(int i, double v) { return Check(sqlite3_bind_double(s_, i, v)); }
  // Any integer as a 64-bit integer (never through double).
  template <typename T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
  Stmt& Bind(int i, T v) {
    return BindInt(i, static_cast<int64_t>(v));
  }
  Stmt& BindInt(int i, int64_t v) { return Check(sqlite3_bind_int64(s_, i, v)); }
  Stmt& BindNull(int i) { return Check(sqlite3_bind_null(s_, i)); }
  template <typename T>
  Stmt& BindOpt(int i, const std::optional<T>& v) {
    if (!v) return BindNull(i);
    return Bind(i, *v);
  }

  // true: a row is available; false: done.
  Result<bool> Step(const std::string& what) {
    if (bind_rc_ != SQLITE_OK) return err_(db_, bind_rc_, what);
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return err_(db_, rc, what);
  }
  // Steps until done, ignoring rows.
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
  Stmt(sqlite3* db, sqlite3_stmt* s, bool owned, SqlErrorFn err) : db_(db), s_(s), owned_(owned), err_(err) {}
  Stmt& Check(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }
  sqlite3* db_;
  sqlite3_stmt* s_;
  bool owned_;
  SqlErrorFn err_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace cnet::store
