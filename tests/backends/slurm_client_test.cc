// SlurmClient: host lists, response parsing against responses recorded from a real slurmrestd
// 22.05.8 (served by a local fake), transport failures, and integration tests against a real Slurm
// started with scripts/slurm/{setup,start,stop}.sh (skipped when Slurm is not installed).
#include "backends/slurm/slurm_client.h"
#include "backends/slurm/hostlist.h"
#include "backends/slurm/slurm_parse.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <jwt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/loopback_slurm.h"

namespace cnet::backends::slurm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string MakeTempDir(const std::string& stem) {
  std::string tmpl = (fs::temp_directory_path() / (stem + "XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  ::chmod(tmpl.c_str(), 0755);  // munged and job users must traverse it
  return tmpl;
}

void WriteKey(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// ------------------------------------------------------------------------------------------------
// ExpandHostList

TEST(HostListTest, PlainNames) {
  EXPECT_EQ(ExpandHostList("node1"), (std::vector<std::string>{"node1"}));
  EXPECT_EQ(ExpandHostList("a,b, c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(ExpandHostList("").empty());
  EXPECT_TRUE(ExpandHostList("(null)").empty());
}

TEST(HostListTest, RangesAndLists) {
  EXPECT_EQ(ExpandHostList("a[1-3,5]"), (std::vector<std::string>{"a1", "a2", "a3", "a5"}));
  EXPECT_EQ(ExpandHostList("node[1-2]"), (std::vector<std::string>{"node1", "node2"}));
  EXPECT_EQ(ExpandHostList("node[1-3,5],gpu01"),
            (std::vector<std::string>{"node1", "node2", "node3", "node5", "gpu01"}));
  EXPECT_EQ(ExpandHostList("a01,b[02-03]"), (std::vector<std::string>{"a01", "b02", "b03"}));
  EXPECT_EQ(ExpandHostList("x[7]"), (std::vector<std::string>{"x7"}));
}

TEST(HostListTest, ZeroPadding) {
  std::vector<std::string> want;
  for (int i = 1; i <= 10; ++i) want.push_back((i < 10 ? "n0" : "n") + std::to_string(i));
  EXPECT_EQ(ExpandHostList("n[01-10]"), want);
  EXPECT_EQ(ExpandHostList("n[008-011]"), (std::vector<std::string>{"n008", "n009", "n010", "n011"}));
  EXPECT_EQ(ExpandHostList("n[9-11]"), (std::vector<std::string>{"n9", "n10", "n11"}));
}

TEST(HostListTest, SeveralBracketsAndSuffixes) {
  EXPECT_EQ(ExpandHostList("r[1-2]n[1-2]"), (std::vector<std::string>{"r1n1", "r1n2", "r2n1", "r2n2"}));
  EXPECT_EQ(ExpandHostList("gpu[1-2]-ib"), (std::vector<std::string>{"gpu1-ib", "gpu2-ib"}));
}

TEST(HostListTest, MalformedKeptLiterally) {
  EXPECT_EQ(ExpandHostList("a[1-"), (std::vector<std::string>{"a[1-"}));
  EXPECT_EQ(ExpandHostList("a[3-1]"), (std::vector<std::string>{"a[3-1]"}));
  EXPECT_EQ(ExpandHostList("a[x]"), (std::vector<std::string>{"a[x]"}));
}

TEST(HostListTest, SplitTopLevelIgnoresSeparatorsInsideBrackets) {
  EXPECT_EQ(SplitTopLevel("a[1,2],b(c,d),{e,f}", ','),
            (std::vector<std::string>{"a[1,2]", "b(c,d)", "{e,f}"}));
  EXPECT_EQ(SplitTopLevel("", ','), (std::vector<std::string>{""}));
}

// ------------------------------------------------------------------------------------------------
// The pure parsers of slurm_parse.h, on single values (the recorded responses below drive them
// through the client).

TEST(SlurmValueParseTest, GresCountsMultipliersAndSuffixes) {
  EXPECT_EQ(ParseGres("gpu:h100:8(S:0-1),gpu:a100:2,shard:4"),
            (std::map<std::string, int>{{"gpu:h100", 8}, {"gpu:a100", 2}, {"shard", 4}}));
  EXPECT_EQ(ParseGres("bw:2K"), (std::map<std::string, int>{{"bw", 2048}}));
  EXPECT_EQ(ParseGres("npu"), (std::map<std::string, int>{{"npu", 1}}));
  EXPECT_TRUE(ParseGres("(null)").empty());
  EXPECT_TRUE(ParseGres(" N/A ").empty());
}

TEST(SlurmValueParseTest, ExitCodeFromWaitStatusOrObject) {
  using nlohmann::json;
  EXPECT_EQ(ExitCode(json{{"exit_code", 768}}), 3);   // exit 3
  EXPECT_EQ(ExitCode(json{{"exit_code", 15}}), 143);  // SIGTERM
  EXPECT_EQ(ExitCode(json{{"exit_code", nullptr}}), 0);
  EXPECT_EQ(ExitCode(json{{"exit_code", {{"return_code", 2}}}}), 2);
  EXPECT_EQ(ExitCode(json{{"exit_code", {{"return_code", 0}, {"signal", {{"signal_id", 9}}}}}}), 137);
}

TEST(SlurmValueParseTest, OutputPathPatterns) {
  const nlohmann::json job = {{"job_id", 42}, {"name", "cnet-7-1"}, {"user_name", "u"},
                              {"batch_host", "node2"}, {"array_task_id", 3}};
  EXPECT_EQ(ExpandOutputPath("/o/%x-%j.out", job), "/o/cnet-7-1-42.out");
  EXPECT_EQ(ExpandOutputPath("/o/%4j_%a_%u_%N_%%_%q", job), "/o/0042_3_u_node2_%_%q");
  EXPECT_EQ(ExpandOutputPath("/o/%A", job), "/o/42");  // no array: the job id
  EXPECT_EQ(ExpandOutputPath("/o/plain", job), "/o/plain");
}

TEST(SlurmValueParseTest, ErrorsReadEveryNumberKey) {
  const auto body = nlohmann::json::parse(R"({"errors":[
      {"error_code":2014,"error":"Requested node configuration is not available"},
      {"error_number":2017,"error":"Invalid job id specified","description":"Unable to find JobId=9","source":"slurm_load_job"},
      {"errno":-1,"error":"Unspecified error"},
      {"description":"Unknown key","source":"hsearch_r"}]})");
  std::vector<SlurmError> e = Errors(body);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].number, 2014);
  EXPECT_EQ(e[1].text, "Invalid job id specified: Unable to find JobId=9 (error 2017, slurm_load_job)");
  EXPECT_EQ(e[2].number, -1);
  EXPECT_FALSE(e[3].has_number);
  EXPECT_EQ(e[3].text, "Unknown key (hsearch_r)");
  EXPECT_TRUE(CommunicationError(-1));
  EXPECT_TRUE(CommunicationError(ECONNRESET));
  EXPECT_TRUE(CommunicationError(5005));
  EXPECT_FALSE(CommunicationError(2014));
}

// ------------------------------------------------------------------------------------------------
// Parsing, against responses recorded from slurmrestd 22.05.8 (openapi/v0.0.38), trimmed to the
// fields that matter plus a few neighbours. A local httplib server plays slurmrestd.

constexpr const char* kMeta =
    R"J("meta":{"plugin":{"type":"openapi\/v0.0.38","name":"Slurm OpenAPI v0.0.38"},)J"
    R"J("Slurm":{"version":{"major":22,"micro":8,"minor":5},"release":"22.05.8"}})J";

// `rest`: the members after "meta" and the closing brace.
std::string WithMeta(const std::string& rest) { return "{" + std::string(kMeta) + "," + rest; }

// GET /nodes. node1..node4 as recorded (node3 drained, node4 down and, earlier, idle with
// NOT_RESPONDING); node5 is synthetic: a gres string with the socket suffix some sites report.
const std::string kNodes = WithMeta(R"J("errors":[],"nodes":[
 {"architecture":"x86_64","boards":1,"cores":8,"cpus":16,"gres":"gpu:h100:8","gres_drained":"N/A",
  "gres_used":"gpu:h100:0(IDX:N/A)","name":"node1","address":"127.0.0.1","hostname":"localhost",
  "state":"idle","state_flags":[],"partitions":["debug"],"port":17101,"real_memory":65536,
  "reason":"","reason_changed_at":0,"reason_set_by_user":null,"tres":"cpu=16,mem=64G,billing=16",
  "alloc_memory":0,"alloc_cpus":0,"idle_cpus":16},
 {"name":"node2","cpus":16,"gres":"gpu:h100:8","state":"mixed","state_flags":[],
  "partitions":["debug"],"real_memory":65536,"reason":""},
 {"name":"node3","cpus":16,"gres":"gpu:h100:8","state":"idle","state_flags":["DRAIN"],
  "partitions":["debug"],"real_memory":65536,"reason":"injected","reason_set_by_user":"root"},
 {"name":"node4","cpus":16,"gres":"gpu:h100:8","state":"down","state_flags":[],
  "partitions":["debug"],"real_memory":65536,"reason":"Not responding"},
 {"name":"node5","cpus":16,"gres":"gpu:h100:8","state":"idle","state_flags":["NOT_RESPONDING"],
  "partitions":["debug"],"real_memory":65536,"reason":""},
 {"name":"node6","cpus":64,"gres":"gpu:h100:8(S:0-1),gpu:a100:2(S:0),shard:4","state":"down*",
  "state_flags":[],"partitions":["a","b"],"real_memory":1024000,"reason":null}]})J");

