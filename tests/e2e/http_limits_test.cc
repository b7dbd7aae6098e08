// Bounded requests and TLS, end to end against the real `cnet serve` (a child process, so that its
// memory can be read in /proc): bodies refused before they are read (gzip, oversized, without a
// token) with the server's peak memory checked, slow clients that cannot starve a normal one, the
// per-client connection cap, the request deadline and header cap, list pages with a continuation
// cursor followed to the end (also by the CLI), and HTTPS with the CLI (a test CA made with openssl
// at test time; a wrong CA refused; unusable certificate and key files named).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "api/http_server.h"
#include "service/service.h"
#include "testing/serve_process.h"
#include "testing/test_ca.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Peak resident memory (VmHWM) of a process, in bytes: transient peaks count too.
int64_t PeakRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

// `n` zero bytes, gzip-compressed (about n / 1000 bytes).
std::string GzipOfZeros(size_t n) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string zeros(1 << 20, '\0'), out;
  char buf[1 << 16];
  for (size_t done = 0; done < n; done += zeros.size()) {
    z.next_in = reinterpret_cast<Bytef*>(zeros.data());
    z.avail_in = static_cast<uInt>(zeros.size());
    const int flush = done + zeros.size() >= n ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, flush);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

// A raw TCP connection to 127.0.0.1:port from `src` (every 127.x address is loopback on Linux, so
// several "clients" can come from one test).
class Raw {
 public:
  explicit Raw(int port, const std::string& src = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src.c_str(), &a.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      Fail();
      return;
    }
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Fail();
  }
  ~Raw() {
    if (fd_ >= 0) ::close(fd_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& s) {
    size_t done = 0;
    while (ok() && done < s.size()) {
      ssize_t n = ::send(fd_, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return ok();
  }
  bool Readable(int ms = 0) {
    pollfd p{fd_, POLLIN, 0};
    return ok() && ::poll(&p, 1, ms) > 0;
  }
  // Sends a request head and then up to `body_bytes` of body in 1 MiB pieces, stopping early once
  // an answer is waiting (as a careful client would), then reads the answer's status.
  int SendBodyAndRead(const std::string& head, const std::string& body_source, size_t body_bytes, double secs) {
    if (!Send(head)) return 0;
    for (size_t done = 0; done < body_bytes && !Readable(); ) {
      size_t n = std::min(body_bytes - done, body_source.size());
      if (!Send(body_source.substr(0, n))) break;
      done += n;
    }
    return ReadStatus(secs);
  }
  // The status of the response read within `secs` (0: none), and the whole response in *all.
  int ReadStatus(double secs, std::string* all = nullptr) {
    std::string got;
    const auto t0 = Clock::now();
    char buf[4096];
    while (ok() && Since(t0) < secs) {
      size_t end = got.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t cl = got.find("Content-Length: ");
        size_t want = cl == std::string::npos || cl > end ? 0 : std::stoul(got.substr(cl + 16));
        if (got.size() >= end + 4 + want) break;
      }
      if (!Readable(50)) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    if (all) *all = got;
    return got.rfind("HTTP/1.1 ", 0) == 0 && got.size() >= 12 ? std::stoi(got.substr(9, 3)) : 0;
  }

 private:
  void Fail() {
    ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

struct CliRun {
  int code = -1;
  std::string out, err;
};

class HttpLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cnet_http_limits_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // `cnet serve` on a fake site (nothing runs), with `extra` config lines and `flags`; an admin
  // token and a tenant "alice" with token_.
  void Start(const std::string& extra = "", std::vector<std::string> flags = {}, const std::string& ca = "") {
    port_ = testing::FreePort();
    https_ = !ca.empty();
    ca_ = ca;
    const std::string cfg = dir_ + "/cnet.yaml";
    std::ofstream(cfg) << "addr: 127.0.0.1:" << port_ << "\ndata: " << dir_ << "/data\npolicy: fifo\n"
                       << "sites:\n  - {name: f, type: fake, nodes: [{name: n1, cpus: 1}]}\n" << extra;
    std::vector<std::string> args = {"serve", "--config", cfg, "--init"};
    args.insert(args.end(), flags.begin(), flags.end());
    out_ = dir_ + "/serve.out";
    pid_ = testing::StartCnet(args, out_);
    ASSERT_GT(pid_, 0);
    bool up = false;
    for (auto t0 = Clock::now(); !up && Since(t0) < 20; std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
      auto c = Client();
      c->set_connection_timeout(0, 200000);
      auto r = c->Get("/healthz");
      up = r && r->status == 200;
    }
    ASSERT_TRUE(up) << Slurp(out_);
    const std::string text = Slurp(out_);
    const std::string mark = "only its hash is stored): ";
    ASSERT_NE(text.find(mark), std::string::npos) << text;
    admin_ = text.substr(text.find(mark) + mark.size());
    admin_ = admin_.substr(0, admin_.find('\n'));
    ASSERT_EQ(Call("PUT", "/v1/tenants", admin_, R"({"name": "alice"})").status, 200);
    auto t = Call("POST", "/v1/tokens", admin_, R"({"tenant": "alice"})");
    ASSERT_EQ(t.status, 201) << t.raw;
    token_ = t.body["token"];
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 200 && ::waitpid(pid_, &st, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (::waitpid(pid_, &st, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
    pid_ = -1;
  }

  std::string Url() const { return std::string(https_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_); }
  std::unique_ptr<httplib::Client> Client() const {
    auto c = std::make_unique<httplib::Client>(Url());
    if (https_) c->set_ca_cert_path(ca_);
    c->set_read_timeout(10, 0);
    return c;
  }
  struct Resp {
    int status = 0;
    json body;
    std::string raw;
  };
  Resp Call(const std::string& method, const std::string& path, const std::string& token, const std::string& body = "") {
    auto c = Client();
    httplib::Headers h{{"Authorization", "Bearer " + token}};
    auto r = method == "GET" ? c->Get(path, h) : method == "PUT" ? c->Put(path, h, body, "application/json") : c->Post(path, h, body, "application/json");
    if (!r) return {};
    return {r->status, json::parse(r->body, nullptr, false), r->body};
  }
  int64_t Submit(const std::string& name) {
    json j{{"name", name}, {"command", json::array({"true"})}, {"accelerators_per_worker", 0}, {"cpus_per_worker", 1}};
    auto r = Call("POST", "/v1/jobs", token_, j.dump());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body.value("id", int64_t{0});
  }

  // `cnet args...` with extra environment; stdout and stderr captured.
  CliRun Cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    const std::string o = dir_ + "/cli.out", e = dir_ + "/cli.err";
    pid_t pid = fork();
    if (pid == 0) {
      FILE* fo = std::freopen(o.c_str(), "w", stdout);
      FILE* fe = std::freopen(e.c_str(), "w", stderr);
      if (!fo || !fe) _exit(126);
      ::unsetenv("CNET_ADDR");
      ::unsetenv("CNET_TOKEN");
      ::unsetenv("CNET_CA_FILE");
      ::setenv("HOME", dir_.c_str(), 1);
      for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
      std::vector<char*> argv{const_cast<char*>(CNET_BINARY)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(CNET_BINARY, argv.data());
      _exit(127);
    }
    int st = 0;
    ::waitpid(pid, &st, 0);
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, Slurp(o), Slurp(e)};
  }

  std::string dir_, out_, admin_, token_, ca_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool https_ = false;
};

// In process (so that ASan and TSan see the server's threads): keep-alive clients, slow clients,
// refused bodies and over-cap connections at once, then Stop: every connection thread ends and
// Run returns (the test would hang otherwise), with the answers all well-formed.
TEST_F(HttpLimits, InProcessServerUnderMixedLoadStopsCleanly) {
  service::ServiceConfig cfg = service::DefaultConfig();
  cfg.data_dir = dir_ + "/data";
  cfg.sites.clear();
  service::SiteConfig site;
  site.name = "f";
  site.type = "fake";
  site.block = YAML::Load("{name: f, type: fake, nodes: [{name: n1, cpus: 1}]}");
  site.where = "test";
  cfg.sites.push_back(site);
  cfg.http.max_connections_per_client = 40;
  auto svc = service::Service::Create(cfg, {}, testing::DataPath("accelerators.yaml"), "");
  ASSERT_TRUE(svc.ok()) << svc.status().ToString();
  auto admin = (*svc)->InitAdminToken();
  ASSERT_TRUE(admin.ok());
  api::HttpServer http(**svc);
  ASSERT_TRUE(http.Bind("127.0.0.1", 0).ok());
  (*svc)->Start();
  std::thread run([&] { http.Run(); });
  port_ = http.port();
  ASSERT_TRUE(testing::WaitHealthy(port_, 10));
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<Raw>(port_, "127.0.0.2"));
    slow.back()->Send("GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  }
  std::atomic<int> good{0}, refused{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port_);
      httplib::Headers h{{"Authorization", "Bearer " + *admin}};
      for (int k = 0; k < 25; ++k) {
        auto r = i % 2 ? c.Get("/v1/jobs?limit=5", h) : c.Post("/v1/jobs", {}, std::string(2 << 20, 'x'), "application/json");
        if (r && r->status == (i % 2 ? 200 : 401)) ++good;
      }
    });
  std::vector<std::unique_ptr<Raw>> held;  // 45 open at once from 127.0.0.3: 40 answered, 5 over the cap
  for (int i = 0; i < 45; ++i) {
    held.push_back(std::make_unique<Raw>(port_, "127.0.0.3"));
    held.back()->Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    refused += held.back()->ReadStatus(10) == 429;
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(good.load(), 200);
  EXPECT_EQ(refused.load(), 5);
  http.Stop();
  run.join();
  (*svc)->Stop();
}

// The new config keys: values in range are taken, others refused naming the file, line and field.
TEST_F(HttpLimits, ConfigKeysAreCheckedAndNamed) {
  const std::string sites = "sites:\n  - {name: f, type: fake, nodes: [{name: n1, cpus: 1}]}\n";
  auto load = [&](const std::string& text) {
    std::ofstream(dir_ + "/c.yaml") << text << sites;
    return service::LoadConfig(dir_ + "/c.yaml");
  };
  auto good = load("max_connections: 50\nmax_connections_per_client: 5\nrequest_deadline_s: 2.5\nmax_list_bytes: 2048\n"
                   "tls_cert: c.pem\ntls_key: k.pem\n");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->http.max_connections, 50);
  EXPECT_EQ(good->http.max_connections_per_client, 5);
  EXPECT_EQ(good->http.request_deadline_s, 2.5);
  EXPECT_EQ(good->http.max_list_bytes, 2048u);
  EXPECT_EQ(good->tls.key_file, "k.pem");
  for (const auto& [text, field] : std::vector<std::pair<std::string, std::string>>{
           {"max_connections: 0\n", "field 'max_connections'"},
           {"max_connections_per_client: 2000\n", "field 'max_connections_per_client'"},
           {"request_deadline_s: 0\n", "field 'request_deadline_s'"},
           {"max_list_bytes: 10\n", "field 'max_list_bytes'"},
           {"tls_cert: c.pem\n", "field 'tls_key'"}}) {
    auto r = load(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("c.yaml:1:"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  }
  std::ofstream(dir_ + "/c.yaml") << sites;
  CliRun half = Cli({"serve", "--config", dir_ + "/c.yaml", "--data", dir_ + "/data", "--tls-cert", "c.pem"});
  EXPECT_EQ(half.code, 2);
  EXPECT_NE(half.err.find("--tls-key: give both --tls-cert and --tls-key"), std::string::npos) << half.err;
}

// The issue's bound on the server's memory under these attacks. Sanitizer builds (where cnet is
// instrumented too) carry their own per-thread and quarantine overheads: a looser bound there, still
// far below what the old server took (295 MB and 1 GB).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int64_t kMaxGrowth = 120 << 20;
#else
constexpr int64_t kMaxGrowth = 20 << 20;
#endif

// Old server: Debian's httplib inflated the body in memory (256 MiB here) before any handler ran.
TEST_F(HttpLimits, GzipBodiesAreRefusedBeforeInflating) {
  Start();
  const std::string bomb = GzipOfZeros(256u << 20);
  const int64_t before = PeakRss(pid_);
  for (int round = 0; round < 2; ++round) {
    for (const bool with_token : {false, true}) {
      Raw c(port_);
      std::string head = "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n" +
                         std::string(with_token ? "Authorization: Bearer " + token_ + "\r\n" : "") +
                         "Content-Length: " + std::to_string(bomb.size()) + "\r\n\r\n";
      EXPECT_EQ(c.SendBodyAndRead(head, bomb, bomb.size(), 20), with_token ? 415 : 401);
    }
  }
  const int64_t growth = PeakRss(pid_) - before;
  EXPECT_LT(growth, kMaxGrowth) << "peak RSS grew by " << growth / 1024 << " KiB";
  std::cout << "[ figures  ] gzip bomb (256 MiB inflated) x4: server peak RSS growth " << growth / 1024 << " KiB\n";
  EXPECT_EQ(Call("GET", "/v1/jobs", token_).status, 200);  // still serving
}

// Old server: 10 x 60 MiB bodies without a token were read whole (~1 GB) before the 401.
TEST_F(HttpLimits, OversizedAndUnauthenticatedBodiesAreRefusedUnread) {
  Start();
  const std::string chunk(1 << 20, 'x');
  const int64_t before = PeakRss(pid_);
  for (const bool with_token : {false, true}) {
    std::vector<std::thread> clients;
    std::atomic<int> right{0};
    for (int i = 0; i < 10; ++i)
      clients.emplace_back([&, i] {
        Raw c(port_);
        const size_t len = 60u << 20;
        std::string head = "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                           std::string(with_token ? "Authorization: Bearer " + token_ + "\r\n" : "") +
                           "Content-Length: " + std::to_string(len) + "\r\n\r\n";
        right += c.SendBodyAndRead(head, chunk, len, 30) == (with_token ? 413 : 401);
      });
    for (auto& t : clients) t.join();
    EXPECT_EQ(right.load(), 10) << (with_token ? "413 expected" : "401 expected");
  }
  const int64_t growth = PeakRss(pid_) - before;
  EXPECT_LT(growth, kMaxGrowth) << "peak RSS grew by " << growth / 1024 << " KiB";
  std::cout << "[ figures  ] 20 x 60 MiB bodies (10 without a token, 10 over the cap): server peak RSS growth "
            << growth / 1024 << " KiB\n";
  // A body within the cap but sent compressed, chunked, or with two lengths is refused as well.
  Raw te(port_);
  EXPECT_EQ(te.SendBodyAndRead("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token_ +
                                   "\r\nTransfer-Encoding: chunked\r\n\r\n",
                               "5\r\nhello\r\n", 8, 10),
            411);
  Raw two(port_);
  EXPECT_EQ(two.SendBodyAndRead("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token_ +
                                    "\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
                                "{}", 2, 10),
            400);
  // A POST without a length has no body (httplib alone would read until the client closes).
  Raw none(port_);
  none.Send("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer " + token_ + "\r\n\r\n");
  std::string all;
  EXPECT_EQ(none.ReadStatus(5, &all), 400) << all;
  EXPECT_NE(all.find("body: JSON syntax error"), std::string::npos) << all;
  EXPECT_NE(all.find("Connection: close"), std::string::npos) << all;
  EXPECT_EQ(Call("GET", "/v1/jobs", token_).status, 200);
}

// Old server: a fixed pool of 128 threads; 300 connections sending a header byte now and then held
// them all, and a normal client waited until they gave up.
TEST_F(HttpLimits, SlowClientsDoNotStarveANormalOne) {
  Start();
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 300; ++i) {  // 30 each from 127.0.0.2 .. 127.0.0.11 (under the per-client cap)
    auto r = std::make_unique<Raw>(port_, "127.0.0." + std::to_string(2 + i / 30));
    ASSERT_TRUE(r->ok()) << i;
    ASSERT_TRUE(r->Send("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    slow.push_back(std::move(r));
  }
  std::atomic<bool> done{false};
  std::thread dribble([&] {
    while (!done) {
      for (auto& r : slow) r->Send("X");
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // all of them are in
  auto c = Client();
  c->set_read_timeout(5, 0);
  c->set_connection_timeout(5, 0);
  httplib::Headers h{{"Authorization", "Bearer " + token_}};
  const auto t0 = Clock::now();
  auto health = c->Get("/healthz");
  auto list = c->Get("/v1/jobs", h);
  auto submit = c->Post("/v1/jobs", h, R"({"name": "n", "command": ["true"], "accelerators_per_worker": 0})", "application/json");
  const double took = Since(t0);
  done = true;
  dribble.join();
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  ASSERT_TRUE(submit);
  EXPECT_EQ(submit->status, 201) << submit->body;
  EXPECT_LT(took, 5.0) << "three requests beside 300 slow connections";
}

// Old server: no cap; one address could open every connection the server would hold.
TEST_F(HttpLimits, ConnectionsPerClientAreCapped) {
  Start("", {"--max-connections-per-client", "4"});
  std::vector<std::unique_ptr<Raw>> open;
  for (int i = 0; i < 4; ++i) {  // answered, so admitted; then held open (keep-alive)
    open.push_back(std::make_unique<Raw>(port_));
    open.back()->Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_EQ(open.back()->ReadStatus(10), 200) << i;
  }
  Raw fifth(port_);
  fifth.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string all;
  EXPECT_EQ(fifth.ReadStatus(10, &all), 429);
  EXPECT_NE(all.find("connections: more than 4 open from 127.0.0.1"), std::string::npos) << all;
  Raw other(port_, "127.0.0.2");  // another client is not affected
  other.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(other.ReadStatus(10), 200);
  open.pop_back();  // one closes: room for one more
  bool admitted = false;
  for (int i = 0; i < 50 && !admitted; ++i) {
    Raw again(port_);
    again.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    admitted = again.ReadStatus(10) == 200;
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(admitted);
}

// Old server: a 30 s timeout per read, none per request: a header line every 200 ms kept a
// connection (and its thread) forever. And no cap on the header block as a whole.
TEST_F(HttpLimits, RequestDeadlineAndHeaderCap) {
  Start("", {"--request-deadline", "1"});
  Raw slow(port_);
  slow.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  const auto t0 = Clock::now();
  while (!slow.Readable() && Since(t0) < 8) {
    slow.Send("X-Slow: 1\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::string all;
  EXPECT_EQ(slow.ReadStatus(2, &all), 408) << all;
  EXPECT_LT(Since(t0), 8.0);
  Raw big(port_);
  std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  while (head.size() < (70u << 10)) head += "X-Filler: " + std::string(100, 'f') + "\r\n";
  big.Send(head + "\r\n");
  EXPECT_EQ(big.ReadStatus(10), 431);
  Raw fine(port_);
  fine.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(fine.ReadStatus(10), 200);
}

// Old server: one page held every job asked for (up to 1000, whatever their size), and no cursor
// beyond `next_after` at exactly `limit` jobs.
TEST_F(HttpLimits, ListPagesStopAtTheByteCapAndNextLeadsToTheEnd) {
  Start("max_list_bytes: 4096\n");
  std::vector<int64_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(Submit("job-" + std::to_string(i) + "-" + std::string(100, 'n')));
  std::vector<int64_t> seen;
  int pages = 0;
  for (std::string path = "/v1/jobs?limit=1000"; !path.empty(); ++pages) {
    auto r = Call("GET", path, token_);
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_TRUE(r.body.contains("next")) << r.raw.substr(0, 200);
    EXPECT_LT(r.raw.size(), 4096u + 1024u) << "a page over the byte cap (by more than one job)";
    for (const auto& j : r.body["jobs"]) seen.push_back(j["id"]);
    path = r.body["next"].is_string() ? r.body["next"].get<std::string>() : "";
    ASSERT_LT(pages, 100);
  }
  EXPECT_GT(pages, 2);
  EXPECT_EQ(seen, ids) << "every job once, in order";
  // The CLI follows `next` too (oldest first here; its default is newest first, which pages by `before`).
  CliRun all = Cli({"ls", "--all", "--oldest", "--limit", "0", "--json", "--addr", "127.0.0.1:" + std::to_string(port_), "--token", token_});
  ASSERT_EQ(all.code, 0) << all.err;
  json doc = json::parse(all.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << all.out.substr(0, 200);
  std::vector<int64_t> cli_ids;
  for (const auto& j : doc["jobs"]) cli_ids.push_back(j["id"]);
  EXPECT_EQ(cli_ids, ids);
  CliRun newest = Cli({"ls", "--all", "--limit", "0", "--json", "--addr", "127.0.0.1:" + std::to_string(port_), "--token", token_});
  ASSERT_EQ(newest.code, 0) << newest.err;
  std::vector<int64_t> newest_ids;
  const json newest_doc = json::parse(newest.out, nullptr, false);
  for (const auto& j : newest_doc["jobs"]) newest_ids.push_back(j["id"]);
  EXPECT_EQ(newest_ids, std::vector<int64_t>(ids.rbegin(), ids.rend())) << "every job once, newest first, across byte-capped pages";
  CliRun some = Cli({"ls", "--all", "--limit", "25", "--json", "--addr", "127.0.0.1:" + std::to_string(port_), "--token", token_});
  ASSERT_EQ(some.code, 0) << some.err;
  EXPECT_EQ(json::parse(some.out, nullptr, false)["jobs"].size(), 25u);
}

// Old server and CLI: no TLS; the CLI turned https:// into http://https://...
TEST_F(HttpLimits, TlsRoundTripWithTheCliAndAWrongCaRefused) {
  testing::TestCa ca = testing::MakeTestCa(dir_);
  ASSERT_EQ(ca.error, "");
  Start("", {"--tls-cert", ca.cert, "--tls-key", ca.key}, ca.ca);
  EXPECT_NE(Slurp(out_).find("listening on https://"), std::string::npos);
  const std::string addr = "https://127.0.0.1:" + std::to_string(port_);
  EXPECT_EQ(Submit("over-tls") > 0, true);
  CliRun ok = Cli({"ls", "--addr", addr, "--ca-file", ca.ca, "--token", token_});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("over-tls"), std::string::npos) << ok.out;
  CliRun env = Cli({"sites", "--addr", addr, "--token", token_}, {"CNET_CA_FILE=" + ca.ca});
  EXPECT_EQ(env.code, 0) << env.err;
  CliRun wrong = Cli({"ls", "--addr", addr, "--ca-file", ca.other_ca, "--token", token_});
  EXPECT_NE(wrong.code, 0);
  EXPECT_NE(wrong.err.find("failed verification against the CA file '" + ca.other_ca + "'"), std::string::npos) << wrong.err;
  CliRun plain = Cli({"ls", "--addr", "http://127.0.0.1:" + std::to_string(port_), "--token", token_});
  EXPECT_NE(plain.code, 0) << "plain HTTP to the HTTPS port";
}

TEST_F(HttpLimits, UnusableTlsFilesAreNamed) {
  testing::TestCa ca = testing::MakeTestCa(dir_);
  ASSERT_EQ(ca.error, "");
  std::ofstream(dir_ + "/garbage.pem") << "not a certificate\n";
  const std::string cfg = dir_ + "/cnet.yaml";
  std::ofstream(cfg) << "sites:\n  - {name: f, type: fake, nodes: [{name: n1, cpus: 1}]}\n";
  struct Case {
    std::string cert, key, expect;
  };
  for (const Case& c : {Case{dir_ + "/missing.pem", ca.key, "tls_cert: cannot read '" + dir_ + "/missing.pem'"},
                        Case{dir_ + "/garbage.pem", ca.key, "tls_cert: '" + dir_ + "/garbage.pem' is not a usable PEM certificate"},
                        Case{ca.cert, dir_ + "/garbage.pem", "tls_key: '" + dir_ + "/garbage.pem' is not a usable PEM private key"},
                        Case{ca.ca, ca.key, "tls_key: '" + ca.key + "' does not match the certificate in '" + ca.ca + "'"}}) {
    CliRun r = Cli({"serve", "--config", cfg, "--addr", "127.0.0.1:" + std::to_string(testing::FreePort()), "--data",
                    dir_ + "/data", "--tls-cert", c.cert, "--tls-key", c.key});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace cnet
