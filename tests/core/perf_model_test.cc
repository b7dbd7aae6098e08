#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/csv.h"
#include "perf/leave_one_out.h"
#include "perf/perf_model.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::GavelMatrix;
using testing::TestCatalogue;

TEST(PerfModel, MeasuredFiguresAreReturnedAsIs) {
  PerfModel pm(TestCatalogue(), GavelMatrix());
  JobTypeId t = *GavelMatrix().FindJobType("ResNet-50 (batch size 64)");
  Estimate e = pm.Throughput(t, Accel("V100"), 1);
  EXPECT_FALSE(e.predicted);
  EXPECT_DOUBLE_EQ(e.steps_per_s, 4.394774823323071);
  Estimate spread = pm.Throughput(t, Accel("V100"), 8, 2);
  EXPECT_FALSE(spread.predicted);
  EXPECT_DOUBLE_EQ(spread.steps_per_s, 19.757330902241037);
}

TEST(PerfModel, MeasuredZeroMeansCannotRun) {
  PerfModel pm(TestCatalogue(), GavelMatrix());
  JobTypeId t = *GavelMatrix().FindJobType("ResNet-50 (batch size 128)");
  EXPECT_EQ(pm.Throughput(t, Accel("K80"), 2).steps_per_s, 0.0);  // measured 0 (out of memory)
}

TEST(PerfModel, PredictsUnmeasuredTypesAndFlagsThem) {
  PerfModel pm(TestCatalogue(), GavelMatrix());
  int slower = 0;
  for (size_t i = 0; i < GavelMatrix().num_job_types(); ++i) {
    JobTypeId t(static_cast<int32_t>(i));
    Estimate v100 = pm.Throughput(t, Accel("V100"), 1);
    Estimate h100 = pm.Throughput(t, Accel("H100"), 1);
    Estimate c910 = pm.Throughput(t, Accel("910C"), 1);
    Estimate b910 = pm.Throughput(t, Accel("910B"), 1);
    EXPECT_TRUE(h100.predicted);
    EXPECT_GT(h100.steps_per_s, v100.steps_per_s) << GavelMatrix().JobTypeName(t);
    // A 910C is two 910B dies over a slow link: faster than one 910B, at most two.
    EXPECT_GT(c910.steps_per_s, b910.steps_per_s);
    EXPECT_LE(c910.steps_per_s, 2 * b910.steps_per_s * (1 + 1e-12));
    if (c910.steps_per_s < 2 * b910.steps_per_s * (1 - 1e-6)) ++slower;
    EXPECT_LT(c910.steps_per_s, h100.steps_per_s * 1.05) << GavelMatrix().JobTypeName(t);
  }
  // Types whose measured 2-worker scaling loses time to communication pay for the die link.
  EXPECT_GE(slower, 10);
}

TEST(PerfModel, ExtrapolatesLargeGangsSublinearly) {
  PerfModel pm(TestCatalogue(), GavelMatrix());
  JobTypeId t = *GavelMatrix().FindJobType("ResNet-50 (batch size 64)");
  Estimate e8 = pm.Throughput(t, Accel("V100"), 8, 2);
  Estimate e64 = pm.Throughput(t, Accel("V100"), 64, 8);
  EXPECT_TRUE(e64.predicted);
  EXPECT_GT(e64.steps_per_s, e8.steps_per_s * 4);
  EXPECT_LT(e64.steps_per_s, e8.steps_per_s * 8);
}