// GET /partitions (recorded, trimmed).
const std::string kPartitions = WithMeta(R"J("errors":[],"partitions":[{"flags":["default"],
 "maximum_nodes_per_job":-1,"max_time_limit":-1,"name":"debug","nodes":"node[1-4]","state":"UP",
 "total_cpus":64,"total_nodes":4,"tres":"cpu=64,mem=256G,node=4,billing=64"}]})J");

// GET /jobs (recorded, trimmed): a 2-node GPU job, `exit 3`, a cancelled `sleep 60`, a rejected
// gpu:h100:9 job, a held job.
const std::string kJobs = WithMeta(R"J("errors":[],"jobs":[
 {"account":"","batch_flag":true,"batch_host":"node1","cluster":"cnetci","derived_exit_code":0,
  "end_time":1795362266,"exit_code":0,"gres_detail":[],"job_id":1,"job_state":"COMPLETED",
  "name":"t1","nodes":"node[1-2]","node_count":2,"partition":"debug","start_time":1795362266,
  "state_reason":"None","standard_error":"","standard_input":"","standard_output":"/tmp/sct/t1.out",
  "submit_time":1795362265,"tres_per_node":"gres:gpu:h100:8","user_name":"root",
  "current_working_directory":"/tmp/sct"},
 {"batch_flag":true,"batch_host":"node1","end_time":1795362276,"exit_code":768,"job_id":2,
  "job_state":"FAILED","name":"t2","nodes":"node1","start_time":1795362276,
  "state_reason":"NonZeroExitCode","standard_error":"","standard_output":"/tmp/sct/t2-%j.out",
  "submit_time":1795362276,"user_name":"root","current_working_directory":"/tmp/sct"},
 {"batch_flag":true,"batch_host":"node1","end_time":1795362279,"exit_code":15,"job_id":3,
  "job_state":"CANCELLED","name":"t3","nodes":"node1","start_time":1795362276,
  "state_reason":"None","standard_error":"","standard_output":"","submit_time":1795362276,
  "user_name":"root","current_working_directory":"/tmp/sct"},
 {"batch_flag":true,"batch_host":"","end_time":1795362276,"exit_code":1,"job_id":4,
  "job_state":"FAILED","name":"t4","nodes":"","start_time":1795362276,
  "state_reason":"BadConstraints","standard_error":"","standard_output":"","submit_time":1795362276,
  "user_name":"root","current_working_directory":"/tmp/sct"},
 {"batch_flag":true,"batch_host":"","end_time":0,"exit_code":0,"job_id":5,"job_state":"PENDING",
  "name":"t5","nodes":"","start_time":0,"state_reason":"JobHeldUser","standard_error":"/tmp/e-%x.%4j",
  "standard_output":"/tmp/o-%u-%%.txt","submit_time":1795362276,"user_name":"root",
  "current_working_directory":"/tmp/sct"}]})J");

