// Tokens, admin input, /metrics and the Host header over real HTTP (an in-process server on
// loopback with an injected clock, and the real `cnet` binary for the CLI and the audit log).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "api/http_server.h"
#include "api/metrics_server.h"
#include "testing/serve_process.h"
#include "testing/test_util.h"

namespace cnet::service {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A manual clock that HTTP threads may read while the test moves it.
class AtomicClock final : public Clock {
 public:
  Seconds Now() const override { return now_.load(); }
  void Set(Seconds t) { now_ = t; }
  void Advance(Seconds d) { now_ = now_.load() + d; }

 private:
  std::atomic<double> now_{1.8e9};
};

struct Resp {
  int status = 0;
  json body;
  std::string raw;
};

Resp Send(httplib::Client& c, const std::string& method, const std::string& path, const std::string& token,
          const std::string& body = "", httplib::Headers h = {}) {
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto r = method == "GET"      ? c.Get(path, h)
           : method == "PUT"    ? c.Put(path, h, body, "application/json")
           : method == "DELETE" ? c.Delete(path, h)
                                : c.Post(path, h, body, "application/json");
  if (!r) return {};
  return {r->status, json::parse(r->body, nullptr, false), r->body};
}

// The service and its HTTP server (and, when cfg.metrics_listen is set, the metrics listener on
// a free port) in this process, with an injected clock.
class ApiServer {
 public:
  ApiServer(const std::string& dir, ServiceConfig cfg) {
    cfg.data_dir = dir;
    cfg.cycle_interval_s = 0.02;
    ServiceDeps deps;
    deps.clock = &clock_;
    auto s = Service::Create(cfg, deps, testing::DataPath("accelerators.yaml"), "");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(s).value();
    admin_ = *svc_->InitAdminToken();
    http_ = std::make_unique<api::HttpServer>(*svc_);
    EXPECT_TRUE(http_->Bind("127.0.0.1", 0).ok());
    if (!cfg.metrics_listen.empty()) {
      metrics_ = std::make_unique<api::MetricsServer>(*svc_);
      EXPECT_TRUE(metrics_->Bind("127.0.0.1", 0).ok());
      metrics_->Start();
    }
    svc_->Start();
    thread_ = std::thread([this] { http_->Run(); });
    EXPECT_TRUE(testing::WaitHealthy(http_->port(), 10));
  }
  ~ApiServer() {
    http_->Stop();
    thread_.join();
    if (metrics_) metrics_->Stop();
    svc_->Stop();
  }
  Resp Do(const std::string& method, const std::string& path, const std::string& token, const std::string& body = "",
          httplib::Headers h = {}) {
    httplib::Client c("127.0.0.1", http_->port());
    c.set_read_timeout(20, 0);
    return Send(c, method, path, token, body, std::move(h));
  }
  // A tenant and a token for it.
  std::string Tenant(const std::string& name) {
    EXPECT_EQ(Do("PUT", "/v1/tenants", admin_, json{{"name", name}}.dump()).status, 200);
    auto r = Do("POST", "/v1/tokens", admin_, json{{"tenant", name}}.dump());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("token", "");
  }
  const std::string& admin() const { return admin_; }
  int port() const { return http_->port(); }
  int metrics_port() const { return metrics_ ? metrics_->port() : -1; }
  AtomicClock& clock() { return clock_; }

