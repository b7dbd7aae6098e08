// Store: SQLite-backed durable state (real files in a fresh temp directory per test).
#include "store/store.h"
#include "testing/temp_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

namespace cnet::store {
namespace {

namespace fs = std::filesystem;

JobRow MakeJob(const std::string& tenant, const std::string& name, const std::string& key = "",
               const std::string& spec = "{}") {
  JobRow j;
  j.tenant = tenant;
  j.name = name;
  j.spec_json = spec;
  j.submit_time = 1000;
  j.idempotency_key = key;
  return j;
}

class StoreTest : public testing::TempStoreTest {
 protected:
  int64_t Insert(Store& s, JobRow row) {
    auto r = s.InsertJob(std::move(row));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->job.id : -1;
  }

};

TEST_F(StoreTest, OpenCreatesPrivateFileAndFailsWithPath) {
  auto s = Open();
  ASSERT_TRUE(s);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::string bad = (dir_ / "missing" / "state.db").string();
  auto r = Store::Open(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();

  // Not a database.
  std::string junk = (dir_ / "junk.db").string();
  FILE* f = std::fopen(junk.c_str(), "w");
  std::fputs("this is definitely not a sqlite database file, just some text....", f);
  std::fclose(f);
  auto r2 = Store::Open(junk);  // refused as a damaged database, whatever step found it
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), Code::kFailedPrecondition) << r2.status().ToString();
  EXPECT_NE(r2.status().message().find(junk), std::string::npos);
  EXPECT_NE(r2.status().message().find("corrupt database"), std::string::npos) << r2.status().ToString();
}

TEST_F(StoreTest, InsertAssignsIncreasingIdsAndWritesSubmittedEvent) {
  auto s = Open();
  ASSERT_TRUE(s);
  JobRow row = MakeJob("acme", "train-1");
  row.state = JobState::kRunning;  // ignored: a new job is PENDING
  auto a = s->InsertJob(row);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->created);
  EXPECT_EQ(a->job.id, 1);
  EXPECT_EQ(a->job.state, JobState::kPending);
  int64_t b = Insert(*s, MakeJob("acme", "train-2"));
  EXPECT_EQ(b, 2);

  auto got = s->GetJob(1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tenant, "acme");
  EXPECT_EQ(got->name, "train-1");
  EXPECT_EQ(got->spec_json, "{}");
  EXPECT_EQ(got->state, JobState::kPending);
  EXPECT_DOUBLE_EQ(got->submit_time, 1000);
  EXPECT_FALSE(got->exit_code.has_value());

  auto ev = s->Events(1);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 1u);
  EXPECT_EQ((*ev)[0].job_id, 1);
  EXPECT_EQ((*ev)[0].from_state, "");
  EXPECT_EQ((*ev)[0].to_state, "PENDING");
  EXPECT_DOUBLE_EQ((*ev)[0].time, 1000);

  EXPECT_EQ(s->GetJob(99).status().code(), Code::kNotFound);
  EXPECT_EQ(s->Events(99).status().code(), Code::kNotFound);
}

TEST_F(StoreTest, IdempotencyKeyReturnsExistingJobAlsoAfterReopen) {
  int64_t id;
  {
    auto s = Open();
    ASSERT_TRUE(s);
    auto a = s->InsertJob(MakeJob("acme", "first", "key-1"));
    ASSERT_TRUE(a.ok());
    EXPECT_TRUE(a->created);
    id = a->job.id;
    auto b = s->InsertJob(MakeJob("acme", "second", "key-1"));
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->created);
    EXPECT_EQ(b->job.id, id);
    EXPECT_EQ(b->job.name, "first");
    // Other tenant, same key: a separate job.
    auto c = s->InsertJob(MakeJob("other", "third", "key-1"));
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->created);
    EXPECT_NE(c->job.id, id);
    // No key: never deduplicated.
    EXPECT_NE(Insert(*s, MakeJob("acme", "x")), Insert(*s, MakeJob("acme", "x")));
  }
  auto s = Open();
  ASSERT_TRUE(s);
  auto again = s->InsertJob(MakeJob("acme", "fourth", "key-1"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id, id);
  auto all = s->ListJobs(JobFilter{});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
  auto ev = s->Events(id);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->size(), 1u);  // the duplicates wrote nothing
}

