// Issue 16 item 3: an accelerator node's CPUs, modelled as a CPU-only "twin" node for CPU jobs,
// are shared with the accelerator jobs on that node (Capacity::SetCpuTwin): what an accelerator
// job uses leaves the twin, and CPU jobs there leave too few for an accelerator job that needs
// more. Before, the twin kept all its CPUs, so a CPU job was placed where Slurm had none free.
#include <gtest/gtest.h>

#include "sched/placement.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

// node1: 8 GPUs and 16 CPUs; node1+cpu: its 16 CPUs as CPU packages.
class CpuTwinCapacity : public ::testing::Test {
 protected:
  CpuTwinCapacity()
      : cl_(*Cluster::Build("t",
                            {{"s", "r", "a", 1e9, "node1", 1, Accel("H100-SXM"), 8, 16},
                             {"s", "r", "a", 1e9, "node1+cpu", 1, Accel("Xeon-8480"), 16, 16}},
                            TestCatalogue())),
        cap_(cl_, TestCatalogue()) {
    cap_.SetCpuTwin(kGpuNode, kTwin);
  }
  static JobSpec Gpus(int workers, int cpus_per_worker) {
    JobSpec j;
    j.id = JobId(1);
    j.workers = workers;
    j.cpus_per_worker = cpus_per_worker;
    return j;
  }
  static JobSpec Cpus(int n) {
    JobSpec j;
    j.id = JobId(2);
    j.workers = n;
    return j;
  }
  const NodeId kGpuNode{0}, kTwin{1};
  const AccelId kH100 = Accel("H100-SXM"), kCpu = Accel("Xeon-8480");
  Cluster cl_;
  Capacity cap_;
};

TEST_F(CpuTwinCapacity, AnAcceleratorJobsCpusLeaveTheTwin) {
  auto g = FindPlacement(cap_, Gpus(2, 6), kH100);  // 2 GPUs, 12 CPUs
  ASSERT_TRUE(g);
  EXPECT_EQ(g->cpus_per_unit, 6);
  cap_.Take(*g);
  EXPECT_EQ(cap_.Free(kTwin), 4);
  EXPECT_EQ(cap_.FreeOfType(kCpu), 4);
  EXPECT_FALSE(FindPlacement(cap_, Cpus(8), kCpu)) << "only 4 of the node's CPUs are free";
  auto c = FindPlacement(cap_, Cpus(4), kCpu);
  ASSERT_TRUE(c);
  cap_.Take(*c);
  EXPECT_EQ(cap_.Free(kTwin), 0);
  EXPECT_EQ(cap_.Free(kGpuNode), 6);
  EXPECT_EQ(cap_.FreeFor(kGpuNode, 1, 1), 0) << "GPUs are free but no CPU for their workers";
  EXPECT_FALSE(FindPlacement(cap_, Gpus(1, 1), kH100));
  cap_.Give(*g);
  EXPECT_EQ(cap_.Free(kTwin), 12);
  EXPECT_EQ(cap_.FreeOfType(kCpu), 12);
  EXPECT_EQ(cap_.Free(kGpuNode), 8);
}

TEST_F(CpuTwinCapacity, CpuJobsLeaveTooFewCpusForAGreedyAcceleratorJob) {
  auto c = FindPlacement(cap_, Cpus(12), kCpu);
  ASSERT_TRUE(c);
  cap_.Take(*c);
  EXPECT_EQ(cap_.FreeFor(kGpuNode, 1, 3), 1) << "4 CPUs left: one worker of 3";
  EXPECT_FALSE(FindPlacement(cap_, Gpus(2, 3), kH100)) << "8 GPUs free, but 6 CPUs wanted and 4 free";
  auto g = FindPlacement(cap_, Gpus(2, 2), kH100);
  ASSERT_TRUE(g);
  EXPECT_TRUE(cap_.CanTake(*g));
  // A placement built elsewhere (a restart, a policy) is held to the CPUs once it carries them.
  Placement bare{kH100, {Slot{kGpuNode, 2}}};
  EXPECT_TRUE(cap_.CanTake(bare));
  EXPECT_FALSE(cap_.CanTake(WithHostCpus(bare, Gpus(2, 3))));
}

TEST_F(CpuTwinCapacity, CpusComingBackToAnOfflineTwinAreWithheld) {
  auto g = FindPlacement(cap_, Gpus(1, 10), kH100);
  ASSERT_TRUE(g);
  cap_.Take(*g);
  cap_.SetUsable(kTwin, false);
  cap_.Give(*g);
  EXPECT_EQ(cap_.Free(kTwin), 0);
  cap_.SetUsable(kTwin, true);
  EXPECT_EQ(cap_.Free(kTwin), 16);
  EXPECT_EQ(cap_.FreeOfType(kCpu), 16);
}

// Without a twin (the core's own clusters) host CPUs change nothing.
TEST(CpuTwinCapacityNone, NoTwinNoCoupling) {
  auto cl = Cluster::Build("t", {{"s", "r", "a", 1e9, "n", 1, testing::Accel("H100-SXM"), 8, 4}}, TestCatalogue());
  ASSERT_TRUE(cl.ok());
  Capacity cap(*cl, TestCatalogue());
  JobSpec j;
  j.id = JobId(1);
  j.workers = 8;
  j.cpus_per_worker = 4;
  auto p = FindPlacement(cap, j, testing::Accel("H100-SXM"));
  ASSERT_TRUE(p);
  cap.Take(*p);
  EXPECT_EQ(cap.Free(NodeId(0)), 0);
}

}  // namespace
}  // namespace cnet
