// The rest of issue 11 against the real `cnet serve` (backfill policy, local site, real
// processes): the estimated start of the job backfill holds a reservation for (`ls`, `show`, the
// JSON view), a gang's output prefixed by rank (and the flags that drop the prefix or merge
// stderr), OOM as a terminal state, and the generated man page.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/strings.h"
#include "testing/cli_server.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using cnet::testing::CmdResult;
using cnet::testing::Slurp;


std::vector<std::string> SortedLines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  std::sort(out.begin(), out.end());
  return out;
}


class CliGaps : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    srv_ = new cnet::testing::CliServer;
    ASSERT_EQ(srv_->Start("cnet-cli-gaps", "policy: backfill\ncycle_interval_s: 0.02\nsites:\n  - {name: local, type: local, cpus: 4}\n"), "");
    dir_ = new fs::path(srv_->dir());
    port_ = srv_->port();
    admin_ = new std::string(srv_->admin());
    token_ = new std::string(srv_->AddTenant("gaps"));
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
  static CmdResult Tenant(const std::string& args) { return Cnet(args, *token_); }

  static std::string Job(const std::string& name, const std::string& command, const std::string& extra = "") {
    const std::string p = (*dir_ / (name + ".yaml")).string();
    std::ofstream(p) << "name: " << name << "\ncommand: " << json(command).dump()
                     << "\naccelerators_per_worker: 0\n" << (extra.find("cpus_per_worker") == std::string::npos ? "cpus_per_worker: 1\n" : "")
                     << extra;
    return p;
  }
  static int64_t Submit(const std::string& spec) {
    CmdResult r = Tenant("submit " + spec + " --json");
    EXPECT_EQ(r.rc, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("id", int64_t{-1}) : -1;
  }
  static json Show(int64_t id) { return json::parse(Tenant("show " + std::to_string(id) + " --json").out, nullptr, false); }
  static json WaitState(int64_t id, const std::string& state) {
    json j;
    for (int i = 0; i < 600; ++i) {
      j = Show(id);
      if (j.is_object() && j.value("state", "") == state) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return j;
  }

  static fs::path* dir_;
  static int port_;
  static cnet::testing::CliServer* srv_;
  static std::string *admin_, *token_;
};

fs::path* CliGaps::dir_ = nullptr;
int CliGaps::port_ = 0;
cnet::testing::CliServer* CliGaps::srv_ = nullptr;
std::string* CliGaps::admin_ = nullptr;
std::string* CliGaps::token_ = nullptr;

// Local clock time as `cnet ls` prints a start within the next day.
std::string Clock(double epoch) {
  std::time_t s = static_cast<std::time_t>(epoch);
  char b[32];
  std::strftime(b, sizeof b, "%H:%M:%S", std::localtime(&s));
  return b;
}

// Backfill reserves the CPUs for the head of the queue at the running job's estimated end: the
// head shows that time in the JSON view, `cnet show` and `cnet ls`; the job behind it and the
// running job have none ("-", no field), never a made-up time.
TEST_F(CliGaps, EstimatedStartOfTheReservedHead) {
  const int64_t runner = Submit(Job("runner", "sleep 60", "cpus_per_worker: 4\nestimated_duration_s: 40\n"));
  json r = WaitState(runner, "RUNNING");
  ASSERT_EQ(r.value("state", ""), "RUNNING") << r.dump();
  const int64_t head = Submit(Job("head", "true", "cpus_per_worker: 4\n"));
  const int64_t behind = Submit(Job("behind", "true", "cpus_per_worker: 4\n"));
  json h;
  for (int i = 0; i < 200; ++i) {  // the next cycle publishes the reservation
    h = Show(head);
    if (h.contains("estimated_start")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(h.contains("estimated_start")) << h.dump(2);
  const double est = h["estimated_start"].get<double>();
  // The runner's start (by the scheduler's clock, a moment before the site's) plus its estimate.
  EXPECT_NEAR(est, r["start_time"].get<double>() + 40, 3) << h.dump(2);
  EXPECT_FALSE(Show(behind).contains("estimated_start"));
  EXPECT_FALSE(Show(runner).contains("estimated_start"));

  CmdResult ls = Tenant("ls -p --noheader -o id,state,est_start");
  ASSERT_EQ(ls.rc, 0) << ls.err;
  const std::string rows = ls.out;
  EXPECT_NE(rows.find(std::to_string(head) + "|PENDING|" + Clock(est) + "\n"), std::string::npos) << rows;
  EXPECT_NE(rows.find(std::to_string(behind) + "|PENDING|-\n"), std::string::npos) << rows;
  EXPECT_NE(rows.find(std::to_string(runner) + "|RUNNING|-\n"), std::string::npos) << rows;
  CmdResult table = Tenant("ls");
  EXPECT_NE(table.out.find("EST_START"), std::string::npos) << table.out;
  CmdResult shown = Tenant("show " + std::to_string(head));
  EXPECT_NE(shown.out.find("starts   ~" + Clock(est)), std::string::npos) << shown.out;
  EXPECT_EQ(Tenant("show " + std::to_string(behind)).out.find("starts"), std::string::npos);
  for (int64_t id : {behind, head, runner}) EXPECT_EQ(Tenant("cancel " + std::to_string(id)).rc, 0);
}

// A 2-worker gang on the local site: each line comes back prefixed by its worker's rank, from a
// job followed while it was still PENDING through its end; --no-rank-prefix drops the labels and
// --merge adds its stderr, whole lines.
TEST_F(CliGaps, GangOutputIsPrefixedByRank) {
  const std::string gang = "echo out-$CNET_WORKER_INDEX; echo second-$CNET_WORKER_INDEX; echo err-$CNET_WORKER_INDEX >&2; exit 3";
  CmdResult f = Tenant("submit --follow " + Job("gang", gang, "workers: 2\n"));
  EXPECT_EQ(f.rc, 3) << f.err;
  EXPECT_EQ(SortedLines(f.out), (std::vector<std::string>{"[0] out-0", "[0] second-0", "[1] out-1", "[1] second-1"})) << f.out;

  CmdResult plain = Tenant("submit --follow --no-rank-prefix " + Job("gangplain", gang, "workers: 2\n"));
  EXPECT_EQ(plain.rc, 3) << plain.err;
  EXPECT_EQ(SortedLines(plain.out), (std::vector<std::string>{"out-0", "out-1", "second-0", "second-1"})) << plain.out;

  CmdResult merged = Tenant("submit --follow --merge " + Job("gangmerge", gang, "workers: 2\n"));
  EXPECT_EQ(merged.rc, 3) << merged.err;
  EXPECT_EQ(SortedLines(merged.out),
            (std::vector<std::string>{"[0] err-0", "[0] out-0", "[0] second-0", "[1] err-1", "[1] out-1", "[1] second-1"}))
      << merged.out;

  // Followed from PENDING: a blocker holds every CPU while `logs -f` starts (long enough that the
  // PENDING check below holds on a loaded machine, where each CLI call may take a second).
  const int64_t blocker = Submit(Job("gangblocker", "sleep 6", "cpus_per_worker: 4\n"));
  const int64_t later = Submit(Job("ganglater", gang, "workers: 2\n"));
  EXPECT_EQ(Show(later).value("state", ""), "PENDING");
  CmdResult lf = Tenant("logs -f --no-rank-prefix " + std::to_string(later));
  EXPECT_EQ(lf.rc, 3) << lf.err;
  EXPECT_EQ(SortedLines(lf.out), (std::vector<std::string>{"out-0", "out-1", "second-0", "second-1"})) << lf.out;
  CmdResult logs = Tenant("logs --stderr " + std::to_string(later));
  EXPECT_EQ(SortedLines(logs.out), (std::vector<std::string>{"[0] err-0", "[1] err-1"})) << logs.out;
  EXPECT_EQ(Tenant("logs --merge " + std::to_string(later)).rc, 2);  // --merge needs -f
  WaitState(blocker, "SUCCEEDED");

  // One worker: no label.
  CmdResult one = Tenant("submit --follow " + Job("solo", "echo alone"));
  EXPECT_EQ(one.out, "alone\n");
}

// A job that allocates past its memory request is killed by its cgroup's limit and ends OOM, not
// FAILED; `submit --wait` exits 137 (SIGKILL, as a shell reports it).
TEST_F(CliGaps, MemoryBeyondTheRequestEndsOom) {
  json sites = json::parse(Tenant("sites --json").out, nullptr, false);
  ASSERT_TRUE(sites.is_object());
  const std::string why = sites["sites"][0].value("reason", "");
  if (why.find("not enforced") != std::string::npos) GTEST_SKIP() << why;
  CmdResult r = Tenant("submit --wait " +
                       Job("hog", "perl -e '$x = q(a) x (400*1024*1024); print qq(survived\\n)'", "memory_gib_per_worker: 0.0625\n"));
  EXPECT_EQ(r.rc, 137) << r.err;
  EXPECT_NE(r.err.find(" OOM exit code 137: out of memory: limit 0.1 GiB"), std::string::npos) << r.err;
  CmdResult ls = Tenant("ls --state OOM -p --noheader -o name,state");
  EXPECT_EQ(ls.out, "hog|OOM\n") << ls.err;
  CmdResult active = Tenant("ls -p --noheader -o name");
  EXPECT_EQ(active.out.find("hog"), std::string::npos) << active.out;  // OOM is an end state
}

// cnet(1) is built from the help: it exists beside the program, names every command and
// subcommand, and renders without troff warnings.
TEST(CliManPage, GeneratedPageNamesEveryCommand) {
  const fs::path page = fs::path(CNET_BINARY).parent_path() / "cnet.1";
  const std::string text = Slurp(page.string());
  ASSERT_FALSE(text.empty()) << page << " is missing (target cnet_man)";
  EXPECT_EQ(text.rfind(".TH CNET 1", 0), 0u);
  for (const char* cmd : {"simulate", "policies", "perf-loo", "pack", "serve", "submit", "show", "cancel", "logs", "sites",
                          "usage", "admin", "ls", "config", "admin token", "admin token create", "admin tenant", "config set"}) {
    std::string troff;  // a hyphen is written \- in the page
    for (const char* p = cmd; *p; ++p) troff += *p == '-' ? std::string("\\-") : std::string(1, *p);
    EXPECT_NE(text.find(".SS \"cnet " + troff + "\""), std::string::npos) << cmd;
  }
  EXPECT_NE(text.find("\\-\\-no\\-rank\\-prefix"), std::string::npos);  // a flag, from the help
  // The page is what the program prints now.
  const fs::path fresh = fs::temp_directory_path() / ("cnet-man-" + std::to_string(getpid()));
  ASSERT_EQ(std::system((std::string(CNET_BINARY) + " --man-page > " + fresh.string()).c_str()), 0);
  EXPECT_EQ(Slurp(fresh.string()), text);
  if (std::system("command -v groff >/dev/null 2>&1") == 0) {
    const std::string warn = fresh.string() + ".warn";
    EXPECT_EQ(std::system(("groff -man -Tutf8 -ww -z " + page.string() + " 2>" + warn).c_str()), 0);
    EXPECT_EQ(Slurp(warn), "");
    fs::remove(warn);
  }
  fs::remove(fresh);
}

}  // namespace
