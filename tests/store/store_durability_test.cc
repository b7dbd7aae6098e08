// Durability under faults at the store: a corrupt or newer-schema database is refused at open,
// naming the file; the start-up check is bounded in time; on a full disk (a small tmpfs mounted by
// the test, as root) a write that failed changed nothing, every acknowledged write survives a
// reopen, and writes commit again once space returns; HealthStore reports all this.
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "store/health_store.h"
#include "store/store.h"
#include "testing/faulty_store.h"

namespace cnet::store {
namespace {

namespace fs = std::filesystem;

JobRow Job(int i) {
  JobRow r;
  r.tenant = "acme";
  r.name = "job-" + std::to_string(i);
  r.spec_json = "{\"name\": \"job-" + std::to_string(i) + "\", \"pad\": \"" + std::string(600, 'x') + "\"}";
  r.submit_time = 1000 + i;
  return r;
}

TokenRow Token() {
  TokenRow t;
  t.token_hash = "h";
  t.tenant = "t";
  return t;
}

class StoreFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("cnet_store_fault_" + std::to_string(getpid()) + "_" + std::to_string(rd()));
    fs::create_directories(dir_);
    path_ = (dir_ / "cnet.db").string();
  }
  void TearDown() override {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // A database of n pending jobs, closed (checkpointed: everything is in the main file).
  void MakeDb(int n) {
    auto s = Store::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (int i = 0; i < n; ++i) ASSERT_TRUE((*s)->InsertJob(Job(i)).ok());
  }
  fs::path dir_;
  std::string path_;
  bool mounted_ = false;
};

TEST_F(StoreFaultTest, CorruptPageIsRefusedNamingTheFile) {
  MakeDb(400);
  if (HasFatalFailure()) return;
  const auto size = fs::file_size(path_);
  ASSERT_GT(size, 40u * 4096) << "expected a database of many pages";
  {  // one page in the middle of the file gets garbage, as a bad sector or a stray write would
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>((size / 4096 / 2) * 4096));
    std::string junk(4096, '\xA5');
    f.write(junk.data(), junk.size());
  }
  auto s = Store::Open(path_);
  ASSERT_FALSE(s.ok()) << "a corrupt database was opened";
  EXPECT_EQ(s.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(s.status().message().find(path_), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("corrupt"), std::string::npos) << s.status().message();
  // Without the check it opens: the check is what refuses (an operator's explicit choice).
  EXPECT_TRUE(Store::Open(path_, OpenOptions{0}).ok());
}

TEST_F(StoreFaultTest, IntegrityCheckIsBoundedInTime) {
  MakeDb(400);
  if (HasFatalFailure()) return;
  auto s = Store::Open(path_, OpenOptions{1e-9});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("did not finish"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find(path_), std::string::npos);
  EXPECT_TRUE(Store::Open(path_).ok());  // the default bound is ample for this size
}

TEST_F(StoreFaultTest, NewerSchemaIsRefusedNamingTheFile) {
  MakeDb(1);
  if (HasFatalFailure()) return;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::Open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(s.status().message().find(path_), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find("newer"), std::string::npos) << s.status().message();
}

TEST_F(StoreFaultTest, FullDiskFailsWritesCleanlyAndRecovers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
  if (mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=8m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  mounted_ = true;
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  HealthStore s(std::move(opened).value());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(s.InsertJob(Job(i)).ok());
  {  // fill the disk
    std::ofstream fill(dir_ / "fill", std::ios::binary);
    std::string block(4096, 'f');
    while (fill.write(block.data(), block.size())) {
    }
  }
  // Cancel jobs until a commit fails (the WAL may still hold a few commits' worth of space).
  std::map<int64_t, JobState> acked;
  Status failed;
  int64_t failed_id = 0;
  for (int64_t id = 1; id <= 20 && failed.ok(); ++id) {
    Status st = s.Transition(id, JobState::kCancelled, "cancelled", 2000, {});
    if (st.ok()) acked[id] = JobState::kCancelled;
    else failed = st, failed_id = id;
  }
  std::vector<JobRow> big;
  for (int i = 0; failed.ok() && i < 200; ++i) {  // a small WAL may absorb 20 updates: insert more
    auto r = s.InsertJob(Job(100 + i));
    if (!r.ok()) failed = r.status();
  }
  ASSERT_FALSE(failed.ok()) << "the disk never filled";
  EXPECT_EQ(failed.code(), Code::kUnavailable) << failed.ToString();
  EXPECT_FALSE(s.Health().writable);
  EXPECT_FALSE(s.CheckWritable().ok());
  if (failed_id > 0) {  // the refused transition moved nothing
    auto row = s.GetJob(failed_id);
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->state, JobState::kPending);
  }
  fs::remove(dir_ / "fill");  // space returns: writes commit again, without reopening
  EXPECT_TRUE(s.CheckWritable().ok());
  EXPECT_TRUE(s.Health().writable);
  for (int64_t id = 1; id <= 20; ++id) {
    if (acked.count(id)) continue;
    Status st = s.Transition(id, JobState::kCancelled, "cancelled later", 3000, {});
    ASSERT_TRUE(st.ok()) << id << ": " << st.ToString() << " (first failure: " << failed.ToString() << ")";
    acked[id] = JobState::kCancelled;
  }
  auto reopened = Store::Open(path_);  // every acknowledged write is there after a reopen
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  for (const auto& [id, state] : acked) {
    auto row = (*reopened)->GetJob(id);
    ASSERT_TRUE(row.ok());
    EXPECT_EQ(row->state, state) << "job " << id;
  }
}

TEST_F(StoreFaultTest, HealthStoreCountsStorageFaultsOnly) {
  auto opened = Store::Open(path_);
  ASSERT_TRUE(opened.ok());
  auto faulty = std::make_unique<testing::FaultyStore>(std::move(opened).value());
  testing::FaultyStore* f = faulty.get();
  HealthStore s(std::move(faulty));
  ASSERT_TRUE(s.InsertJob(Job(1)).ok());
  EXPECT_TRUE(s.Health().writable);
  // A refused compare-and-set is an answer, not a fault.
  Store::Update u;
  u.expected_from = JobState::kRunning;
  EXPECT_EQ(s.Transition(1, JobState::kCancelled, "x", 1, u).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(s.Health().writable);
  f->fail_transitions = 1;
  EXPECT_FALSE(s.Transition(1, JobState::kCancelled, "x", 1, {}).ok());
  EXPECT_FALSE(s.Health().writable);
  EXPECT_EQ(s.Health().failed_writes, 1);
  EXPECT_NE(s.Health().last_error.find("injected"), std::string::npos);
  f->fail_check_writable = 1;
  EXPECT_FALSE(s.CheckWritable().ok());
  EXPECT_FALSE(s.Health().writable);
  EXPECT_TRUE(s.CheckWritable().ok());
  EXPECT_TRUE(s.Health().writable);
  for (auto* knob : {&f->fail_insert, &f->fail_put_tenant, &f->fail_put_token}) {
    *knob = 1;
    Status st = knob == &f->fail_insert     ? s.InsertJob(Job(2)).status()
                : knob == &f->fail_put_tenant ? s.PutTenant(TenantRow{"t", {}, 0, ""})
                                              : s.PutToken(Token());
    EXPECT_FALSE(st.ok());
    EXPECT_FALSE(s.Health().writable);
    ASSERT_TRUE(s.CheckWritable().ok());
  }
}

}  // namespace
}  // namespace cnet::store
