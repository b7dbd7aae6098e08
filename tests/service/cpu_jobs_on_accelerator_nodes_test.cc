// Issue 16 item 3: CPU-only jobs on a site whose nodes all carry accelerators use those nodes'
// CPUs (SiteNode::cpu_jobs, the node's CPU twin in the model), and CPU requests read as CPUs.
#include <gtest/gtest.h>

#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

using store::JobState;

backends::SiteNode SharedGpuNode(std::string name, int gpus, int cpus) {
  backends::SiteNode n = GpuNode(std::move(name), "H100", gpus, cpus);
  n.cpu_jobs = true;
  return n;
}

api::JobRequest CpuJob(int workers, int cpus, std::vector<std::string> sites) {
  api::JobRequest r = LoopHarness::Job(workers, 0);
  r.cpus_per_worker = cpus;
  r.sites = std::move(sites);
  return r;
}

// Was: 422 "no site can run a gang of 1 accelerators of type Xeon-8480 ... (largest: 0)".
TEST(CpuJobsOnAcceleratorNodes, CpuJobRunsOnAGpuNodesCpusBesideAGpuJob) {
  LoopHarness h;
  auto& gpu = h.AddSite("east", {SharedGpuNode("node1", 8, 16)}, SlurmLike());
  h.AddSite("cpus", {CpuNode("c0", 64)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto g = h.Submit("t", LoopHarness::Job(1, 8, {"H100"}));
  auto c = h.Submit("t", CpuJob(2, 4, {"east"}));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  h.Tick(3);
  ASSERT_EQ(gpu.launches().size(), 2u);
  for (const auto& req : gpu.launches()) {
    EXPECT_EQ(req.nodes.size(), 1u);
    EXPECT_EQ(req.nodes[0].node, "node1");  // the site's own node name, for both
    if (req.job_id == *c) {
      EXPECT_EQ(req.accelerators_per_worker, 0);
      EXPECT_EQ(req.accelerator, "");
      EXPECT_EQ(req.cpus_per_worker, 4);
      EXPECT_EQ(req.nodes[0].workers, 2);
    }
  }
  // The twin holds 16 CPUs: 8 in use, a 12-CPU job waits and says so in CPUs.
  auto big = h.Submit("t", CpuJob(3, 4, {"east"}));
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  h.Tick(2);
  EXPECT_EQ(gpu.launches().size(), 2u);
  EXPECT_EQ(h.State(*big), JobState::kPending);
  EXPECT_EQ(h.Row(*big).reason.find("accelerators"), std::string::npos) << h.Row(*big).reason;
}

TEST(CpuJobsOnAcceleratorNodes, DeniedNodesRefuseCpuJobsWordedAsCpus) {
  LoopHarness h;
  h.AddSite("east", {GpuNode("node1", "H100", 8, 16)}, SlurmLike());
  h.AddSite("cpus", {CpuNode("c0", 8)});
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto r = h.Submit("t", CpuJob(1, 1, {"east"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInfeasible);
  EXPECT_NE(r.status().message().find("no site can run 1 CPU in its allowed sites (largest: 0 CPUs)"), std::string::npos)
      << r.status().message();
  auto big = h.Submit("t", CpuJob(1, 12, {}));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("cpus_per_worker: 12 CPUs per worker, but the largest CPU node has 8 CPUs"), std::string::npos)
      << big.status().message();
  EXPECT_EQ(big.status().message().find("accelerators"), std::string::npos) << big.status().message();
}

// After a restart the running CPU job is taken back onto the node's CPUs, not its GPUs: an
// 8-GPU job still fits there.
TEST(CpuJobsOnAcceleratorNodes, RestartKeepsTheCpuJobOnTheCpuTwin) {
  LoopHarness h;
  auto& gpu = h.AddSite("east", {SharedGpuNode("node1", 8, 16)}, SlurmLike());
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto c = h.Submit("t", CpuJob(1, 2, {"east"}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  h.Tick(3);
  ASSERT_EQ(gpu.launches().size(), 1u);
  ASSERT_TRUE(h.Start().ok());
  h.Tick(2);
  auto g = h.Submit("t", LoopHarness::Job(1, 8, {"H100"}));
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  h.Tick(3);
  ASSERT_EQ(gpu.launches().size(), 2u);
  EXPECT_EQ(gpu.launches()[1].job_id, *g);
}

// Issue 16 item 3, the rest: the CPUs a GPU job uses on node1 are gone from node1's CPU twin.
// Was: the twin kept all 16 while a GPU job used 12, so an 8-CPU job was sent where Slurm had 4.
TEST(CpuJobsOnAcceleratorNodes, AGpuJobsCpusAreNotOfferedToCpuJobs) {
  LoopHarness h;
  auto& gpu = h.AddSite("east", {SharedGpuNode("node1", 8, 16)}, SlurmLike());
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  api::JobRequest g = LoopHarness::Job(2, 1, {"H100"});
  g.cpus_per_worker = 6;
  auto gid = h.Submit("t", g);
  ASSERT_TRUE(gid.ok()) << gid.status().ToString();
  h.Tick(3);
  ASSERT_EQ(gpu.launches().size(), 1u);
  auto c = h.Submit("t", CpuJob(1, 8, {"east"}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  h.Tick(3);
  EXPECT_EQ(gpu.launches().size(), 1u) << "12 of node1's 16 CPUs are the GPU job's";
  EXPECT_EQ(h.State(*c), JobState::kPending);
  gpu.Start(*gid);
  h.Tick(2);
  gpu.End(*gid, 0);
  h.Tick(3);
  ASSERT_EQ(gpu.launches().size(), 2u);
  EXPECT_EQ(gpu.launches()[1].job_id, *c);
}

// The other way: CPU jobs holding node1's CPUs leave a GPU job that needs more of them waiting,
// though its GPUs are free.
TEST(CpuJobsOnAcceleratorNodes, CpuJobsOnTheTwinLeaveAGpuJobWaitingForCpus) {
  LoopHarness h;
  auto& gpu = h.AddSite("east", {SharedGpuNode("node1", 8, 16)}, SlurmLike());
  h.AddTenant("t");
  ASSERT_TRUE(h.Start().ok());
  auto c = h.Submit("t", CpuJob(1, 12, {"east"}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  h.Tick(3);
  ASSERT_EQ(gpu.launches().size(), 1u);
  api::JobRequest g = LoopHarness::Job(1, 4, {"H100"});
  g.cpus_per_worker = 8;
  auto gid = h.Submit("t", g);
  ASSERT_TRUE(gid.ok()) << gid.status().ToString();
  h.Tick(3);
  EXPECT_EQ(gpu.launches().size(), 1u) << "4 CPUs free, 8 wanted";
  gpu.Start(*c);
  h.Tick(2);
  gpu.End(*c, 0);
  h.Tick(3);
  ASSERT_EQ(gpu.launches().size(), 2u);
  EXPECT_EQ(gpu.launches()[1].job_id, *gid);
}

}  // namespace
}  // namespace cnet::testing