TEST_F(StoreTest, ConcurrentInsertsWithSameKeyCreateExactlyOne) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int round = 0; round < 5; ++round) {
    std::string key = "race-" + std::to_string(round);
    constexpr int kThreads = 8;
    std::vector<Result<Store::Inserted>> results(kThreads, Status(Code::kInternal, "unset"));
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        while (!go) std::this_thread::yield();
        results[t] = s->InsertJob(MakeJob("acme", "job" + std::to_string(t), key));
      });
    go = true;
    for (auto& t : ts) t.join();
    int created = 0;
    std::set<int64_t> ids;
    for (auto& r : results) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      created += r->created;
      ids.insert(r->job.id);
    }
    EXPECT_EQ(created, 1);
    EXPECT_EQ(ids.size(), 1u);
  }
  JobFilter f;
  f.tenant = "acme";
  auto all = s->ListJobs(f);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5u);
}

TEST_F(StoreTest, TransitionIsCompareAndSet) {
  auto s = Open();
  ASSERT_TRUE(s);
  int64_t id = Insert(*s, MakeJob("acme", "j"));

  Store::Update u;
  u.expected_from = JobState::kRunning;
  Status st = s->Transition(id, JobState::kScheduled, "placed", 1001, u);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);

  u.expected_from = JobState::kPending;
  u.site = "site-a";
  u.placement_json = R"({"nodes":["n1"]})";
  ASSERT_TRUE(s->Transition(id, JobState::kScheduled, "placed", 1001, u).ok());

  Store::Update run;
  run.expected_from = JobState::kScheduled;
  run.start_time = 1002;
  run.runtime_json = R"({"pid":42})";
  run.increment_attempts = true;
  ASSERT_TRUE(s->Transition(id, JobState::kRunning, "started", 1002, run).ok());
  // Same CAS again fails: it is RUNNING now.
  EXPECT_EQ(s->Transition(id, JobState::kRunning, "started", 1002, run).code(),
            Code::kFailedPrecondition);

  ASSERT_TRUE(s->SetReason(id, "still going").ok());
  EXPECT_EQ(s->SetReason(12345, "x").code(), Code::kNotFound);

  Store::Update done;
  done.end_time = 1010;
  done.exit_code = 0;
  ASSERT_TRUE(s->Transition(id, JobState::kSucceeded, "exited 0", 1010, done).ok());

  Status again = s->Transition(id, JobState::kFailed, "late", 1011, {});
  EXPECT_EQ(again.code(), Code::kFailedPrecondition);
  EXPECT_NE(again.message().find("already SUCCEEDED"), std::string::npos) << again.message();
  EXPECT_EQ(s->Transition(999, JobState::kRunning, "", 1, {}).code(), Code::kNotFound);

  auto j = s->GetJob(id);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->state, JobState::kSucceeded);
  EXPECT_EQ(j->reason, "exited 0");
  EXPECT_EQ(j->site, "site-a");
  EXPECT_EQ(j->placement_json, R"({"nodes":["n1"]})");
  EXPECT_EQ(j->runtime_json, R"({"pid":42})");
  EXPECT_DOUBLE_EQ(j->start_time, 1002);
  EXPECT_DOUBLE_EQ(j->end_time, 1010);
  ASSERT_TRUE(j->exit_code.has_value());
  EXPECT_EQ(*j->exit_code, 0);
  EXPECT_EQ(j->attempts, 1);

  auto ev = s->Events(id);
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->size(), 4u);
  const std::vector<std::tuple<std::string, std::string, std::string, double>> want = {
      {"", "PENDING", "submitted", 1000},
      {"PENDING", "SCHEDULED", "placed", 1001},
      {"SCHEDULED", "RUNNING", "started", 1002},
      {"RUNNING", "SUCCEEDED", "exited 0", 1010}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*ev)[i].from_state, std::get<0>(want[i])) << i;
    EXPECT_EQ((*ev)[i].to_state, std::get<1>(want[i])) << i;
    EXPECT_EQ((*ev)[i].reason, std::get<2>(want[i])) << i;
    EXPECT_DOUBLE_EQ((*ev)[i].time, std::get<3>(want[i])) << i;
    if (i > 0) {
      EXPECT_GT((*ev)[i].seq, (*ev)[i - 1].seq);
    }
  }
}