// Leave-one-out: hide P100 from the matrix, predict it from K80 and V100, compare with the
// measurement. The model is coarse; the median error over the 26 job types must stay within 60%.
TEST(PerfModel, LeaveOneOutPredictionOfP100IsInTheRightRange) {
  std::string text = "job_type,accelerator,workers,steps_per_second\n";
  std::vector<std::pair<std::string, double>> p100;
  auto full = CsvTable::ReadFile(testing::SharedPath("gavel/throughputs.csv"));
  ASSERT_TRUE(full.ok());
  for (const auto& r : full->rows()) {
    if (r.cells[1] == "P100") {
      if (r.cells[2] == "1") p100.push_back({r.cells[0], *ParseDouble(r.cells[3])});
      continue;
    }
    text += "\"" + r.cells[0] + "\"," + r.cells[1] + "," + r.cells[2] + "," + r.cells[3] + "\n";
  }
  auto m = ThroughputMatrix::ParseCsv(text, "no-p100.csv", TestCatalogue());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  PerfModel pm(TestCatalogue(), *m);
  std::vector<double> err;
  for (const auto& [name, measured] : p100) {
    Estimate e = pm.Throughput(*m->FindJobType(name), Accel("P100"), 1);
    EXPECT_TRUE(e.predicted);
    err.push_back(std::fabs(e.steps_per_s - measured) / measured);
  }
  std::sort(err.begin(), err.end());
  double median = err[err.size() / 2];
  EXPECT_LT(median, 0.6) << "median relative error " << median;
  RecordProperty("p100_loo_median_rel_error", std::to_string(median));
}


// Issue 10 item 3: any gang size is accepted, and an unmeasured size is predicted from the same
// type's own measurements before any other type's. K80 here scales badly (efficiency 0.8 at 4,
// 0.5 at 8); V100, the reference, scales perfectly. A 6-gang on K80 must land between K80's 4
// and 8, not near 6x its single worker as V100's scaling would say.
TEST(PerfModel, AcceptsAnyGangSizeAndInterpolatesTheSameType) {
  auto m = ThroughputMatrix::ParseCsv(
      "job_type,accelerator,workers,steps_per_second\n"
      "J,V100,1,10\nJ,V100,2,20\nJ,V100,4,40\nJ,V100,8,80\n"
      "J,K80,1,1\nJ,K80,3,2.7\nJ,K80,4,3.2\nJ,K80,8,4\n",
      "gangs.csv", TestCatalogue());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->MeasuredWorkers(*m->FindJobType("J"), Accel("K80"), false), (std::vector<int>{1, 3, 4, 8}));
  PerfModel pm(TestCatalogue(), *m);
  JobTypeId t = *m->FindJobType("J");
  EXPECT_DOUBLE_EQ(pm.Throughput(t, Accel("K80"), 3).steps_per_s, 2.7);  // measured, returned as is
  Estimate e6 = pm.Throughput(t, Accel("K80"), 6);
  EXPECT_TRUE(e6.predicted);
  EXPECT_GT(e6.steps_per_s, 3.2);
  EXPECT_LT(e6.steps_per_s, 4.0);
  // Beyond the largest measured size: the 8-gang's communication ratio, held.
  Estimate e16 = pm.Throughput(t, Accel("K80"), 16);
  EXPECT_GT(e16.steps_per_s, 4.0);
  EXPECT_LT(e16.steps_per_s, 2 * 4.0);
  // A type with only a single-worker figure borrows the reference's scaling (perfect here).
  auto p = ThroughputMatrix::ParseCsv(
      "job_type,accelerator,workers,steps_per_second\nJ,V100,1,10\nJ,V100,2,20\nJ,V100,4,40\nJ,K80,1,1\n",
      "ref.csv", TestCatalogue());
  ASSERT_TRUE(p.ok());
  PerfModel pr(TestCatalogue(), *p);
  EXPECT_NEAR(pr.Throughput(*p->FindJobType("J"), Accel("K80"), 6).steps_per_s, 6.0, 0.6);
}

TEST(ThroughputMatrix, RejectsGangSizesOutOfRangeNamingTheLine) {
  auto m = ThroughputMatrix::ParseCsv("job_type,accelerator,workers,steps_per_second\nJ,V100,1,1\nJ,V100,0,1\n",
                                      "bad.csv", TestCatalogue());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("bad.csv:3"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("workers"), std::string::npos);
}

