// Bad input never crashes: every malformed or out-of-range input to `cnet simulate` ends with exit
// code 2 and one error line naming the file, the line and the field, and no results file. The
// end-to-end tests run the real binary on one bad file at a time (all others good); the library
// tests check the same messages from the parsers directly.

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/csv.h"
#include "model/accelerator.h"
#include "model/cluster.h"
#include "perf/perf_model.h"
#include "perf/throughput_matrix.h"
#include "sched/policy_registry.h"
#include "sim/trace.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

namespace fs = std::filesystem;
using testing::DataPath;
using testing::SharedPath;

// ---------------------------------------------------------------------------------------------
// Helpers

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// 1-based line of the first line of `text` that contains `needle` (0 if none), so that expected
// line numbers follow the test's own input text.
int LineOf(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string l;
  for (int n = 1; std::getline(in, l); ++n)
    if (l.find(needle) != std::string::npos) return n;
  return 0;
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << "test bug: '" << from << "' not in the template";
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

// Inserts `row` as line 3 of a CSV text (after the header and the first data row).
std::string InsertAsLine3(const std::string& csv, const std::string& row) {
  size_t first = csv.find('\n');
  size_t second = csv.find('\n', first + 1);
  EXPECT_NE(second, std::string::npos);
  return csv.substr(0, second + 1) + row + "\n" + csv.substr(second + 1);
}

struct RunResult {
  bool exited = false;  // false: killed by a signal (a crash)
  int code = -1;        // exit status, or the signal number when !exited
  std::string out, err;
};

// Each stage of `cnet simulate` is fast on these inputs; one policy, no progress bar.
const char kGoodTrace[] =
    "job_id,submit_time_s,job_type,workers,total_steps\n"
    "0,0,ResNet-18 (batch size 32),1,2000\n"
    "1,10,A3C,2,500\n"
    "2,20,LM (batch size 20),1,800\n";

// A small cluster, one field per line so that each error line is unambiguous.
const char kGoodCluster[] =
    "name: bad-input-test\n"
    "sites:\n"
    "  - name: west\n"
    "    region: us-west\n"
    "    racks:\n"
    "      - name: r1\n"
    "        power_cap_kw: 20\n"
    "        nodes:\n"
    "          - name: v100\n"
    "            count: 2\n"
    "            accelerator: V100\n"
    "            accelerators_per_node: 8\n"
    "            cpus: 64\n"
    "          - name: k80\n"
    "            count: 1\n"
    "            accelerator: K80\n"
    "            accelerators_per_node: 4\n";

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cnet_bad_input_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    json_ = dir_ + "/results.json";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  // Runs the built cnet with `args`; stdout and stderr go to files in the temp dir.
  RunResult Run(const std::vector<std::string>& args) {
    std::string out_path = dir_ + "/stdout.txt", err_path = dir_ + "/stderr.txt";
    std::vector<std::string> all = {CNET_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int in = open("/dev/null", O_RDONLY);
      if (o < 0 || e < 0 || in < 0) _exit(126);
      dup2(in, 0);
      dup2(o, 1);
      dup2(e, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    RunResult r;
    EXPECT_GT(pid, 0) << "fork failed";
    if (pid <= 0) return r;
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    r.exited = WIFEXITED(status);
    r.code = r.exited ? WEXITSTATUS(status) : (WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    r.out = Slurp(out_path);
    r.err = Slurp(err_path);
    return r;
  }

  // `cnet simulate` on the given inputs; empty ones default to the good files.
  RunResult Simulate(std::string cluster, std::string throughputs, std::string trace,
                     std::vector<std::string> extra = {}) {
    if (cluster.empty()) cluster = DataPath("clusters/gavel-36x3.yaml");
    if (throughputs.empty()) throughputs = SharedPath("gavel/throughputs.csv");
    std::vector<std::string> args = {"simulate", "--cluster", cluster, "--throughputs", throughputs,
                                     "--quiet", "--json", json_};
    if (std::find(extra.begin(), extra.end(), "--policy") == extra.end()) {
      args.push_back("--policy");
      args.push_back("fifo");
    }
    if (!trace.empty()) {
      args.push_back("--trace");
      args.push_back(trace);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }
  RunResult SimulateTrace(const std::string& trace_text) {
    return Simulate("", "", Write("trace.csv", trace_text));
  }
  RunResult SimulateCluster(const std::string& cluster_text) {
    return Simulate(Write("cluster.yaml", cluster_text), "", Write("trace.csv", kGoodTrace));
  }
  RunResult SimulateThroughputs(const std::string& csv_text) {
    return Simulate("", Write("throughputs.csv", csv_text), Write("trace.csv", kGoodTrace));
  }

  // The contract: exit 2 (not a crash), "file:line" and "field 'name'" on stderr (when given),
  // nothing on stdout, no results file.
  void ExpectBadInput(const RunResult& r, const std::string& file, int line, const std::string& field) {
    ASSERT_TRUE(r.exited) << "cnet died of signal " << r.code << "; stderr:\n" << r.err;
    EXPECT_EQ(r.code, 2) << "stderr:\n" << r.err;
    EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("cnet: error: "), std::string::npos) << r.err;
    std::string where = file + (line > 0 ? ":" + std::to_string(line) + ":" : "");
    EXPECT_NE(r.err.find(where), std::string::npos) << "expected '" << where << "' in:\n" << r.err;
    if (!field.empty()) {
      std::string f = "field '" + field + "'";
      EXPECT_NE(r.err.find(f), std::string::npos) << "expected " << f << " in:\n" << r.err;
    }
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one error line expected:\n" << r.err;
    EXPECT_EQ(r.out, "") << "no results on bad input";
    EXPECT_FALSE(fs::exists(json_)) << "--json file written despite the error";
    EXPECT_FALSE(fs::exists(json_ + ".tmp"));
  }
  void ExpectMentions(const RunResult& r, const std::string& text) {
    EXPECT_NE(r.err.find(text), std::string::npos) << "expected '" << text << "' in:\n" << r.err;
  }

  std::string dir_, json_;
};

// The same harness accepts good inputs: each failure below is caused by its one bad file.
TEST_F(BadInput, ControlGoodInputsRunAndWriteJson) {
  RunResult r = SimulateTrace(kGoodTrace);
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(json_));
  fs::remove(json_);
  r = SimulateCluster(kGoodCluster);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(json_));
  fs::remove(json_);
  std::string thr = Slurp(SharedPath("gavel/throughputs.csv"));
  r = SimulateThroughputs(InsertAsLine3(thr, "BadInputModel,V100,1,2.5"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(json_));
}

// ---------------------------------------------------------------------------------------------
// 1-4: cluster YAML

TEST_F(BadInput, ClusterYamlSyntaxError) {
  std::string y = Replace(kGoodCluster, "power_cap_kw: 20", "power_cap_kw: 20: 30");
  RunResult r = SimulateCluster(y);
  ExpectBadInput(r, "cluster.yaml", LineOf(y, "power_cap_kw"), "");
  ExpectMentions(r, "YAML syntax error");
}

TEST_F(BadInput, ClusterYamlUnterminatedFlowList) {
  std::string y = Replace(kGoodCluster, "    racks:\n", "    racks: [\n");
  RunResult r = SimulateCluster(y);
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2) << r.err;
  ExpectMentions(r, "cluster.yaml:");
  ExpectMentions(r, "YAML syntax error");
  EXPECT_FALSE(fs::exists(json_));
}

TEST_F(BadInput, ClusterYamlUnknownAccelerator) {
  std::string y = Replace(kGoodCluster, "accelerator: V100", "accelerator: V999");
  RunResult r = SimulateCluster(y);
  ExpectBadInput(r, "cluster.yaml", LineOf(y, "V999"), "sites[0].racks[0].nodes[0].accelerator");
  ExpectMentions(r, "unknown accelerator type 'V999'");
}

TEST_F(BadInput, ClusterYamlCpuNamedAsAccelerator) {
  std::string y = Replace(kGoodCluster, "accelerator: K80", "accelerator: Xeon-8480");
  RunResult r = SimulateCluster(y);
  ExpectBadInput(r, "cluster.yaml", LineOf(y, "Xeon-8480"), "sites[0].racks[0].nodes[1].accelerator");
}

TEST_F(BadInput, ClusterYamlZeroCount) {
  std::string y = Replace(kGoodCluster, "count: 2", "count: 0");
  ExpectBadInput(SimulateCluster(y), "cluster.yaml", LineOf(y, "count: 0"), "sites[0].racks[0].nodes[0].count");
}

TEST_F(BadInput, ClusterYamlNegativeCount) {
  std::string y = Replace(kGoodCluster, "count: 1", "count: -3");
  ExpectBadInput(SimulateCluster(y), "cluster.yaml", LineOf(y, "count: -3"), "sites[0].racks[0].nodes[1].count");
}

TEST_F(BadInput, ClusterYamlNonIntegerCount) {
  std::string y = Replace(kGoodCluster, "count: 2", "count: 2.5");
  RunResult r = SimulateCluster(y);
  ExpectBadInput(r, "cluster.yaml", LineOf(y, "count: 2.5"), "sites[0].racks[0].nodes[0].count");
  ExpectMentions(r, "not an integer");
}

TEST_F(BadInput, ClusterYamlZeroAcceleratorsPerNode) {
  std::string y = Replace(kGoodCluster, "accelerators_per_node: 8", "accelerators_per_node: 0");
  ExpectBadInput(SimulateCluster(y), "cluster.yaml", LineOf(y, "accelerators_per_node: 0"),
                 "sites[0].racks[0].nodes[0].accelerators_per_node");
}

TEST_F(BadInput, ClusterYamlNegativePowerCap) {
  std::string y = Replace(kGoodCluster, "power_cap_kw: 20", "power_cap_kw: -1");
  ExpectBadInput(SimulateCluster(y), "cluster.yaml", LineOf(y, "power_cap_kw"), "sites[0].racks[0].power_cap_kw");
}

TEST_F(BadInput, ClusterYamlMisspeltField) {
  std::string y = Replace(kGoodCluster, "power_cap_kw: 20", "power_cap_kW: 20");
  RunResult r = SimulateCluster(y);
  ExpectBadInput(r, "cluster.yaml", LineOf(y, "power_cap_kW"), "sites[0].racks[0].power_cap_kW");
  ExpectMentions(r, "unknown field");
}

TEST_F(BadInput, ClusterYamlMissingRequiredField) {
  std::string y = Replace(kGoodCluster, "            accelerators_per_node: 8\n", "");
  RunResult r = SimulateCluster(y);
  ExpectBadInput(r, "cluster.yaml", LineOf(y, "name: v100"), "sites[0].racks[0].nodes[0].accelerators_per_node");
  ExpectMentions(r, "missing required field");
}

// A mapping used as a key once made yaml-cpp throw out of the parser (abort).
TEST_F(BadInput, ClusterYamlComplexKeyDoesNotCrash) {
  std::string y = Replace(kGoodCluster, "            cpus: 64\n", "            [cpus]: 64\n");
  ExpectBadInput(SimulateCluster(y), "cluster.yaml", LineOf(y, "[cpus]"), "sites[0].racks[0].nodes[0]");
}

TEST_F(BadInput, ClusterYamlNotAMapping) {
  ExpectBadInput(SimulateCluster("- just\n- a list\n"), "cluster.yaml", 1, "");
}

// 5: throughput CSV (the Gavel matrix with one bad row as line 3)

class BadThroughputs : public BadInput {
 protected:
  RunResult WithRow(const std::string& row) {
    return SimulateThroughputs(InsertAsLine3(Slurp(SharedPath("gavel/throughputs.csv")), row));
  }
};

TEST_F(BadThroughputs, TooFewColumns) {
  RunResult r = WithRow("BadInputModel,V100,1");
  ExpectBadInput(r, "throughputs.csv", 3, "steps_per_second");
  ExpectMentions(r, "expected 4 columns");
}

TEST_F(BadThroughputs, TooManyColumns) {
  RunResult r = WithRow("BadInputModel,V100,1,2.5,7");
  ExpectBadInput(r, "throughputs.csv", 3, "column 5");
  ExpectMentions(r, "found 5");
}

TEST_F(BadThroughputs, NonNumericStepsPerSecond) {
  RunResult r = WithRow("BadInputModel,V100,1,fast");
  ExpectBadInput(r, "throughputs.csv", 3, "steps_per_second");
  ExpectMentions(r, "not a number: 'fast'");
}

TEST_F(BadThroughputs, NanStepsPerSecond) {
  ExpectBadInput(WithRow("BadInputModel,V100,1,nan"), "throughputs.csv", 3, "steps_per_second");
}

TEST_F(BadThroughputs, UnknownAccelerator) {
  RunResult r = WithRow("BadInputModel,Z900,1,2.5");
  ExpectBadInput(r, "throughputs.csv", 3, "accelerator");
  ExpectMentions(r, "unknown accelerator type 'Z900'");
}

TEST_F(BadThroughputs, NegativeStepsPerSecond) {
  ExpectBadInput(WithRow("BadInputModel,V100,1,-2.5"), "throughputs.csv", 3, "steps_per_second");
}

// Any gang size from 1 to 4096 is valid (issue 10); beyond is not.
TEST_F(BadThroughputs, WorkersAboveTheLimit) {
  ExpectBadInput(WithRow("BadInputModel,V100,5000,2.5"), "throughputs.csv", 3, "workers");
}

TEST_F(BadThroughputs, ZeroWorkers) {
  ExpectBadInput(WithRow("BadInputModel,V100,0,2.5"), "throughputs.csv", 3, "workers");
}

TEST_F(BadThroughputs, MissingColumn) {
  RunResult r = SimulateThroughputs("job_type,accelerator,workers\nA3C,V100,1\n");
  ExpectBadInput(r, "throughputs.csv", 1, "steps_per_second");
  ExpectMentions(r, "missing column");
}

TEST_F(BadThroughputs, BadSpreadFileIsNamed) {
  std::string spread = Write("spread.csv", "job_type,accelerator,workers,steps_per_second\n"
                                           "A3C,V100,2,1.5\n"
                                           "A3C,V100,2,x\n");
  RunResult r = Simulate("", "", Write("trace.csv", kGoodTrace), {"--throughputs-spread", spread});
  ExpectBadInput(r, "spread.csv", 3, "steps_per_second");
}

// 6-7: CSV trace (the good trace with line 3 replaced)

class BadTrace : public BadInput {
 protected:
  RunResult WithLine3(const std::string& row) {
    std::string t = kGoodTrace;
    size_t a = t.find('\n', t.find('\n') + 1) + 1, b = t.find('\n', a);
    return SimulateTrace(t.substr(0, a) + row + t.substr(b));
  }
};

TEST_F(BadTrace, UnknownJobType) {
  RunResult r = WithLine3("1,10,GPT-7 (batch size 1),1,500");
  ExpectBadInput(r, "trace.csv", 3, "job_type");
  ExpectMentions(r, "unknown job type 'GPT-7 (batch size 1)'");
}

TEST_F(BadTrace, ZeroWorkers) { ExpectBadInput(WithLine3("1,10,A3C,0,500"), "trace.csv", 3, "workers"); }

TEST_F(BadTrace, NegativeWorkers) {
  RunResult r = WithLine3("1,10,A3C,-2,500");
  ExpectBadInput(r, "trace.csv", 3, "workers");
  ExpectMentions(r, "-2");
}

TEST_F(BadTrace, ZeroTotalSteps) { ExpectBadInput(WithLine3("1,10,A3C,1,0"), "trace.csv", 3, "total_steps"); }

TEST_F(BadTrace, NegativeSubmitTime) {
  ExpectBadInput(WithLine3("1,-10,A3C,1,500"), "trace.csv", 3, "submit_time_s");
}

TEST_F(BadTrace, NonNumericSubmitTime) {
  RunResult r = WithLine3("1,soon,A3C,1,500");
  ExpectBadInput(r, "trace.csv", 3, "submit_time_s");
  ExpectMentions(r, "not a number: 'soon'");
}

TEST_F(BadTrace, DuplicateJobId) {
  RunResult r = WithLine3("0,10,A3C,1,500");
  ExpectBadInput(r, "trace.csv", 3, "job_id");
  ExpectMentions(r, "duplicate");
}

TEST_F(BadTrace, UnterminatedQuote) {
  RunResult r = WithLine3("1,10,\"A3C,1,500");
  ExpectBadInput(r, "trace.csv", 3, "job_type");
  ExpectMentions(r, "unterminated");
}

TEST_F(BadTrace, MissingColumnInHeader) {
  RunResult r = SimulateTrace("job_id,submit_time_s,job_type,workers\n0,0,A3C,1\n");
  ExpectBadInput(r, "trace.csv", 1, "total_steps");
  ExpectMentions(r, "missing column");
}

TEST_F(BadTrace, MissingCellInRow) {
  RunResult r = WithLine3("1,10,A3C,1");
  ExpectBadInput(r, "trace.csv", 3, "total_steps");
  ExpectMentions(r, "expected 5 columns");
}

TEST_F(BadTrace, UnknownColumn) {
  RunResult r = SimulateTrace("job_id,submit_time_s,job_type,workers,total_steps,colour\n0,0,A3C,1,10,red\n");
  ExpectBadInput(r, "trace.csv", 1, "colour");
}

TEST_F(BadTrace, UnknownAcceptableAccelerator) {
  RunResult r = SimulateTrace("job_id,submit_time_s,job_type,workers,total_steps,accelerators\n"
                              "0,0,A3C,1,10,V100|Q9\n");
  ExpectBadInput(r, "trace.csv", 2, "accelerators");
}

TEST_F(BadTrace, JobLargerThanEverySite) {
  RunResult r = WithLine3("1,10,A3C,4096,500");
  ExpectBadInput(r, "trace.csv", 3, "workers");
  ExpectMentions(r, "4096");
  ExpectMentions(r, "largest: 36");
}

TEST_F(BadTrace, JobLargerThanEverySiteOnSmallCluster) {
  // 2 x 8 V100 + 1 x 4 K80: a 32-worker gang fits no site.
  RunResult r = Simulate(Write("cluster.yaml", kGoodCluster), "",
                         Write("trace.csv", "job_id,submit_time_s,job_type,workers,total_steps\n"
                                            "0,0,A3C,1,10\n"
                                            "7,5,ResNet-18 (batch size 32),32,10\n"));
  ExpectBadInput(r, "trace.csv", 3, "workers");
  ExpectMentions(r, "job 7");
}

// 8: empty files

TEST_F(BadInput, EmptyTrace) {
  RunResult r = SimulateTrace("");
  ExpectBadInput(r, "trace.csv", 1, "");
  ExpectMentions(r, "empty file");
}

TEST_F(BadInput, HeaderOnlyTrace) {
  RunResult r = SimulateTrace("job_id,submit_time_s,job_type,workers,total_steps\n");
  ExpectBadInput(r, "trace.csv", 0, "");
  ExpectMentions(r, "no jobs");
}

TEST_F(BadInput, EmptyClusterYaml) {
  RunResult r = SimulateCluster("");
  ExpectBadInput(r, "cluster.yaml", 1, "");
  ExpectMentions(r, "empty YAML document");
}

TEST_F(BadInput, CommentOnlyClusterYaml) {
  RunResult r = SimulateCluster("# nothing here\n");
  ExpectBadInput(r, "cluster.yaml", 1, "");
  ExpectMentions(r, "empty YAML document");
}

TEST_F(BadInput, EmptyThroughputs) {
  RunResult r = SimulateThroughputs("");
  ExpectBadInput(r, "throughputs.csv", 1, "");
  ExpectMentions(r, "empty file");
}

TEST_F(BadInput, MissingFile) {
  RunResult r = Simulate("", "", dir_ + "/no-such-trace.csv");
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2) << r.err;
  ExpectMentions(r, "no-such-trace.csv");
  EXPECT_FALSE(fs::exists(json_));
}