// GET /job/999 (recorded): HTTP 500.
const std::string kJobUnknown = WithMeta(R"J("errors":[{"description":"Unable to find JobId=999",
 "error_number":2017,"error":"Invalid job id specified","source":"slurm_load_job"}],"jobs":[]})J");
// POST /job/submit with "hold": true (recorded): accepted, with error 2042.
const std::string kSubmitHeld = WithMeta(R"J("errors":[{"error_code":2042,
 "error":"Job is in held state, pending scheduler release"}],"job_id":5,"step_id":"BATCH",
 "job_submit_user_msg":""})J");
// POST /job/submit with gres gpu:h100:9 on 8-GPU nodes (recorded): HTTP 500.
const std::string kSubmitInfeasible = WithMeta(
    R"J("errors":[{"error_code":2014,"error":"Requested node configuration is not available"}]})J");
// POST /job/submit with an unknown key (recorded): HTTP 400.
const std::string kSubmitBadKey = WithMeta(R"J("errors":[{"description":"Unknown key \"gres_per_node\"",
 "source":"hsearch_r"},{"error_code":9001,"error":"Failure during parsing"}]})J");
// GET /ping with a token signed by the wrong key (recorded): HTTP 500.
const std::string kPingWrongKey = WithMeta(R"J("errors":[{"description":"slurmctld config is unable to load",
 "error_number":-1,"error":"Unspecified error","source":"slurm_load_ctl_conf"}]})J");
const std::string kPingOk = WithMeta(
    R"J("errors":[],"pings":[{"hostname":"vm","ping":"UP","status":0,"mode":"primary"}]})J");

// A local stand-in for slurmrestd that answers with canned bodies and records requests.
class FakeSlurmrestd {
 public:
  struct Seen {
    std::string method, path, user, token, body;
  };
  FakeSlurmrestd() {
    auto handle = [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back({req.method, req.path, req.get_header_value("X-SLURM-USER-NAME"),
                         req.get_header_value("X-SLURM-USER-TOKEN"), req.body});
      }
      if (req.get_header_value("X-SLURM-USER-TOKEN").empty() ||
          req.get_header_value("X-SLURM-USER-TOKEN") == "no-such-token") {
        res.status = 401;
        res.set_header("Connection", "Close");
        res.set_content("Authentication failure", "text/plain");
        return;
      }
      auto [status, body] = Answer(req.method, req.path);
      res.status = status;
      if (status != 200) res.set_header("Connection", "Close");  // as slurmrestd does
      res.set_content(body, "application/json");
    };
    server_.Get(".*", handle);
    server_.Post(".*", handle);
    server_.Delete(".*", handle);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeSlurmrestd() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  // Overrides: (method, path) -> (status, body).
  std::function<std::pair<int, std::string>(const std::string&, const std::string&)> answer;

