// DeviceLedger: which device ids of the local site's accelerator nodes are busy.
#include "backends/local/device_ledger.h"

#include <gtest/gtest.h>

namespace cnet::backends::local {
namespace {

TEST(DeviceLedgerTest, TakesLowestFreeIdsAndReleases) {
  DeviceLedger l({{"gpu", 4}});
  auto a = l.Take("gpu", 2);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, (std::vector<int>{0, 1}));
  auto b = l.Take("gpu", 1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<int>{2}));
  l.Release("gpu", *a);
  EXPECT_EQ(l.Free("gpu"), 3);
  auto c = l.Take("gpu", 3);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(l.Busy("gpu"), (std::vector<int>{0, 1, 2, 3}));
}

TEST(DeviceLedgerTest, NotEnoughFreeTakesNothing) {
  DeviceLedger l({{"gpu", 2}});
  ASSERT_TRUE(l.Take("gpu", 1).ok());
  auto r = l.Take("gpu", 2);
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_EQ(l.Busy("gpu"), (std::vector<int>{0}));
}

TEST(DeviceLedgerTest, UnknownNodeAndBadCounts) {
  DeviceLedger l({{"gpu", 2}});
  EXPECT_EQ(l.Take("cpu", 1).status().code(), Code::kNotFound);
  EXPECT_EQ(l.Take("gpu", 3).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(l.Take("gpu", -1).status().code(), Code::kInvalidArgument);
  auto zero = l.Take("gpu", 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(zero->empty());
}

TEST(DeviceLedgerTest, RetakeForAdoptionReportsSharedAndInvalidIds) {
  DeviceLedger l({{"gpu", 4}});
  EXPECT_TRUE(l.Retake("gpu", {1, 3}).ok());
  EXPECT_EQ(l.Busy("gpu"), (std::vector<int>{1, 3}));
  auto next = l.Take("gpu", 2);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, (std::vector<int>{0, 2}));
  Status shared = l.Retake("gpu", {3});
  EXPECT_EQ(shared.code(), Code::kAlreadyExists);
  EXPECT_NE(shared.message().find("3"), std::string::npos);
  EXPECT_EQ(l.Retake("gpu", {7}).code(), Code::kInvalidArgument);
  EXPECT_EQ(l.Retake("tpu", {0}).code(), Code::kInvalidArgument);
}

TEST(DeviceLedgerTest, ReleaseIgnoresIdsNotBusy) {
  DeviceLedger l({{"gpu", 2}});
  l.Release("gpu", {0, 1, 9});
  l.Release("nope", {0});
  EXPECT_EQ(l.Free("gpu"), 2);
}

}  // namespace
}  // namespace cnet::backends::local