// Issue 11: `cnet ls` showed the oldest 100 jobs, so a new job vanished after ~100 submits.
TEST_F(StoreTest, ListJobsNewestFirstActiveOnlySinceAndBeforeCursor) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 6; ++i) {
    JobRow j = MakeJob("acme", "j" + std::to_string(i));
    j.submit_time = 1000 + i;
    Insert(*s, j);
  }
  ASSERT_TRUE(s->Transition(2, JobState::kSucceeded, "", 2000, {}).ok());
  ASSERT_TRUE(s->Transition(5, JobState::kTimeout, "", 2000, {}).ok());
  auto ids = [&](const JobFilter& f) {
    std::vector<int64_t> out;
    auto r = s->ListJobs(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok())
      for (auto& j : *r) out.push_back(j.id);
    return out;
  };
  using V = std::vector<int64_t>;
  JobFilter f;
  f.newest_first = true;
  f.limit = 2;
  EXPECT_EQ(ids(f), (V{6, 5}));
  f.before_id = 5;  // the next page
  EXPECT_EQ(ids(f), (V{4, 3}));
  f = {};
  f.newest_first = true;
  f.active_only = true;  // neither SUCCEEDED nor TIMEOUT
  EXPECT_EQ(ids(f), (V{6, 4, 3, 1}));
  f.submitted_since = 1003;
  EXPECT_EQ(ids(f), (V{6, 4}));
  f = {};
  f.before_id = -1;
  EXPECT_EQ(s->ListJobs(f).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(*ParseState("TIMEOUT"), JobState::kTimeout);
  EXPECT_TRUE(IsTerminal(JobState::kTimeout));
}

// OOM (killed at its memory limit) is an end state like TIMEOUT: not active, not re-adopted.
TEST_F(StoreTest, OomIsATerminalState) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 2; ++i) Insert(*s, MakeJob("acme", "j" + std::to_string(i)));
  ASSERT_TRUE(s->Transition(1, JobState::kOom, "out of memory: limit 0.1 GiB", 2000, {}).ok());
  EXPECT_EQ(*ParseState("OOM"), JobState::kOom);
  EXPECT_STREQ(StateName(JobState::kOom), "OOM");
  EXPECT_TRUE(IsTerminal(JobState::kOom));
  JobFilter f;
  f.active_only = true;
  auto listed = s->ListJobs(f);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().id, 2);
  auto active = s->ActiveJobs();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ(active->front().id, 2);
  auto counts = s->CountByState();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->at("OOM"), 1);
}

