// Stmt (store/sqlite_stmt.h), the store's statement helper, on an in-memory SQLite database:
// typed binds keep their SQL type, errors come back in the wording of the SqlErrorFn the statement
// was made with (prepare, bind, step), and owned statements are finalized when they go.
#include "store/sqlite_stmt.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace cnet::store {
namespace {

Status Worded(sqlite3* db, int rc, const std::string& what) {
  return Status(Code::kUnavailable, "test: " + what + ": rc " + std::to_string(rc));
}

class StmtTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK); }
  void TearDown() override { EXPECT_EQ(sqlite3_close(db_), SQLITE_OK) << "a statement was left unfinalized"; }

  // SQLite's type name of the value bound by `bind` to `SELECT typeof(?)`.
  template <typename Bind>
  std::string TypeOf(Bind bind) {
    auto s = Stmt::Prepare(db_, "SELECT typeof(?)", "typeof");
    EXPECT_TRUE(s.ok()) << s.status().message();
    bind(*s);
    auto row = s->Step("typeof");
    EXPECT_TRUE(row.ok() && *row);
    return s->Text(0);
  }

  sqlite3* db_ = nullptr;
};

TEST_F(StmtTest, IntegersBindAsIntegersNotReals) {
  EXPECT_EQ(TypeOf([](Stmt& s) { s.Bind(1, int64_t{3}); }), "integer");
  EXPECT_EQ(TypeOf([](Stmt& s) { s.Bind(1, 7); }), "integer");
  EXPECT_EQ(TypeOf([](Stmt& s) { s.Bind(1, 2.5); }), "real");
  EXPECT_EQ(TypeOf([](Stmt& s) { s.Bind(1, std::string("x")); }), "text");
  EXPECT_EQ(TypeOf([](Stmt& s) { s.Bind(1, "x"); }), "text");
  EXPECT_EQ(TypeOf([](Stmt& s) { s.BindOpt(1, std::optional<int>{}); }), "null");
  EXPECT_EQ(TypeOf([](Stmt& s) { s.BindOpt(1, std::optional<int>{4}); }), "integer");
}

TEST_F(StmtTest, RowsAndColumnsRoundTrip) {
  ASSERT_EQ(sqlite3_exec(db_, "CREATE TABLE t (i INTEGER, r REAL, s TEXT)", nullptr, nullptr, nullptr), SQLITE_OK);
  {
    auto ins = Stmt::Prepare(db_, "INSERT INTO t VALUES (?, ?, ?)", "insert");
    ASSERT_TRUE(ins.ok());
    ins->Bind(1, int64_t{1} << 40).Bind(2, 0.25).Bind(3, std::string("a\0b", 3));
    ASSERT_TRUE(ins->Run("insert").ok());
  }
  auto sel = Stmt::Prepare(db_, "SELECT i, r, s, NULL FROM t", "select");
  ASSERT_TRUE(sel.ok());
  auto row = sel->Step("select");
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(sel->Int(0), int64_t{1} << 40);
  EXPECT_EQ(sel->Real(1), 0.25);
  EXPECT_EQ(sel->Text(2), std::string("a\0b", 3));
  EXPECT_TRUE(sel->IsNull(3));
  row = sel->Step("select");
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(*row);
}

TEST_F(StmtTest, ErrorsUseTheStatementsWording) {
  auto bad = Stmt::Prepare(db_, "SELEKT 1", "bad sql", Worded);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kUnavailable);
  EXPECT_EQ(bad.status().message(), "test: bad sql: rc " + std::to_string(SQLITE_ERROR));

  // A bind out of range is kept and reported by the next Step, not lost.
  auto s = Stmt::Prepare(db_, "SELECT ?", "one parameter", Worded);
  ASSERT_TRUE(s.ok());
  s->Bind(2, 1);
  auto row = s->Step("one parameter");
  ASSERT_FALSE(row.ok());
  EXPECT_EQ(row.status().message(), "test: one parameter: rc " + std::to_string(SQLITE_RANGE));

  // The default wording is the job store's (SqlError): a constraint is kAlreadyExists.
  ASSERT_EQ(sqlite3_exec(db_, "CREATE TABLE u (k TEXT PRIMARY KEY)", nullptr, nullptr, nullptr), SQLITE_OK);
  for (int i = 0; i < 2; ++i) {
    auto ins = Stmt::Prepare(db_, "INSERT INTO u VALUES ('k')", "insert");
    ASSERT_TRUE(ins.ok());
    Status st = ins->Run("insert");
    if (i == 0) ASSERT_TRUE(st.ok()) << st.message();
    else EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.message();
  }
}

}  // namespace
}  // namespace cnet::store