 private:
  std::pair<int, std::string> Answer(const std::string& m, const std::string& p) {
    if (answer) return answer(m, p);
    const std::string api = "/slurm/v0.0.38";
    if (m == "GET" && p == api + "/ping") return {200, kPingOk};
    if (m == "GET" && p == api + "/nodes") return {200, kNodes};
    if (m == "GET" && p == api + "/partitions") return {200, kPartitions};
    if (m == "GET" && p == api + "/jobs") return {200, kJobs};
    if (m == "GET" && p == api + "/job/2") {
      json all = json::parse(kJobs);
      all["jobs"] = json::array({all["jobs"][1]});
      return {200, all.dump()};
    }
    if (p == api + "/job/999") return {500, kJobUnknown};
    if (m == "DELETE") return {200, WithMeta(R"J("errors":[]})J")};
    if (m == "POST" && p == api + "/job/submit") return {200, kSubmitHeld};
    return {404, "not found"};
  }
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

SlurmConfig FakeConfig(const std::string& url) {
  SlurmConfig cfg;
  cfg.url = url;
  cfg.user = "alice";
  cfg.token = "tok-123";
  cfg.timeout_s = 2;
  return cfg;
}

TEST(SlurmParseTest, NodesStatesGresAndUsable) {
  FakeSlurmrestd fake;
  SlurmClient client(FakeConfig(fake.url()));
  auto nodes = client.Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 6u);
  const SlurmNode& n1 = (*nodes)[0];
  EXPECT_EQ(n1.name, "node1");
  EXPECT_EQ(n1.state, (std::vector<std::string>{"IDLE"}));
  EXPECT_EQ(n1.cpus, 16);
  EXPECT_EQ(n1.real_memory_mb, 65536);
  EXPECT_EQ(n1.gres, (std::map<std::string, int>{{"gpu:h100", 8}}));
  EXPECT_EQ(n1.partitions, (std::vector<std::string>{"debug"}));
  EXPECT_TRUE(n1.Usable());
  EXPECT_EQ((*nodes)[1].state, (std::vector<std::string>{"MIXED"}));
  EXPECT_TRUE((*nodes)[1].Usable());
  EXPECT_EQ((*nodes)[2].state, (std::vector<std::string>{"IDLE", "DRAIN"}));
  EXPECT_EQ((*nodes)[2].reason, "injected");
  EXPECT_FALSE((*nodes)[2].Usable());
  EXPECT_EQ((*nodes)[3].state, (std::vector<std::string>{"DOWN"}));
  EXPECT_EQ((*nodes)[3].reason, "Not responding");
  EXPECT_FALSE((*nodes)[3].Usable());
  EXPECT_EQ((*nodes)[4].state, (std::vector<std::string>{"IDLE", "NOT_RESPONDING"}));
  EXPECT_FALSE((*nodes)[4].Usable());
  const SlurmNode& n6 = (*nodes)[5];
  EXPECT_EQ(n6.state, (std::vector<std::string>{"DOWN", "NOT_RESPONDING"}));
  EXPECT_EQ(n6.gres, (std::map<std::string, int>{{"gpu:h100", 8}, {"gpu:a100", 2}, {"shard", 4}}));
  EXPECT_EQ(n6.partitions, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(n6.reason, "");
  EXPECT_EQ(n6.real_memory_mb, 1024000);
  // Headers: the configured user and token.
  auto seen = fake.seen();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].path, "/slurm/v0.0.38/nodes");
  EXPECT_EQ(seen[0].user, "alice");
  EXPECT_EQ(seen[0].token, "tok-123");
}

TEST(SlurmParseTest, Partitions) {
  FakeSlurmrestd fake;
  SlurmClient client(FakeConfig(fake.url()));
  auto parts = client.Partitions();
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "debug");
  EXPECT_EQ((*parts)[0].state, "UP");
  EXPECT_EQ((*parts)[0].nodes, (std::vector<std::string>{"node1", "node2", "node3", "node4"}));
}

TEST(SlurmParseTest, JobsExitCodesNodesAndPaths) {
  FakeSlurmrestd fake;
  SlurmClient client(FakeConfig(fake.url()));
  auto jobs = client.Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 5u);
  const SlurmJob& j1 = (*jobs)[0];
  EXPECT_EQ(j1.job_id, 1);
  EXPECT_EQ(j1.name, "t1");
  EXPECT_EQ(j1.state, "COMPLETED");
  EXPECT_TRUE(j1.Terminal());
  EXPECT_EQ(j1.exit_code, 0);
  EXPECT_EQ(j1.nodes, (std::vector<std::string>{"node1", "node2"}));
  EXPECT_EQ(j1.submit_time, 1795362265);
  EXPECT_EQ(j1.start_time, 1795362266);
  EXPECT_EQ(j1.end_time, 1795362266);
  EXPECT_EQ(j1.stdout_path, "/tmp/sct/t1.out");
  EXPECT_EQ(j1.stderr_path, "/tmp/sct/t1.out");  // no standard_error: stderr goes to stdout
  const SlurmJob& j2 = (*jobs)[1];
  EXPECT_EQ(j2.state, "FAILED");
  EXPECT_EQ(j2.reason, "NonZeroExitCode");
  EXPECT_EQ(j2.exit_code, 3);  // raw wait status 768
  EXPECT_EQ(j2.stdout_path, "/tmp/sct/t2-2.out");  // %j expanded
  const SlurmJob& j3 = (*jobs)[2];
  EXPECT_EQ(j3.state, "CANCELLED");
  EXPECT_EQ(j3.exit_code, 128 + 15);  // raw wait status 15: SIGTERM
  EXPECT_EQ(j3.stdout_path, "/tmp/sct/slurm-3.out");  // Slurm's default
  const SlurmJob& j4 = (*jobs)[3];
  EXPECT_EQ(j4.reason, "BadConstraints");
  EXPECT_TRUE(j4.nodes.empty());
  const SlurmJob& j5 = (*jobs)[4];
  EXPECT_EQ(j5.state, "PENDING");
  EXPECT_FALSE(j5.Terminal());
  EXPECT_EQ(j5.reason, "JobHeldUser");
  EXPECT_EQ(j5.stdout_path, "/tmp/o-root-%.txt");
  EXPECT_EQ(j5.stderr_path, "/tmp/e-t5.0005");

  auto one = client.Job(2);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->job_id, 2);
  EXPECT_EQ(one->exit_code, 3);
}

