// Issue 12 part B end to end: the real `cnet serve` (a local site with a price) and the real CLI:
// `cnet submit --dry-run` shows the candidates and queues nothing, `cnet explain` after a run
// marks where it went, `cnet acct` (--parsable, --format, --json) and `cnet usage --since`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "testing/cli_server.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using cnet::testing::CmdResult;
using cnet::testing::Slurp;



class DispatchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    srv_ = new cnet::testing::CliServer;
    ASSERT_EQ(srv_->Start("cnet-dispatch-cli", "cycle_interval_s: 0.02\nsites:\n  - {name: local, type: local, cpus: 4, price_per_hour_usd: 0.5}\n"), "");
    dir_ = new fs::path(srv_->dir());
    port_ = srv_->port();
    token_ = new std::string(srv_->AddTenant("lab"));
    ASSERT_NE(*token_, "");
  }
  static void TearDownTestSuite() {
    delete srv_;  // kills the server and removes its directory
    srv_ = nullptr;
  }

  // `cnet args` with the server's address and `token` in the environment (none when empty), the
  // `env` assignments given, and no user configuration (testing/cli_server.h).
  static CmdResult Cnet(const std::string& args, const std::string& token, const std::string& env = "") {
    return srv_->Cnet(args, token, env);
  }
  static CmdResult Tenant(const std::string& args) { return Cnet(args, *token_); }
  static std::string Job(const std::string& name, const std::string& command) {
    const std::string p = (*dir_ / (name + ".yaml")).string();
    std::ofstream(p) << "name: " << name << "\ncommand: " << json(command).dump()
                     << "\ncpus_per_worker: 2\naccelerators_per_worker: 0\nestimated_duration_s: 1\n";
    return p;
  }

  static fs::path* dir_;
  static int port_;
  static cnet::testing::CliServer* srv_;
  static std::string* token_;
};

fs::path* DispatchCli::dir_ = nullptr;
int DispatchCli::port_ = 0;
cnet::testing::CliServer* DispatchCli::srv_ = nullptr;
std::string* DispatchCli::token_ = nullptr;

TEST_F(DispatchCli, DryRunExplainAcctUsage) {
  CmdResult dry = Tenant("submit --dry-run " + Job("dry", "true"));
  ASSERT_EQ(dry.rc, 0) << dry.err;
  EXPECT_NE(dry.out.find("dry run (nothing submitted)  objective fastest"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("* local"), std::string::npos) << "the local CPU candidate, picked:\n" << dry.out;
  CmdResult none = Tenant("ls --all");
  EXPECT_EQ(none.out.find("dry"), std::string::npos) << "nothing queued:\n" << none.out;

  CmdResult run = Tenant("submit --wait " + Job("one", "sleep 1"));
  ASSERT_EQ(run.rc, 0) << run.err;
  const size_t at = run.err.find("job ");
  ASSERT_NE(at, std::string::npos) << run.err;
  const std::string id = std::to_string(std::atoll(run.err.c_str() + at + 4));

  CmdResult ex = Tenant("explain " + id);
  ASSERT_EQ(ex.rc, 0) << ex.err;
  EXPECT_NE(ex.out.find("job " + id + "  SUCCEEDED  objective fastest"), std::string::npos) << ex.out;
  EXPECT_NE(ex.out.find("> local"), std::string::npos) << "marks where it was dispatched:\n" << ex.out;

  CmdResult p = Tenant("acct --parsable --format id,state,site,packages");
  ASSERT_EQ(p.rc, 0) << p.err;
  EXPECT_EQ(p.out, "ID|STATE|SITE|PACKAGES|\n" + id + "|SUCCEEDED|local|2|\n");

  CmdResult j = Tenant("acct --json --state SUCCEEDED");
  ASSERT_EQ(j.rc, 0) << j.err;
  json doc = json::parse(j.out);
  ASSERT_EQ(doc["jobs"].size(), 1u) << j.out;
  const json& row = doc["jobs"][0];
  const double elapsed = row["elapsed_s"].get<double>();
  EXPECT_GE(elapsed, 1.0);
  EXPECT_NEAR(row["accel_hours"].get<double>(), 2 * elapsed / 3600, 1e-9);
  EXPECT_NEAR(row["cost_usd"].get<double>(), 0.5 * 2 * elapsed / 3600, 1e-9) << "the site's price";
  EXPECT_NEAR(row["predicted_run_s"].get<double>(), 1, 1e-9) << "its own estimate";
  EXPECT_NEAR(row["run_error"].get<double>(), (1 - elapsed) / elapsed, 1e-9);
  EXPECT_EQ(doc["run_time_error"]["jobs"], 1);

  CmdResult u = Tenant("usage --since 1h");
  ASSERT_EQ(u.rc, 0) << u.err;
  EXPECT_NE(u.out.find("lab"), std::string::npos) << u.out;
  EXPECT_NE(u.out.find("TOTAL"), std::string::npos) << u.out;

  CmdResult bad = Tenant("acct --format id,bogus");
  EXPECT_EQ(bad.rc, 2) << bad.err;
  EXPECT_NE(bad.err.find("--format: unknown column 'bogus'"), std::string::npos) << bad.err;
  CmdResult when = Tenant("acct --since yesterday");
  EXPECT_EQ(when.rc, 2) << when.err;
  EXPECT_NE(when.err.find("--since"), std::string::npos) << when.err;
}

}  // namespace
