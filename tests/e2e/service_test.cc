// The dispatch service end to end: a real HTTP server on loopback, a real SQLite file, real child
// processes. Each test gets a fresh data directory.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/http_server.h"
#include "api/json_views.h"
#include "common/csv.h"
#include "testing/test_util.h"

namespace cnet::service {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class TestServer {
 public:
  explicit TestServer(const std::string& dir, ServiceConfig cfg = DefaultConfig()) {
    cfg.data_dir = dir;
    cfg.cycle_interval_s = 0.02;
    ServiceDeps deps;
    deps.clock = &clock_;
    auto s = Service::Create(cfg, deps, testing::DataPath("accelerators.yaml"), "");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(s).value();
    auto tok = svc_->InitAdminToken();
    EXPECT_TRUE(tok.ok());
    admin_ = *tok;
    http_ = std::make_unique<api::HttpServer>(*svc_);
    EXPECT_TRUE(http_->Bind("127.0.0.1", 0).ok());
    svc_->Start();
    thread_ = std::thread([this] { http_->Run(); });
    for (int i = 0; i < 200 && !Get("/healthz", "").status; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~TestServer() {
    http_->Stop();
    thread_.join();
    svc_->Stop();
  }
  struct Resp {
    int status = 0;
    json body;
    std::string raw;
    httplib::Headers headers;
  };
  Resp Do(const std::string& method, const std::string& path, const std::string& token, const std::string& body = "",
          const std::string& ctype = "application/json", httplib::Headers h = {}) {
    httplib::Client c("127.0.0.1", http_->port());
    c.set_read_timeout(20, 0);
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    auto r = method == "GET" ? c.Get(path, h) : method == "PUT" ? c.Put(path, h, body, ctype) : method == "DELETE" ? c.Delete(path, h) : c.Post(path, h, body, ctype);
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false), r->body, r->headers};
  }
  Resp Get(const std::string& p, const std::string& t) { return Do("GET", p, t); }
  Resp Post(const std::string& p, const std::string& t, const std::string& b, const std::string& ct = "application/json", httplib::Headers h = {}) {
    return Do("POST", p, t, b, ct, std::move(h));
  }
  // Creates a tenant and returns a token for it.
  std::string Tenant(const std::string& name, json quotas = json::object()) {
    json b = quotas;
    b["name"] = name;
    EXPECT_EQ(Do("PUT", "/v1/tenants", admin_, b.dump()).status, 200);
    auto r = Post("/v1/tokens", admin_, json{{"tenant", name}}.dump());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body["token"];
  }
  // Polls a job until it reaches a terminal state (or `state`), up to `secs`.
  json WaitFor(int64_t id, const std::string& token, const std::string& state = "", double secs = 10) {
    json j;
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
    while (std::chrono::steady_clock::now() < end) {
      j = Get("/v1/jobs/" + std::to_string(id), token).body;
      std::string s = j.value("state", "");
      if (s == state || (state.empty() && (s == "SUCCEEDED" || s == "FAILED" || s == "CANCELLED" || s == "TIMEOUT"))) return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return j;
  }
  const std::string& admin() const { return admin_; }
  Service& svc() { return *svc_; }

 private:
  SystemClock clock_;
  std::unique_ptr<Service> svc_;
  std::unique_ptr<api::HttpServer> http_;
  std::thread thread_;
  std::string admin_;
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cnet-svc-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    fs::remove_all(dir_ + "-runs");
    fs::remove_all(dir_ + "-shared");
  }
  std::string dir_;
};

json CpuJob(const std::string& name, const std::string& cmd, json extra = json::object()) {
  json j{{"name", name}, {"command", json::array({"sh", "-c", cmd})}, {"accelerators_per_worker", 0}, {"cpus_per_worker", 1}};
  for (auto it = extra.begin(); it != extra.end(); ++it) j[it.key()] = it.value();
  return j;
}

TEST_F(ServiceTest, SubmitRunsTheJobAndRecordsItsLifecycle) {
  TestServer s(dir_);
  std::string t = s.Tenant("alice");
  auto r = s.Post("/v1/jobs", t, CpuJob("hello", "echo hello-out; echo hello-err >&2").dump());
  ASSERT_EQ(r.status, 201) << r.raw;
  int64_t id = r.body["id"];
  json j = s.WaitFor(id, t);
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump();
  EXPECT_EQ(j["exit_code"], 0);
  std::vector<std::string> states;
  for (const auto& e : j["events"]) states.push_back(e["to"]);
  EXPECT_EQ(states, (std::vector<std::string>{"PENDING", "SCHEDULED", "RUNNING", "SUCCEEDED"}));
  for (const auto& e : j["events"]) EXPECT_FALSE(e["reason"].get<std::string>().empty());
  EXPECT_NE(s.Get("/v1/jobs/" + std::to_string(id) + "/logs", t).raw.find("hello-out"), std::string::npos);
  EXPECT_NE(s.Get("/v1/jobs/" + std::to_string(id) + "/logs?stream=stderr", t).raw.find("hello-err"), std::string::npos);
  auto list = s.Get("/v1/jobs?state=SUCCEEDED", t);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["jobs"].size(), 1u);
}