TEST(SlurmParseTest, UnknownJobIsNotFound) {
  FakeSlurmrestd fake;
  SlurmClient client(FakeConfig(fake.url()));
  auto j = client.Job(999);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Code::kNotFound) << j.status().ToString();
  EXPECT_NE(j.status().message().find("GET"), std::string::npos) << j.status().message();
  EXPECT_NE(j.status().message().find("/slurm/v0.0.38/job/999"), std::string::npos);
  EXPECT_NE(j.status().message().find("Unable to find JobId=999"), std::string::npos);
  EXPECT_EQ(client.Cancel(999).code(), Code::kNotFound);
  // slurmrestd closed the connection after the error; the next call still works.
  EXPECT_TRUE(client.Ping().ok());
}

TEST(SlurmParseTest, SubmitBodyAndHeldJob) {
  FakeSlurmrestd fake;
  SlurmClient client(FakeConfig(fake.url()));
  SlurmJobSpec spec;
  spec.name = "cnet-42-1";
  spec.partition = "debug";
  spec.nodes = 2;
  spec.tasks_per_node = 1;
  spec.cpus_per_task = 4;
  spec.gres_per_node = "gpu:h100:8";
  spec.memory_per_node_mb = 2048;
  spec.time_limit_min = 10;
  spec.working_dir = "/tmp";
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"CNET_JOB", "42"}};
  spec.stdout_path = "/tmp/o.txt";
  spec.stderr_path = "/tmp/e.txt";
  spec.script = "#!/bin/sh\ntrue\n";
  spec.hold = true;
  auto id = client.Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();  // errors[] has 2042, but there is a job_id
  EXPECT_EQ(*id, 5);
  auto seen = fake.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].path, "/slurm/v0.0.38/job/submit");
  json body = json::parse(seen[0].body);
  EXPECT_EQ(body["script"], "#!/bin/sh\ntrue\n");
  const json& job = body["job"];
  EXPECT_EQ(job["name"], "cnet-42-1");
  EXPECT_EQ(job["partition"], "debug");
  EXPECT_EQ(job["nodes"], 2);
  EXPECT_EQ(job["tasks_per_node"], 1);
  EXPECT_EQ(job["cpus_per_task"], 4);
  EXPECT_EQ(job["gres"], "gpu:h100:8");
  EXPECT_EQ(job["memory_per_node"], 2048);
  EXPECT_EQ(job["time_limit"], 10);
  EXPECT_EQ(job["current_working_directory"], "/tmp");
  EXPECT_EQ(job["environment"], (json{{"PATH", "/usr/bin:/bin"}, {"CNET_JOB", "42"}}));
  EXPECT_EQ(job["standard_output"], "/tmp/o.txt");
  EXPECT_EQ(job["standard_error"], "/tmp/e.txt");
  EXPECT_EQ(job["hold"], true);
  EXPECT_EQ(job["requeue"], false);  // computenet owns retries: Slurm never requeues an attempt

  // Defaults are left out; PATH is always set (slurmrestd refuses a job without environment).
  SlurmJobSpec small;
  small.name = "s";
  small.working_dir = "/tmp";
  small.script = "#!/bin/sh\ntrue\n";
  ASSERT_TRUE(client.Submit(small).ok());
  json b2 = json::parse(fake.seen().back().body)["job"];
  for (const char* k : {"partition", "gres", "memory_per_node", "time_limit", "standard_output",
                        "standard_error"})
    EXPECT_FALSE(b2.contains(k)) << k;
  EXPECT_TRUE(b2["environment"].contains("PATH"));
  EXPECT_EQ(b2["requeue"], false);

  small.working_dir = "";
  auto bad = client.Submit(small);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
}

