// Crash safety of the real `cnet serve` process: a load client submits 10,000 jobs (8 keep-alive
// connections, one Idempotency-Key per job, retrying until acknowledged) while the server is killed
// with SIGKILL at a random moment and restarted. Afterwards every acknowledged submit exists exactly
// once, and every job ran exactly once (each job appends its index to a marker file).
//
// Replaying a run: the kill moment comes from a seed, printed as "[ crash    ] seed N" at the start
// (and in every failure message). CNET_CRASH_SEED=N replays that kill moment, e.g.
//   CNET_CRASH_SEED=1234 build/cnet_e2e_tests --gtest_filter='CrashSafety*'
// Without it the seed is drawn from std::random_device.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/csv.h"
#include "testing/serve_process.h"

namespace {

using cnet::testing::FreePort;
using cnet::testing::StartServer;
using cnet::testing::WaitHealthy;

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string Slurp(const std::string& path) {
  auto r = cnet::ReadWholeFile(path);
  return r.ok() ? *r : std::string();
}

TEST(CrashSafety, SigkillDuringTenThousandSubmitsLosesNothingAndRunsNothingTwice) {
  const int kJobs = 10000, kClients = 8;
  std::signal(SIGPIPE, SIG_IGN);  // the server dies under our writes
  fs::path dir = fs::temp_directory_path() / ("cnet-crash-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int port = FreePort();
  const std::string marker = (dir / "marker").string(), out = (dir / "server.out").string(), cfg = (dir / "cnet.yaml").string();
  // Jobs run as the tenant's own account (cnet-load): they may append to the marker, nothing else.
  std::ofstream(marker).close();
  fs::permissions(marker, static_cast<fs::perms>(0666));
  {
    std::ofstream f(cfg);
    f << "addr: 127.0.0.1:" << port << "\ndata: " << (dir / "data").string() << "\npolicy: backfill\ncycle_interval_s: 0.02\n"
      << "sites:\n  - {name: local, type: local, cpus: 64}\n";
  }
  pid_t server = StartServer(cfg, out, true);
  // Whatever happens below (a failed assertion returns early), no server outlives the test.
  struct Reap {
    pid_t* pid;
    ~Reap() {
      if (*pid > 0 && kill(*pid, SIGKILL) == 0) waitpid(*pid, nullptr, 0);
    }
  } reap{&server};
  ASSERT_TRUE(WaitHealthy(port, 20)) << Slurp(out);
  std::string text = Slurp(out);
  size_t at = text.find("cnet_");
  ASSERT_NE(at, std::string::npos) << text;
  std::string admin = text.substr(at, text.find_first_of(" \n", at) - at);
  httplib::Client ac("127.0.0.1", port);
  httplib::Headers ah{{"Authorization", "Bearer " + admin}};
  ASSERT_EQ(ac.Put("/v1/tenants", ah, R"({"name": "load"})", "application/json")->status, 200);
  auto tr = ac.Post("/v1/tokens", ah, R"({"tenant": "load"})", "application/json");
  ASSERT_EQ(tr->status, 201);
  const std::string token = json::parse(tr->body)["token"];

  // The killer: SIGKILL at a random moment of the submission phase, then restart.
  unsigned seed = 0;
  if (const char* env = std::getenv("CNET_CRASH_SEED"); env && *env) {
    char* end = nullptr;
    unsigned long v = std::strtoul(env, &end, 10);
    ASSERT_TRUE(*end == '\0') << "CNET_CRASH_SEED must be a decimal number, not '" << env << "'";
    seed = static_cast<unsigned>(v);
  } else {
    seed = std::random_device{}();
  }
  std::cout << "[ crash    ] seed " << seed << " (replay with CNET_CRASH_SEED=" << seed << ")" << std::endl;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937 gen(seed);
  int kill_after_ms = std::uniform_int_distribution<int>(300, 2500)(gen);
  std::atomic<int> acked{0};
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
    std::cout << "[ crash    ] SIGKILL after " << kill_after_ms << " ms, " << acked.load() << " submits acknowledged" << std::endl;
    kill(server, SIGKILL);
    waitpid(server, nullptr, 0);
    killed = true;
    server = StartServer(cfg, out, false);
  });

