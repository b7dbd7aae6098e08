// API tokens at the service layer, with the injected manual clock: expiry to the second (also for
// cached answers), revocation effective on the next request (also on other threads), the last
// usable admin token kept, last use recorded without a store write per request.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using service::Caller;
using store::Role;

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.AddSite("a", {CpuNode("c0", 4)});
    h_.AddTenant("t");
    ASSERT_TRUE(h_.Start().ok());
    auto tok = h_.svc().InitAdminToken();
    ASSERT_TRUE(tok.ok() && !tok->empty());
    admin_token_ = *tok;
    auto c = h_.svc().Authenticate(admin_token_);
    ASSERT_TRUE(c.ok());
    admin_ = *c;
  }
  // A new token; ttl_s 0 = never expires.
  service::Service::NewToken Create(Role role, const std::string& tenant, double ttl_s = 0) {
    auto r = h_.svc().CreateToken(admin_, role, tenant, "test", ttl_s);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : service::Service::NewToken{};
  }
  Code AuthCode(const std::string& tok) { return h_.svc().Authenticate(tok).status().code(); }
  std::string AuthMessage(const std::string& tok) { return h_.svc().Authenticate(tok).status().message(); }

  LoopHarness h_;
  std::string admin_token_;
  Caller admin_;
};

TEST_F(TokenTest, ExpiredTokenIsRefusedFromItsSecondEvenWhenCached) {
  h_.clock().Set(1000);
  auto t = Create(Role::kTenant, "t", 100);
  EXPECT_DOUBLE_EQ(t.row.expires, 1100);
  EXPECT_EQ(AuthCode(t.token), Code::kOk);  // cached from here on
  h_.clock().Set(1099.999);
  EXPECT_EQ(AuthCode(t.token), Code::kOk);
  h_.clock().Set(1100);
  EXPECT_EQ(AuthCode(t.token), Code::kUnauthenticated);
  EXPECT_NE(AuthMessage(t.token).find("expired"), std::string::npos) << AuthMessage(t.token);
  h_.clock().Set(5000);
  EXPECT_EQ(AuthCode(t.token), Code::kUnauthenticated);
  auto never = Create(Role::kTenant, "t");
  EXPECT_DOUBLE_EQ(never.row.expires, 0);
  h_.clock().Set(1e9);
  EXPECT_EQ(AuthCode(never.token), Code::kOk);
}

TEST_F(TokenTest, RevokedTokenIsRefusedOnTheNextRequest) {
  auto t = Create(Role::kTenant, "t");
  auto c = h_.svc().Authenticate(t.token);  // cached
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->tenant, "t");
  EXPECT_EQ(c->token_id, t.row.id);
  // Only admins revoke; ids are checked before the store is asked.
  EXPECT_EQ(h_.svc().RevokeToken(*c, t.row.id).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(h_.svc().RevokeToken(admin_, "tok_xyz").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(h_.svc().RevokeToken(admin_, "tok_0123456789abcdef").status().code(), Code::kNotFound);
  auto r = h_.svc().RevokeToken(admin_, t.row.id);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->revoked, 0);
  EXPECT_EQ(AuthCode(t.token), Code::kUnauthenticated);
  EXPECT_NE(AuthMessage(t.token).find("revoked"), std::string::npos);
  // After a restart too (the revocation is in the store, not only in the cache).
  ASSERT_TRUE(h_.Start().ok());
  EXPECT_EQ(AuthCode(t.token), Code::kUnauthenticated);
}

TEST_F(TokenTest, TheLastUsableAdminTokenCannotBeRevoked) {
  auto r = h_.svc().RevokeToken(admin_, admin_.token_id);
  ASSERT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("last usable admin token"), std::string::npos);
  EXPECT_EQ(AuthCode(admin_token_), Code::kOk);
  // A second admin token that expires: while it is usable, the first may go.
  h_.clock().Set(2000);
  auto second = Create(Role::kAdmin, "", 10);
  ASSERT_TRUE(h_.svc().RevokeToken(admin_, admin_.token_id).ok());
  EXPECT_EQ(AuthCode(admin_token_), Code::kUnauthenticated);
  auto c2 = h_.svc().Authenticate(second.token);
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ(h_.svc().RevokeToken(*c2, second.row.id).status().code(), Code::kFailedPrecondition);
  // Once it has expired no admin token is usable: --init (InitAdminToken) makes a new one.
  h_.clock().Set(2010);
  EXPECT_EQ(AuthCode(second.token), Code::kUnauthenticated);
  auto fresh = h_.svc().InitAdminToken();
  ASSERT_TRUE(fresh.ok());
  ASSERT_FALSE(fresh->empty());
  EXPECT_EQ(AuthCode(*fresh), Code::kOk);
  auto none = h_.svc().InitAdminToken();  // one is usable again: none is created
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(TokenTest, LastUseIsRecordedOffTheRequestPathAtMostOncePerMinute) {
  h_.clock().Set(3000);
  auto t = Create(Role::kTenant, "t", 86400);
  const int writes0 = h_.store().token_use_writes.load();
  for (int i = 0; i < 1000; ++i) {  // 10 s of requests
    ASSERT_EQ(AuthCode(t.token), Code::kOk);
    h_.clock().Advance(0.01);
  }
  EXPECT_EQ(h_.store().token_use_writes.load(), writes0);  // no write on the request path
  auto listed = [&](bool from_store) {
    auto rows = from_store ? h_.store().ListTokens() : h_.svc().ListTokens(admin_);
    EXPECT_TRUE(rows.ok());
    for (const auto& r : rows.ok() ? *rows : std::vector<store::TokenRow>{})
      if (r.id == t.row.id) return r;
    ADD_FAILURE() << "token not listed";
    return store::TokenRow{};
  };
  auto row = listed(false);  // the listing shows uses not yet written
  EXPECT_DOUBLE_EQ(row.last_used, 3000);
  EXPECT_DOUBLE_EQ(row.created, 3000);
  EXPECT_DOUBLE_EQ(row.expires, 3000 + 86400);
  EXPECT_EQ(row.revoked, 0);
  EXPECT_DOUBLE_EQ(listed(true).last_used, 0);
  ASSERT_TRUE(h_.svc().authenticator().FlushLastUse().ok());
  EXPECT_EQ(h_.store().token_use_writes.load(), writes0 + 1);
  EXPECT_DOUBLE_EQ(listed(true).last_used, 3000);
  // Within the minute: nothing new to write.
  h_.clock().Set(3050);
  ASSERT_EQ(AuthCode(t.token), Code::kOk);
  ASSERT_TRUE(h_.svc().authenticator().FlushLastUse().ok());
  EXPECT_EQ(h_.store().token_use_writes.load(), writes0 + 1);
  // A minute after the last recorded use: one more write.
  h_.clock().Set(3061);
  ASSERT_EQ(AuthCode(t.token), Code::kOk);
  ASSERT_TRUE(h_.svc().authenticator().FlushLastUse().ok());
  EXPECT_EQ(h_.store().token_use_writes.load(), writes0 + 2);
  EXPECT_DOUBLE_EQ(listed(true).last_used, 3061);
}