TEST(SlurmParseTest, SubmitRejections) {
  FakeSlurmrestd fake;
  SlurmClient client(FakeConfig(fake.url()));
  SlurmJobSpec spec;
  spec.name = "x";
  spec.working_dir = "/tmp";
  spec.script = "#!/bin/sh\ntrue\n";
  fake.answer = [](const std::string&, const std::string&) { return std::make_pair(500, kSubmitInfeasible); };
  auto r = client.Submit(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("POST"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("/slurm/v0.0.38/job/submit"), std::string::npos);
  EXPECT_NE(r.status().message().find("Requested node configuration is not available"), std::string::npos);
  fake.answer = [](const std::string&, const std::string&) { return std::make_pair(400, kSubmitBadKey); };
  r = client.Submit(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("Unknown key \"gres_per_node\""), std::string::npos) << r.status().message();
  // A connection to slurmctld that broke mid-request (seen during a controller restart) is not a
  // rejection: the job may have been taken, so the caller must look it up, not fail it.
  fake.answer = [](const std::string&, const std::string&) {
    return std::make_pair(500, std::string(R"({"errors":[{"error_number":104,"error":"Connection reset by peer"}]})"));
  };
  r = client.Submit(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
  EXPECT_NE(r.status().message().find("Connection reset by peer"), std::string::npos) << r.status().message();
}

TEST(SlurmParseTest, AuthenticationFailures) {
  FakeSlurmrestd fake;
  SlurmConfig cfg = FakeConfig(fake.url());
  cfg.token = "no-such-token";  // the fake answers 401 like slurmrestd does without a token
  SlurmClient c401(cfg);
  Status s = c401.Ping();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("authentication"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("401"), std::string::npos) << s.message();

  fake.answer = [](const std::string&, const std::string&) { return std::make_pair(500, kPingWrongKey); };
  SlurmClient cwrong(FakeConfig(fake.url()));
  s = cwrong.Ping();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("authentication"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("slurmctld config is unable to load"), std::string::npos) << s.message();

  SlurmConfig none = FakeConfig(fake.url());
  none.token.clear();
  SlurmClient cnone(none);
  EXPECT_EQ(cnone.Ping().code(), Code::kFailedPrecondition);
  EXPECT_TRUE(fake.seen().size() == 2u);  // the client without credentials sent nothing
}

TEST(SlurmParseTest, BadUrl) {
  SlurmConfig cfg;
  cfg.token = "t";
  cfg.url = "ftp://127.0.0.1:6820";
  EXPECT_EQ(SlurmClient(cfg).Ping().code(), Code::kInvalidArgument);
  cfg.url = "http://127.0.0.1:notaport";
  EXPECT_EQ(SlurmClient(cfg).Ping().code(), Code::kInvalidArgument);
}

// ------------------------------------------------------------------------------------------------
// Tokens

struct DecodedToken {
  bool ok = false;
  std::string sun;
  long iat = 0, exp = 0;
};

DecodedToken Decode(const std::string& token, const std::string& key) {
  DecodedToken d;
  jwt_t* jwt = nullptr;
  if (jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                 static_cast<int>(key.size())) != 0)
    return d;
  d.ok = jwt_get_alg(jwt) == JWT_ALG_HS256;
  const char* sun = jwt_get_grant(jwt, "sun");
  d.sun = sun ? sun : "";
  d.iat = jwt_get_grant_int(jwt, "iat");
  d.exp = jwt_get_grant_int(jwt, "exp");
  jwt_free(jwt);
  return d;
}

TEST(SlurmTokenTest, MintedFromKeyFileAndRenewed) {
  std::string dir = MakeTempDir("cnet_slurm_tok_");
  ASSERT_FALSE(dir.empty());
  std::string key(32, '\0');
  for (int i = 0; i < 32; ++i) key[i] = static_cast<char>((i * 37 + 11) & 0xff);  // includes NUL bytes
  key[5] = '\0';
  WriteKey(dir + "/jwt.key", key);
  SlurmConfig cfg;
  cfg.user = "bob";
  cfg.jwt_key_file = dir + "/jwt.key";
  cfg.token_lifetime_s = 1;  // renewed after 0.8 s
  SlurmClient client(cfg);
  auto t1 = client.Token();
  ASSERT_TRUE(t1.ok()) << t1.status().ToString();
  DecodedToken d = Decode(*t1, key);
  ASSERT_TRUE(d.ok) << *t1;
  EXPECT_EQ(d.sun, "bob");
  EXPECT_EQ(d.exp - d.iat, 1);
  EXPECT_LE(std::abs(d.iat - static_cast<long>(std::time(nullptr))), 2);
  EXPECT_FALSE(Decode(*t1, std::string(32, 'x')).ok);  // signed with this key only
  EXPECT_EQ(*client.Token(), *t1);                     // reused while young
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  auto t2 = client.Token();
  ASSERT_TRUE(t2.ok());
  EXPECT_NE(*t2, *t1);  // renewed: a later iat
  EXPECT_GT(Decode(*t2, key).iat, d.iat);

  SlurmConfig missing = cfg;
  missing.jwt_key_file = dir + "/nope.key";
  auto t3 = SlurmClient(missing).Token();
  EXPECT_EQ(t3.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(t3.status().message().find("nope.key"), std::string::npos);
  fs::remove_all(dir);
}

TEST(SlurmTokenTest, GivenTokenUsedAsIs) {
  SlurmConfig cfg;
  cfg.token = "abc.def.ghi";
  EXPECT_EQ(*SlurmClient(cfg).Token(), "abc.def.ghi");
}

// ------------------------------------------------------------------------------------------------
// Transport failures: fail fast, never hang.

TEST(SlurmTransportTest, UnreachableIsUnavailableFast) {
  SlurmConfig cfg;
  cfg.url = "http://127.0.0.1:1";
  cfg.token = "t";
  cfg.timeout_s = 2;
  SlurmClient client(cfg);
  auto t0 = Clock::now();
  Status s = client.Ping();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("127.0.0.1:1"), std::string::npos) << s.message();
  EXPECT_LT(Since(t0), 2.5);
  auto n = client.Nodes();
  EXPECT_EQ(n.status().code(), Code::kUnavailable);
}

TEST(SlurmTransportTest, SilentServerTimesOut) {
  // A socket that accepts connections (the kernel completes the handshake) but never answers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  SlurmConfig cfg;
  cfg.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  cfg.token = "t";
  cfg.timeout_s = 0.5;
  SlurmClient client(cfg);
  auto t0 = Clock::now();
  Status s = client.Ping();
  double took = Since(t0);
  ::close(fd);
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_LT(took, 2.0);
}

// ------------------------------------------------------------------------------------------------
// Integration: a real Slurm 22.05 site on loopback (tests/testing/loopback_slurm.h).

class SlurmIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    slurm_.Start("cnet-slurm-client-test.");
    skip_ = slurm_.skip;
    error_ = slurm_.error;
    base_ = slurm_.base;
    rest_port_ = slurm_.rest_port;
    if (!slurm_.started) return;
    jobdir_ = base_ + "/jobs";
    fs::create_directories(jobdir_);
    ::chmod(jobdir_.c_str(), 0777);
  }

  static void TearDownTestSuite() {
    slurm_.Stop();
    base_.clear();
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(error_.empty()) << error_;
  }

  static SlurmConfig Config() {
    SlurmConfig cfg;
    cfg.url = "http://127.0.0.1:" + rest_port_;
    cfg.user = "root";
    cfg.jwt_key_file = base_ + "/state/jwt_hs256.key";
    cfg.timeout_s = 5;
    return cfg;
  }

  static SlurmJobSpec Spec(const std::string& name, const std::string& script) {
    SlurmJobSpec s;
    s.name = name;
    s.working_dir = jobdir_;
    s.env = {{"PATH", "/usr/bin:/bin"}};
    s.stdout_path = jobdir_ + "/" + name + ".out";
    s.script = script;
    s.time_limit_min = 5;
    return s;
  }

  // Polls Job(id) until `done` holds or `timeout_s` passes.
  static Result<SlurmJob> WaitFor(SlurmClient& c, int64_t id, const std::function<bool(const SlurmJob&)>& done,
                                  double timeout_s = 20) {
    auto t0 = Clock::now();
    while (true) {
      auto j = c.Job(id);
      if (!j.ok()) return j;
      if (done(*j) || Since(t0) > timeout_s) return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  static inline cnet::testing::LoopbackSlurm slurm_;
  static inline std::string skip_, error_, base_, jobdir_, rest_port_;
};

TEST_F(SlurmIntegrationTest, PingNodesPartitions) {
  SlurmClient c(Config());
  Status p = c.Ping();
  ASSERT_TRUE(p.ok()) << p.ToString();
  auto nodes = c.Nodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 4u);
  for (const auto& n : *nodes) {
    EXPECT_EQ(n.gres.at("gpu:h100"), 8) << n.name;
    EXPECT_EQ(n.gres.size(), 1u) << n.name;
    EXPECT_TRUE(n.Usable()) << n.name << " " << (n.state.empty() ? "" : n.state[0]);
    EXPECT_EQ(n.cpus, 16);
    EXPECT_EQ(n.real_memory_mb, 65536);
    EXPECT_EQ(n.partitions, (std::vector<std::string>{"debug"}));
  }
  auto parts = c.Partitions();
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "debug");
  EXPECT_EQ((*parts)[0].state, "UP");
  EXPECT_EQ((*parts)[0].nodes, (std::vector<std::string>{"node1", "node2", "node3", "node4"}));
}

