// Job arrays, dependencies and hold/release/requeue through the real CLI and `cnet serve` on the
// local site (real processes): the task index in the environment, the compact `cnet ls`, cancel of
// one task, a failed dependency ending `submit --wait` with 125, and the hold/requeue refusals as
// exit codes (issue 11).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "testing/cli_server.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using cnet::testing::CmdResult;
using cnet::testing::Slurp;



class CliArrays : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    srv_ = new cnet::testing::CliServer;
    ASSERT_EQ(srv_->Start("cnet-cli-arrays", "cycle_interval_s: 0.02\nmax_array_size: 50\nsites:\n  - {name: local, type: local, cpus: 4}\n"), "");
    dir_ = new fs::path(srv_->dir());
    port_ = srv_->port();
    token_ = new std::string(srv_->AddTenant("arr"));
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
  static CmdResult T(const std::string& args) { return Cnet(args, *token_); }
  static std::string Job(const std::string& name, const std::string& command) {
    const std::string p = (*dir_ / (name + ".yaml")).string();
    std::ofstream(p) << "name: " << name << "\ncommand: " << json(command).dump() << "\ncpus_per_worker: 1\naccelerators_per_worker: 0\n";
    return p;
  }
  static int64_t IdOf(const std::string& text) {
    const size_t at = text.find("job ");
    return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + 4);
  }
  static json Show(int64_t id) {
    CmdResult r = T("show --json " + std::to_string(id));
    return r.rc == 0 ? json::parse(r.out, nullptr, false) : json();
  }
  // Polls until the job is in `state` (30 s at most); returns the last state seen.
  static std::string WaitState(int64_t id, const std::string& state) {
    std::string now;
    for (int i = 0; i < 300; ++i) {
      json j = Show(id);
      now = j.is_object() ? j.value("state", "") : "";
      if (now == state) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return now;
  }

  static fs::path* dir_;
  static int port_;
  static cnet::testing::CliServer* srv_;
  static std::string* token_;
};

fs::path* CliArrays::dir_ = nullptr;
int CliArrays::port_ = 0;
cnet::testing::CliServer* CliArrays::srv_ = nullptr;
std::string* CliArrays::token_ = nullptr;

TEST_F(CliArrays, ArrayTasksSeeTheirIndexAndListCompactly) {
  CmdResult s = T("submit --array 0-5%2 " + Job("arr", "echo task $CNET_ARRAY_TASK_ID of $CNET_ARRAY_JOB_ID"));
  ASSERT_EQ(s.rc, 0) << s.err;
  const int64_t id = IdOf(s.out);
  ASSERT_GT(id, 0) << s.out;
  CmdResult ls = T("ls --all");
  EXPECT_NE(ls.out.find(std::to_string(id) + "_[0-5%2]"), std::string::npos) << ls.out;
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(WaitState(id + i, "SUCCEEDED"), "SUCCEEDED") << i;
    CmdResult log = T("logs " + std::to_string(id + i));
    EXPECT_EQ(log.out, "task " + std::to_string(i) + " of " + std::to_string(id) + "\n");
  }
  CmdResult tasks = T("ls --all --tasks -p --noheader -o id,state");
  EXPECT_NE(tasks.out.find(std::to_string(id + 5) + "|SUCCEEDED"), std::string::npos) << tasks.out;
  // Beyond max_array_size (50 here): refused as bad input, naming the field.
  CmdResult big = T("submit --array 0-50 " + Job("big", "true"));
  EXPECT_EQ(big.rc, 2) << big.err;
  EXPECT_NE(big.err.find("array: more than 50 tasks"), std::string::npos) << big.err;
  CmdResult typo = T("submit --array 5-1 " + Job("typo", "true"));
  EXPECT_EQ(typo.rc, 2);
  EXPECT_NE(typo.err.find("--array"), std::string::npos) << typo.err;
}