TEST_F(StoreTest, ListJobsFiltersAndPaginates) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 10; ++i) {
    std::string tenant = i % 2 ? "beta" : "acme";
    std::string name = (i < 5 ? "train-" : "eval-") + std::to_string(i);
    std::string spec = i % 3 == 0 ? R"({"labels":{"team":"vision","my.key-1":"x"}})"
                                  : R"({"labels":{"team":"nlp"}})";
    Insert(*s, MakeJob(tenant, name, "", spec));
  }
  Insert(*s, MakeJob("acme", "odd", "", "not json"));  // must not break the label filter
  ASSERT_TRUE(s->Transition(3, JobState::kRunning, "", 1, {}).ok());
  ASSERT_TRUE(s->Transition(4, JobState::kRunning, "", 1, {}).ok());

  auto ids = [&](const JobFilter& f) {
    std::vector<int64_t> out;
    auto r = s->ListJobs(f);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      for (auto& j : *r) out.push_back(j.id);
    }
    return out;
  };
  using V = std::vector<int64_t>;
  JobFilter f;
  f.tenant = "beta";
  EXPECT_EQ(ids(f), (V{2, 4, 6, 8, 10}));
  f.state = JobState::kRunning;
  EXPECT_EQ(ids(f), (V{4}));
  f = {};
  f.state = JobState::kRunning;
  EXPECT_EQ(ids(f), (V{3, 4}));
  f = {};
  f.name_prefix = "train-";
  EXPECT_EQ(ids(f), (V{1, 2, 3, 4, 5}));
  f.name_prefix = "TRAIN-";  // case-sensitive
  EXPECT_EQ(ids(f), V{});
  f = {};
  f.label = "team=vision";  // jobs 0, 3, 6, 9 -> ids 1, 4, 7, 10
  EXPECT_EQ(ids(f), (V{1, 4, 7, 10}));
  f.label = "my.key-1=x";
  EXPECT_EQ(ids(f), (V{1, 4, 7, 10}));
  f.tenant = "acme";
  EXPECT_EQ(ids(f), (V{1, 7}));
  f = {};
  f.label = "team=none";
  EXPECT_EQ(ids(f), V{});

  // Pagination.
  f = {};
  f.limit = 4;
  EXPECT_EQ(ids(f), (V{1, 2, 3, 4}));
  f.after_id = 4;
  EXPECT_EQ(ids(f), (V{5, 6, 7, 8}));
  f.after_id = 8;
  EXPECT_EQ(ids(f), (V{9, 10, 11}));
  f.after_id = 11;
  EXPECT_EQ(ids(f), V{});
  f = {};
  f.tenant = "acme";
  f.limit = 2;
  f.after_id = 3;
  EXPECT_EQ(ids(f), (V{5, 7}));

  // Bad input.
  for (const char* bad : {"team", "te\"am=x", "=x", "a b=c", "x'); DROP TABLE jobs; --=1"}) {
    f = {};
    f.label = bad;
    EXPECT_EQ(s->ListJobs(f).status().code(), Code::kInvalidArgument) << bad;
  }
  f = {};
  f.limit = 0;
  EXPECT_EQ(s->ListJobs(f).status().code(), Code::kInvalidArgument);
  f.limit = 1001;
  EXPECT_EQ(s->ListJobs(f).status().code(), Code::kInvalidArgument);
  // Hostile values are data, not SQL.
  f = {};
  f.tenant = "acme' OR '1'='1";
  EXPECT_EQ(ids(f), V{});
}

TEST_F(StoreTest, ActiveJobsAndCountByState) {
  auto s = Open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 6; ++i) Insert(*s, MakeJob("acme", "j"));
  ASSERT_TRUE(s->Transition(1, JobState::kSucceeded, "", 1, {}).ok());
  ASSERT_TRUE(s->Transition(2, JobState::kFailed, "", 1, {}).ok());
  ASSERT_TRUE(s->Transition(3, JobState::kCancelled, "", 1, {}).ok());
  ASSERT_TRUE(s->Transition(4, JobState::kRunning, "", 1, {}).ok());
  ASSERT_TRUE(s->Transition(5, JobState::kPreempted, "", 1, {}).ok());
  auto active = s->ActiveJobs();
  ASSERT_TRUE(active.ok());
  std::vector<int64_t> ids;
  for (auto& j : *active) ids.push_back(j.id);
  EXPECT_EQ(ids, (std::vector<int64_t>{4, 5, 6}));

  auto counts = s->CountByState();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->at("SUCCEEDED"), 1);
  EXPECT_EQ(counts->at("FAILED"), 1);
  EXPECT_EQ(counts->at("CANCELLED"), 1);
  EXPECT_EQ(counts->at("RUNNING"), 1);
  EXPECT_EQ(counts->at("PREEMPTED"), 1);
  EXPECT_EQ(counts->at("PENDING"), 1);
  EXPECT_EQ(counts->at("SCHEDULED"), 0);
}

