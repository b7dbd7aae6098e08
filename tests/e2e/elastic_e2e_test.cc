// Elastic jobs through the real `cnet serve` (issue 10): elastic-hetero on the local site resizes
// a running job by the checkpoint/restart contract of docs/elastic.md. Real processes: the first
// attempt's workers get SIGTERM and write their checkpoint line; the next attempt starts with the
// new CNET_WORLD_SIZE. (CPU workers: the rates of the "train" job type are given per CPU count.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "testing/cli_server.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using cnet::testing::CmdResult;

class ElasticE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    matrix_ = fs::temp_directory_path() / ("cnet-elastic-matrix-" + std::to_string(getpid()) + ".csv");
    std::ofstream m(matrix_);
    m << "job_type,accelerator,workers,steps_per_second\n";
    for (const char* cpu : {"x86-cpu", "arm-cpu"})
      m << "train," << cpu << ",1,10\ntrain," << cpu << ",2,19\ntrain," << cpu << ",4,36\n";
    m.close();
    ASSERT_EQ(srv_.Start("cnet-elastic", "cycle_interval_s: 0.02\npolicy: elastic-hetero\nround_s: 2\nrestore_s: 0\n"
                                         "throughputs: " + matrix_.string() + "\nsites:\n  - {name: local, type: local, cpus: 4}\n"),
              "");
    token_ = srv_.AddTenant("el");
    ASSERT_NE(token_, "");
  }
  void TearDown() override { fs::remove(matrix_); }

  CmdResult T(const std::string& args) { return srv_.Cnet(args, token_); }
  std::string Spec(const std::string& name, const std::string& body) {
    const std::string p = (fs::path(srv_.dir()) / (name + ".yaml")).string();
    std::ofstream(p) << body;
    return p;
  }
  int64_t Submit(const std::string& spec) {
    CmdResult r = T("submit " + spec);
    EXPECT_EQ(r.rc, 0) << r.err;
    const size_t at = r.out.find("job ");
    return at == std::string::npos ? -1 : std::atoll(r.out.c_str() + at + 4);
  }
  json Show(int64_t id) {
    CmdResult r = T("show --json " + std::to_string(id));
    return r.rc == 0 ? json::parse(r.out, nullptr, false) : json();
  }
  // Polls (30 s at most) until `pred` holds for the job's JSON; returns the last JSON seen.
  template <class P>
  json WaitFor(int64_t id, P pred) {
    json j;
    for (int i = 0; i < 300; ++i) {
      j = Show(id);
      if (j.is_object() && pred(j)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return j;
  }

  cnet::testing::CliServer srv_;
  std::string token_;
  fs::path matrix_;
};

TEST_F(ElasticE2e, AResizeCheckpointsTheRunAndRestartsItWithTheNewWorldSize) {
  // Each worker says its world size, then sleeps; on SIGTERM it "checkpoints" (a line) and exits.
  const std::string worker =
      "trap 'echo checkpoint at world $CNET_WORLD_SIZE; exit 143' TERM; echo world $CNET_WORLD_SIZE; sleep 60 & wait";
  const int64_t a = Submit(Spec("a", "name: a\ncommand: " + json(worker).dump() +
                                         "\nworkers: 2\nmin_workers: 1\nmax_workers: 4\ncpus_per_worker: 1\n"
                                         "accelerators_per_worker: 0\njob_type: train\n"));
  ASSERT_GT(a, 0);
  json ja = WaitFor(a, [](const json& j) { return j.value("state", "") == "RUNNING"; });
  ASSERT_EQ(ja.value("state", ""), "RUNNING") << ja.dump();
  for (int i = 0; i < 100 && T("logs --no-rank-prefix " + std::to_string(a)).out.size() < 4 * 8; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Alone, it grew to its maximum.
  EXPECT_EQ(T("logs --no-rank-prefix " + std::to_string(a)).out, "world 4\nworld 4\nworld 4\nworld 4\n");

  const int64_t b = Submit(Spec("b", "name: b\ncommand: 'sleep 60'\nworkers: 2\ncpus_per_worker: 1\n"
                                     "accelerators_per_worker: 0\njob_type: train\n"));
  ASSERT_GT(b, 0);
  ja = WaitFor(a, [](const json& j) { return j.value("state", "") == "RUNNING" && j.value("attempts", 0) == 2; });
  ASSERT_EQ(ja.value("attempts", 0), 2) << ja.dump();
  EXPECT_EQ(WaitFor(b, [](const json& j) { return j.value("state", "") == "RUNNING"; }).value("state", ""), "RUNNING");

  CmdResult first = T("logs --no-rank-prefix --attempt 1 " + std::to_string(a));
  EXPECT_EQ(first.rc, 0) << first.err;
  size_t checkpoints = 0;
  for (size_t p = first.out.find("checkpoint at world 4"); p != std::string::npos; p = first.out.find("checkpoint at world 4", p + 1))
    ++checkpoints;
  EXPECT_EQ(checkpoints, 4u) << first.out;  // every worker of the old gang was stopped by SIGTERM
  std::string second;
  for (int i = 0; i < 100 && second.size() < 2 * 8; ++i) {
    second = T("logs --no-rank-prefix " + std::to_string(a)).out;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(second, "world 2\nworld 2\n");
  CmdResult events = T("show " + std::to_string(a));
  EXPECT_NE(events.out.find("resizing from 4 to 2 (checkpoint/restart)"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("PREEMPTED"), std::string::npos) << events.out;
  EXPECT_EQ(T("cancel " + std::to_string(a)).rc, 0);
  EXPECT_EQ(T("cancel " + std::to_string(b)).rc, 0);
}

}  // namespace
