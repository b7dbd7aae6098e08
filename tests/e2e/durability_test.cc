// Durability under faults, end to end: no 2xx for a write that was not committed (submit, cancel,
// admin writes), nothing half-moved, /healthz degraded while writes fail, and recovery without a
// restart when they commit again. Two fault sources: a FaultyStore under the Service facade (each
// write path), and a real full disk (a small tmpfs the test mounts, as root) under `cnet serve`.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/mount.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "common/strings.h"
#include "testing/faulty_store.h"
#include "testing/serve_process.h"
#include "testing/test_util.h"

namespace cnet::service {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

// Jobs run as their tenant's Unix account, not as the test's root: a file a job writes to is
// created here and opened to it (its directory, under /tmp, is traversable).
void MakeJobWritable(const std::string& path) {
  std::ofstream(path).close();
  fs::permissions(path, static_cast<fs::perms>(0666));
}

std::string Slurp(const std::string& path) {
  auto r = ReadWholeFile(path);
  return r.ok() ? *r : std::string();
}

struct Resp {
  int status = 0;
  json body;
};

Resp Call(int port, const std::string& method, const std::string& path, const std::string& token,
          const std::string& body = "") {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(40, 0);
  httplib::Headers h;
  if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
  auto r = method == "GET"   ? c.Get(path, h)
           : method == "PUT" ? c.Put(path, h, body, "application/json")
                             : c.Post(path, h, body, "application/json");
  if (!r) return {};
  return {r->status, json::parse(r->body, nullptr, false)};
}

json SleepJob(const std::string& cmd) {
  return {{"name", "j"}, {"command", {"sh", "-c", cmd}}, {"accelerators_per_worker", 0}, {"cpus_per_worker", 1}};
}

// Alive and not a zombie.
bool Alive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// Polls until job `id` is in `want` (a hang guard, not a timing assertion).
std::string WaitState(int port, const std::string& tok, int64_t id, const std::string& want, double secs = 30) {
  std::string state;
  for (auto end = SteadyClock::now() + std::chrono::duration<double>(secs); SteadyClock::now() < end;) {
    Resp r = Call(port, "GET", "/v1/jobs/" + std::to_string(id), tok);
    if (r.status == 200) state = r.body["state"];
    if (state == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  return state;
}

int WaitHealth(int port, int want, double secs = 30) {
  int got = 0;
  for (auto end = SteadyClock::now() + std::chrono::duration<double>(secs); SteadyClock::now() < end;) {
    got = Call(port, "GET", "/healthz", "").status;
    if (got == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return got;
}

// ---- Each write path under injected commit failures (Service facade + HTTP) ----

class FaultyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cnet-faulty-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string yaml = (dir_ / "cnet.yaml").string();
    std::ofstream(yaml) << "data: " << (dir_ / "data").string() << "\npolicy: backfill\ncycle_interval_s: 0.02\n"
                        << "sites:\n  - {name: local, type: local, cpus: 1}\n";
    auto loaded = LoadConfig(yaml);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    cfg_ = *loaded;
    StartService();
    if (HasFatalFailure()) return;
    admin_ = *svc_->InitAdminToken();
    ASSERT_EQ(Call(port_, "PUT", "/v1/tenants", admin_, R"({"name": "t"})").status, 200);
    Resp t = Call(port_, "POST", "/v1/tokens", admin_, R"({"tenant": "t"})");
    ASSERT_EQ(t.status, 201);
    tok_ = t.body["token"];
  }
  void TearDown() override {
    if (svc_)
      for (int64_t id = 1; id <= 4; ++id) (void)svc_->Cancel(Caller{"", true}, id);
    StopService();
    fs::remove_all(dir_);
  }
  // A service on the data dir (a restart when one ran before), its store wrapped in a FaultyStore.
  void StartService() {
    ServiceDeps deps;
    deps.wrap_store = [this](std::unique_ptr<store::Store> in) {
      auto f = std::make_unique<testing::FaultyStore>(std::move(in));
      faulty_ = f.get();
      return f;
    };
    auto s = Service::Create(cfg_, deps, testing::DataPath("accelerators.yaml"), "");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(s).value();
    http_ = std::make_unique<api::HttpServer>(*svc_);
    ASSERT_TRUE(http_->Bind("127.0.0.1", 0).ok());
    port_ = http_->port();
    svc_->Start();
    thread_ = std::thread([this] { http_->Run(); });
    ASSERT_EQ(WaitHealth(port_, 200), 200);
  }
  void StopService() {
    if (http_) http_->Stop();
    if (thread_.joinable()) thread_.join();
    if (svc_) svc_->Stop();
    http_.reset();
    svc_.reset();
  }
  int64_t Submit(const std::string& cmd) {
    Resp r = Call(port_, "POST", "/v1/jobs", tok_, SleepJob(cmd).dump());
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.status == 201 ? r.body["id"].get<int64_t>() : -1;
  }
  fs::path dir_;
  ServiceConfig cfg_;
  testing::FaultyStore* faulty_ = nullptr;
  std::unique_ptr<Service> svc_;
  std::unique_ptr<api::HttpServer> http_;
  std::thread thread_;
  int port_ = 0;
  std::string admin_, tok_;
};

TEST_F(FaultyServiceTest, SubmitNotCommittedIs503AndLeavesNothing) {
  faulty_->fail_insert = 1;
  faulty_->fail_check_writable = 1;  // the first health probe fails too: degraded is observable
  Resp r = Call(port_, "POST", "/v1/jobs", tok_, SleepJob("true").dump());
  EXPECT_EQ(r.status, 503) << r.body.dump();
  EXPECT_NE(r.body.dump().find("store"), std::string::npos) << r.body.dump();
  Resp list = Call(port_, "GET", "/v1/jobs", tok_);
  ASSERT_EQ(list.status, 200);
  EXPECT_TRUE(list.body["jobs"].empty()) << list.body.dump();
  Resp h = Call(port_, "GET", "/healthz", "");
  EXPECT_EQ(h.status, 503);
  EXPECT_EQ(h.body["status"], "degraded") << h.body.dump();
  // The queue slot reserved for the failed submit was given back (a quota of 1 still admits one).
  ASSERT_EQ(Call(port_, "PUT", "/v1/tenants", admin_, R"({"name": "t", "max_queued_jobs": 1})").status, 200);
  EXPECT_EQ(WaitHealth(port_, 200), 200);  // the next probe commits: healthy again by itself
  int64_t id = Submit("true");
  EXPECT_EQ(WaitState(port_, tok_, id, "SUCCEEDED"), "SUCCEEDED");
}

TEST_F(FaultyServiceTest, CancelNotCommittedIs503AndTheJobStaysPending) {
  int64_t running = Submit("exec sleep 30");
  int64_t waiting = Submit("true");
  ASSERT_EQ(WaitState(port_, tok_, running, "RUNNING"), "RUNNING");
  ASSERT_EQ(WaitState(port_, tok_, waiting, "PENDING"), "PENDING");
  faulty_->fail_transitions = 1;
  Resp c = Call(port_, "POST", "/v1/jobs/" + std::to_string(waiting) + "/cancel", tok_);
  EXPECT_EQ(c.status, 503) << c.body.dump();
  EXPECT_EQ(Call(port_, "GET", "/v1/jobs/" + std::to_string(waiting), tok_).body["state"], "PENDING");
  // Still queued, not half-moved: a retried cancel commits and is acknowledged.
  c = Call(port_, "POST", "/v1/jobs/" + std::to_string(waiting) + "/cancel", tok_);
  EXPECT_EQ(c.status, 202) << c.body.dump();
  EXPECT_EQ(c.body["state"], "CANCELLED") << c.body.dump();
  auto row = svc_->GetJob(Caller{"", true}, waiting, false);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->row.state, store::JobState::kCancelled);
  c = Call(port_, "POST", "/v1/jobs/" + std::to_string(running) + "/cancel", tok_);
  EXPECT_EQ(c.status, 202);
  EXPECT_EQ(WaitState(port_, tok_, running, "CANCELLED"), "CANCELLED");
}

TEST_F(FaultyServiceTest, AcknowledgedCancelOfARunningJobSurvivesARestart) {
  const std::string pidfile = (dir_ / "job.pid").string();
  MakeJobWritable(pidfile);
  int64_t id = Submit("echo $$ > " + pidfile + "; exec sleep 30");
  ASSERT_EQ(WaitState(port_, tok_, id, "RUNNING"), "RUNNING");
  for (int i = 0; i < 500 && Slurp(pidfile).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const pid_t pid = std::atoi(Slurp(pidfile).c_str());
  ASSERT_GT(pid, 0);
  faulty_->fail_to_terminal = true;  // the run's end can never be recorded by this process (the cancel mark can)
  Resp c = Call(port_, "POST", "/v1/jobs/" + std::to_string(id) + "/cancel", tok_);
  ASSERT_EQ(c.status, 202) << c.body.dump();
  for (int i = 0; i < 500 && Alive(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Alive(pid)) << "the cancelled run is still alive";
  StopService();  // the service goes down before the cancel's outcome was recorded
  StartService();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(WaitState(port_, tok_, id, "CANCELLED"), "CANCELLED") << "an acknowledged cancel was lost in a restart";
}

TEST_F(FaultyServiceTest, CancelDuringLaunchSurvivesTheLaunchCommitAndARestart) {
  const std::string pidfile = (dir_ / "job.pid").string();
  MakeJobWritable(pidfile);
  faulty_->fail_to_running = true;   // the launch is not recorded: the job stays launching
  faulty_->fail_to_terminal = true;  // and its end will never be recorded by this process
  int64_t id = Submit("echo $$ > " + pidfile + "; exec sleep 30");
  for (int i = 0; i < 500 && Slurp(pidfile).empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const pid_t pid = std::atoi(Slurp(pidfile).c_str());
  ASSERT_GT(pid, 0);
  ASSERT_EQ(WaitState(port_, tok_, id, "SCHEDULED"), "SCHEDULED");
  Resp c = Call(port_, "POST", "/v1/jobs/" + std::to_string(id) + "/cancel", tok_);
  ASSERT_EQ(c.status, 202) << c.body.dump();
  faulty_->fail_to_running = false;  // the launch commits now, then the run is killed
  EXPECT_EQ(WaitState(port_, tok_, id, "RUNNING"), "RUNNING");
  for (int i = 0; i < 500 && Alive(pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Alive(pid)) << "the run cancelled during its launch is still alive";
  StopService();
  StartService();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(WaitState(port_, tok_, id, "CANCELLED"), "CANCELLED") << "the launch's commit erased the cancel";
}

TEST_F(FaultyServiceTest, UndecodableRowsAreFailedWithAReasonOrRefused) {
  int64_t running = Submit("exec sleep 30");
  int64_t waiting = Submit("true");
  ASSERT_EQ(WaitState(port_, tok_, waiting, "PENDING"), "PENDING");
  StopService();
  const std::string db = (dir_ / "data" / "cnet.db").string();
  auto exec = [&](const std::string& sql) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(h);
    sqlite3_close(h);
  };
  exec("UPDATE jobs SET spec_json = '{\"command\": 7' WHERE id = " + std::to_string(waiting));
  StartService();
  ASSERT_FALSE(HasFatalFailure());
  auto row = svc_->GetJob(Caller{"", true}, waiting, false);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->row.state, store::JobState::kFailed) << "an undecodable job was dropped or kept silently";
  EXPECT_NE(row->row.reason.find("spec no longer valid"), std::string::npos) << row->row.reason;
  (void)svc_->Cancel(Caller{"", true}, running);
  StopService();
  // A state no cnet knows: the start is refused, naming the job.
  exec("UPDATE jobs SET state = 'BOGUS' WHERE id = " + std::to_string(running));
  auto s = Service::Create(cfg_, ServiceDeps{}, testing::DataPath("accelerators.yaml"), "");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("job " + std::to_string(running)), std::string::npos) << s.status().ToString();
}

TEST_F(FaultyServiceTest, AdminWritesNotCommittedAre503) {
  faulty_->fail_put_tenant = 1;
  Resp r = Call(port_, "PUT", "/v1/tenants", admin_, R"({"name": "u"})");
  EXPECT_EQ(r.status, 503) << r.body.dump();
  faulty_->fail_put_token = 1;
  r = Call(port_, "POST", "/v1/tokens", admin_, R"({"tenant": "t"})");
  EXPECT_EQ(r.status, 503) << r.body.dump();
  EXPECT_FALSE(r.body.dump().find("cnet_") != std::string::npos) << "a token that was not stored was handed out";
  // The tenant that failed to commit does not exist: a token for it is refused.
  EXPECT_EQ(Call(port_, "POST", "/v1/tokens", admin_, R"({"tenant": "u"})").status, 404);
}

TEST_F(FaultyServiceTest, JobEndsCorrectlyAfterItsCommitsFailedForAWhile) {
  faulty_->fail_transitions = 6;  // dispatch, start and end commits fail and are retried
  int64_t id = Submit("exit 3");
  EXPECT_EQ(WaitState(port_, tok_, id, "FAILED"), "FAILED");
  auto row = svc_->GetJob(Caller{"", true}, id, false);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->row.exit_code, 3);
  EXPECT_EQ(faulty_->fail_transitions.load(), 0);
}

// ---- A real full disk under `cnet serve` ----

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs";
    dir_ = fs::temp_directory_path() / ("cnet-fulldisk-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "disk");
    fs::permissions(dir_, fs::perms::all);
    if (mount("tmpfs", (dir_ / "disk").c_str(), "tmpfs", 0, "size=8m") != 0)
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    mounted_ = true;
    port_ = testing::FreePort();
    cfg_ = (dir_ / "cnet.yaml").string();
    std::ofstream(cfg_) << "addr: 127.0.0.1:" << port_ << "\ndata: " << (dir_ / "disk" / "data").string()
                        << "\npolicy: backfill\ncycle_interval_s: 0.05\n"
                        << "sites:\n  - {name: local, type: local, cpus: 1}\n";
  }
  void TearDown() override {
    Stop();
    if (job_pid_ > 0) kill(job_pid_, SIGKILL);
    if (mounted_) umount2((dir_ / "disk").c_str(), MNT_DETACH);
    fs::remove_all(dir_);
  }
  void Start(bool init) {
    server_ = testing::StartServer(cfg_, (dir_ / "server.out").string(), init);
    ASSERT_TRUE(testing::WaitHealthy(port_, 30)) << Log();
  }
  void Stop() {
    if (server_ <= 0) return;
    kill(server_, SIGTERM);
    waitpid(server_, nullptr, 0);
    server_ = -1;
  }
  std::string Log() const {
    return Slurp((dir_ / "server.out").string());
  }
  void Fill() {
    std::ofstream fill(dir_ / "disk" / "fill", std::ios::binary);
    std::string block(4096, 'f');
    while (fill.write(block.data(), block.size())) {
    }
  }
  fs::path dir_;
  bool mounted_ = false;
  int port_ = 0;
  std::string cfg_;
  pid_t server_ = -1, job_pid_ = -1;
};

TEST_F(FullDiskTest, NoAcknowledgedWriteIsLostAndTheServiceRecoversByItself) {
  Start(true);
  std::string log = Log();
  size_t at = log.find("cnet_");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string admin = log.substr(at, log.find_first_of(" \n", at) - at);
  ASSERT_EQ(Call(port_, "PUT", "/v1/tenants", admin, R"({"name": "t"})").status, 200);
  Resp t = Call(port_, "POST", "/v1/tokens", admin, R"({"tenant": "t"})");
  ASSERT_EQ(t.status, 201);
  const std::string tok = t.body["token"];
  const std::string pidfile = (dir_ / "a.pid").string();
  MakeJobWritable(pidfile);
  auto submit = [&](const std::string& cmd) { return Call(port_, "POST", "/v1/jobs", tok, SleepJob(cmd).dump()); };
  Resp a = submit("echo $$ > " + pidfile + "; exec sleep 1000");
  Resp b = submit("exec sleep 1000");
  ASSERT_EQ(a.status, 201);
  ASSERT_EQ(b.status, 201);
  const int64_t ida = a.body["id"], idb = b.body["id"];
  ASSERT_EQ(WaitState(port_, tok, ida, "RUNNING"), "RUNNING") << Log();
  for (int i = 0; i < 500 && Slurp(pidfile).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  job_pid_ = std::atoi(Slurp(pidfile).c_str());
  ASSERT_GT(job_pid_, 0);

  Fill();
  // Submits until one is refused (the WAL may hold a few more commits): every 201 is a promise.
  std::vector<int64_t> acked;
  int refused = 0;
  for (int i = 0; i < 400 && refused == 0; ++i) {
    Resp r = submit("true");
    if (r.status == 201) acked.push_back(r.body["id"]);
    else if (r.status == 503) ++refused;
    else FAIL() << "submit on a full disk answered " << r.status << " " << r.body.dump();
  }
  ASSERT_EQ(refused, 1) << "the disk never filled";
  Resp c = Call(port_, "POST", "/v1/jobs/" + std::to_string(idb) + "/cancel", tok);
  EXPECT_EQ(c.status, 503) << "a cancel that could not be committed was acknowledged: " << c.body.dump();
  EXPECT_EQ(Call(port_, "GET", "/v1/jobs/" + std::to_string(idb), tok).body["state"], "PENDING");
  Resp h = Call(port_, "GET", "/healthz", "");
  EXPECT_EQ(h.status, 503) << h.body.dump();
  EXPECT_EQ(h.body["status"], "degraded");
  // Job A ends while nothing can be recorded; its end must not be lost.
  kill(job_pid_, SIGKILL);
  job_pid_ = -1;
  const std::string not_recorded = "job " + std::to_string(ida) + ": FAILED not recorded";
  for (int i = 0; i < 500 && Log().find(not_recorded) == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(Log().find(not_recorded), std::string::npos) << "the end of job A never met the full disk\n" << Log();
  EXPECT_EQ(Call(port_, "GET", "/v1/jobs/" + std::to_string(ida), tok).body["state"], "RUNNING");

  fs::remove(dir_ / "disk" / "fill");  // space returns; no restart
  EXPECT_EQ(WaitHealth(port_, 200), 200) << Log();
  EXPECT_EQ(WaitState(port_, tok, ida, "FAILED"), "FAILED") << Log();
  EXPECT_EQ(WaitState(port_, tok, idb, "RUNNING"), "RUNNING") << Log();
  c = Call(port_, "POST", "/v1/jobs/" + std::to_string(idb) + "/cancel", tok);
  EXPECT_EQ(c.status, 202) << c.body.dump();
  EXPECT_EQ(WaitState(port_, tok, idb, "CANCELLED"), "CANCELLED");
  for (int64_t id : acked) EXPECT_EQ(WaitState(port_, tok, id, "SUCCEEDED"), "SUCCEEDED") << "job " << id;

  Stop();  // and after a restart, everything stays as acknowledged
  Start(false);
  EXPECT_EQ(WaitState(port_, tok, ida, "FAILED", 5), "FAILED");
  EXPECT_EQ(WaitState(port_, tok, idb, "CANCELLED", 5), "CANCELLED");
  for (int64_t id : acked) EXPECT_EQ(WaitState(port_, tok, id, "SUCCEEDED", 5), "SUCCEEDED") << "job " << id;
  Resp list = Call(port_, "GET", "/v1/jobs?limit=1000", tok);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["jobs"].size(), 2 + acked.size()) << "a refused submit left a job behind";
}

TEST_F(FullDiskTest, CorruptDatabaseRefusesToStartNamingTheFile) {
  Start(true);
  Stop();
  const std::string db = (dir_ / "disk" / "data" / "cnet.db").string();
  ASSERT_FALSE(fs::exists(db + "-wal")) << "a clean stop checkpoints the WAL into the file";
  const auto size = fs::file_size(db);
  ASSERT_GE(size, 3u * 4096);
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 4096));  // the last page: part of a table or index
    std::string junk(4096, '\x5A');
    f.write(junk.data(), junk.size());
  }
  pid_t p = testing::StartServer(cfg_, (dir_ / "server.out").string(), false);
  int st = 0;
  ASSERT_EQ(waitpid(p, &st, 0), p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0) << Log();
  EXPECT_NE(Log().find(db), std::string::npos) << Log();
  EXPECT_NE(Log().find("corrupt"), std::string::npos) << Log();
}

}  // namespace
}  // namespace cnet::service