// 9: command-line values

TEST_F(BadInput, UnknownPolicyListsKnownOnes) {
  RunResult r = Simulate("", "", Write("trace.csv", kGoodTrace), {"--policy", "fifo,nope"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2) << r.err;
  ExpectMentions(r, "unknown policy 'nope'");
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  ASSERT_FALSE(reg.Names().empty());
  for (const auto& n : reg.Names()) ExpectMentions(r, n);
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(json_)) << "no run, not even of the good policy before it";
}

TEST_F(BadInput, ReversedMeasureWindow) {
  RunResult r = Simulate("", "", Write("trace.csv", kGoodTrace), {"--measure", "5-2"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2) << r.err;
  ExpectMentions(r, "--measure");
  ExpectMentions(r, "'5-2'");
  EXPECT_FALSE(fs::exists(json_));
}

TEST_F(BadInput, UnknownGeneratedWorkload) {
  RunResult r = Simulate("", "", "", {"--generate", "gavel-huge", "--jobs", "5"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2) << r.err;
  ExpectMentions(r, "--generate");
  ExpectMentions(r, "'gavel-huge'");
  ExpectMentions(r, "gavel-single");
  EXPECT_FALSE(fs::exists(json_));
}

// CLI11 parses a size_t "-5" as 2^64 - 5; that once ran the generator out of memory (abort).
TEST_F(BadInput, NegativeJobCountDoesNotCrash) {
  RunResult r = Simulate("", "", "", {"--generate", "gavel-single", "--jobs", "-5"});
  ASSERT_TRUE(r.exited) << "signal " << r.code << ": " << r.err;
  EXPECT_EQ(r.code, 2) << r.err;
  ExpectMentions(r, "--jobs");
  EXPECT_FALSE(fs::exists(json_));
}

TEST_F(BadInput, ZeroJobCount) {
  RunResult r = Simulate("", "", "", {"--generate", "gavel-single", "--jobs", "0"});
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.code, 2) << r.err;
  ExpectMentions(r, "--jobs");
  EXPECT_FALSE(fs::exists(json_));
}

// ---------------------------------------------------------------------------------------------
// Library level: the same messages without a process in between.

void ExpectInvalid(const Status& st, const std::string& where, const std::string& field) {
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find(where), std::string::npos) << "expected '" << where << "' in " << st.message();
  if (!field.empty()) {
    EXPECT_NE(st.message().find("field '" + field + "'"), std::string::npos) << st.message();
  }
}