TEST_F(ServiceTest, YamlSubmitExitCodesAndTimeLimits) {
  TestServer s(dir_);
  std::string t = s.Tenant("alice");
  auto r = s.Post("/v1/jobs", t, "name: fails\ncommand: \"exit 3\"\naccelerators_per_worker: 0\n", "application/yaml");
  ASSERT_EQ(r.status, 201) << r.raw;
  json j = s.WaitFor(r.body["id"], t);
  EXPECT_EQ(j["state"], "FAILED");
  EXPECT_EQ(j["exit_code"], 3);
  auto slow = s.Post("/v1/jobs", t, CpuJob("slow", "sleep 30", {{"time_limit_s", 1}}).dump());
  ASSERT_EQ(slow.status, 201);
  j = s.WaitFor(slow.body["id"], t, "TIMEOUT", 15);
  EXPECT_EQ(j["state"], "TIMEOUT");  // issue 11: it was FAILED, like any failure
  EXPECT_NE(j["reason"].get<std::string>().find("time limit"), std::string::npos) << j["reason"];
}

TEST_F(ServiceTest, CancelStopsARunningJobAndAQueuedOne) {
  TestServer s(dir_);
  std::string t = s.Tenant("alice");
  auto r = s.Post("/v1/jobs", t, CpuJob("long", "sleep 60").dump());
  int64_t id = r.body["id"];
  ASSERT_EQ(s.WaitFor(id, t, "RUNNING")["state"], "RUNNING");
  EXPECT_EQ(s.Post("/v1/jobs/" + std::to_string(id) + "/cancel", t, "").status, 202);
  json j = s.WaitFor(id, t, "", 15);
  EXPECT_EQ(j["state"], "CANCELLED");
  EXPECT_EQ(s.Post("/v1/jobs/" + std::to_string(id) + "/cancel", t, "").status, 409);
  // A job that cannot fit while the blocker runs stays queued; cancelling it ends it at once.
  int cpus = api::SitesJson(*s.svc().Read())["sites"][0]["capacity"].begin().value();
  auto blocker = s.Post("/v1/jobs", t, CpuJob("blocker", "sleep 60").dump());
  int64_t blocker_id = blocker.body["id"];
  ASSERT_EQ(s.WaitFor(blocker_id, t, "RUNNING")["state"], "RUNNING");
  auto big = s.Post("/v1/jobs", t, CpuJob("wide", "true", {{"workers", cpus}}).dump());
  int64_t bid = big.body["id"];
  auto cancelled = s.Do("DELETE", "/v1/jobs/" + std::to_string(bid), t);
  EXPECT_EQ(cancelled.status, 202);
  EXPECT_EQ(cancelled.body["state"], "CANCELLED") << cancelled.raw;
  EXPECT_EQ(s.Get("/v1/jobs/" + std::to_string(bid), t).body["state"], "CANCELLED");
  s.Post("/v1/jobs/" + std::to_string(blocker_id) + "/cancel", t, "");
}

TEST_F(ServiceTest, TenantsAreIsolated) {
  TestServer s(dir_);
  std::string a = s.Tenant("alice"), b = s.Tenant("bob");
  auto r = s.Post("/v1/jobs", a, CpuJob("secret", "echo alice-data; sleep 30").dump());
  std::string path = "/v1/jobs/" + std::to_string(r.body["id"].get<int64_t>());
  EXPECT_EQ(s.Get(path, b).status, 403);
  EXPECT_EQ(s.Get(path + "/logs", b).status, 403);
  EXPECT_EQ(s.Post(path + "/cancel", b, "").status, 403);
  EXPECT_EQ(s.Get("/v1/jobs?tenant=alice", b).status, 403);
  EXPECT_EQ(s.Get("/v1/jobs", b).body["jobs"].size(), 0u);
  EXPECT_EQ(s.Get("/v1/jobs", a).body["jobs"].size(), 1u);
  EXPECT_EQ(s.Get("/v1/tenants/alice/usage", b).status, 403);
  EXPECT_EQ(s.Get(path, "").status, 401);
  EXPECT_EQ(s.Get(path, "cnet_not-a-real-token").status, 401);
  EXPECT_EQ(s.Post(path + "/cancel", a, "").status, 202);
}