TEST_F(SlurmIntegrationTest, TwoNodeGpuJobSeesAllEightGpus) {
  SlurmClient c(Config());
  SlurmJobSpec s = Spec("cnet-gpu2", "#!/bin/sh\nsrun sh -c 'echo $SLURM_PROCID $CUDA_VISIBLE_DEVICES'\n");
  s.nodes = 2;
  s.tasks_per_node = 1;
  s.gres_per_node = "gpu:h100:8";
  auto id = c.Submit(s);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto j = WaitFor(c, *id, [](const SlurmJob& j) { return j.Terminal(); });
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->state, "COMPLETED") << j->reason;
  EXPECT_EQ(j->exit_code, 0);
  EXPECT_EQ(j->name, "cnet-gpu2");
  EXPECT_EQ(j->nodes.size(), 2u);
  EXPECT_EQ(j->stdout_path, s.stdout_path);
  EXPECT_GT(j->submit_time, 0);
  EXPECT_GE(j->end_time, j->start_time);
  // Each task sees all 8 (fake) GPUs of its node: CUDA_VISIBLE_DEVICES=0,1,...,7.
  std::istringstream out(ReadFile(s.stdout_path));
  std::vector<std::string> lines;
  for (std::string l; std::getline(out, l);) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"0 0,1,2,3,4,5,6,7", "1 0,1,2,3,4,5,6,7"}));
  auto all = c.Jobs();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(std::any_of(all->begin(), all->end(), [&](const SlurmJob& x) { return x.job_id == *id; }));
}

