// Opening and closing the SQLite store, and its write probe. See sqlite_store_impl.h.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/sqlite_store_impl.h"

namespace cnet::store {

SqliteStore::~SqliteStore() {
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

Status SqliteStore::Init() {
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

Status SqliteStore::CheckWritable() {
  std::lock_guard l(write_mu_);
  // A real page write (the header's user_version, which nothing reads) must reach the WAL.
  Status st = w_.Exec("BEGIN IMMEDIATE");
  if (st.ok()) st = w_.Exec(++probes_ % 2 ? "PRAGMA user_version = 1" : "PRAGMA user_version = 0");
  if (st.ok()) st = w_.Exec("COMMIT");
  if (!st.ok()) AfterWriteFault(st);
  return st;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) { return Open(path, OpenOptions{}); }

namespace {

// SQLite's own words for a damaged file, wherever in opening it they come (schema, WAL, a page).
bool SaysCorrupt(const Status& st) {
  const std::string& m = st.message();
  return m.find(sqlite3_errstr(SQLITE_CORRUPT)) != std::string::npos ||
         m.find(sqlite3_errstr(SQLITE_NOTADB)) != std::string::npos;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, const OpenOptions& opts) {
  auto s = std::make_unique<SqliteStore>(path, opts);
  Status st = s->Init();
  if (!st.ok() && st.code() != Code::kFailedPrecondition && SaysCorrupt(st))
    return FailedPrecondition("store " + path + ": corrupt database (" + st.message() + "); restore it from a backup");
  CNET_RETURN_IF_ERROR(st);
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace cnet::store