TEST_F(ServiceTest, IdempotencyKeyReturnsTheOriginalJob) {
  TestServer s(dir_);
  std::string t = s.Tenant("alice");
  httplib::Headers h{{"Idempotency-Key", "abc-1"}};
  auto first = s.Post("/v1/jobs", t, CpuJob("once", "true").dump(), "application/json", h);
  auto again = s.Post("/v1/jobs", t, CpuJob("once", "true").dump(), "application/json", h);
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(first.body["id"], again.body["id"]);
  EXPECT_EQ(s.Get("/v1/jobs", t).body["jobs"].size(), 1u);
}

TEST_F(ServiceTest, BadInputGets4xxNamingTheFieldAndTheServerKeepsServing) {
  TestServer s(dir_);
  std::string t = s.Tenant("alice");
  struct Case {
    std::string body, ctype;
    int status;
    std::string field;
  };
  std::string big(10 << 20, 'x');
  std::vector<Case> cases = {
      {"{\"name\": \"x\", ", "application/json", 400, "body"},
      {"name: [unclosed\n", "application/yaml", 400, "body"},
      {CpuJob("x", "true", {{"workers", "two"}}).dump(), "application/json", 400, "workers"},
      {CpuJob("x", "true", {{"workers", -3}}).dump(), "application/json", 400, "workers"},
      {CpuJob("x", "true", {{"workers", 100000000}}).dump(), "application/json", 400, "workers"},
      {CpuJob("x", "true", {{"colour", "blue"}}).dump(), "application/json", 400, "colour"},
      {json{{"name", "x"}, {"command", "true"}, {"accelerator_types", {"Z80"}}}.dump(), "application/json", 400, "accelerator_types[0]"},
      {CpuJob("x", "true", {{"workers", 4096}}).dump(), "application/json", 422, "workers"},
      {json{{"command", "true"}}.dump(), "application/json", 400, "name"},
      {"{\"name\": \"\xff\xfe\", \"command\": \"true\"}", "application/json", 400, "body"},
      {"{\"name\": \"" + big + "\"}", "application/json", 413, "body"},
      {CpuJob("x", "true").dump(), "text/plain", 415, "Content-Type"},
  };
  for (const auto& c : cases) {
    auto r = s.Post("/v1/jobs", t, c.body, c.ctype);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 80) << " -> " << r.raw.substr(0, 200);
    ASSERT_TRUE(r.body.is_object()) << r.raw.substr(0, 200);
    EXPECT_EQ(r.body["error"].value("field", ""), c.field) << r.raw.substr(0, 200);
    EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty());
  }
  EXPECT_EQ(s.Get("/healthz", "").status, 200);
  EXPECT_EQ(s.Get("/v1/jobs", t).body["jobs"].size(), 0u) << "nothing may be half-written";
}

TEST_F(ServiceTest, QuotasAreEnforcedAtAdmission) {
  TestServer s(dir_);
  std::string t = s.Tenant("small", {{"max_queued_jobs", 1}});
  // A running job does not count as queued; a full-width job waiting behind it does.
  int cpus = api::SitesJson(*s.svc().Read())["sites"][0]["capacity"].begin().value();
  auto a = s.Post("/v1/jobs", t, CpuJob("a", "sleep 30").dump());
  ASSERT_EQ(a.status, 201) << a.raw;
  ASSERT_EQ(s.WaitFor(a.body["id"].get<int64_t>(), t, "RUNNING")["state"], "RUNNING");
  auto b = s.Post("/v1/jobs", t, CpuJob("b", "true", {{"workers", cpus}}).dump());
  ASSERT_EQ(b.status, 201) << b.raw;
  auto c = s.Post("/v1/jobs", t, CpuJob("c", "true").dump());
  EXPECT_EQ(c.status, 429) << c.raw;
  EXPECT_EQ(c.body["error"]["field"], "tenant");
  // A new Idempotency-Key does not bypass the limit either (bug: it did).
  auto d = s.Post("/v1/jobs", t, CpuJob("d", "true").dump(), "application/json", {{"Idempotency-Key", "fresh-key"}});
  EXPECT_EQ(d.status, 429) << d.raw;
  s.Post("/v1/jobs/" + std::to_string(a.body["id"].get<int64_t>()) + "/cancel", t, "");
  s.Post("/v1/jobs/" + std::to_string(b.body["id"].get<int64_t>()) + "/cancel", t, "");
}