 private:
  AtomicClock clock_;
  std::unique_ptr<Service> svc_;
  std::unique_ptr<api::HttpServer> http_;
  std::unique_ptr<api::MetricsServer> metrics_;
  std::thread thread_;
  std::string admin_;
};

// One fake site: these tests need no processes.
ServiceConfig FakeSiteConfig() {
  ServiceConfig cfg = DefaultConfig();
  SiteConfig site;
  site.name = "f";
  site.type = "fake";
  site.block = YAML::Load("{name: f, type: fake, nodes: [{name: n0, cpus: 4}]}");
  site.where = "test: f";
  cfg.sites = {site};
  return cfg;
}

class TokenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cnet-tokapi-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(TokenApiTest, CreateListUseRevoke) {
  ApiServer s(dir_, FakeSiteConfig());
  std::string alice = s.Tenant("alice");
  const double t0 = s.clock().Now();
  auto made = s.Do("POST", "/v1/tokens", s.admin(), R"({"tenant": "alice", "label": "ci", "ttl_s": 3600})");
  ASSERT_EQ(made.status, 201) << made.raw;
  const std::string tok = made.body["token"], id = made.body["id"];
  EXPECT_EQ(id.rfind("tok_", 0), 0u);
  EXPECT_DOUBLE_EQ(made.body["created"].get<double>(), t0);
  EXPECT_DOUBLE_EQ(made.body["expires"].get<double>(), t0 + 3600);
  s.clock().Advance(5);
  ASSERT_EQ(s.Do("GET", "/v1/usage", tok).status, 200);

  auto list = s.Do("GET", "/v1/tokens", s.admin());
  ASSERT_EQ(list.status, 200) << list.raw;
  ASSERT_EQ(list.body["tokens"].size(), 3u);  // the admin's, alice's first, this one
  json row;
  for (const auto& t : list.body["tokens"])
    if (t["id"] == id) row = t;
  ASSERT_TRUE(row.is_object()) << list.raw;
  EXPECT_EQ(row["role"], "tenant");
  EXPECT_EQ(row["tenant"], "alice");
  EXPECT_EQ(row["label"], "ci");
  EXPECT_DOUBLE_EQ(row["created"].get<double>(), t0);
  EXPECT_DOUBLE_EQ(row["expires"].get<double>(), t0 + 3600);
  EXPECT_DOUBLE_EQ(row["last_used"].get<double>(), t0 + 5);
  EXPECT_TRUE(row["revoked"].is_null());
  EXPECT_FALSE(row.contains("token") || row.contains("token_hash")) << row.dump();

  // Tenants neither list nor revoke.
  EXPECT_EQ(s.Do("GET", "/v1/tokens", alice).status, 403);
  EXPECT_EQ(s.Do("DELETE", "/v1/tokens/" + id, alice).status, 403);

  auto del = s.Do("DELETE", "/v1/tokens/" + id, s.admin());
  ASSERT_EQ(del.status, 200) << del.raw;
  EXPECT_DOUBLE_EQ(del.body["revoked"].get<double>(), t0 + 5);
  auto after = s.Do("GET", "/v1/usage", tok);
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(after.raw.find("revoked"), std::string::npos) << after.raw;
  EXPECT_EQ(s.Do("GET", "/v1/usage", alice).status, 200);  // her other token is untouched

  // The last usable admin token stays.
  std::string admin_id;
  const json all = s.Do("GET", "/v1/tokens", s.admin()).body;
  for (const auto& t : all["tokens"])
    if (t["role"] == "admin") admin_id = t["id"];
  auto last = s.Do("DELETE", "/v1/tokens/" + admin_id, s.admin());
  EXPECT_EQ(last.status, 409) << last.raw;
  EXPECT_EQ(last.body["error"]["field"], "id");
  EXPECT_EQ(s.Do("GET", "/v1/tokens", s.admin()).status, 200);
  EXPECT_EQ(s.Do("DELETE", "/v1/tokens/tok_0123456789abcdef", s.admin()).status, 404);
}

TEST_F(TokenApiTest, ExpiredTokenIsRefusedFromItsSecond) {
  ApiServer s(dir_, FakeSiteConfig());
  s.Tenant("alice");
  s.clock().Set(2e9);
  auto made = s.Do("POST", "/v1/tokens", s.admin(), R"({"tenant": "alice", "ttl_s": 60})");
  ASSERT_EQ(made.status, 201) << made.raw;
  const std::string tok = made.body["token"];
  ASSERT_EQ(s.Do("GET", "/v1/usage", tok).status, 200);
  s.clock().Set(2e9 + 59.5);
  ASSERT_EQ(s.Do("GET", "/v1/usage", tok).status, 200);
  s.clock().Set(2e9 + 60);
  auto r = s.Do("GET", "/v1/usage", tok);
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.raw.find("expired"), std::string::npos) << r.raw;
}