// A change made behind the service's back (the database edited) takes effect within the
// cache's re-read interval.
TEST_F(TokenTest, AnswersAreReadAgainAfterTheRecheckInterval) {
  h_.clock().Set(4000);
  auto t = Create(Role::kTenant, "t");
  ASSERT_EQ(AuthCode(t.token), Code::kOk);
  store::TokenRow row = t.row;
  row.revoked = 4001;
  ASSERT_TRUE(h_.store().PutToken(row).ok());
  h_.clock().Set(4000 + service::Authenticator::kRecheckS);
  EXPECT_EQ(AuthCode(t.token), Code::kUnauthenticated);
  // A store failure on a re-read is "unavailable", never the stale answer.
  auto u = Create(Role::kTenant, "t");
  ASSERT_EQ(AuthCode(u.token), Code::kOk);
  h_.clock().Advance(service::Authenticator::kRecheckS);
  h_.store().fail_find_token = 1;
  EXPECT_EQ(AuthCode(u.token), Code::kUnavailable);
  EXPECT_EQ(AuthCode(u.token), Code::kOk);
}

TEST_F(TokenTest, CreationRefusesBadValuesNamingTheField) {
  struct Case {
    Role role;
    std::string tenant, label;
    double ttl_s;
    std::string field;
  };
  const Case cases[] = {
      {Role::kTenant, "t", "x", -1, "ttl_s"},
      {Role::kTenant, "t", "x", service::Service::kMaxTokenTtlS + 1, "ttl_s"},
      {Role::kTenant, "t", "x", std::numeric_limits<double>::infinity(), "ttl_s"},
      {Role::kTenant, "t", "x", std::nan(""), "ttl_s"},
      {Role::kTenant, "t", "line\nbreak", 0, "label"},
      {Role::kTenant, "t", std::string(201, 'x'), 0, "label"},
      {Role::kAdmin, "t", "x", 0, "tenant"},
      {Role::kTenant, "", "x", 0, "tenant"},
      {Role::kTenant, "nobody", "x", 0, "tenant"},
  };
  for (const auto& c : cases) {
    auto r = h_.svc().CreateToken(admin_, c.role, c.tenant, c.label, c.ttl_s);
    ASSERT_FALSE(r.ok()) << c.field << " " << c.ttl_s;
    EXPECT_EQ(r.status().message().rfind(c.field + ":", 0), 0u) << r.status().message();
  }
  Caller tenant{"t", false, ""};
  EXPECT_EQ(h_.svc().CreateToken(tenant, Role::kTenant, "t", "", 0).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(h_.svc().ListTokens(tenant).status().code(), Code::kPermissionDenied);
}

// Revocation is effective for every request that starts after RevokeToken returned, on any
// thread: the cached answer is dropped under the cache's lock after the store committed.
TEST_F(TokenTest, RevocationIsSeenByEveryThreadAtOnce) {
  auto t = Create(Role::kTenant, "t");
  constexpr int kThreads = 4;
  std::atomic<bool> revoked{false}, stop{false};
  std::atomic<int> ready{0}, late_successes{0}, refusals{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      bool counted = false;
      while (!stop.load()) {
        const bool after = revoked.load();
        auto c = h_.svc().Authenticate(t.token);
        if (c.ok() && !counted) counted = true, ++ready;
        if (after && c.ok()) ++late_successes;
        if (after && !c.ok()) ++refusals;
      }
    });
  for (int i = 0; i < 10000 && ready.load() < kThreads; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(ready.load(), kThreads);
  EXPECT_TRUE(h_.svc().RevokeToken(admin_, t.row.id).ok());  // no ASSERT: the threads must be joined
  revoked = true;
  for (int i = 0; i < 20000 && refusals.load() + late_successes.load() < 1000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(late_successes.load(), 0);
}

}  // namespace
}  // namespace cnet::testing
