// Store: job arrays (one transaction, consecutive ids, array_id), user holds, reopening an ended
// job (requeue), and the schema migration that added them (issue 11).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "store/store.h"
#include "testing/temp_store.h"

namespace cnet::store {
namespace {

namespace fs = std::filesystem;

class StoreArrays : public testing::TempStoreTest {
 protected:
  static JobRow Row(const std::string& key = "") {
    JobRow j;
    j.tenant = "t";
    j.name = "a";
    j.spec_json = "{}";
    j.submit_time = 1000;
    j.idempotency_key = key;
    return j;
  }
};

TEST_F(StoreArrays, AnArrayIsOneCommitOfConsecutiveTasksKeyedByItsFirstId) {
  auto s = Open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->InsertJob(Row()).ok());  // job 1, not an array
  std::vector<JobRow> rows;
  for (int i : {3, 5, 7}) {
    rows.push_back(Row("k"));
    rows.back().array_index = i;
  }
  auto ins = s->InsertArray(rows);
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  EXPECT_TRUE(ins->created);
  EXPECT_EQ(ins->job.id, 2);
  EXPECT_EQ(ins->job.array_id, 2);
  auto tasks = s->ArrayTasks(2);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ((*tasks)[2].first, 4);
  EXPECT_EQ((*tasks)[2].second, JobState::kPending);
  auto t = s->GetJob(4);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->array_id, 2);
  EXPECT_EQ(t->array_index, 7);
  EXPECT_EQ(t->idempotency_key, "");  // only the first task carries the key
  EXPECT_EQ(s->GetJob(1)->array_id, 0);
  EXPECT_TRUE(s->ArrayTasks(1)->empty());
  JobFilter f;
  f.array_id = 2;
  EXPECT_EQ(s->ListJobs(f)->size(), 3u);
  // A replay returns the first task and inserts nothing.
  auto again = s->InsertArray(rows);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, 2);
  EXPECT_EQ(s->ListJobs(JobFilter{})->size(), 4u);
}

TEST_F(StoreArrays, HoldsAndReopenPersistAcrossReopeningTheStore) {
  {
    auto s = Open();
    ASSERT_TRUE(s->InsertJob(Row()).ok());
    ASSERT_TRUE(s->InsertJob(Row()).ok());
    Store::Update u;
    u.held_by = "user t";
    ASSERT_TRUE(s->Transition(1, JobState::kPending, "held by user t", 1001, u).ok());
    EXPECT_EQ(s->Reopen(2, "requeued", 1002).code(), Code::kFailedPrecondition);  // not ended
    Store::Update end;
    end.end_time = 1003;
    end.exit_code = 3;
    end.site = "local";
    ASSERT_TRUE(s->Transition(2, JobState::kFailed, "exit 3", 1003, end).ok());
    ASSERT_TRUE(s->Reopen(2, "requeued by user t", 1004).ok());
    EXPECT_EQ(s->Reopen(99, "x", 1).code(), Code::kNotFound);
  }
  auto s = Open();
  EXPECT_EQ(s->GetJob(1)->held_by, "user t");
  auto r = s->GetJob(2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->state, JobState::kPending);
  EXPECT_FALSE(r->exit_code.has_value());
  EXPECT_EQ(r->end_time, 0);
  EXPECT_EQ(r->site, "");
  auto ev = s->Events(2);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->back().from_state, "FAILED");
  EXPECT_EQ(ev->back().to_state, "PENDING");
  Store::Update release;
  release.held_by = "";
  ASSERT_TRUE(s->Transition(1, JobState::kPending, "released", 1005, release).ok());
  EXPECT_EQ(s->GetJob(1)->held_by, "");
}

// TransitionMany mixes transitions, reason writes and reopens in one commit, each op failing alone.
TEST_F(StoreArrays, OneCommitMixesTransitionsReasonsAndReopens) {
  auto s = Open();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s->InsertJob(Row()).ok());
  Store::Update end;
  end.end_time = 1001;
  ASSERT_TRUE(s->Transition(3, JobState::kCancelled, "cancelled", 1001, end).ok());
  using Kind = Store::TransitionOp::Kind;
  std::vector<Store::TransitionOp> ops(5);
  ops[0] = {1, JobState::kCancelled, "cancelled by t", 1002, end, Kind::kTransition};
  ops[1] = {2, JobState::kPending, "cancel requested by t", 0, {}, Kind::kReason};
  ops[2] = {3, JobState::kPending, "requeued by t", 1003, {}, Kind::kReopen};
  ops[3] = {4, JobState::kPending, "requeued by t", 1003, {}, Kind::kReopen};  // not ended: fails alone
  ops[4] = {99, JobState::kPending, "x", 0, {}, Kind::kReason};                 // no such job
  std::vector<Status> st = s->TransitionMany(ops);
  ASSERT_EQ(st.size(), 5u);
  EXPECT_TRUE(st[0].ok() && st[1].ok() && st[2].ok()) << st[0].ToString() << st[1].ToString() << st[2].ToString();
  EXPECT_EQ(st[3].code(), Code::kFailedPrecondition);
  EXPECT_EQ(st[4].code(), Code::kNotFound);
  EXPECT_EQ(s->GetJob(1)->state, JobState::kCancelled);
  EXPECT_EQ(s->GetJob(2)->state, JobState::kPending);
  EXPECT_EQ(s->GetJob(2)->reason, "cancel requested by t");
  EXPECT_EQ(s->Events(2)->size(), 1u);  // a reason is no event: "submitted" only
  EXPECT_EQ(s->GetJob(3)->state, JobState::kPending);
  EXPECT_EQ(s->Events(3)->back().from_state, "CANCELLED");
  EXPECT_EQ(s->GetJob(4)->state, JobState::kPending);
  EXPECT_EQ(s->GetJob(4)->reason, "");
}

// A database written by the schema before arrays (version 2) gains the columns, keeps its jobs.
TEST_F(StoreArrays, MigratesAVersionTwoDatabase) {
  {
    auto s = Open();
    ASSERT_TRUE(s->InsertJob(Row()).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  const char* down =
      "DROP INDEX jobs_array; ALTER TABLE jobs DROP COLUMN array_id; ALTER TABLE jobs DROP COLUMN array_index;"
      "ALTER TABLE jobs DROP COLUMN held_by; ALTER TABLE jobs DROP COLUMN energy_j;"
      "ALTER TABLE jobs DROP COLUMN energy_source; ALTER TABLE jobs DROP COLUMN stage_in_bytes;"
      "ALTER TABLE jobs DROP COLUMN stage_in_s; UPDATE schema_version SET version = 2;";
  ASSERT_EQ(sqlite3_exec(db, down, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  auto s = Open();
  ASSERT_TRUE(s);
  auto r = s->GetJob(1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->array_id, 0);
  EXPECT_EQ(r->held_by, "");
  std::vector<JobRow> rows(2, Row());
  EXPECT_TRUE(s->InsertArray(rows).ok());
}

}  // namespace
}  // namespace cnet::store
