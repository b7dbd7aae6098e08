#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "sched/policy_registry.h"
#include "sim/generator.h"
#include "sim/report.h"
#include "sim/simulator.h"
#include "testing/policy_util.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::DataPath;
using testing::GavelMatrix;
using testing::TestCatalogue;

const PerfModel& Perf() { return testing::GavelPerf(); }

std::unique_ptr<Policy> Pol(const std::string& n) { return testing::BuiltinPolicy(n); }

Cluster Load(const std::string& path) {
  auto c = Cluster::LoadYaml(path, TestCatalogue());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(c).value();
}

SimResult RunSim(const Cluster& cl, const std::string& policy, const Workload& w, SimOptions o = {}) {
  auto r = Simulate(cl, Perf(), Pol(policy), w, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : SimResult{};
}

Workload Gavel(GavelWorkload k, double rate, size_t n, uint64_t seed) {
  Rng rng(seed);
  auto w = GenerateGavel(k, rate, n, Perf(), Accel("V100"), rng);
  EXPECT_TRUE(w.ok());
  return std::move(w).value();
}

// The small version of the Gavel reproduction (docs/BENCHMARKS.md has the full one): a third of
// the cluster at a third of the load.
TEST(SimGavelSmall, HeterogeneityAwareLasBeatsAgnosticLas) {
  Cluster cl = Load(std::string(CNET_TEST_FIXTURES_DIR) + "/gavel-12x3.yaml");
  Workload w = Gavel(GavelWorkload::kSingle, 1.87, 1200, 0);
  SimOptions o;
  o.measure_first = 400;
  o.measure_last = 799;
  SimResult las = RunSim(cl, "las", w, o), het = RunSim(cl, "las-hetero", w, o);
  EXPECT_EQ(las.jobs_measured, 400u);
  EXPECT_EQ(het.jobs_measured, 400u);
  EXPECT_GE(las.avg_jct_hours / het.avg_jct_hours, 1.5)
      << "las " << las.avg_jct_hours << " h, las-hetero " << het.avg_jct_hours << " h";
}

TEST(SimGavelSmall, MakespanPolicyBeatsFifo) {
  Cluster cl = Load(std::string(CNET_TEST_FIXTURES_DIR) + "/gavel-12x3.yaml");
  Workload w = Gavel(GavelWorkload::kMulti, 0, 100, 0);
  SimResult fifo = RunSim(cl, "fifo", w), ms = RunSim(cl, "makespan-hetero", w);
  EXPECT_EQ(fifo.jobs_completed, 100u);
  EXPECT_GE(fifo.makespan_hours / ms.makespan_hours, 1.5)
      << "fifo " << fifo.makespan_hours << " h, makespan-hetero " << ms.makespan_hours << " h";
}

TEST(Sim, SameSeedSameResultOtherSeedOtherWorkload) {
  Cluster cl = Load(std::string(CNET_TEST_FIXTURES_DIR) + "/gavel-12x3.yaml");
  SimResult a = RunSim(cl, "las-hetero", Gavel(GavelWorkload::kMulti, 3, 150, 4));
  SimResult b = RunSim(cl, "las-hetero", Gavel(GavelWorkload::kMulti, 3, 150, 4));
  SimResult c = RunSim(cl, "las-hetero", Gavel(GavelWorkload::kMulti, 3, 150, 5));
  EXPECT_EQ(a.jct_hours, b.jct_hours);
  EXPECT_EQ(a.preemptions, b.preemptions);
  EXPECT_NE(a.jct_hours, c.jct_hours);
}

// One V100; exact arithmetic on a hand-made trace.
class SimExact : public ::testing::Test {
 protected:
  Cluster cl_ = std::move(Cluster::Build("one", {{"s", "r", "r", 1e9, "n", 1, Accel("V100"), 1}},
                                         TestCatalogue())).value();
  JobTypeId t_ = *GavelMatrix().FindJobType("ResNet-18 (batch size 64)");
  double rate_ = *GavelMatrix().Get(t_, Accel("V100"), 1, false);

  JobSpec Job(int64_t id, Seconds submit, Seconds alone_s) {
    JobSpec j;
    j.id = JobId(id);
    j.type_id = t_;
    j.job_type = GavelMatrix().JobTypeName(t_);
    j.submit_time_s = submit;
    j.total_steps = alone_s * rate_;
    return j;
  }
  Workload W(std::vector<JobSpec> jobs) {
    Workload w;
    w.source = "test";
    w.jobs = std::move(jobs);
    w.lines.assign(w.jobs.size(), 0);
    return w;
  }
};

TEST_F(SimExact, FifoRunsJobsBackToBack) {
  SimResult r = RunSim(cl_, "fifo", W({Job(0, 0, 100), Job(1, 10, 50)}));
  ASSERT_EQ(r.jct_hours.size(), 2u);
  EXPECT_NEAR(r.jct_hours[0] * 3600, 100, 1e-6);
  EXPECT_NEAR(r.jct_hours[1] * 3600, 140, 1e-6);  // waits until 100, runs 50
  EXPECT_NEAR(r.makespan_hours * 3600, 150, 1e-6);
  EXPECT_NEAR(r.utilization["V100"], 1.0, 1e-9);
}

TEST_F(SimExact, EnergyAndCostFollowTheCatalogue) {
  SimResult r = RunSim(cl_, "fifo", W({Job(0, 0, 3600)}));
  EXPECT_NEAR(r.energy_kwh, 0.300, 1e-9);  // V100 board power 300 W for one hour
  EXPECT_NEAR(r.cost_usd, 3.06, 1e-9);     // AWS p3.2xlarge, one hour
}

TEST_F(SimExact, TimeSharingRotatesJobsAndPaysTheRestorePenalty) {
  Workload w = W({Job(0, 0, 100), Job(1, 0, 100)});
  SimOptions o;
  o.round_s = 10;
  SimResult free = RunSim(cl_, "las", w, o);
  EXPECT_GT(free.preemptions, 5u);
  // Both finish near 200 s: they alternate rounds.
  EXPECT_NEAR(free.makespan_hours * 3600, 200, 1e-6);
  EXPECT_GT(free.jct_hours[0] * 3600, 150);
  o.preempt_penalty_s = 2;
  SimResult paid = RunSim(cl_, "las", w, o);
  EXPECT_GT(paid.makespan_hours, free.makespan_hours + 10.0 / 3600);
}

TEST_F(SimExact, MeasureWindowCountsOnlyItsJobs) {
  SimOptions o;
  o.measure_first = 1;
  o.measure_last = 1;
  SimResult r = RunSim(cl_, "fifo", W({Job(0, 0, 100), Job(1, 0, 50), Job(2, 0, 10)}), o);
  EXPECT_EQ(r.jobs_measured, 1u);
  EXPECT_NEAR(r.avg_jct_hours * 3600, 150, 1e-6);
}

TEST_F(SimExact, JsonCarriesTheDocumentedFields) {
  SimResult r = RunSim(cl_, "fifo", W({Job(0, 0, 100)}));
  nlohmann::json j = ToJson(r);
  for (const char* k : {"jobs_completed", "jobs_measured", "avg_jct_hours", "p50_jct_hours",
                        "p99_jct_hours", "makespan_hours", "utilization", "energy_kwh", "cost_usd",
                        "avg_ftf_ratio", "solve_ms_p50", "solve_ms_max", "wall_seconds",
                        "predicted_throughputs"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["utilization"]["V100"].get<double>(), r.utilization["V100"]);
}

TEST(PhillyTrace, MapsJobsToTypesAndStepsOnTheReference) {
  std::string path = (std::filesystem::temp_directory_path() / "cnet-philly-test.csv").string();
  {
    std::ofstream f(path);
    f << "timestamp,duration,num_gpus,gpu_time,cluster\n"
      << "2017-10-09 07:01:55,66.0,1,66.0,a\n"
      << "2017-10-09 06:13:03,2951.0,8,23608.0,b\n"
      << "2017-10-09 08:13:03,100.0,64,6400.0,b\n";
  }
  Rng rng(1);
  auto w = ReadPhillyTrace(path, Perf(), Accel("V100"), rng);
  std::filesystem::remove(path);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->jobs.size(), 3u);
  EXPECT_EQ(w->jobs[0].submit_time_s, 0);  // sorted: 06:13:03 first
  EXPECT_EQ(w->jobs[1].submit_time_s, 2932);
  EXPECT_EQ(w->jobs[2].submit_time_s, 7200);
  EXPECT_EQ(w->jobs[0].workers, 8);
  EXPECT_EQ(w->lines[0], 3);
  for (const auto& j : w->jobs) {
    double r = Perf().Throughput(j.type_id, Accel("V100"), j.workers, 1).steps_per_s;
    EXPECT_GT(r, 0);
    EXPECT_GT(GavelMatrix().MeasuredWorkers(j.type_id, Accel("V100"), false).size(), j.workers > 1 ? 1u : 0u);
  }
  EXPECT_NEAR(w->jobs[0].total_steps,
              2951.0 * Perf().Throughput(w->jobs[0].type_id, Accel("V100"), 8, 1).steps_per_s, 1e-6);
}

TEST(SimClusters, ShippedClustersLoad) {
  Cluster pai = Load(DataPath("clusters/alibaba-pai.yaml"));
  EXPECT_EQ(pai.TotalAccels(), 6742);
  EXPECT_EQ(pai.nodes().size(), 1897u);
  EXPECT_EQ(pai.AccelCount(Accel("V100-32GB")), 1080);
  Cluster mixed = Load(DataPath("clusters/mixed-h100-ascend.yaml"));
  EXPECT_EQ(mixed.sites().size(), 2u);
  EXPECT_GT(mixed.AccelCount(Accel("910C")), 0);
  EXPECT_GT(mixed.AccelCount(Accel("910B")), 0);
  EXPECT_GT(mixed.AccelCount(Accel("H100")), 0);
}

TEST(SimClusters, PowerCappedRackRunsFewerH100) {
  // Rack hgx-b of the mixed example powers 56 of its 64 H100; jobs of one H100 each fill hgx-a
  // (64) and 56 of hgx-b, never 128.
  Cluster mixed = Load(DataPath("clusters/mixed-h100-ascend.yaml"));
  Workload w;
  w.source = "test";
  JobTypeId t = *GavelMatrix().FindJobType("ResNet-50 (batch size 64)");
  for (int i = 0; i < 200; ++i) {
    JobSpec j;
    j.id = JobId(i);
    j.type_id = t;
    j.job_type = GavelMatrix().JobTypeName(t);
    j.total_steps = 1000;
    j.acceptable = {Accel("H100")};
    w.jobs.push_back(j);
    w.lines.push_back(0);
  }
  SimResult r = RunSim(mixed, "fifo-hetero", w);
  EXPECT_EQ(r.jobs_completed, 200u);
  // 200 equal jobs in waves of 120: two waves -> makespan twice one job's time.
  double one = 1000 / Perf().Throughput(t, Accel("H100"), 1).steps_per_s;
  EXPECT_NEAR(r.makespan_hours * 3600, 2 * one, 1e-6);
}

}  // namespace
}  // namespace cnet