// Leave-one-out over every measured (type, size) of Gavel's matrix, on one node and spread:
// each point predicted from all the others. Bounds (the figures seen are in docs/BENCHMARKS.md):
// gangs, which the same type's own sizes predict, within 15% at the median; single workers,
// predicted from other accelerator types, within 40%; no prediction off by more than 10x.
TEST(PerfModel, LeaveOneOutOverGavelsMatrixIsWithinStatedBounds) {
  LooResult r = LeaveOneOut(TestCatalogue(), GavelMatrix());
  std::vector<double> single, gang;
  for (const auto& p : r.points) {
    ASSERT_GT(p.predicted, 0) << p.job_type << " " << p.workers;
    double ratio = p.predicted / p.measured;
    EXPECT_GT(ratio, 0.1) << p.job_type << " x" << p.workers << (p.spread ? " spread" : "");
    EXPECT_LT(ratio, 10) << p.job_type << " x" << p.workers << (p.spread ? " spread" : "");
    (p.workers == 1 ? single : gang).push_back(std::abs(ratio - 1));
  }
  EXPECT_GT(gang.size(), 200u);
  EXPECT_GT(single.size(), 60u);
  EXPECT_LT(Quantile(gang, 0.5), 0.15) << FormatLooTable(TestCatalogue(), r);
  EXPECT_LT(Quantile(single, 0.5), 0.40) << FormatLooTable(TestCatalogue(), r);
}

// A second measured matrix (data/pollux: Pollux's OSDI'21 artefact, T4, 1-16 GPUs over up to 4
// nodes of 4). One type only, so this tests gang sizes from the same type's other sizes: (a) leave
// one out over every measured size; (b) from the power-of-two sizes alone, every other size (3, 5,
// 6, 7, 9, ...), as a user with a sparse matrix would ask. Bounds stated in docs/BENCHMARKS.md §11.
TEST(PerfModel, PolluxT4GangSizesArePredictedWithinStatedBounds) {
  auto full = ThroughputMatrix::LoadCsv(testing::DataPath("pollux/throughputs.csv"), TestCatalogue(),
                                        testing::DataPath("pollux/throughputs_unconsolidated.csv"));
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  LooResult r = LeaveOneOut(TestCatalogue(), *full);
  std::vector<double> loo;
  for (const auto& p : r.points) loo.push_back(std::abs(p.predicted / p.measured - 1));
  EXPECT_EQ(loo.size(), 108u);
  EXPECT_LT(Quantile(loo, 0.5), 0.05) << FormatLooTable(TestCatalogue(), r);
  EXPECT_LT(Quantile(loo, 1.0), 0.5) << FormatLooTable(TestCatalogue(), r);

  std::string kept[2];
  struct Hidden {
    std::string job;
    int workers;
    bool spread;
    double measured;
  };
  std::vector<Hidden> hidden;
  const char* files[2] = {"pollux/throughputs.csv", "pollux/throughputs_unconsolidated.csv"};
  for (int f = 0; f < 2; ++f) {
    kept[f] = "job_type,accelerator,workers,steps_per_second\n";
    auto t = CsvTable::ReadFile(testing::DataPath(files[f]));
    ASSERT_TRUE(t.ok());
    for (const auto& row : t->rows()) {
      const int w = static_cast<int>(*ParseInt(row.cells[2]));
      if ((w & (w - 1)) == 0) kept[f] += "\"" + row.cells[0] + "\"," + row.cells[1] + "," + row.cells[2] + "," + row.cells[3] + "\n";
      else hidden.push_back({row.cells[0], w, f == 1, *ParseDouble(row.cells[3])});
    }
  }
  auto parsed = ThroughputMatrix::ParseCsv(kept[0], "pow2.csv", TestCatalogue());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ThroughputMatrix m = std::move(parsed).value();
  ASSERT_TRUE(m.AddSpreadCsv(kept[1], "pow2-spread.csv", TestCatalogue()).ok());
  PerfModel pm(TestCatalogue(), m);
  std::vector<double> err;
  for (const auto& h : hidden) {
    Estimate e = pm.Throughput(*m.FindJobType(h.job), Accel("T4"), h.workers, h.spread ? 2 : 1);
    EXPECT_TRUE(e.predicted);
    err.push_back(std::abs(e.steps_per_s / h.measured - 1));
  }
  EXPECT_EQ(err.size(), 72u);
  EXPECT_LT(Quantile(err, 0.5), 0.08);
  EXPECT_LT(Quantile(err, 1.0), 0.35);
  RecordProperty("pollux_pow2_median_rel_error", std::to_string(Quantile(err, 0.5)));
}

}  // namespace
}  // namespace cnet
