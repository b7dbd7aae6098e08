#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "sched/policy/maxmin_lp.h"

namespace cnet {
namespace {

// Two jobs, two types of one accelerator each. Job 0 is 4x faster on type 0, job 1 equal on both.
// Max-min of normalised throughput: job 0 on type 0, job 1 on type 1, both fully.
TEST(MaxMinLp, GivesEachJobItsComparativeAdvantage) {
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 2;
  p.coef = {4, 1, 1, 1};
  p.workers = {1, 1};
  p.capacity = {1, 1};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_NEAR(s.x[0], 1, 1e-6);
  EXPECT_NEAR(s.x[1], 0, 1e-6);
  EXPECT_NEAR(s.x[3], 1, 1e-6);
  EXPECT_NEAR(s.z, 1, 1e-6);
}

TEST(MaxMinLp, SharesOneAcceleratorEquallyAndRespectsCapacity) {
  MaxMinProblem p;
  p.jobs = 3;
  p.types = 1;
  p.coef = {1, 1, 1};
  p.workers = {1, 1, 1};
  p.capacity = {1};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  for (double x : s.x) EXPECT_NEAR(x, 1.0 / 3, 1e-6);
}

TEST(MaxMinLp, GangsCountTheirWorkersAgainstCapacity) {
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 1;
  p.coef = {1, 1};
  p.workers = {4, 1};
  p.capacity = {4};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  EXPECT_LE(4 * s.x[0] + s.x[1], 4 + 1e-6);
  // Equal normalised throughput at the optimum (phase two keeps z within 1e-6 of it).
  EXPECT_NEAR(s.x[0], s.x[1], 1e-5);
  EXPECT_NEAR(s.x[0], 0.8, 1e-5);
}

TEST(MaxMinLp, PhaseTwoUsesLeftoverCapacity) {
  // Job 1 can only use type 0 (shared with job 0); type 1 is job 0's alone. The min is set by
  // the shared type; phase two must still hand job 0 all of type 1.
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 2;
  p.coef = {1, 1, 1, 0};
  p.workers = {1, 1};
  p.capacity = {1, 1};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  EXPECT_NEAR(s.x[2], 1, 1e-6);  // job 1 gets all of type 0
  EXPECT_NEAR(s.x[1], 1, 1e-6);  // job 0 gets all of type 1
  EXPECT_NEAR(s.x[3], 0, 1e-9);
}

TEST(MaxMinLp, JobsThatCannotRunDoNotPinTheObjective) {
  MaxMinProblem p;
  p.jobs = 2;
  p.types = 2;
  p.coef = {1, 0, 0, 0};  // job 1 has no usable type
  p.workers = {1, 1};
  p.capacity = {1, 0};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok);
  EXPECT_NEAR(s.x[0], 1, 1e-6);
  EXPECT_NEAR(s.z, 1, 1e-6);
}


// Gavel's max_sum_throughput: the whole of a shared type goes to the job that gains most there,
// capacity and the one-type-at-a-time rows still bind.
TEST(MaxMinLp, MaxSumGivesCapacityToTheLargestGain) {
  MaxMinProblem p;
  p.objective = LpObjective::kMaxSum;
  p.jobs = 3;
  p.types = 2;
  p.coef = {1, 0.5,   // job 0
            3, 0,     // job 1: only type 0
            0.2, 0.9};
  p.workers = {1, 1, 1};
  p.capacity = {1, 1};
  MaxMinSolution s = SolveMaxMin(p);
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_NEAR(s.x[2], 1, 1e-6);  // job 1 takes type 0
  EXPECT_NEAR(s.x[5], 1, 1e-6);  // job 2 takes type 1 (0.9 > 0.5)
  EXPECT_NEAR(s.x[0] + s.x[1], 0, 1e-6);
}

}  // namespace
}  // namespace cnet

namespace cnet {
namespace {

// Makespan-style coefficients (rate / remaining steps, i.e. 1 / seconds to finish) for rates
// from 1e-3 to 1e2 steps/s on 3 types, gangs of up to 14 on 64 GPUs (issue 10): elements from
// ~1e-10 to ~1e-3. The solver must not abort, and a solution must be feasible.
MaxMinProblem WideProblem(uint64_t seed, int jobs) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const int sizes[] = {1, 2, 4, 6, 8, 12, 14};
  MaxMinProblem p;
  p.jobs = jobs;
  p.types = 3;
  p.capacity = {32, 16, 16};
  for (int m = 0; m < jobs; ++m) {
    p.workers.push_back(sizes[gen() % 7]);
    double best = std::pow(10.0, -3 + 5 * u(gen));    // steps/s on the fastest type
    double remaining = best * (600 + 1e5 * u(gen));     // steps left
    if (u(gen) < 0.1) remaining = 1e-9;                  // all but done (the policy's floor)
    if (u(gen) < 0.05) remaining = 1e12;                 // barely started, huge
    for (int j = 0; j < 3; ++j) {
      double rate = best * std::pow(10.0, -4 * u(gen));  // up to 4 orders slower
      if (u(gen) < 0.1) rate = 0;                        // cannot run there
      if (u(gen) < 0.05) rate = 1e-310;                  // denormal
      p.coef.push_back(rate / remaining);
    }
  }
  return p;
}

TEST(MaxMinLp, SurvivesCoefficientsSpanningManyOrdersOfMagnitude) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    for (int jobs : {8, 40, 120}) {
      MaxMinProblem p = WideProblem(seed, jobs);
      MaxMinSolution s = SolveMaxMin(p);
      if (!s.ok) {
        EXPECT_FALSE(s.error.empty()) << "a failure must say why";
        continue;
      }
      std::vector<double> used(3, 0);
      for (int m = 0; m < jobs; ++m) {
        double t = 0;
        for (int j = 0; j < 3; ++j) {
          double x = s.x[m * 3 + j];
          ASSERT_TRUE(std::isfinite(x));
          if (p.coef[m * 3 + j] <= 0) EXPECT_EQ(x, 0);
          t += x;
          used[j] += p.workers[m] * x;
        }
        EXPECT_LE(t, 1 + 1e-6) << "seed " << seed;
      }
      for (int j = 0; j < 3; ++j) EXPECT_LE(used[j], p.capacity[j] * (1 + 1e-6)) << "seed " << seed;
      EXPECT_TRUE(std::isfinite(s.z));
      EXPECT_GE(s.z, 0);
    }
  }
}

}  // namespace
}  // namespace cnet
