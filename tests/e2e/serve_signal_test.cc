// Graceful stop of the real `cnet serve` process: SIGTERM (and SIGINT) stop the HTTP server and
// the scheduling loop and exit 0 within seconds; running jobs keep running, and a restart on the
// same data directory re-adopts them (state RUNNING), after which they can be cancelled.
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
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

// The wait(2) status of `pid` if it ends within `secs`, else nullopt (the process is left alone).
std::optional<int> WaitExit(pid_t pid, double secs) {
  auto end = Clock::now() + std::chrono::duration<double>(secs);
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    if (Clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Alive and not a zombie.
bool ProcessAlive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

class ServeSignalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cnet-signal-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    port_ = FreePort();
    cfg_ = (dir_ / "cnet.yaml").string();
    out_ = (dir_ / "server.out").string();
    std::ofstream f(cfg_);
    f << "addr: 127.0.0.1:" << port_ << "\ndata: " << (dir_ / "data").string() << "\npolicy: backfill\n"
      << "cycle_interval_s: 0.05\nsites:\n  - {name: local, type: local, cpus: 4}\n";
  }
  void TearDown() override {
    if (server_ > 0 && kill(server_, SIGKILL) == 0) waitpid(server_, nullptr, 0);
    if (job_pid_ > 0) kill(job_pid_, SIGKILL);
    fs::remove_all(dir_);
  }

  // Starts the server (with --init the first time) and returns the admin token when init.
  std::string Start(bool init) {
    server_ = StartServer(cfg_, out_, init);
    EXPECT_TRUE(WaitHealthy(port_, 20)) << Slurp(out_);
    if (!init) return "";
    std::string text = Slurp(out_);
    size_t at = text.find("admin token");
    at = at == std::string::npos ? at : text.find("cnet_", at);
    EXPECT_NE(at, std::string::npos) << text;
    return at == std::string::npos ? "" : text.substr(at, text.find_first_of(" \n", at) - at);
  }

  // Sends `sig` to the server and expects exit status 0 within a few seconds.
  void StopWith(int sig) {
    ASSERT_EQ(kill(server_, sig), 0);
    std::optional<int> st = WaitExit(server_, 10);
    ASSERT_TRUE(st.has_value()) << "cnet serve still running 10 s after signal " << sig << "; log:\n" << Slurp(out_);
    server_ = -1;
    EXPECT_TRUE(WIFEXITED(*st)) << "cnet serve did not exit but was killed by signal "
                                << (WIFSIGNALED(*st) ? WTERMSIG(*st) : 0) << "; log:\n" << Slurp(out_);
    EXPECT_EQ(WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, 0) << Slurp(out_);
  }

  json WaitState(httplib::Client& c, const httplib::Headers& h, int64_t id, const std::string& want, double secs) {
    auto end = Clock::now() + std::chrono::duration<double>(secs);
    json j;
    while (Clock::now() < end) {
      auto r = c.Get("/v1/jobs/" + std::to_string(id), h);
      if (r && r->status == 200) {
        j = json::parse(r->body);
        if (j["state"] == want) return j;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return j;
  }

  fs::path dir_;
  int port_ = 0;
  std::string cfg_, out_;
  pid_t server_ = -1, job_pid_ = -1;
};

TEST_F(ServeSignalTest, SigtermExitsZeroLeavesJobsRunningAndRestartReadoptsThem) {
  std::string admin = Start(true);
  ASSERT_FALSE(admin.empty());
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(10, 0);
  httplib::Headers ah{{"Authorization", "Bearer " + admin}};
  ASSERT_EQ(c.Put("/v1/tenants", ah, R"({"name": "t"})", "application/json")->status, 200);
  auto tr = c.Post("/v1/tokens", ah, R"({"tenant": "t"})", "application/json");
  ASSERT_EQ(tr->status, 201);
  httplib::Headers h{{"Authorization", "Bearer " + json::parse(tr->body)["token"].get<std::string>()}};

  const std::string pidfile = (dir_ / "job.pid").string();
  // The job runs as the tenant's account: it may write this file, nothing else of the test's.
  std::ofstream(pidfile).close();
  fs::permissions(pidfile, static_cast<fs::perms>(0666));
  json job{{"name", "long"},
           {"command", {"sh", "-c", "echo $$ > " + pidfile + "; exec sleep 30"}},
           {"accelerators_per_worker", 0}, {"cpus_per_worker", 1}};
  auto sr = c.Post("/v1/jobs", h, job.dump(), "application/json");
  ASSERT_TRUE(sr && sr->status == 201) << (sr ? sr->body : "no response");
  int64_t id = json::parse(sr->body)["id"];
  ASSERT_EQ(WaitState(c, h, id, "RUNNING", 15)["state"], "RUNNING");
  auto end = Clock::now() + std::chrono::seconds(5);
  while (Slurp(pidfile).empty() && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  job_pid_ = std::atoi(Slurp(pidfile).c_str());
  ASSERT_GT(job_pid_, 0);

  StopWith(SIGTERM);
  if (HasFatalFailure()) return;
  EXPECT_NE(Slurp(out_).find("received"), std::string::npos) << "no log line for the signal:\n" << Slurp(out_);
  EXPECT_TRUE(ProcessAlive(job_pid_)) << "the job's process must outlive the server";

  // Restart on the same data directory: the job is re-adopted, still running.
  Start(false);
  ASSERT_EQ(WaitState(c, h, id, "RUNNING", 5)["state"], "RUNNING");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a few ticks: adoption has run
  auto jr = c.Get("/v1/jobs/" + std::to_string(id), h);
  ASSERT_TRUE(jr && jr->status == 200);
  EXPECT_EQ(json::parse(jr->body)["state"], "RUNNING") << jr->body << "\n" << Slurp(out_);
  EXPECT_TRUE(ProcessAlive(job_pid_));

  // Cancel reaches the re-adopted job's process.
  auto cr = c.Post("/v1/jobs/" + std::to_string(id) + "/cancel", h, "", "application/json");
  ASSERT_TRUE(cr);
  EXPECT_EQ(cr->status, 202) << cr->body;
  EXPECT_EQ(WaitState(c, h, id, "CANCELLED", 15)["state"], "CANCELLED");
  end = Clock::now() + std::chrono::seconds(10);
  while (ProcessAlive(job_pid_) && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(ProcessAlive(job_pid_)) << "cancelled job still running";
  job_pid_ = -1;

  // This server re-adopted a job at start-up, which starts threads before the old code blocked
  // the signals: there SIGTERM killed the process outright (WIFSIGNALED, status 15).
  StopWith(SIGTERM);
}

TEST_F(ServeSignalTest, SigintDuringStartupStillStopsIt) {
  // A signal that arrives once signals are blocked ("starting" is logged after that) but before
  // the server listens is not lost: HttpServer::Stop before Run would do nothing.
  server_ = StartServer(cfg_, out_, true);
  auto end = Clock::now() + std::chrono::seconds(20);
  while (Slurp(out_).find("starting") == std::string::npos && Clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_NE(Slurp(out_).find("starting"), std::string::npos) << Slurp(out_);
  StopWith(SIGINT);  // Ctrl-C stops it the same way
}

}  // namespace
