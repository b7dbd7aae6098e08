// Store: a job's measured energy and its source (issue 13 B.2), written with its end, cleared by a
// requeue, and the schema migration (version 4) that added them, from a version-3 database.
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

class StoreEnergy : public testing::TempStoreTest {
 protected:
  static JobRow Row() {
    JobRow j;
    j.tenant = "t";
    j.name = "a";
    j.spec_json = "{}";
    j.submit_time = 1000;
    return j;
  }
  // Runs the job and ends it with `energy` (nullopt: none measured).
  static void RunAndEnd(Store& s, int64_t id, std::optional<std::pair<double, std::string>> energy) {
    Store::Update run;
    run.start_time = 1001;
    ASSERT_TRUE(s.Transition(id, JobState::kRunning, "running", 1001, run).ok());
    Store::Update end;
    end.end_time = 1101;
    if (energy) {
      end.energy_j = energy->first;
      end.energy_source = energy->second;
    }
    ASSERT_TRUE(s.Transition(id, JobState::kSucceeded, "exit code 0", 1101, end).ok());
  }
};

TEST_F(StoreEnergy, EnergyAndSourceAreWrittenWithTheEndAndReadBack) {
  auto s = Open();
  ASSERT_TRUE(s);
  auto a = s->InsertJob(Row());
  auto b = s->InsertJob(Row());
  ASSERT_TRUE(a.ok() && b.ok());
  RunAndEnd(*s, a->job.id, std::make_pair(1234.5, std::string("rapl")));
  RunAndEnd(*s, b->job.id, std::nullopt);
  EXPECT_DOUBLE_EQ(s->GetJob(a->job.id)->energy_j, 1234.5);
  EXPECT_EQ(s->GetJob(a->job.id)->energy_source, "rapl");
  EXPECT_EQ(s->GetJob(b->job.id)->energy_source, "");
  EXPECT_EQ(s->GetJob(b->job.id)->energy_j, 0);
  JobFilter f;
  auto rows = s->ListJobs(f);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].energy_source, "rapl");
  // A requeue starts the job afresh: its last run's energy goes with its start and end.
  ASSERT_TRUE(s->Reopen(a->job.id, "requeued", 1200).ok());
  EXPECT_EQ(s->GetJob(a->job.id)->energy_source, "");
  EXPECT_EQ(s->GetJob(a->job.id)->energy_j, 0);
}

// A database written by the schema before energy (version 3) gains the columns and keeps its jobs.
TEST_F(StoreEnergy, MigratesAVersionThreeDatabase) {
  {
    auto s = Open();
    ASSERT_TRUE(s->InsertJob(Row()).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  const char* down =
      "ALTER TABLE jobs DROP COLUMN energy_j; ALTER TABLE jobs DROP COLUMN energy_source;"
      "ALTER TABLE jobs DROP COLUMN stage_in_bytes; ALTER TABLE jobs DROP COLUMN stage_in_s;"
      "UPDATE schema_version SET version = 3;";
  ASSERT_EQ(sqlite3_exec(db, down, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  auto s = Open();
  ASSERT_TRUE(s);
  auto r = s->GetJob(1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->energy_source, "");
  RunAndEnd(*s, 1, std::make_pair(7.0, std::string("nvidia-smi")));
  EXPECT_EQ(s->GetJob(1)->energy_source, "nvidia-smi");
}

}  // namespace
}  // namespace cnet::store