TEST_F(StoreTest, StateNamesRoundTrip) {
  for (auto st : {JobState::kPending, JobState::kScheduled, JobState::kRunning,
                  JobState::kSucceeded, JobState::kFailed, JobState::kCancelled,
                  JobState::kPreempted}) {
    auto p = ParseState(StateName(st));
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(*p, st);
  }
  EXPECT_FALSE(ParseState("pending").has_value());
  EXPECT_TRUE(IsTerminal(JobState::kCancelled));
  EXPECT_FALSE(IsTerminal(JobState::kPreempted));
}

TEST_F(StoreTest, TenantsAndTokensRoundTrip) {
  {
    auto s = Open();
    ASSERT_TRUE(s);
    TenantRow t{"acme", {{"*", 16}, {"H100", 8}}, 100};
    ASSERT_TRUE(s->PutTenant(t).ok());
    ASSERT_TRUE(s->PutTenant(TenantRow{"beta", {}, 0}).ok());
    t.max_queued_jobs = 50;  // replace
    ASSERT_TRUE(s->PutTenant(t).ok());
    EXPECT_EQ(s->PutTenant(TenantRow{}).code(), Code::kInvalidArgument);

    ASSERT_TRUE(s->PutToken(TokenRow{HashToken("a"), "", Role::kAdmin, 5, "bootstrap"}).ok());
    ASSERT_TRUE(s->PutToken(TokenRow{HashToken("b"), "acme", Role::kTenant, 6, "ci"}).ok());
  }
  auto s = Open();
  ASSERT_TRUE(s);
  auto t = s->GetTenant("acme");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ((*t)->max_queued_jobs, 50);
  EXPECT_EQ((*t)->max_accelerators, (std::map<std::string, int>{{"*", 16}, {"H100", 8}}));
  auto none = s->GetTenant("nobody");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  auto list = s->ListTenants();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "acme");
  EXPECT_EQ((*list)[1].name, "beta");
  EXPECT_TRUE((*list)[1].max_accelerators.empty());

  auto tok = s->FindToken(HashToken("b"));
  ASSERT_TRUE(tok.ok());
  ASSERT_TRUE(tok->has_value());
  EXPECT_EQ((*tok)->tenant, "acme");
  EXPECT_EQ((*tok)->role, Role::kTenant);
  EXPECT_DOUBLE_EQ((*tok)->created, 6);
  EXPECT_EQ((*tok)->label, "ci");
  auto admin = s->FindToken(HashToken("a"));
  ASSERT_TRUE(admin.ok() && admin->has_value());
  EXPECT_EQ((*admin)->role, Role::kAdmin);
  auto missing = s->FindToken(HashToken("c"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  auto n = s->CountAdminTokens();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
}

// Revocation by public id, refused for the last usable admin token (expired and revoked admin
// tokens do not count); last use only moves forward; listing shows every column.
TEST_F(StoreTest, TokensRevokeListAndLastUse) {
  auto s = Open();
  ASSERT_TRUE(s);
  TokenRow a{HashToken("a"), "", Role::kAdmin, 5, "first admin"};
  TokenRow b{HashToken("b"), "", Role::kAdmin, 6, "second admin"};
  b.expires = 100;
  TokenRow t{HashToken("t"), "acme", Role::kTenant, 7, "ci"};
  for (const auto& r : {a, b, t}) ASSERT_TRUE(s->PutToken(r).ok());
  const std::string ida = TokenId(a.token_hash), idb = TokenId(b.token_hash), idt = TokenId(t.token_hash);

  EXPECT_EQ(s->RevokeToken("tok_0000000000000000", 10).status().code(), Code::kNotFound);
  // At 200 the second admin token has expired: the first is the last usable one.
  EXPECT_EQ(s->RevokeToken(ida, 200).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(*s->CountUsableAdminTokens(200), 1);
  EXPECT_EQ(*s->CountUsableAdminTokens(50), 2);
  auto rb = s->RevokeToken(ida, 50);  // at 50 the second one is still usable
  ASSERT_TRUE(rb.ok()) << rb.status().ToString();
  EXPECT_DOUBLE_EQ(rb->revoked, 50);
  EXPECT_EQ(rb->id, ida);
  EXPECT_EQ(s->RevokeToken(idb, 60).status().code(), Code::kFailedPrecondition);  // now b is the last
  auto again = s->RevokeToken(ida, 70);  // idempotent: keeps the first time
  ASSERT_TRUE(again.ok());
  EXPECT_DOUBLE_EQ(again->revoked, 50);
  ASSERT_TRUE(s->RevokeToken(idt, 80).ok());  // tenant tokens need no check

  ASSERT_TRUE(s->RecordTokenUse({{t.token_hash, 90}, {b.token_hash, 40}}).ok());
  ASSERT_TRUE(s->RecordTokenUse({{t.token_hash, 85}}).ok());  // older: ignored
  ASSERT_TRUE(s->RecordTokenUse({}).ok());
  auto list = s->ListTokens();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, ida);
  EXPECT_DOUBLE_EQ((*list)[0].revoked, 50);
  EXPECT_EQ((*list)[1].id, idb);
  EXPECT_DOUBLE_EQ((*list)[1].expires, 100);
  EXPECT_DOUBLE_EQ((*list)[1].last_used, 40);
  EXPECT_DOUBLE_EQ((*list)[1].revoked, 0);
  EXPECT_EQ((*list)[2].tenant, "acme");
  EXPECT_EQ((*list)[2].label, "ci");
  EXPECT_DOUBLE_EQ((*list)[2].created, 7);
  EXPECT_DOUBLE_EQ((*list)[2].last_used, 90);
  EXPECT_DOUBLE_EQ((*list)[2].revoked, 80);
}

// Two threads revoking the two last admin tokens at once: exactly one succeeds.
TEST_F(StoreTest, ConcurrentRevocationsLeaveAUsableAdmin) {
  for (int round = 0; round < 20; ++round) {
    path_ = (dir_ / ("revoke" + std::to_string(round) + ".db")).string();
    auto s = Open();
    ASSERT_TRUE(s);
    TokenRow a{HashToken("a" + std::to_string(round)), "", Role::kAdmin, 1, ""};
    TokenRow b{HashToken("b" + std::to_string(round)), "", Role::kAdmin, 1, ""};
    ASSERT_TRUE(s->PutToken(a).ok());
    ASSERT_TRUE(s->PutToken(b).ok());
    std::atomic<int> ok{0};
    std::thread ta([&] { ok += s->RevokeToken(TokenId(a.token_hash), 2).ok(); });
    std::thread tb([&] { ok += s->RevokeToken(TokenId(b.token_hash), 2).ok(); });
    ta.join();
    tb.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(*s->CountUsableAdminTokens(3), 1);
  }
}

TEST_F(StoreTest, TokenHelpers) {
  std::string a = NewToken(), b = NewToken();
  EXPECT_EQ(a.rfind("cnet_", 0), 0u);
  EXPECT_EQ(a.size(), 5u + 43u);
  EXPECT_NE(a, b);
  for (char c : a.substr(5)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << a;
  EXPECT_EQ(HashToken(a), HashToken(a));
  EXPECT_NE(HashToken(a), HashToken(b));
  EXPECT_EQ(HashToken(a).size(), 64u);
  // BLAKE2b-256 of the empty string.
  EXPECT_EQ(HashToken(""), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

TEST_F(StoreTest, ConcurrentInsertsAreDurableAcrossReopen) {
  constexpr int kThreads = 8, kPerThread = 500;
  std::vector<std::vector<int64_t>> got(kThreads);
  std::atomic<int> failures{0};
  {
    auto s = Open();
    ASSERT_TRUE(s);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string name = "t" + std::to_string(t) + "-" + std::to_string(i);
          auto r = s->InsertJob(MakeJob("acme", name, i % 2 ? "" : name));
          if (!r.ok() || !r->created) {
            ++failures;
            continue;
          }
          got[t].push_back(r->job.id);
        }
      });
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ store ] group commit: %d inserts from %d threads in %.3f s = %.0f inserts/s\n",
                kThreads * kPerThread, kThreads, secs, kThreads * kPerThread / secs);
  }
  EXPECT_EQ(failures.load(), 0);
  auto s = Open();
  ASSERT_TRUE(s);
  std::map<int64_t, std::string> in_db;
  JobFilter f;
  f.limit = 1000;
  for (;;) {
    auto page = s->ListJobs(f);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (auto& j : *page) {
      EXPECT_TRUE(in_db.emplace(j.id, j.name).second);
      f.after_id = j.id;
    }
  }
  ASSERT_EQ(in_db.size(), size_t{kThreads * kPerThread});
  std::set<std::string> names;
  for (auto& [id, name] : in_db) names.insert(name);
  EXPECT_EQ(names.size(), in_db.size());
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < static_cast<int>(got[t].size()); ++i) {
      auto it = in_db.find(got[t][i]);
      ASSERT_NE(it, in_db.end());
      EXPECT_EQ(it->second, "t" + std::to_string(t) + "-" + std::to_string(i));
    }
  auto counts = s->CountByState();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->at("PENDING"), kThreads * kPerThread);
}