// Clients on several keep-alive connections (so several HTTP threads) hammer the API; once the
// DELETE has answered, no request that starts afterwards succeeds.
TEST_F(TokenApiTest, RevocationHoldsAcrossHttpThreads) {
  ApiServer s(dir_, FakeSiteConfig());
  const std::string tok = s.Tenant("alice");
  std::string id;
  const json all = s.Do("GET", "/v1/tokens", s.admin()).body;
  for (const auto& t : all["tokens"])
    if (t["tenant"] == "alice") id = t["id"];
  constexpr int kClients = 6;
  std::atomic<bool> revoked{false}, stop{false};
  std::atomic<int> ready{0}, late_ok{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", s.port());
      c.set_keep_alive(true);
      bool counted = false;
      while (!stop.load()) {
        const bool after = revoked.load();
        auto r = Send(c, "GET", "/v1/usage", tok);
        if (r.status == 200 && !counted) counted = true, ++ready;
        if (after) ++(r.status == 200 ? late_ok : r.status == 401 ? refused : other);
      }
    });
  for (int i = 0; i < 10000 && ready.load() < kClients; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(ready.load(), kClients);
  EXPECT_EQ(s.Do("DELETE", "/v1/tokens/" + id, s.admin()).status, 200);  // no ASSERT: the threads must be joined
  revoked = true;
  for (int i = 0; i < 20000 && refused.load() + late_ok.load() + other.load() < 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(late_ok.load(), 0);
  EXPECT_EQ(other.load(), 0);
}

// Every admin route, every field, every wrong JSON type and out-of-range value: 400 (404 for a
// tenant that does not exist) naming the field; never a 500.
TEST_F(TokenApiTest, AdminRoutesAnswer400NamingTheFieldForEveryWrongTypeOrValue) {
  ApiServer s(dir_, FakeSiteConfig());
  s.Tenant("alice");
  struct Case {
    std::string method, path, body;
    int status;
    std::string field;
  };
  std::vector<Case> cases;
  const std::vector<std::string> any_type = {R"("s")", "1.5", "true", "false", "null", "[]", "[1]", "{}", R"({"a":1})",
                                             "-1", "1e300", "18446744073709551615", "-9223372036854775808"};
  auto with = [](json base, const std::string& key, const std::string& raw) {
    std::string b = base.dump();
    b.insert(b.size() - 1, (base.empty() ? "" : ",") + json(key).dump() + ":" + raw);
    return b;
  };
  // PUT /v1/tenants
  const json tenant = {{"name", "t2"}};
  for (const auto& v : any_type) {
    if (v != R"("s")") cases.push_back({"PUT", "/v1/tenants", with(json::object(), "name", v), 400, "name"});
    cases.push_back({"PUT", "/v1/tenants", with(tenant, "max_queued_jobs", v), 400, "max_queued_jobs"});
    if (v != "{}" && v != R"({"a":1})")
      cases.push_back({"PUT", "/v1/tenants", with(tenant, "max_accelerators", v), 400, "max_accelerators"});
    cases.push_back({"PUT", "/v1/tenants", with(tenant, "max_accelerators", "{\"V100\":" + v + "}"), 400,
                     "max_accelerators.V100"});
  }
  for (const std::string& v : std::vector<std::string>{R"("")", R"("a/b")", R"("has space")", "\"" + std::string(64, 'x') + "\""})
    cases.push_back({"PUT", "/v1/tenants", with(json::object(), "name", v), 400, "name"});
  cases.push_back({"PUT", "/v1/tenants", with(tenant, "max_queued_jobs", "10000001"), 400, "max_queued_jobs"});
  cases.push_back({"PUT", "/v1/tenants", with(tenant, "max_accelerators", R"({"V100": 1000001})"), 400, "max_accelerators.V100"});
  cases.push_back({"PUT", "/v1/tenants", with(tenant, "max_accelerators", R"({"NOPE": 1})"), 400, "max_accelerators.NOPE"});
  cases.push_back({"PUT", "/v1/tenants", with(tenant, "bogus", "1"), 400, "bogus"});
  cases.push_back({"PUT", "/v1/tenants", "{}", 400, "name"});
  // POST /v1/tokens
  const json token = {{"tenant", "alice"}};
  for (const auto& v : any_type) {
    if (v != R"("s")") {
      cases.push_back({"POST", "/v1/tokens", with(token, "role", v), 400, "role"});
      cases.push_back({"POST", "/v1/tokens", with(json::object(), "tenant", v), 400, "tenant"});
      cases.push_back({"POST", "/v1/tokens", with(token, "label", v), 400, "label"});
    }
    if (v != "1.5") cases.push_back({"POST", "/v1/tokens", with(token, "ttl_s", v), 400, "ttl_s"});  // 1.5 s is valid
  }
  for (const auto& v : {R"("root")", R"("")", R"("ADMIN")"})
    cases.push_back({"POST", "/v1/tokens", with(token, "role", v), 400, "role"});
  cases.push_back({"POST", "/v1/tokens", with(token, "label", R"("a\nb")"), 400, "label"});
  cases.push_back({"POST", "/v1/tokens", with(token, "label", "\"" + std::string(201, 'x') + "\""), 400, "label"});
  cases.push_back({"POST", "/v1/tokens", with(token, "ttl_s", R"("30d")"), 400, "ttl_s"});
  cases.push_back({"POST", "/v1/tokens", with(token, "ttl_s", "1e9"), 400, "ttl_s"});
  cases.push_back({"POST", "/v1/tokens", R"({"role": "admin", "tenant": "alice"})", 400, "tenant"});
  cases.push_back({"POST", "/v1/tokens", R"({"role": "tenant"})", 400, "tenant"});
  cases.push_back({"POST", "/v1/tokens", R"({"tenant": "nobody"})", 404, "tenant"});
  cases.push_back({"POST", "/v1/tokens", with(token, "ttl", "60"), 400, "ttl"});
  // Bodies that are no JSON object, on both body routes.
  for (const char* path : {"/v1/tenants", "/v1/tokens"})
    for (const char* b : {"", "nope", "[]", "1", "\"s\"", "null", "{", "{\"a\":}"})
      cases.push_back({std::string(path) == "/v1/tenants" ? "PUT" : "POST", path, b, 400, "body"});
  // DELETE /v1/tokens/{id} and GET /v1/tokens
  for (const char* id : {"", "abc", "tok_", "tok_0123456789ABCDEF", "tok_0123456789abcde", "tok_0123456789abcdef0", "%00"})
    cases.push_back({"DELETE", std::string("/v1/tokens/") + id, "", 400, "id"});
  cases.push_back({"GET", "/v1/tokens?limit=5", "", 400, "limit"});
  cases.push_back({"GET", "/v1/tokens?%ff%fe=1", "", 400, ""});  // not UTF-8: not echoed, still a 400
  cases.push_back({"GET", "/v1/jobs?%ff%fe=1", "", 400, ""});    // (was a 500: nlohmann's type_error)

  int checked = 0;
  for (const auto& c : cases) {
    auto r = s.Do(c.method, c.path, s.admin(), c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << " -> " << r.raw;
    EXPECT_EQ(r.body.is_object() ? r.body["error"].value("field", "") : "", c.field)
        << c.method << " " << c.path << " " << c.body << " -> " << r.raw;
    ++checked;
  }
  std::printf("admin input cases: %d\n", checked);
  RecordProperty("admin_input_cases", checked);
  EXPECT_GE(checked, 100);
  EXPECT_EQ(s.Do("GET", "/healthz", "").status, 200);
}

TEST_F(TokenApiTest, MetricsNeedAnAdminTokenOrTheSeparateListener) {
  ServiceConfig cfg = FakeSiteConfig();
  cfg.metrics_listen = "127.0.0.1:0";
  ApiServer s(dir_, cfg);
  const std::string alice = s.Tenant("alice");
  auto none = s.Do("GET", "/metrics", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.raw.find("cnet_"), std::string::npos);
  EXPECT_EQ(s.Do("GET", "/metrics", alice).status, 403);
  auto admin = s.Do("GET", "/metrics", s.admin());
  EXPECT_EQ(admin.status, 200);
  EXPECT_NE(admin.raw.find("cnet_queue_length"), std::string::npos);
  httplib::Client m("127.0.0.1", s.metrics_port());
  auto open = Send(m, "GET", "/metrics", "");
  EXPECT_EQ(open.status, 200);
  EXPECT_NE(open.raw.find("cnet_queue_length"), std::string::npos);
  EXPECT_EQ(Send(m, "GET", "/v1/usage", alice).status, 404);  // the API is not on the metrics address
  EXPECT_EQ(Send(m, "GET", "/metrics", "", "", {{"Host", "evil.example"}}).status, 421);
}

// A raw request without a Host header: the first line of the answer.
std::string RawStatusLine(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) out.assign(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out.substr(0, out.find("\r\n"));
}

TEST_F(TokenApiTest, HostHeaderIsCheckedOnEveryRoute) {
  {
    ApiServer s(dir_ + "/default", FakeSiteConfig());
    const std::string alice = s.Tenant("alice");
    const std::string port = std::to_string(s.port());
    for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "[::1]:" + port, "127.0.0.1"})
      EXPECT_EQ(s.Do("GET", "/v1/usage", alice, "", {{"Host", host}}).status, 200) << host;
    for (const std::string& host : std::vector<std::string>{"evil.example", "evil.example:" + port, "127.0.0.2:" + port, "localhost.evil.example",
                                   "[::2]:" + port, "127.0.0.1.evil.example"}) {
      for (const char* path : {"/healthz", "/v1/openapi.json", "/v1/usage", "/metrics"}) {
        auto r = s.Do("GET", path, alice, "", {{"Host", host}});
        EXPECT_EQ(r.status, 421) << host << " " << path << " " << r.raw;
        EXPECT_EQ(r.body.is_object() ? r.body["error"].value("field", "") : "", "Host");
      }
      EXPECT_EQ(s.Do("POST", "/v1/tokens", s.admin(), R"({"tenant":"alice"})", {{"Host", host}}).status, 421);
    }
    EXPECT_EQ(RawStatusLine(s.port(), "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"), "HTTP/1.1 400 Bad Request");
    EXPECT_EQ(RawStatusLine(s.port(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
              "HTTP/1.1 200 OK");
    EXPECT_EQ(RawStatusLine(s.port(), "GET /healthz HTTP/1.1\r\nHost: \xff\xfe.example\r\nConnection: close\r\n\r\n").substr(0, 12),
              "HTTP/1.1 421");
  }
  ServiceConfig cfg = FakeSiteConfig();
  cfg.allowed_hosts = {"cnet.example.org", "127.0.0.1"};
  ApiServer s(dir_ + "/configured", cfg);
  EXPECT_EQ(s.Do("GET", "/healthz", "", "", {{"Host", "cnet.example.org:443"}}).status, 200);
  EXPECT_EQ(s.Do("GET", "/healthz", "", "", {{"Host", "CNET.example.org"}}).status, 200);
  EXPECT_EQ(s.Do("GET", "/healthz", "", "", {{"Host", "localhost"}}).status, 421);  // exactly the list
}

// The real binary: `cnet admin token create|list|revoke`, --ttl, the audit lines, expiry in real
// time, and --metrics-listen.
TEST_F(TokenApiTest, CliTokensAuditAndMetricsListen) {
  const int port = testing::FreePort(), mport = testing::FreePort();
  const std::string cfg = dir_ + "/cfg.yaml", out = dir_ + "/serve.out";
  std::ofstream(cfg) << "addr: 127.0.0.1:" << port << "\ndata: " << dir_ << "/data\nmetrics_listen: 127.0.0.1:" << mport
                     << "\nsites:\n  - {name: f, type: fake, nodes: [{name: n0, cpus: 4}]}\n";
  pid_t pid = testing::StartServer(cfg, out, true);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(testing::WaitHealthy(port, 20));
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::string log = slurp(out);
  const std::string marker = "admin token (shown once; only its hash is stored): ";
  ASSERT_NE(log.find(marker), std::string::npos) << log;
  std::string admin = log.substr(log.find(marker) + marker.size());
  admin = admin.substr(0, admin.find('\n'));
  auto cnet = [&](const std::string& args) {
    std::string cmd = std::string(CNET_BINARY) + " " + args + " --addr 127.0.0.1:" + std::to_string(port) +
                      " --token " + admin + " 2>&1";
    std::string text;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
    int rc = pclose(p);
    return std::make_pair(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, text);
  };
  ASSERT_EQ(cnet("admin tenant lab").first, 0);
  auto [rc, made] = cnet("admin token create --tenant lab --label nightly --ttl 30d --json");
  ASSERT_EQ(rc, 0) << made;
  json j = json::parse(made, nullptr, false);
  ASSERT_TRUE(j.is_object()) << made;
  EXPECT_DOUBLE_EQ(j["expires"].get<double>() - j["created"].get<double>(), 30 * 86400);
  const std::string id = j["id"];
  auto [lrc, listed] = cnet("admin token list");
  ASSERT_EQ(lrc, 0) << listed;
  for (const char* col : {"ID", "ROLE", "TENANT", "LABEL", "CREATED", "EXPIRES", "LAST USE", "REVOKED"})
    EXPECT_NE(listed.find(col), std::string::npos) << col;
  EXPECT_NE(listed.find(id), std::string::npos) << listed;
  EXPECT_NE(listed.find("nightly"), std::string::npos) << listed;
  auto [vrc, revoked] = cnet("admin token revoke " + id);
  EXPECT_EQ(vrc, 0) << revoked;
  EXPECT_NE(cnet("admin token create --ttl 5x").second.find("--ttl"), std::string::npos);

  // Expiry in real time: a token of 1 s is refused within a few seconds, without a restart.
  auto [src, shortlived] = cnet("admin token create --tenant lab --ttl 1");
  ASSERT_EQ(src, 0) << shortlived;
  std::string tok = shortlived.substr(0, shortlived.find('\n'));
  httplib::Client c("127.0.0.1", port);
  EXPECT_EQ(Send(c, "GET", "/v1/usage", tok).status, 200);
  int status = 0;
  for (int i = 0; i < 100 && status != 401; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = Send(c, "GET", "/v1/usage", tok).status;
  }
  EXPECT_EQ(status, 401);

  // Metrics: open on their own address only.
  EXPECT_EQ(Send(c, "GET", "/metrics", "").status, 401);
  httplib::Client m("127.0.0.1", mport);
  EXPECT_EQ(Send(m, "GET", "/metrics", "").status, 200);

  kill(pid, SIGTERM);
  int ws = 0;
  waitpid(pid, &ws, 0);
  log = slurp(out);
  EXPECT_NE(log.find("created tenant token " + id), std::string::npos) << log;
  EXPECT_NE(log.find("revoked tenant token " + id), std::string::npos) << log;
  EXPECT_EQ(log.find(tok), std::string::npos) << "a token in the log";
}

}  // namespace
}  // namespace cnet::service
