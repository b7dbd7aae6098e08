// Issue 12, stage-in in the scheduling core: the replica a site copies from
// (estimate/replica_stage_in.h), the stage-in a start pays in the Scheduler
// (SchedulerOptions::stage_in), the simulator's dataset generator (sim/datasets.h), and
// data-aware against compute-only placement in the simulator.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "sched/estimate/replica_stage_in.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "sim/datasets.h"
#include "sim/simulator.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

const char* kResNet = "ResNet-18 (batch size 64)";

// east: 4 fast V100s; west: 4 slow K80s. One link between them.
Cluster EastWest() {
  auto r = Cluster::Build("t", {{"east", "e", "r1", 1e9, "v", 1, Accel("V100"), 4}, {"west", "w", "r2", 1e9, "k", 1, Accel("K80"), 4}},
                          TestCatalogue());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

std::shared_ptr<const SiteEconomics> Links(double gbps) {
  auto e = std::make_shared<SiteEconomics>();
  e->SetLink("east", "west", Link{gbps, 0, 0});
  e->SetLink("west", "east", Link{gbps, 0, 0});
  EXPECT_TRUE(e->Resolve(TestCatalogue()).ok());
  return e;
}

std::shared_ptr<const std::vector<InputData>> At(const std::string& site, double bytes) {
  return std::make_shared<const std::vector<InputData>>(std::vector<InputData>{{"d", bytes, {site}, {"/data/d"}}});
}

TEST(ReplicaStageIn, CopiesFromTheFastestReplicaAndNothingWhereACopyIs) {
  auto econ = std::make_shared<SiteEconomics>();
  econ->SetLink("a", "c", Link{1, 0, 0});
  econ->SetLink("b", "c", Link{10, 0, 0});
  ReplicaStageIn src(econ);
  InputData in{"d", 1e9, {"a", "b"}, {"/a/d", "/b/d"}};
  EXPECT_EQ(src.SourceOf(in, "c"), 1) << "b's link is ten times faster";
  EXPECT_EQ(src.SourceOf(in, "a"), -1) << "a holds a copy";
  EXPECT_EQ(ReplicaStageIn::HeldAt(in, "b"), 1);
  JobSpec j;
  j.inputs = std::make_shared<const std::vector<InputData>>(std::vector<InputData>{in, {"empty", 0, {"a"}, {}}});
  auto t = src.Missing(j, "c");
  ASSERT_EQ(t.size(), 1u) << "an empty dataset moves nothing";
  EXPECT_EQ(t[0].from_site, "b");
  EXPECT_DOUBLE_EQ(t[0].bytes, 1e9);
  EXPECT_NEAR(StageInAt(&src, *econ, j, "c").seconds, 0.8, 1e-9);
}

// A start on a site without the job's data makes no progress for the copy's time; on the data's
// site it starts at once. The scheduler counts the bytes it staged.
TEST(SchedulerStageIn, AStartAwayFromTheDataWaitsForTheCopy) {
  Cluster cl = EastWest();
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  auto econ = Links(10);
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  SchedulerOptions so;
  so.stage_in = std::make_shared<const ReplicaStageIn>(econ);
  so.economics = econ;
  Scheduler s(cl, perf, std::move(reg.Create("fifo")).value(), so);
  for (const auto& [id, site] : std::vector<std::pair<int, const char*>>{{1, "east"}, {2, "west"}}) {
    JobSpec j;
    j.id = JobId(id);
    j.job_type = kResNet;
    j.total_steps = 1000;
    j.inputs = At("west", 1e11);  // 80 s over 10 Gb/s
    for (const Site& st : cl.sites())
      if (st.name == site) j.allowed_sites = {st.id};
    ASSERT_TRUE(s.Admit(j).ok());
  }
  Rng rng(1);
  (void)s.RunCycle(100, true, rng);
  ASSERT_EQ(s.running().size(), 2u);
  EXPECT_DOUBLE_EQ(s.Find(JobId(1))->penalty_until_s, 180) << "east copies 100 GB first";
  EXPECT_DOUBLE_EQ(s.Find(JobId(2))->penalty_until_s, 100) << "west holds the data";
  EXPECT_DOUBLE_EQ(s.staged_bytes(), 1e11);
}

TEST(SimDatasets, GeneratorIsDeterministicBoundedAndHomedAtAcceleratorSites) {
  Cluster cl = EastWest();
  Workload w;
  for (int i = 0; i < 200; ++i) {
    JobSpec j;
    j.id = JobId(i);
    w.jobs.push_back(j);
  }
  DataGen g;
  g.count = 8;
  ASSERT_TRUE(ParseDatasetSizes("10:10000", "--dataset-gb", &g).ok());
  Workload a = w, b = w;
  ASSERT_TRUE(AssignDatasets(g, cl, &a).ok());
  ASSERT_TRUE(AssignDatasets(g, cl, &b).ok());
  std::set<std::string> names;
  for (size_t i = 0; i < a.jobs.size(); ++i) {
    ASSERT_TRUE(a.jobs[i].inputs);
    const InputData& in = a.jobs[i].inputs->front();
    EXPECT_EQ(in.name, b.jobs[i].inputs->front().name) << "same seed, same draw";
    EXPECT_GE(in.bytes, 10e9);
    EXPECT_LE(in.bytes, 10000e9);
    ASSERT_EQ(in.replicas.size(), 1u);
    EXPECT_TRUE(in.replicas[0] == "east" || in.replicas[0] == "west");
    names.insert(in.name);
  }
  EXPECT_EQ(names.size(), 8u) << "200 jobs over 8 datasets use them all";
  DataGen bad;
  EXPECT_NE(ParseDatasetSizes("100:10", "--dataset-gb", &bad).message().find("--dataset-gb"), std::string::npos);
  EXPECT_FALSE(ParseDatasetSizes("0:10", "--dataset-gb", &bad).ok());
  EXPECT_FALSE(ParseDatasetSizes("ten", "--dataset-gb", &bad).ok());
}

// Every job reads 1 TB kept at west, 1 Gb/s from east (8,000 s to copy). Compute-only `fastest`
// takes east's V100s and pays the copy; data-aware `fastest` counts it and runs on west's K80s.
TEST(SimDatasets, DataAwarePlacementMovesLessAndFinishesSooner) {
  Cluster cl = EastWest();
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  Workload w;
  w.source = "test";
  for (int i = 0; i < 8; ++i) {
    JobSpec j;
    j.id = JobId(i + 1);
    j.job_type = kResNet;
    j.total_steps = 2e4;
    j.submit_time_s = i * 1200;
    j.inputs = At("west", 1e12);
    w.jobs.push_back(j);
    w.lines.push_back(0);
  }
  std::map<bool, SimResult> res;
  for (bool aware : {true, false}) {
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    SimOptions o;
    o.economics = Links(1);
    o.objective = Objective::kFastest;
    o.data_aware = aware;
    auto r = Simulate(cl, perf, std::move(reg.Create("backfill")).value(), w, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    res[aware] = std::move(r).value();
  }
  EXPECT_EQ(res[true].jobs_completed, 8u);
  EXPECT_EQ(res[false].jobs_completed, 8u);
  EXPECT_GE(res[false].stage_in_tb, 4) << "compute-only copies a terabyte for each job on east";
  EXPECT_LT(res[true].stage_in_tb, res[false].stage_in_tb);
  EXPECT_LT(res[true].avg_jct_hours, 0.8 * res[false].avg_jct_hours)
      << res[true].avg_jct_hours << " h against " << res[false].avg_jct_hours << " h";
}

}  // namespace
}  // namespace cnet
