// DatasetStore (store/dataset_store.h): datasets and grants round-trip beside the job store in one
// file, every change is audited, and the hash chain finds the first record changed in the file,
// whether through SQL or by flipping one byte of the file itself.
#include "store/dataset_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "store/store.h"

namespace cnet::store {
namespace {

namespace fs = std::filesystem;

class DatasetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cnet-ds-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "cnet.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<DatasetStore> Open() {
    auto s = DatasetStore::Open(path_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return std::move(s).value();
  }
  static AuditRecord Audit(const std::string& action, const std::string& dataset, const std::string& reason) {
    AuditRecord a;
    a.time = 1000;
    a.actor = "alice";
    a.action = action;
    a.dataset = dataset;
    a.reason = reason;
    return a;
  }
  fs::path dir_;
  std::string path_;
};

TEST_F(DatasetStoreTest, DatasetsAndGrantsRoundTripNextToTheJobStore) {
  auto jobs = Store::Open(path_);  // the job store's tables in the same file
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  auto s = Open();
  DatasetRow d;
  d.name = "genome";
  d.owner = "alice";
  d.size_bytes = 10'000'000'000;
  d.replicas = {{"sh", "/data/genome"}};
  d.policy = "country=CN";
  d.purposes = {"research"};
  ASSERT_TRUE(s->PutDataset(d, true, Audit("register", "genome", "")).ok());
  EXPECT_EQ(s->PutDataset(d, true, Audit("register", "genome", "")).code(), Code::kAlreadyExists);
  ASSERT_TRUE(s->PutGrant({"genome", "bob", "security_level>=3", 1001}, Audit("grant", "genome", "bob")).ok());
  s.reset();
  s = Open();  // durable
  auto ds = s->ListDatasets();
  ASSERT_TRUE(ds.ok());
  ASSERT_EQ(ds->size(), 1u);
  EXPECT_EQ((*ds)[0].replicas.at("sh"), "/data/genome");
  EXPECT_EQ((*ds)[0].size_bytes, 10'000'000'000);
  EXPECT_EQ((*ds)[0].purposes, std::vector<std::string>{"research"});
  auto gs = s->ListGrants();
  ASSERT_TRUE(gs.ok());
  ASSERT_EQ(gs->size(), 1u);
  EXPECT_EQ((*gs)[0].policy, "security_level>=3");
  ASSERT_TRUE(s->DeleteDataset("genome", Audit("remove", "genome", "")).ok());
  EXPECT_TRUE(s->ListGrants()->empty());  // a dataset's grants go with it
  EXPECT_EQ(s->DeleteDataset("genome", Audit("remove", "genome", "")).code(), Code::kNotFound);
  auto log = s->ListAudit({"genome", 0, 100});
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 3u);  // register, grant, remove; the refused writes left nothing
  EXPECT_EQ((*log)[2].seq, 3);
  EXPECT_EQ((*log)[1].prev_hash, (*log)[0].hash);
  auto v = VerifyAuditChain(path_);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->ok) << v->why;
  EXPECT_EQ(v->records, 3);
}

TEST_F(DatasetStoreTest, TheLogRefusesUpdatesAndDeletes) {
  auto s = Open();
  ASSERT_TRUE(s->Append({Audit("residency", "d", "allowed")}).ok());
  s.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit_log SET reason = 'x'", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_log", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(DatasetStoreTest, VerifyNamesTheRecordWhoseSqlRowWasChanged) {
  auto s = Open();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s->Append({Audit("residency", "d", "decision " + std::to_string(i))}).ok());
  s.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TRIGGER audit_no_update; UPDATE audit_log SET decision = 'allow' WHERE seq = 3",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto v = VerifyAuditChain(path_);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad_seq, 3);
  EXPECT_EQ(v->why, "record 3: its content does not match its hash (changed after it was written)");
}

TEST_F(DatasetStoreTest, VerifyNamesTheRecordAfterOneByteOfTheFileChanges) {
  auto s = Open();
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(s->Append({Audit("residency", "d", "site sh allowed by policy v" + std::to_string(100 + i))}).ok());
  s.reset();  // the last connection checkpoints the WAL into the file
  std::string bytes;
  {
    std::ifstream in(path_, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string needle = "policy v107";
  size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + needle.size() - 1] = '8';  // "v107" -> "v108": one byte
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  auto v = VerifyAuditChain(path_);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad_seq, 8);
}

TEST_F(DatasetStoreTest, ARemovedRecordBreaksTheChainAtItsSuccessor) {
  auto s = Open();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s->Append({Audit("residency", "d", std::to_string(i))}).ok());
  s.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TRIGGER audit_no_delete; DELETE FROM audit_log WHERE seq = 2", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto v = VerifyAuditChain(path_);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad_seq, 2);
}

}  // namespace
}  // namespace cnet::store