bool ReadFull(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

TEST_F(StoreTest, AcknowledgedInsertsSurviveSigkill) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto r = Store::Open(path_);
    if (!r.ok()) ::_exit(2);
    Store& s = **r;
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          std::string name = "c" + std::to_string(t) + "-" + std::to_string(i);
          auto ins = s.InsertJob(MakeJob("acme", name, i % 3 ? "" : name));
          if (!ins.ok()) ::_exit(3);
          int64_t id = ins->job.id;
          if (::write(fds[1], &id, sizeof id) != sizeof id) ::_exit(4);  // atomic (< PIPE_BUF)
        }
      });
    for (auto& t : ts) t.join();
    ::_exit(0);
  }
  ::close(fds[1]);
  // Wait for the first acknowledgement, then let it run a little before killing it.
  pollfd pfd{fds[0], POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(wstatus)) << "child exited early with status " << WEXITSTATUS(wstatus);
  std::vector<int64_t> acked;
  int64_t id;
  while (ReadFull(fds[0], &id, sizeof id)) acked.push_back(id);
  ::close(fds[0]);
  ASSERT_FALSE(acked.empty());

  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  auto s = Open();
  ASSERT_TRUE(s);
  std::set<int64_t> seen;
  for (int64_t a : acked) {
    EXPECT_TRUE(seen.insert(a).second) << "id acknowledged twice: " << a;
    auto j = s->GetJob(a);
    EXPECT_TRUE(j.ok()) << "acknowledged job " << a << " lost: " << j.status().ToString();
    auto ev = s->Events(a);
    EXPECT_TRUE(ev.ok() && ev->size() == 1) << a;
  }
  std::printf("[ store ] %zu acknowledged inserts before SIGKILL, all present\n", acked.size());
  // The store still works after the crash.
  auto r = s->InsertJob(MakeJob("acme", "after"));
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->job.id, *std::max_element(acked.begin(), acked.end()));
}