  std::mutex mu;
  std::map<int, int64_t> id_of;  // job index -> acknowledged id
  std::atomic<int> next{0}, retries{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&] {
      std::unique_ptr<httplib::Client> cli;
      for (int i = next++; i < kJobs; i = next++) {
        json job{{"name", "j" + std::to_string(i)},
                 {"command", {"sh", "-c", "echo " + std::to_string(i) + " >> " + marker}},
                 {"accelerators_per_worker", 0}, {"cpus_per_worker", 1}};
        std::string body = job.dump();
        auto deadline = Clock::now() + std::chrono::seconds(120);
        while (Clock::now() < deadline) {
          if (!cli) {
            cli = std::make_unique<httplib::Client>("127.0.0.1", port);
            cli->set_keep_alive(true);
            cli->set_read_timeout(10, 0);
          }
          httplib::Headers h{{"Authorization", "Bearer " + token}, {"Idempotency-Key", "k" + std::to_string(i)}};
          auto r = cli->Post("/v1/jobs", h, body, "application/json");
          if (r && (r->status == 201 || r->status == 200)) {
            std::lock_guard<std::mutex> l(mu);
            id_of[i] = json::parse(r->body)["id"];
            ++acked;
            break;
          }
          ++retries;
          cli.reset();
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
    });
  for (auto& t : clients) t.join();
  killer.join();
  ASSERT_TRUE(killed);
  ASSERT_EQ(acked.load(), kJobs) << "every submit must eventually be acknowledged; server log:\n" << Slurp(out);
  ASSERT_TRUE(WaitHealthy(port, 20)) << Slurp(out);

  // Wait until nothing is queued or running.
  httplib::Client c("127.0.0.1", port);
  httplib::Headers th{{"Authorization", "Bearer " + token}};
  auto deadline = Clock::now() + std::chrono::seconds(300);
  bool idle = false;
  while (Clock::now() < deadline && !idle) {
    idle = true;
    for (const char* st : {"PENDING", "SCHEDULED", "RUNNING"}) {
      auto r = c.Get(std::string("/v1/jobs?limit=1&state=") + st, th);
      idle = idle && r && r->status == 200 && json::parse(r->body)["jobs"].empty();
    }
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(idle) << "jobs still active after 300 s";

  // Every acknowledged job exists exactly once, under the name it was submitted with.
  std::map<std::string, int> names;
  std::map<int64_t, std::string> by_id;
  int64_t after = 0;
  int succeeded = 0;
  for (;;) {
    auto r = c.Get("/v1/jobs?limit=1000&after=" + std::to_string(after), th);
    ASSERT_TRUE(r && r->status == 200);
    json page = json::parse(r->body);
    for (const auto& j : page["jobs"]) {
      ++names[j["name"]];
      by_id[j["id"]] = j["name"];
      succeeded += j["state"] == "SUCCEEDED";
    }
    if (page["next_after"].is_null()) break;
    after = page["next_after"];
  }
  EXPECT_EQ(static_cast<int>(by_id.size()), kJobs) << "seed " << seed;
  for (const auto& [name, n] : names) EXPECT_EQ(n, 1) << name;
  for (const auto& [i, id] : id_of) EXPECT_EQ(by_id[id], "j" + std::to_string(i));
  EXPECT_EQ(succeeded, kJobs);

  // Every job ran exactly once.
  std::map<int, int> runs;
  std::ifstream m(marker);
  for (int v; m >> v;) ++runs[v];
  int twice = 0, never = 0;
  for (int i = 0; i < kJobs; ++i) {
    twice += runs[i] > 1;
    never += runs[i] == 0;
  }
  EXPECT_EQ(twice, 0) << "jobs run more than once (seed " << seed << ", kill at " << kill_after_ms << " ms)";
  EXPECT_EQ(never, 0);
  RecordProperty("kill_after_ms", kill_after_ms);
  RecordProperty("client_retries", retries.load());
  std::cout << "[ crash    ] killed at " << kill_after_ms << " ms, " << retries.load() << " client retries, "
            << succeeded << " jobs succeeded\n";

  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  server = -1;
  fs::remove_all(dir);
}

}  // namespace