TEST_F(ServiceTest, DeclaredGpusGetDeviceIdsPerWorker) {
  ServiceConfig cfg = DefaultConfig();
  cfg.sites[0].block["accelerator"] = "H100-SXM";
  cfg.sites[0].block["accelerators"] = 4;
  TestServer s(dir_, cfg);
  std::string t = s.Tenant("vision", {{"max_accelerators", {{"*", 4}}}});
  json job{{"name", "train"}, {"command", json::array({"sh", "-c", "echo w$CNET_WORKER_INDEX=$CUDA_VISIBLE_DEVICES"})},
           {"workers", 2}, {"accelerators_per_worker", 2}, {"accelerator_types", {"H100-SXM"}}};
  auto r = s.Post("/v1/jobs", t, job.dump());
  ASSERT_EQ(r.status, 201) << r.raw;
  json j = s.WaitFor(r.body["id"], t);
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump();
  std::string out = s.Get("/v1/jobs/" + std::to_string(r.body["id"].get<int64_t>()) + "/logs", t).raw;
  EXPECT_NE(out.find("w0=0,1"), std::string::npos) << out;
  EXPECT_NE(out.find("w1=2,3"), std::string::npos) << out;
  EXPECT_EQ(j["placement"]["accelerator"], "H100-SXM");
  job["workers"] = 3;  // 6 > the tenant's quota of 4 and the site's 4
  EXPECT_EQ(s.Post("/v1/jobs", t, job.dump()).status, 422);
  job["workers"] = 1;
  job["accelerator_types"] = {"Ascend-910B"};  // known type, but no site has it
  EXPECT_EQ(s.Post("/v1/jobs", t, job.dump()).status, 422);
}

TEST_F(ServiceTest, RestartReadoptsRunningJobsAndDispatchesQueuedOnes) {
  int64_t running_id, queued_id;
  std::string t;
  // Jobs run as their tenant's account: they may append to the marker, nothing else of the test's
  // (the data dir, dir_, is the service's own: 0700).
  fs::create_directories(dir_ + "-shared");
  std::string marker = dir_ + "-shared/marker";
  std::ofstream(marker).close();
  fs::permissions(marker, static_cast<fs::perms>(0666));
  {
    TestServer s(dir_);
    t = s.Tenant("alice");
    auto r = s.Post("/v1/jobs", t, CpuJob("survivor", "sleep 1.5; echo ran >> " + marker).dump());
    running_id = r.body["id"];
    ASSERT_EQ(s.WaitFor(running_id, t, "RUNNING")["state"], "RUNNING");
    s.svc().Stop();  // no more dispatching: the next job stays queued
    queued_id = s.Post("/v1/jobs", t, CpuJob("queued", "echo second >> " + marker).dump()).body["id"];
  }  // the service goes away; the running job's processes do not
  TestServer s2(dir_);
  json j = s2.WaitFor(running_id, t, "", 15);
  EXPECT_EQ(j["state"], "SUCCEEDED") << j.dump();
  EXPECT_EQ(j["exit_code"], 0);
  EXPECT_EQ(s2.WaitFor(queued_id, t, "", 15)["state"], "SUCCEEDED");
  auto text = ReadWholeFile(marker);
  ASSERT_TRUE(text.ok());
  // Each job ran exactly once (in either order: both fit at once).
  EXPECT_TRUE(*text == "ran\nsecond\n" || *text == "second\nran\n") << *text;
}

TEST_F(ServiceTest, MetricsSitesUsageAndOpenApi) {
  TestServer s(dir_);
  std::string t = s.Tenant("alice");
  s.WaitFor(s.Post("/v1/jobs", t, CpuJob("m", "true").dump()).body["id"], t);
  std::string m = s.Get("/metrics", s.admin()).raw;  // behind an admin token (tests/e2e/token_api_test.cc)
  for (const char* k : {"cnet_queue_length", "cnet_jobs{state=\"PENDING\"}", "cnet_allocated_accelerators",
                        "cnet_scheduling_cycle_seconds_bucket", "cnet_http_request_seconds_bucket", "cnet_jobs_finished_total"})
    EXPECT_NE(m.find(k), std::string::npos) << k;
  auto sites = s.Get("/v1/sites", t);
  ASSERT_EQ(sites.status, 200);
  EXPECT_EQ(sites.body["sites"][0]["name"], "local");
  EXPECT_GT(sites.body["sites"][0]["nodes"].size(), 0u);
  auto u = s.Get("/v1/usage", t);
  EXPECT_EQ(u.status, 200);
  EXPECT_EQ(u.body["tenant"], "alice");
  auto api = s.Get("/v1/openapi.json", "");
  ASSERT_EQ(api.status, 200);
  EXPECT_TRUE(api.body["paths"].contains("/v1/jobs"));
}

}  // namespace
}  // namespace cnet::service
