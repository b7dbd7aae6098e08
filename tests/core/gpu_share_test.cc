// GPU sharing: demands, FGD's fragmentation measure, the two scorers, and the packing run.
#include <gtest/gtest.h>

#include <fstream>

#include "sched/placement/gpu_share.h"
#include "sim/pack.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

DemandMix Mix(const std::string& s) { return DemandMix::Parse(s).value(); }

TEST(GpuDemand, ParsesSharesAndWholeGpus) {
  EXPECT_EQ(ParseGpuDemand("0.25")->milli, 250);
  EXPECT_EQ(ParseGpuDemand("8")->milli, 8000);
  EXPECT_TRUE(ParseGpuDemand("8")->Whole());
  EXPECT_FALSE(ParseGpuDemand("0.5")->Whole());
  for (const char* bad : {"0", "-1", "1.5", "0.0001", "abc", "", "65"})
    EXPECT_FALSE(ParseGpuDemand(bad).ok()) << bad;
  EXPECT_FALSE(DemandMix::Parse("0.5").ok());
  EXPECT_FALSE(DemandMix::Parse("0.5:0").ok());
  EXPECT_EQ(Mix("0.5:1,2:3").weight[1], 3);
}

TEST(GpuShare, FragmentationFollowsTheDemandMix) {
  const GpuFree f = {1000, 500};
  EXPECT_DOUBLE_EQ(NodeFragmentation(f, Mix("0.75:1")), 500);   // the half-free GPU cannot serve 0.75
  EXPECT_DOUBLE_EQ(NodeFragmentation(f, Mix("0.5:1")), 0);      // both can
  EXPECT_DOUBLE_EQ(NodeFragmentation(f, Mix("1:1")), 500);      // a whole GPU: the partial one is lost
  EXPECT_DOUBLE_EQ(NodeFragmentation(f, Mix("2:1")), 1500);     // does not fit: all of it
  EXPECT_DOUBLE_EQ(NodeFragmentation(f, Mix("0.75:1,0.5:1")), 250);  // weighted
  EXPECT_DOUBLE_EQ(NodeFragmentation({300}, Mix("0.5:1")), 300);
}

Cluster Nodes(int count, int per_node) {
  return Cluster::Build("c", {{"s", "r", "r", 1e9, "n", count, Accel("T4"), per_node}}, TestCatalogue()).value();
}

TEST(GpuShare, NodeBestFitStrandsAShareWhereFgdDoesNot) {
  // Node 0 (2 GPUs): 0.7 and 0 free; node 1 (2 GPUs): 1.0 and 0.5 free. A 0.5 share: best fit by
  // node takes node 0 (0.2 left there, useless to a 0.5 share); FGD fills node 1's half GPU.
  Cluster cl = Nodes(2, 2);
  GpuShareState st(cl);
  st.Take({NodeId(0), {{0, 300}, {1, 1000}}});
  st.Take({NodeId(1), {{1, 500}}});
  const DemandMix mix = Mix("0.5:1");
  EXPECT_EQ(st.Find(GpuDemand{500}, ShareScorer::kBestFit, mix)->node, NodeId(0));
  auto fgd = st.Find(GpuDemand{500}, ShareScorer::kFgd, mix);
  EXPECT_EQ(fgd->node, NodeId(1));
  EXPECT_EQ(fgd->gpus, (std::vector<std::pair<int, int>>{{1, 500}}));
  EXPECT_EQ(st.Find(GpuDemand{500}, ShareScorer::kBestFitGpu, mix)->node, NodeId(1));
}

TEST(GpuShare, FgdAvoidsTheSpotBestFitTakes) {
  // Two 1-GPU nodes; node 0 has 0.6 free. A 0.5 share: best fit (by node or GPU) fills node 0 (0.1 left, which no
  // 0.5 share can use); FGD takes node 1, whose 0.5 left still serves the mix.
  Cluster cl = Nodes(2, 1);
  GpuShareState st(cl);
  st.Take({NodeId(0), {{0, 400}}});
  const DemandMix mix = Mix("0.5:1");
  auto bf = st.Find(GpuDemand{500}, ShareScorer::kBestFitGpu, mix);
  auto fgd = st.Find(GpuDemand{500}, ShareScorer::kFgd, mix);
  ASSERT_TRUE(bf && fgd);
  EXPECT_EQ(bf->node, NodeId(0));
  EXPECT_EQ(fgd->node, NodeId(1));
  EXPECT_EQ(fgd->gpus, (std::vector<std::pair<int, int>>{{0, 500}}));
}