namespace cnet {
namespace {

// A job the cluster can never run fails the run up front, naming its input line and the field at
// fault (from Scheduler::Prepare's JobField, not from the message text).
TEST(Sim, UnrunnableJobNamesItsLineAndField) {
  auto cl = Cluster::Build("t", {{"s", "r", "r1", 1e9, "n", 1, testing::Accel("V100"), 4}},
                           testing::TestCatalogue());
  ASSERT_TRUE(cl.ok());
  const PerfModel perf(testing::TestCatalogue(), testing::GavelMatrix());
  auto run = [&](JobSpec j) {
    Workload w;
    w.source = "t.csv";
    w.jobs = {j};
    w.lines = {7};
    w.size_field = "num_gpus";
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    auto r = Simulate(*cl, perf, std::move(reg.Create("fifo")).value(), w, {});
    EXPECT_FALSE(r.ok());
    return r.status().message();
  };
  JobSpec j;
  j.id = JobId(1);
  j.total_steps = 10;
  j.job_type = "no such type";
  EXPECT_NE(run(j).find("t.csv:7: field 'job_type'"), std::string::npos) << run(j);
  j.job_type.clear();
  j.total_steps = 0;
  EXPECT_NE(run(j).find("field 'total_steps'"), std::string::npos) << run(j);
  j.total_steps = 10;
  j.workers = 8;  // more than the cluster holds
  EXPECT_NE(run(j).find("field 'num_gpus'"), std::string::npos) << run(j);
}

}  // namespace
}  // namespace cnet
