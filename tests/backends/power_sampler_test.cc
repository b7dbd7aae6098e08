// PowerSampler / EnergyMeter: sampled power integrated per job, against a known load on a fake
// powercap tree and a fake nvidia-smi, and against the machine's own RAPL where readable.
#include "backends/local/power_sampler.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  std::string t = (fs::temp_directory_path() / "cnet-power-XXXXXX").string();
  return ::mkdtemp(t.data());
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text << "\n"; }

// A directory shaped like /sys/class/powercap whose packages draw constant power.
class FakePowercap {
 public:
  FakePowercap() : root_(TempDir()) {}
  ~FakePowercap() { fs::remove_all(root_); }
  // A top-level zone with a counter that starts at start_uj and wraps at max_uj.
  void AddZone(int n, double watts, int64_t start_uj, int64_t max_uj) {
    const std::string dir = root_ + "/intel-rapl:" + std::to_string(n);
    fs::create_directories(dir);
    Write(dir + "/name", "package-" + std::to_string(n));
    Write(dir + "/max_energy_range_uj", std::to_string(max_uj));
    zones_.push_back({dir, watts, start_uj, max_uj});
    SetTime(0);
  }
  // A subzone (core, dram): part of its package, must not be counted again.
  void AddSubzone(int n, int m) {
    const std::string dir = root_ + "/intel-rapl:" + std::to_string(n) + ":" + std::to_string(m);
    fs::create_directories(dir);
    Write(dir + "/energy_uj", "123456789");
    Write(dir + "/max_energy_range_uj", "262143328850");
  }
  // Every counter as it reads `t` seconds after the start.
  void SetTime(double t) {
    for (const Zone& z : zones_) {
      const auto uj = static_cast<int64_t>(std::llround(z.start_uj + z.watts * t * 1e6)) % z.max_uj;
      Write(z.dir + "/energy_uj", std::to_string(uj));
    }
  }
  const std::string& root() const { return root_; }

 private:
  struct Zone {
    std::string dir;
    double watts;
    int64_t start_uj, max_uj;
  };
  std::string root_;
  std::vector<Zone> zones_;
};

SamplerOptions Opts(const std::string& root, int cpus) {
  SamplerOptions o;
  o.powercap_root = root;
  o.machine_cpus = cpus;
  return o;
}

TEST(PowerSamplerTest, RaplIntegratesTheJobsCpuShareOfAKnownLoad) {
  FakePowercap pc;
  pc.AddZone(0, 40, 0, int64_t{262143328850});
  pc.AddZone(1, 20, 5'000'000, int64_t{262143328850});
  pc.AddSubzone(0, 0);
  PowerSampler s(Opts(pc.root(), 4));
  ASSERT_TRUE(s.active()) << s.description();
  EXPECT_EQ(s.description(), "rapl (2 zone(s))");
  s.SampleAt(0);
  for (int t = 1; t <= 2; ++t) {
    pc.SetTime(t);
    s.SampleAt(t);
  }
  pc.SetTime(2.5);
  s.JobStarted(7, 1, {}, 2.5);  // 1 of 4 CPUs
  for (int t = 3; t <= 7; ++t) {
    pc.SetTime(t);
    s.SampleAt(t);
  }
  pc.SetTime(7.5);
  JobEnergy e = s.JobEnded(7, 7.5);
  // 60 W in all, a quarter of it, for 5 s.
  EXPECT_EQ(e.source, "rapl");
  EXPECT_NEAR(e.joules, 60.0 * 0.25 * 5, 1e-6);
  // Samples after the end no longer count, and the job is forgotten.
  pc.SetTime(9);
  s.SampleAt(9);
  EXPECT_EQ(s.JobEnded(7, 10).source, "");
}

TEST(PowerSamplerTest, CounterWrapAroundIsUnwrapped) {
  EXPECT_EQ(RaplDelta(10, 30, 100), 20);
  EXPECT_EQ(RaplDelta(90, 5, 100), 15);
  FakePowercap pc;
  // 100 J range, starting 10 J short of it: at 30 W it wraps before the first second ends, and
  // about every 3.3 s after.
  pc.AddZone(0, 30, 90'000'000, 100'000'000);
  PowerSampler s(Opts(pc.root(), 2));
  s.JobStarted(1, 2, {}, 0);
  for (int t = 1; t <= 10; ++t) {
    pc.SetTime(t);
    s.SampleAt(t);
  }
  JobEnergy e = s.JobEnded(1, 10);
  EXPECT_EQ(e.source, "rapl");
  EXPECT_NEAR(e.joules, 300, 1e-6);
}

