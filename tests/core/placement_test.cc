#include <gtest/gtest.h>

#include "sched/placement.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

Cluster Make(std::vector<Cluster::GroupSpec> g) {
  auto r = Cluster::Build("t", g, TestCatalogue());
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

JobSpec Gang(int w) {
  JobSpec j;
  j.id = JobId(1);
  j.workers = w;
  return j;
}

TEST(Placement, BestFitSingleNode) {
  Cluster cl = Make({{"s", "r", "a", 1e9, "big", 1, Accel("V100"), 8}, {"s", "r", "a", 1e9, "small", 1, Accel("V100"), 4}});
  Capacity cap(cl, TestCatalogue());
  auto p = FindPlacement(cap, Gang(4), Accel("V100"));
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Nodes(), 1);
  EXPECT_EQ(cl.node(p->slots[0].node).accel_count, 4) << "a 4-gang should fill the 4-slot node, not split the 8";
}

TEST(Placement, SpreadsWithinOneRackBeforeCrossingRacks) {
  Cluster cl = Make({{"s", "r", "r1", 1e9, "n", 2, Accel("V100"), 4}, {"s", "r", "r2", 1e9, "n", 3, Accel("V100"), 4}});
  Capacity cap(cl, TestCatalogue());
  auto p = FindPlacement(cap, Gang(8), Accel("V100"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Workers(), 8);
  EXPECT_EQ(p->Nodes(), 2);
  EXPECT_EQ(cl.node(p->slots[0].node).rack, cl.node(p->slots[1].node).rack);
  // allow_spread=false only binds gangs that fit on one node; 8 > 4 must spread regardless.
  EXPECT_TRUE(FindPlacement(cap, Gang(8), Accel("V100"), nullptr, false));
  // 20 = all five nodes across both racks of the site.
  auto all = FindPlacement(cap, Gang(20), Accel("V100"));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->Workers(), 20);
  EXPECT_FALSE(FindPlacement(cap, Gang(21), Accel("V100")));
  // Leave 2 free on every node: a 3-gang fits only spread.
  for (const Node& n : cl.nodes()) cap.Take(Placement{Accel("V100"), {Slot{n.id, 2}}});
  EXPECT_FALSE(FindPlacement(cap, Gang(3), Accel("V100"), nullptr, false));
  auto spread = FindPlacement(cap, Gang(3), Accel("V100"));
  ASSERT_TRUE(spread);
  EXPECT_EQ(spread->Nodes(), 2);
}

TEST(Placement, NeverSpansSites) {
  Cluster cl = Make({{"east", "r", "r1", 1e9, "n", 1, Accel("V100"), 4}, {"west", "r", "r2", 1e9, "n", 1, Accel("V100"), 4}});
  Capacity cap(cl, TestCatalogue());
  EXPECT_FALSE(FindPlacement(cap, Gang(8), Accel("V100")));
  JobSpec j = Gang(4);
  j.allowed_sites = {SiteId(1)};
  auto p = FindPlacement(cap, j, Accel("V100"));
  ASSERT_TRUE(p);
  EXPECT_EQ(cl.node(p->slots[0].node).site, SiteId(1));
}

TEST(Placement, RespectsRackPowerCap) {
  // 8 H100 (100 W idle, 700 W busy) on a 3.2 kW rack: idle 0.8 kW, so 4 busy at most.
  Cluster cl = Make({{"s", "r", "r1", 3.2, "n", 1, Accel("H100"), 8}});
  Capacity cap(cl, TestCatalogue());
  EXPECT_FALSE(FindPlacement(cap, Gang(5), Accel("H100")));
  auto p = FindPlacement(cap, Gang(4), Accel("H100"));
  ASSERT_TRUE(p);
  cap.Take(*p);
  EXPECT_NEAR(cap.RackDrawW(RackId(0)), 800 + 4 * 600, 1e-6);
  EXPECT_FALSE(FindPlacement(cap, Gang(1), Accel("H100")));
  cap.Give(*p);
  EXPECT_TRUE(FindPlacement(cap, Gang(1), Accel("H100")));
}

TEST(Placement, KeepsPreferredNodesWhenTheyStillFit) {
  Cluster cl = Make({{"s", "r", "r1", 1e9, "n", 3, Accel("V100"), 4}});
  Capacity cap(cl, TestCatalogue());
  Placement prefer{Accel("V100"), {Slot{NodeId(2), 2}}};
  auto p = FindPlacement(cap, Gang(2), Accel("V100"), &prefer);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, prefer);
}

TEST(PowerSlots, ClampsHugeCapsAndNegativeHeadroom) {
  EXPECT_EQ(PowerSlots(-5, 100), 0);
  EXPECT_EQ(PowerSlots(250, 100), 2);
  EXPECT_EQ(PowerSlots(1e15, 1), 1 << 30);
}

}  // namespace
}  // namespace cnet

namespace cnet {
namespace {

TEST(Capacity, OfflineNodesOfferNothingUntilBack) {
  auto cl = Cluster::Build("t", {{"s", "r", "r1", 1e9, "n", 2, testing::Accel("V100"), 4}}, testing::TestCatalogue());
  ASSERT_TRUE(cl.ok());
  Capacity cap(*cl, testing::TestCatalogue());
  JobSpec j;
  j.workers = 3;
  Placement running{testing::Accel("V100"), {Slot{NodeId(0), 2}}};
  cap.Take(running);
  cap.SetUsable(NodeId(0), false);
  EXPECT_EQ(cap.Free(NodeId(0)), 0);
  EXPECT_EQ(cap.FreeOfType(testing::Accel("V100")), 4);
  auto p = FindPlacement(cap, j, testing::Accel("V100"));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->slots[0].node, NodeId(1)) << "only the usable node";
  cap.Give(running);  // its job ends while the node is down: still withheld
  EXPECT_EQ(cap.Free(NodeId(0)), 0);
  cap.SetUsable(NodeId(0), true);
  EXPECT_EQ(cap.Free(NodeId(0)), 4);
  EXPECT_EQ(cap.FreeOfType(testing::Accel("V100")), 8);
}

}  // namespace
}  // namespace cnet
