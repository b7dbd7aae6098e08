// The local site's measured energy: a run's kEnded event carries the joules its CPU share drew
// from a powercap tree whose counter follows a known, constant load.
#include <gtest/gtest.h>
#include <chrono>
#include <filesystem>
#include <thread>

#include "backends/local/local_backend.h"
#include "common/clock.h"
#include "common/strings.h"
#include "testing/live_powercap.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

using cnet::testing::LivePowercap;
double Wall() { return LivePowercap::Wall(); }

TEST(LocalEnergyTest, EndedEventCarriesTheRunsShareOfMeasuredEnergy) {
  LivePowercap rapl(40);
  const std::string dir = ::testing::TempDir() + "/local-energy";
  fs::remove_all(dir);
  fs::create_directories(dir);
  LocalOptions o;
  o.data_dir = dir;
  o.cpus = 4;
  o.powercap_root = rapl.root();
  o.power_sample_s = 0.2;
  LocalBackend b("local", o, LocalInventory{});
  EXPECT_EQ(b.PowerSources(), "rapl (1 zone(s))");
  LaunchRequest r;
  r.job_id = 1;
  r.tenant = "t";
  r.unix_user = "cnet-test-local";
  r.argv = {"sh", "-c", "sleep 1"};
  r.nodes = {{"cpu", 1}};
  r.cpus_per_worker = 2;  // half the machine: 20 W of the 40
  const double launched = Wall();
  ASSERT_TRUE(b.Launch(r).ok());
  SiteEvent ended;
  double seen = 0;
  for (int i = 0; i < 400 && ended.job_id == 0; ++i) {
    for (SiteEvent& e : b.Poll(SystemClock().Now()))
      if (e.kind == SiteEvent::kEnded) ended = e;
    seen = Wall();
    if (ended.job_id == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(ended.job_id, 1);
  ASSERT_EQ(ended.fields.count(kEnergySourceField), 1u);
  EXPECT_EQ(ended.fields[kEnergySourceField], "rapl");
  std::optional<double> joules = ParseDouble(ended.fields[kEnergyJoulesField]);
  ASSERT_TRUE(joules);
  // Measured from Launch to the Poll that saw the end: 20 W over that span, give or take the
  // counter's 10 ms steps (0.4 J each end).
  EXPECT_GE(*joules, 20 * 1.0 - 1);
  EXPECT_LE(*joules, 20 * (seen - launched) + 1);
  fs::remove_all(dir);
  fs::remove_all(dir + "-runs");
}

TEST(LocalEnergyTest, NothingReadableMeansNoEnergyFields) {
  const std::string dir = ::testing::TempDir() + "/local-energy-none";
  fs::remove_all(dir);
  fs::create_directories(dir);
  LocalOptions o;
  o.data_dir = dir;
  o.cpus = 2;
  o.powercap_root = dir + "/no-powercap";
  LocalBackend b("local", o, LocalInventory{});
  EXPECT_NE(b.PowerSources().find("no RAPL"), std::string::npos) << b.PowerSources();
  LaunchRequest r;
  r.job_id = 2;
  r.tenant = "t";
  r.unix_user = "cnet-test-local";
  r.argv = {"true"};
  r.nodes = {{"cpu", 1}};
  ASSERT_TRUE(b.Launch(r).ok());
  SiteEvent ended;
  for (int i = 0; i < 400 && ended.job_id == 0; ++i) {
    for (SiteEvent& e : b.Poll(SystemClock().Now()))
      if (e.kind == SiteEvent::kEnded) ended = e;
    if (ended.job_id == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(ended.job_id, 2);
  EXPECT_EQ(ended.fields.count(kEnergyJoulesField), 0u);
  fs::remove_all(dir);
  fs::remove_all(dir + "-runs");
}

}  // namespace
}  // namespace cnet::backends::local