TEST(PowerSamplerTest, TwoJobsShareByCpusAndOnlyWhileTheyRun) {
  FakePowercap pc;
  pc.AddZone(0, 100, 0, int64_t{1} << 40);
  PowerSampler s(Opts(pc.root(), 10));
  s.JobStarted(1, 3, {}, 0);
  s.JobStarted(2, 5, {}, 0);
  for (int t = 1; t <= 4; ++t) {
    pc.SetTime(t);
    s.SampleAt(t);
  }
  JobEnergy a = s.JobEnded(1, 4);
  for (int t = 5; t <= 6; ++t) {
    pc.SetTime(t);
    s.SampleAt(t);
  }
  JobEnergy b = s.JobEnded(2, 6);
  EXPECT_NEAR(a.joules, 100 * 0.3 * 4, 1e-6);
  EXPECT_NEAR(b.joules, 100 * 0.5 * 6, 1e-6);
}

TEST(PowerSamplerTest, UnreadableOrMissingRaplIsInactiveAndSaysWhy) {
  PowerSampler none(Opts("/nonexistent/powercap", 4));
  EXPECT_FALSE(none.active());
  EXPECT_NE(none.description().find("/nonexistent/powercap does not exist"), std::string::npos) << none.description();
  none.JobStarted(1, 4, {}, 0);
  EXPECT_EQ(none.JobEnded(1, 10).source, "");

  FakePowercap pc;
  pc.AddZone(0, 10, 0, 1000);
  fs::remove(pc.root() + "/intel-rapl:0/energy_uj");
  std::string why;
  EXPECT_TRUE(FindRaplZones(pc.root(), &why).empty());
  EXPECT_NE(why.find("intel-rapl:0/energy_uj"), std::string::npos) << why;
}

TEST(PowerSamplerTest, ParsesNvidiaSmiPower) {
  auto w = ParseNvidiaSmiPower("0, 250.35\n1, [N/A]\n2, 71.00\n");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->size(), 2u);
  EXPECT_DOUBLE_EQ(w->at(0), 250.35);
  EXPECT_DOUBLE_EQ(w->at(2), 71.0);
  auto bad = ParseNvidiaSmiPower("0, 10\nGPU 1 power\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status().message();
}

// A stand-in for nvidia-smi: a script that prints what a file holds, so the test sets each device's power.
class FakeNvidiaSmi {
 public:
  FakeNvidiaSmi() : dir_(TempDir()) {
    Write(dir_ + "/power.csv", "0, 300\n1, 100");
    Write(dir_ + "/nvidia-smi", "#!/bin/sh\ncat " + dir_ + "/power.csv");
    ::chmod((dir_ + "/nvidia-smi").c_str(), 0755);
  }
  ~FakeNvidiaSmi() { fs::remove_all(dir_); }
  void Set(const std::string& csv) { Write(dir_ + "/power.csv", csv); }
  std::string command() const { return dir_ + "/nvidia-smi"; }

 private:
  std::string dir_;
};

TEST(PowerSamplerTest, BoardPowerOfTheJobsDevicesByTrapezoid) {
  FakeNvidiaSmi smi;
  FakePowercap pc;
  pc.AddZone(0, 80, 0, int64_t{1} << 40);
  SamplerOptions o = Opts(pc.root(), 8);
  o.nvidia_smi = smi.command();
  PowerSampler s(o);
  EXPECT_EQ(s.description(), "rapl (1 zone(s)); nvidia-smi (2 device(s))");
  s.JobStarted(3, 2, {1}, 0);  // device 1 only, 2 of 8 CPUs
  pc.SetTime(2);
  s.SampleAt(2);  // device 1 at 100 W for [0, 2]
  smi.Set("0, 300\n1, 200");
  pc.SetTime(4);
  JobEnergy e = s.JobEnded(3, 4);  // 100 -> 200 W over [2, 4]: 300 J
  EXPECT_EQ(e.source, "rapl+nvidia-smi");
  EXPECT_NEAR(e.joules, 200 + 300 + 80 * 0.25 * 4, 1e-6);
}

// The machine's own RAPL, where it is readable: a CPU-bound second must show up as energy at a
// power no package draws outside [0.5 W, 2 kW].
TEST(PowerSamplerTest, RealRaplMeasuresACpuBoundLoad) {
  std::string why;
  if (FindRaplZones("/sys/class/powercap", &why).empty()) GTEST_SKIP() << "no readable RAPL here: " << why;
  PowerSampler s(Opts("/sys/class/powercap", 1));  // the whole machine as the job's share
  auto now = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
  const double t0 = now();
  s.JobStarted(1, 1, {}, t0);
  volatile double x = 0;
  while (now() - t0 < 1.0) x = x + std::sqrt(x + 1.0);
  const double t1 = now();
  JobEnergy e = s.JobEnded(1, t1);
  EXPECT_EQ(e.source, "rapl");
  const double watts = e.joules / (t1 - t0);
  EXPECT_GT(watts, 0.5);
  EXPECT_LT(watts, 2000);
}

}  // namespace
}  // namespace cnet::backends::local