TEST_F(SlurmIntegrationTest, ExitCodeOfFailedJob) {
  SlurmClient c(Config());
  auto id = c.Submit(Spec("cnet-exit3", "#!/bin/sh\nexit 3\n"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto j = WaitFor(c, *id, [](const SlurmJob& j) { return j.Terminal(); });
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->state, "FAILED");
  EXPECT_EQ(j->exit_code, 3);
  EXPECT_EQ(j->reason, "NonZeroExitCode");
}

TEST_F(SlurmIntegrationTest, CancelRunningJob) {
  SlurmClient c(Config());
  SlurmJobSpec s = Spec("cnet-sleep", "#!/bin/sh\necho started\nsleep 60\n");
  auto id = c.Submit(s);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto running = WaitFor(c, *id, [](const SlurmJob& j) { return j.state == "RUNNING" || j.Terminal(); });
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  ASSERT_EQ(running->state, "RUNNING");
  // Cancel once the script really runs: a cancel that races the batch step's launch has been seen
  // to leave the job COMPLETING for 20 s and more (slurmd waits for the launch, slurmctld retries).
  auto t0 = Clock::now();
  while (ReadFile(s.stdout_path).find("started") == std::string::npos && Since(t0) < 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Status st = c.Cancel(*id);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto j = WaitFor(c, *id, [](const SlurmJob& j) { return j.Terminal(); });
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->state, "CANCELLED");
  EXPECT_TRUE(c.Cancel(*id).ok());  // cancelling an ended job is not an error
}

TEST_F(SlurmIntegrationTest, HeldJobIsAccepted) {
  SlurmClient c(Config());
  SlurmJobSpec s = Spec("cnet-held", "#!/bin/sh\ntrue\n");
  s.hold = true;
  auto id = c.Submit(s);  // slurmrestd reports error 2042 "held" alongside the job_id
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto j = c.Job(*id);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(j->state, "PENDING");
  EXPECT_EQ(j->reason, "JobHeldUser");
  EXPECT_TRUE(c.Cancel(*id).ok());
}

TEST_F(SlurmIntegrationTest, TooManyGpusIsRejectedAtSubmit) {
  // Slurm 22.05 rejects the submission outright (HTTP 500, error 2014) rather than leaving the job
  // pending; the rejected job still shows in /jobs as FAILED with reason BadConstraints.
  SlurmClient c(Config());
  SlurmJobSpec s = Spec("cnet-gpu9", "#!/bin/sh\ntrue\n");
  s.gres_per_node = "gpu:h100:9";
  auto id = c.Submit(s);
  ASSERT_FALSE(id.ok()) << "accepted as job " << *id;
  EXPECT_EQ(id.status().code(), Code::kInvalidArgument) << id.status().ToString();
  EXPECT_NE(id.status().message().find("Requested node configuration is not available"), std::string::npos)
      << id.status().message();
  EXPECT_NE(id.status().message().find("/slurm/v0.0.38/job/submit"), std::string::npos);
}

TEST_F(SlurmIntegrationTest, UnknownJobIsNotFound) {
  SlurmClient c(Config());
  auto j = c.Job(987654);
  EXPECT_EQ(j.status().code(), Code::kNotFound) << j.status().ToString();
  EXPECT_EQ(c.Cancel(987654).code(), Code::kNotFound);
  EXPECT_TRUE(c.Ping().ok());  // the connection slurmrestd closed after the error is replaced
}

TEST_F(SlurmIntegrationTest, WrongKeyFailsAuthentication) {
  // With SLURM_JWT=daemon, slurmrestd hands the token to slurmctld, which refuses a token signed
  // with another key; slurmrestd then answers HTTP 500 "Unspecified error" (not 401: that is only
  // for a request without a token).
  std::string key = base_ + "/wrong.key";
  WriteKey(key, std::string(32, 'k'));
  SlurmConfig cfg = Config();
  cfg.jwt_key_file = key;
  SlurmClient c(cfg);
  Status s = c.Ping();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("authentication"), std::string::npos) << s.message();
  auto n = c.Nodes();
  EXPECT_FALSE(n.ok());
  // The right key works, and scontrol's tokens (scripts/slurm/token.sh) are accepted as given.
  EXPECT_TRUE(SlurmClient(Config()).Ping().ok());
  std::string tok;
  ASSERT_EQ(cnet::testing::Shell("BASE=" + base_ + " " + slurm_.scripts + "/token.sh root 600", &tok), 0) << tok;
  while (!tok.empty() && (tok.back() == '\n' || tok.back() == '\r')) tok.pop_back();
  SlurmConfig given = Config();
  given.jwt_key_file.clear();
  given.token = tok;
  Status g = SlurmClient(given).Ping();
  EXPECT_TRUE(g.ok()) << g.ToString();
}

}  // namespace
}  // namespace cnet::backends::slurm
