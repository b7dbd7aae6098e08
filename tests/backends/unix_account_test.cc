// Tenant -> Unix account names and lookups.
#include "backends/unix_account.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace cnet::backends {
namespace {

TEST(UnixAccountTest, DefaultNameIsCnetDashTenantInUseraddsAlphabet) {
  EXPECT_EQ(DefaultUnixUser("vision"), "cnet-vision");
  EXPECT_EQ(DefaultUnixUser("Team.A_1"), "cnet-team-a_1");
  EXPECT_EQ(DefaultUnixUser(std::string(60, 'x')).size(), 32u);
  EXPECT_TRUE(CheckUnixUserName(DefaultUnixUser("Team.A_1")).ok());
}

TEST(UnixAccountTest, BadNamesAreRefusedNamingTheField) {
  for (const std::string& bad : std::vector<std::string>{"", "Root", "-x", "a/b", "a b", "../x", std::string(33, 'a'), "1abc"}) {
    Status s = CheckUnixUserName(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("unix_user"), std::string::npos);
  }
}

TEST(UnixAccountTest, LookupFindsRootAndNotAMissingAccount) {
  auto root = LookupAccount("root");
  ASSERT_TRUE(root.ok() && *root);
  EXPECT_EQ((*root)->uid, 0u);
  EXPECT_FALSE((*root)->groups.empty());
  auto none = LookupAccount("cnet-no-such-account-x");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

TEST(UnixAccountTest, CreateIsIdempotent) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (useradd)";
  ASSERT_TRUE(CreateSystemAccount("cnet-test-create").ok());
  ASSERT_TRUE(CreateSystemAccount("cnet-test-create").ok());
  auto a = LookupAccount("cnet-test-create");
  ASSERT_TRUE(a.ok() && *a);
  EXPECT_NE((*a)->uid, 0u);
}

}  // namespace
}  // namespace cnet::backends