TEST_F(CliArrays, CancelOfOneTaskAndOfTheWholeArray) {
  CmdResult s = T("submit --array 0-3 " + Job("long", "sleep 60"));
  ASSERT_EQ(s.rc, 0) << s.err;
  const int64_t id = IdOf(s.out);
  CmdResult one = T("cancel " + std::to_string(id) + "_0");  // the first task alone
  EXPECT_EQ(one.rc, 0) << one.err;
  EXPECT_EQ(WaitState(id, "CANCELLED"), "CANCELLED");
  EXPECT_NE(Show(id + 1).value("state", ""), "CANCELLED");
  EXPECT_EQ(T("cancel " + std::to_string(id) + "_9").rc, 2);  // no such task
  CmdResult all = T("cancel " + std::to_string(id));
  EXPECT_EQ(all.rc, 0) << all.err;
  EXPECT_NE(all.out.find("task(s) cancelled"), std::string::npos) << all.out;
  for (int i = 1; i < 4; ++i) EXPECT_EQ(WaitState(id + i, "CANCELLED"), "CANCELLED") << i;
}

TEST_F(CliArrays, AFailedDependencyEndsTheChainAndWaitExits125) {
  CmdResult a = T("submit " + Job("first", "sleep 1; exit 1"));
  ASSERT_EQ(a.rc, 0);
  const std::string ida = std::to_string(IdOf(a.out));
  CmdResult b = T("submit --dependency afterok:" + ida + " " + Job("second", "true"));
  ASSERT_EQ(b.rc, 0) << b.err;
  const int64_t idb = IdOf(b.out);
  CmdResult c = T("submit --wait --dependency afterok:" + std::to_string(idb) + " " + Job("third", "true"));
  EXPECT_EQ(c.rc, 125) << c.err;
  EXPECT_NE(c.err.find("DependencyNeverSatisfied: afterok:" + std::to_string(idb)), std::string::npos) << c.err;
  EXPECT_EQ(Show(idb).value("reason", "").rfind("DependencyNeverSatisfied: afterok:" + ida + ": job " + ida + " ended FAILED", 0), 0u)
      << Show(idb).dump();
  CmdResult unknown = T("submit --dependency afterok:99999 " + Job("orphan", "true"));
  EXPECT_EQ(unknown.rc, 2);
  EXPECT_NE(unknown.err.find("dependency: job 99999 not found"), std::string::npos) << unknown.err;
}

TEST_F(CliArrays, HoldReleaseRequeue) {
  CmdResult p = T("submit " + Job("blocker", "sleep 60"));
  const int64_t idp = IdOf(p.out);
  ASSERT_EQ(WaitState(idp, "RUNNING"), "RUNNING");
  CmdResult q = T("submit --dependency afterany:" + std::to_string(idp) + " " + Job("after", "echo done"));
  const std::string idq = std::to_string(IdOf(q.out));
  CmdResult h = T("hold " + idq);
  EXPECT_EQ(h.rc, 0) << h.err;
  EXPECT_EQ(Show(std::stoll(idq)).value("held_by", ""), "user arr");
  EXPECT_EQ(T("hold " + idq).rc, 1);                     // already held: 409
  EXPECT_EQ(T("hold " + std::to_string(idp)).rc, 1);     // running: 409
  EXPECT_EQ(T("release 99999").rc, 2);                   // unknown: 404
  CmdResult rq = T("requeue " + std::to_string(idp));    // running: stopped, then PENDING, then a second attempt
  EXPECT_EQ(rq.rc, 0) << rq.err;
  for (int i = 0; i < 300 && Show(idp).value("attempts", 0) < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Show(idp).value("attempts", 0), 2);
  EXPECT_EQ(T("cancel " + std::to_string(idp)).rc, 0);
  EXPECT_EQ(WaitState(idp, "CANCELLED"), "CANCELLED");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json held = Show(std::stoll(idq));
  EXPECT_EQ(held.value("state", ""), "PENDING");  // its dependency is met, its hold is not
  EXPECT_EQ(held.value("reason", "").rfind("held by user arr", 0), 0u) << held.dump();
  EXPECT_EQ(T("release " + idq).rc, 0);
  EXPECT_EQ(WaitState(std::stoll(idq), "SUCCEEDED"), "SUCCEEDED");
  EXPECT_EQ(T("release " + idq).rc, 1);  // not held (ended)
  EXPECT_EQ(T("requeue " + idq).rc, 0);  // an ended job runs again: a second attempt
  for (int i = 0; i < 300 && Show(std::stoll(idq)).value("attempts", 0) < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(WaitState(std::stoll(idq), "SUCCEEDED"), "SUCCEEDED");
  EXPECT_EQ(Show(std::stoll(idq)).value("attempts", 0), 2);
}

}  // namespace