TEST(BadInputLibrary, CsvTableParse) {
  ExpectInvalid(CsvTable::Parse("a,b,c\n1,2,3\n4,5\n", "t.csv").status(), "t.csv:3:", "c");
  ExpectInvalid(CsvTable::Parse("a,b\n1,2\n\n3,4,5\n", "t.csv").status(), "t.csv:4:", "column 3");
  ExpectInvalid(CsvTable::Parse("a,b\n1,2\n3,\"x\n4,5\n", "t.csv").status(), "t.csv:3:", "b");
  ExpectInvalid(CsvTable::Parse("", "t.csv").status(), "t.csv:1:", "");
  // A quoted cell spanning lines: later errors still name the right line.
  auto t = CsvTable::Parse("a,b\n\"multi\nline\",2\nx,y\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->rows().size(), 2u);
  ExpectInvalid(t->Double(t->rows()[1], 1).status(), "t.csv:4:", "b");
  ExpectInvalid(t->Int(t->rows()[1], 0).status(), "t.csv:4:", "a");
  ExpectInvalid(t->RequireColumns({"a", "zz"}), "t.csv:1:", "zz");
}

TEST(BadInputLibrary, ClusterParseYaml) {
  const Catalogue& cat = testing::TestCatalogue();
  std::string y = Replace(kGoodCluster, "count: 2", "count: -3");
  ExpectInvalid(Cluster::ParseYaml(y, "c.yaml", cat).status(), "c.yaml:" + std::to_string(LineOf(y, "-3")) + ":",
                "sites[0].racks[0].nodes[0].count");
  y = Replace(kGoodCluster, "accelerator: K80", "accelerator: K81");
  ExpectInvalid(Cluster::ParseYaml(y, "c.yaml", cat).status(), "c.yaml:" + std::to_string(LineOf(y, "K81")) + ":",
                "sites[0].racks[0].nodes[1].accelerator");
  y = Replace(kGoodCluster, "    region: us-west\n", "    region: us-west\n    regoin: eu\n");
  ExpectInvalid(Cluster::ParseYaml(y, "c.yaml", cat).status(),
                "c.yaml:" + std::to_string(LineOf(y, "regoin")) + ":", "sites[0].regoin");
  y = Replace(kGoodCluster, "name: r1\n", "name: r1\n        {x: 1}: 2\n");
  Result<Cluster> complex_key = Cluster::ParseYaml(y, "c.yaml", cat);  // must not throw
  ExpectInvalid(complex_key.status(), "c.yaml:", "");
  ExpectInvalid(Cluster::ParseYaml("name: [unclosed\n", "c.yaml", cat).status(), "c.yaml:", "");
  ExpectInvalid(Cluster::ParseYaml("", "c.yaml", cat).status(), "c.yaml:1:", "");
}

const char kGoodCatalogue[] =
    "accelerators:\n"
    "  - name: X1\n"
    "    vendor: test\n"
    "    kind: gpu\n"
    "    peak_tflops: 100\n"
    "    memory_gib: 80\n"
    "    mem_bw_gbs: 2000\n"
    "    board_power_w: 400\n"
    "    aliases: [x-one]\n";

TEST(BadInputLibrary, CatalogueParseYaml) {
  ASSERT_TRUE(Catalogue::ParseYaml(kGoodCatalogue, "a.yaml").ok());
  std::string y = Replace(kGoodCatalogue, "peak_tflops: 100", "peak_tflops: -1");
  ExpectInvalid(Catalogue::ParseYaml(y, "a.yaml").status(), "a.yaml:" + std::to_string(LineOf(y, "peak")) + ":",
                "accelerators[0].peak_tflops");
  y = Replace(kGoodCatalogue, "kind: gpu", "kind: fpga");
  ExpectInvalid(Catalogue::ParseYaml(y, "a.yaml").status(), "a.yaml:" + std::to_string(LineOf(y, "fpga")) + ":",
                "accelerators[0].kind");
  y = Replace(kGoodCatalogue, "memory_gib: 80", "memory_gb: 80");
  ExpectInvalid(Catalogue::ParseYaml(y, "a.yaml").status(),
                "a.yaml:" + std::to_string(LineOf(y, "memory_gb:")) + ":", "accelerators[0].memory_gb");
  // A mapping among the aliases once threw out of yaml-cpp (abort).
  y = Replace(kGoodCatalogue, "aliases: [x-one]", "aliases: [{a: b}]");
  ExpectInvalid(Catalogue::ParseYaml(y, "a.yaml").status(),
                "a.yaml:" + std::to_string(LineOf(y, "aliases")) + ":", "accelerators[0].aliases");
}

TEST(BadInputLibrary, ThroughputMatrixParseCsv) {
  const Catalogue& cat = testing::TestCatalogue();
  const std::string h = "job_type,accelerator,workers,steps_per_second\n";
  ExpectInvalid(ThroughputMatrix::ParseCsv(h + "m,V100,1,1\nm,V100,2,-1\n", "m.csv", cat).status(), "m.csv:3:",
                "steps_per_second");
  ExpectInvalid(ThroughputMatrix::ParseCsv(h + "m,V100,1,1\nm,Q1,1,1\n", "m.csv", cat).status(), "m.csv:3:",
                "accelerator");
  ExpectInvalid(ThroughputMatrix::ParseCsv(h + "m,V100,1,1\nm,V100,1,2\n", "m.csv", cat).status(), "m.csv:3:",
                "job_type");
}

TEST(BadInputLibrary, ParseCsvTrace) {
  PerfModel perf(testing::TestCatalogue(), testing::GavelMatrix());
  const std::string h = "job_id,submit_time_s,job_type,workers,total_steps\n";
  const std::string ok = "0,0,A3C,1,10\n";
  ExpectInvalid(ParseCsvTrace(h + ok + "1,0,Nope,1,10\n", "j.csv", perf).status(), "j.csv:3:", "job_type");
  ExpectInvalid(ParseCsvTrace(h + ok + "1,0,A3C,0,10\n", "j.csv", perf).status(), "j.csv:3:", "workers");
  ExpectInvalid(ParseCsvTrace(h + ok + "1,0,A3C,-2,10\n", "j.csv", perf).status(), "j.csv:3:", "workers");
  ExpectInvalid(ParseCsvTrace(h + ok + "1,0,A3C,1,0\n", "j.csv", perf).status(), "j.csv:3:", "total_steps");
  ExpectInvalid(ParseCsvTrace(h + ok + "1,x,A3C,1,10\n", "j.csv", perf).status(), "j.csv:3:", "submit_time_s");
  ExpectInvalid(ParseCsvTrace(h + ok + "0,1,A3C,1,10\n", "j.csv", perf).status(), "j.csv:3:", "job_id");
  ExpectInvalid(ParseCsvTrace(h + ok + "1,1,\"A3C,1,10\n", "j.csv", perf).status(), "j.csv:3:", "job_type");
  ExpectInvalid(ParseCsvTrace(h + ok + "1,1,A3C,1.5,10\n", "j.csv", perf).status(), "j.csv:3:", "workers");
  ExpectInvalid(ParseCsvTrace("", "j.csv", perf).status(), "j.csv:1:", "");
  EXPECT_TRUE(ParseCsvTrace(h + ok, "j.csv", perf).ok());
}

}  // namespace
}  // namespace cnet