TEST(GpuShare, WholeGpusStayOnOneNodeAndTakeGiveBalance) {
  Cluster cl = Nodes(2, 4);
  GpuShareState st(cl);
  EXPECT_EQ(st.TotalMilli(), 8000);
  auto share = st.Find(GpuDemand{250}, ShareScorer::kFgd, Mix("0.25:1,4:1"));
  ASSERT_TRUE(share);
  st.Take(*share);
  // A 4-GPU pod needs one node with four whole GPUs: only the other node.
  auto four = st.Find(GpuDemand{4000}, ShareScorer::kBestFit, Mix("4:1"));
  ASSERT_TRUE(four);
  EXPECT_NE(four->node, share->node);
  EXPECT_EQ(four->gpus.size(), 4u);
  st.Take(*four);
  EXPECT_FALSE(st.Find(GpuDemand{4000}, ShareScorer::kFgd, Mix("4:1")));
  EXPECT_EQ(st.FreeMilli(), 8000 - 4000 - 250);
  st.Give(*four);
  st.Give(*share);
  EXPECT_EQ(st.FreeMilli(), 8000);
  EXPECT_DOUBLE_EQ(st.Fragmentation(Mix("4:1")), 0);
}

TEST(GpuShare, CoresAreADimension) {
  EXPECT_EQ(ParseGpuDemand("0.5x8")->cpus, 8);
  EXPECT_EQ(ParseGpuDemand("2 x 16")->milli, 2000);
  for (const char* bad : {"0.5x", "0.5x-1", "0.5x1.5", "x4"}) EXPECT_FALSE(ParseGpuDemand(bad).ok()) << bad;
  // A node whose cores are gone strands its free GPUs: all of them count as fragmented.
  EXPECT_DOUBLE_EQ(NodeFragmentation({750, 1000}, Mix("0.25x1:1"), 0), 1750);
  EXPECT_DOUBLE_EQ(NodeFragmentation({750, 1000}, Mix("0.25x1:1"), 1), 0);
  Cluster cl = Nodes(2, 2);  // 32 cores per node
  GpuShareState st(cl);
  const DemandMix mix = Mix("0.25x1:1");
  auto p = st.Find(GpuDemand{250, 32}, ShareScorer::kBestFit, mix);
  ASSERT_TRUE(p);
  st.Take(*p);
  EXPECT_EQ(st.FreeCpus(p->node), 0);
  auto q = st.Find(GpuDemand{250, 1}, ShareScorer::kFgd, mix);
  ASSERT_TRUE(q);
  EXPECT_NE(q->node, p->node);
  EXPECT_DOUBLE_EQ(st.Fragmentation(mix), 1750);
  st.Give(*p);
  EXPECT_EQ(st.FreeCpus(p->node), 32);
  EXPECT_DOUBLE_EQ(st.Fragmentation(mix), 0);
}

TEST(GpuPacking, NeverBelowTheIdealAndCountsFailures) {
  Cluster cl = Nodes(20, 2);
  PackOptions o;
  o.mix = Mix("0.3:2,0.5:1,1:2,2:1");
  for (ShareScorer s : {ShareScorer::kBestFit, ShareScorer::kBestFitGpu, ShareScorer::kFgd}) {
    o.scorer = s;
    auto pts = RunPacking(cl, o);
    ASSERT_TRUE(pts.ok()) << pts.status().ToString();
    ASSERT_EQ(pts->size(), o.loads.size());
    for (const auto& p : *pts) {
      EXPECT_GE(p.arrived, p.load);
      EXPECT_GE(p.unallocated + 1e-9, 1 - p.arrived) << ShareScorerName(s) << " at " << p.load;
      EXPECT_GE(p.unallocated, 0);
      EXPECT_LE(p.failed, p.pods);
    }
    EXPECT_GT(pts->back().failed, 0u);  // at 100% load some pods cannot fit
  }
  o.loads = {0.5, 0.4};
  EXPECT_FALSE(RunPacking(cl, o).ok());
}

TEST(GpuPacking, PodTraceNamesBadLines) {
  std::string path = ::testing::TempDir() + "/cnet_pods.csv";
  { std::ofstream(path) << "job_id,accelerators_per_worker,workers,cpus_per_worker\n0,0.25,3,4\n1,2,,\n"; }
  auto t = ReadPodTrace(path);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->pods.size(), 4u);
  EXPECT_EQ(t->pods[0].cpus, 4);
  EXPECT_EQ(t->pods[3].cpus, 0);
  EXPECT_EQ(MixOf(*t).demand.size(), 2u);
  { std::ofstream(path) << "job_id,accelerators_per_worker\n0,0.25\n1,1.5\n"; }
  auto bad = ReadPodTrace(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":3: field 'accelerators_per_worker'"), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace cnet
