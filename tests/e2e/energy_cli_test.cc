// Issue 13 part B end to end: a real `cnet serve` whose local site reads a powercap tree with a
// known load shows each job's measured energy in `cnet show`, `cnet acct`, `cnet usage` and
// /metrics; and an admin's power budget makes new jobs wait (not fail) until it is lifted.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "testing/cli_server.h"
#include "testing/live_powercap.h"

namespace {

namespace fs = std::filesystem;
using cnet::testing::CliServer;
using cnet::testing::CmdResult;
using nlohmann::json;

class EnergyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    rapl_ = std::make_unique<cnet::testing::LivePowercap>(40);
    ASSERT_EQ(srv_.Start("cnet-energy-cli", "cycle_interval_s: 0.02\nsites:\n  - {name: local, type: local, cpus: 4, "
                                                "power_sample_s: 0.2, powercap_root: " + rapl_->root() + "}\n"),
              "");
    token_ = srv_.AddTenant("lab");
    ASSERT_NE(token_, "");
  }
  std::string Job(const std::string& name, const std::string& command) {
    const std::string p = (srv_.dir() / (name + ".yaml")).string();
    std::ofstream(p) << "name: " << name << "\ncommand: " << json(command).dump()
                     << "\ncpus_per_worker: 2\naccelerators_per_worker: 0\n";
    return p;
  }
  // The id in "job N ..." of a submit's note.
  static std::string IdOf(const std::string& note) {
    const size_t at = note.find("job ");
    return at == std::string::npos ? "" : std::to_string(std::atoll(note.c_str() + at + 4));
  }
  std::string State(const std::string& id) {
    CmdResult r = srv_.Cnet("show --json " + id, token_);
    return r.rc == 0 ? json::parse(r.out)["state"].get<std::string>() : "?";
  }

  std::unique_ptr<cnet::testing::LivePowercap> rapl_;
  CliServer srv_;
  std::string token_;
};

TEST_F(EnergyCli, MeasuredEnergyShowsInShowAcctUsageAndMetrics) {
  CmdResult run = srv_.Cnet("submit --wait " + Job("burn", "sleep 1"), token_);
  ASSERT_EQ(run.rc, 0) << run.err;
  const std::string id = IdOf(run.err);
  ASSERT_NE(id, "") << run.err;

  CmdResult show = srv_.Cnet("show " + id, token_);
  ASSERT_EQ(show.rc, 0) << show.err;
  EXPECT_NE(show.out.find("measured by rapl"), std::string::npos) << show.out;

  CmdResult acct = srv_.Cnet("acct --json", token_);
  ASSERT_EQ(acct.rc, 0) << acct.err;
  const json row = json::parse(acct.out)["jobs"][0];
  EXPECT_EQ(row["energy_source"], "rapl") << row.dump();
  EXPECT_EQ(row["energy_estimated"], false);
  // Half the machine's CPUs of a 40 W package for at least the second it slept.
  EXPECT_GE(row["energy_j"].get<double>(), 20 * 1.0 - 1) << row.dump();
  EXPECT_LE(row["energy_j"].get<double>(), 20 * row["elapsed_s"].get<double>() + 20) << row.dump();

  CmdResult usage = srv_.Cnet("usage --since 1h --json", token_);
  ASSERT_EQ(usage.rc, 0) << usage.err;
  const json total = json::parse(usage.out)["total"];
  EXPECT_NEAR(total["energy_measured_kwh"].get<double>(), row["energy_j"].get<double>() / 3.6e6, 1e-12);
  EXPECT_EQ(total["energy_estimated_kwh"].get<double>(), 0);

  httplib::Client c("127.0.0.1", srv_.port());
  auto m = c.Get("/metrics", {{"Authorization", "Bearer " + srv_.admin()}});
  ASSERT_TRUE(m);
  ASSERT_EQ(m->status, 200);
  EXPECT_NE(m->body.find("cnet_job_energy_joules_total{site=\"local\",type=\"Xeon-8480\",tenant=\"lab\",source=\"rapl\"}"),
            std::string::npos)
      << m->body;
}

TEST_F(EnergyCli, ABudgetDropMakesNewJobsWaitAndClearingItLetsThemRun) {
  // 4 CPUs of the CPU type (90 W idle each): 0.1 kW is below the idle draw, so nothing new fits.
  CmdResult set = srv_.Cnet("admin power-budget local 0.1 --reason 'demand response'", srv_.admin());
  ASSERT_EQ(set.rc, 0) << set.err;
  EXPECT_NE(set.out.find("power budget 0.1 kW (demand response"), std::string::npos) << set.out;
  CmdResult sub = srv_.Cnet("submit " + Job("waits", "true"), token_);
  ASSERT_EQ(sub.rc, 0) << "a budget never refuses a job: " << sub.err;
  const std::string id = IdOf(sub.out);
  ASSERT_NE(id, "") << sub.out;
  std::string reason;
  for (int i = 0; i < 100 && reason.find("power budget") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CmdResult r = srv_.Cnet("show --json " + id, token_);
    if (r.rc == 0) reason = json::parse(r.out)["reason"].get<std::string>();
  }
  EXPECT_EQ(State(id), "PENDING");
  EXPECT_NE(reason.find("waiting for power: site local: power budget 0.1 kW"), std::string::npos) << reason;

  CmdResult list = srv_.Cnet("admin power", srv_.admin());
  ASSERT_EQ(list.rc, 0) << list.err;
  EXPECT_NE(list.out.find("override 0.1 kW"), std::string::npos) << list.out;
  EXPECT_NE(srv_.Cnet("admin power-budget local 1", token_).rc, 0) << "tenants may not set budgets";

  ASSERT_EQ(srv_.Cnet("admin power-budget local --clear", srv_.admin()).rc, 0);
  std::string state;
  for (int i = 0; i < 200 && state != "SUCCEEDED"; ++i) {
    state = State(id);
    if (state != "SUCCEEDED") std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(state, "SUCCEEDED");
}

}  // namespace
