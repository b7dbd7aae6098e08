// End to end through `cnet serve` (as root, the embedded local site): one tenant's job attacks
// another tenant's job and the service, the way a job could before jobs ran as their tenant's
// own account: it reads the database, the other tenant's logs, run dir and environment, swaps its
// stdout.log for a link to /etc/shadow, and kills the service and the other job. None of it works
// now; what the API serves of its log is its own output.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "testing/serve_process.h"

namespace {

namespace fs = std::filesystem;
using cnet::testing::FreePort;
using cnet::testing::StartServer;
using cnet::testing::WaitHealthy;
using nlohmann::json;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Api {
 public:
  Api(int port, std::string token) : c_("127.0.0.1", port), token_(std::move(token)) { c_.set_read_timeout(30, 0); }
  httplib::Result Put(const std::string& path, const json& body) {
    return c_.Put(path, Headers(), body.dump(), "application/json");
  }
  httplib::Result Post(const std::string& path, const json& body) {
    return c_.Post(path, Headers(), body.dump(), "application/json");
  }
  httplib::Result Get(const std::string& path) { return c_.Get(path, Headers()); }
  httplib::Result Delete(const std::string& path) { return c_.Delete(path, Headers()); }
  // The job's state once it is one of `states` (bounded wait).
  std::string WaitState(int64_t id, const std::set<std::string>& states) {
    std::string state;
    for (int i = 0; i < 600; ++i) {
      auto r = Get("/v1/jobs/" + std::to_string(id));
      if (r && r->status == 200) state = json::parse(r->body)["state"];
      if (states.count(state)) return state;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return state;
  }

 private:
  httplib::Headers Headers() const { return {{"Authorization", "Bearer " + token_}}; }
  httplib::Client c_;
  std::string token_;
};

TEST(JobIsolationE2E, ATenantsJobCannotReadOrKillAnotherTenantsJobOrTheService) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (jobs run as their tenants' accounts)";
  std::signal(SIGPIPE, SIG_IGN);
  const fs::path dir = fs::temp_directory_path() / ("cnet-iso-e2e-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int port = FreePort();
  const std::string out = (dir / "server.out").string(), cfg = (dir / "cnet.yaml").string(), data = (dir / "data").string();
  std::ofstream(cfg) << "addr: 127.0.0.1:" << port << "\ndata: " << data << "\ncycle_interval_s: 0.02\n"
                     << "sites:\n  - {name: local, type: local, cpus: 8}\n";
  pid_t server = StartServer(cfg, out, true);
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
  Api admin(port, text.substr(at, text.find_first_of(" \n", at) - at));

  // An account that is root's is refused; the default is cnet-<tenant>.
  auto root = admin.Put("/v1/tenants", {{"name", "evil"}, {"unix_user", "root"}});
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 400) << root->body;
  EXPECT_NE(root->body.find("unix_user"), std::string::npos);
  std::map<std::string, std::unique_ptr<Api>> as;
  for (const std::string t : {"isoalice", "isobob"}) {
    auto r = admin.Put("/v1/tenants", {{"name", t}});
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(json::parse(r->body)["unix_user"], "cnet-" + t);
    auto tok = admin.Post("/v1/tokens", {{"tenant", t}});
    ASSERT_EQ(tok->status, 201);
    as[t] = std::make_unique<Api>(port, json::parse(tok->body)["token"].get<std::string>());
  }

  auto a = as["isoalice"]->Post("/v1/jobs", {{"name", "victim"},
                                             {"command", {"sh", "-c", "echo LOG-SECRET; echo FILE-SECRET > notes; sleep 120"}},
                                             {"env", {{"SECRET", "ENV-SECRET"}}},
                                             {"accelerators_per_worker", 0}, {"cpus_per_worker", 1}});
  ASSERT_EQ(a->status, 201) << a->body;
  const int64_t victim = json::parse(a->body)["id"];
  ASSERT_EQ(as["isoalice"]->WaitState(victim, {"RUNNING"}), "RUNNING");
  const std::string v = std::to_string(victim);
  const std::string attack =
      "id -un; sleep 1; "
      "cat " + data + "/cnet.db ../../../cnet.db " + data + "/runs/" + v + "/1/stdout.log ../../" + v + "/1/stdout.log " +
      data + "-runs/" + v + "-1/notes; "
      "for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null | tr '\\000' '\\n' | grep SECRET; done; "
      "kill -9 " + std::to_string(server) + "; "
      "for p in /proc/[0-9]*; do tr '\\000' ' ' < $p/cmdline 2>/dev/null | grep -q 'slee[p] 120' && kill -9 ${p#/proc/}; done; "
      "echo attack-done; ln -sf /etc/shadow stdout.log; ln -sf /etc/shadow ../../../runs/$CNET_JOB_ID/1/stdout.log; true";
  auto b = as["isobob"]->Post("/v1/jobs", {{"name", "attacker"}, {"command", {"sh", "-c", attack}},
                                           {"accelerators_per_worker", 0}, {"cpus_per_worker", 1}});
  ASSERT_EQ(b->status, 201) << b->body;
  const int64_t attacker = json::parse(b->body)["id"];
  EXPECT_EQ(as["isobob"]->WaitState(attacker, {"SUCCEEDED", "FAILED"}), "SUCCEEDED");

  ASSERT_EQ(kill(server, 0), 0) << "the service was killed";
  auto logs = as["isobob"]->Get("/v1/jobs/" + std::to_string(attacker) + "/logs");
  ASSERT_TRUE(logs);
  ASSERT_EQ(logs->status, 200);
  EXPECT_EQ(logs->body, "cnet-isobob\nattack-done\n");
  for (const char* secret : {"LOG-SECRET", "FILE-SECRET", "ENV-SECRET", "SQLite", "root:"})
    EXPECT_EQ(logs->body.find(secret), std::string::npos) << secret;
  // Alice's job still runs; alice (not bob) cancels it.
  EXPECT_EQ(as["isobob"]->Delete("/v1/jobs/" + v)->status, 403);
  EXPECT_EQ(as["isoalice"]->WaitState(victim, {"RUNNING"}), "RUNNING");
  EXPECT_EQ(as["isoalice"]->Delete("/v1/jobs/" + v)->status, 202);
  EXPECT_EQ(as["isoalice"]->WaitState(victim, {"CANCELLED"}), "CANCELLED");
  fs::remove_all(dir);
}

}  // namespace