TEST_F(StoreTest, PowerOverridesAreKeptAcrossReopeningUntilCleared) {
  {
    auto s = Open();
    ASSERT_TRUE(s->PutPowerOverride({"b", 2.5, "grid", "admin", 1000}).ok());
    ASSERT_TRUE(s->PutPowerOverride({"a", 1, "", "admin (token tok_1)", 1001}).ok());
    ASSERT_TRUE(s->PutPowerOverride({"a", 3, "peak", "admin", 1002}).ok());  // replaces
    EXPECT_EQ(s->PutPowerOverride({"", 1, "", "", 0}).code(), Code::kInvalidArgument);
    EXPECT_TRUE(s->ClearPowerOverride("none").ok());
  }
  auto s = Open();
  auto rows = s->PowerOverrides();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].site, "a");
  EXPECT_DOUBLE_EQ((*rows)[0].kw, 3);
  EXPECT_EQ((*rows)[0].reason, "peak");
  EXPECT_DOUBLE_EQ((*rows)[0].set_at, 1002);
  EXPECT_EQ((*rows)[1].site, "b");
  ASSERT_TRUE(s->ClearPowerOverride("a").ok());
  EXPECT_EQ(s->PowerOverrides()->size(), 1u);
}

}  // namespace
}  // namespace cnet::store
