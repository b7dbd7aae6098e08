// The Slurm batch job for a placed request: exact shape, ranks, devices, fence.
#include "backends/slurm/batch_script.h"

#include <gtest/gtest.h>

#include "backends/stage_in.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace cnet::backends::slurm {
namespace {

LaunchRequest Req(std::vector<NodeShare> nodes, int apw = 0) {
  LaunchRequest r;
  r.job_id = 42;
  r.attempt = 2;
  r.argv = {"python", "train.py", "--name", "it's"};
  r.nodes = std::move(nodes);
  r.cpus_per_worker = 3;
  r.memory_gib_per_worker = 1.5;
  r.accelerators_per_worker = apw;
  if (apw > 0) {
    r.accelerator = "H100-SXM";
    r.device_env = "CUDA_VISIBLE_DEVICES";
  }
  return r;
}

BatchSettings Settings(const std::string& gres = "") {
  BatchSettings s;
  s.partition = "debug";
  s.gres = gres;
  s.run_dir = "/out/42/2";
  return s;
}

// (share index, ntasks) of every srun step in the script.
std::vector<std::pair<int, int>> Steps(const std::string& script) {
  std::vector<std::pair<int, int>> out;
  std::regex step("n=\\$\\(cnet_node '[^']*' ([0-9]+)\\)\n(?:sd=[^\\n]*\\n)?(?:CNET_STEP_DEVICES=[^ ]* )?srun --nodes=1 --nodelist=\"\\$n\" --ntasks=([0-9]+)");
  for (auto it = std::sregex_iterator(script.begin(), script.end(), step); it != std::sregex_iterator(); ++it) {
    out.emplace_back(std::stoi((*it)[1]), std::stoi((*it)[2]));
  }
  return out;
}


// Runs a batch script with bash, with stand-ins for srun (runs --ntasks copies of the command on
// the --nodelist node, setting SLURM_LOCALID/PROCID/SLURMD_NODENAME and the step's
// CUDA_VISIBLE_DEVICES = $FAKE_STEP_CVD, as Slurm's gres/gpu does) and scontrol (show hostnames;
// show job -d prints $FAKE_JOB_D). Each task's command appends a line to <dir>/tasks.
struct ScriptRun {
  int rc = -1;
  std::vector<std::string> tasks;  // sorted
  std::string exit_file, stderr_text, stdout_text;
};

void WriteExe(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
  std::filesystem::permissions(p, std::filesystem::perms::owner_all);
}

ScriptRun RunWithFakeSlurm(const std::string& script, const std::string& nodelist, const std::string& step_cvd,
                           const std::string& job_d, const std::string& run_dir) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(run_dir);
  fs::create_directories(dir / "bin");
  WriteExe(dir / "bin" / "srun",
           "#!/bin/bash\n"
           "n=1; node=\n"
           "while [ $# -gt 0 ]; do case $1 in --ntasks=*) n=${1#*=};; --nodelist=*) node=${1#*=};;\n"
           "  --kill-on-bad-exit=1) shift; break;; esac; shift; done\n"
           "for ((i=0;i<n;i++)); do SLURM_LOCALID=$i SLURM_PROCID=$i SLURMD_NODENAME=$node "
           "CUDA_VISIBLE_DEVICES=$FAKE_STEP_CVD \"$@\" & done\n"
           "rc=0; for ((i=0;i<n;i++)); do wait -n || rc=$?; done; exit $rc\n");
  WriteExe(dir / "bin" / "scontrol",
           "#!/bin/bash\n"
           "if [ \"$1 $2\" = 'show hostnames' ]; then\n"
           "  if [[ $3 =~ ^([a-z]+)\\[([0-9]+)-([0-9]+)\\]$ ]]; then\n"
           "    for ((i=${BASH_REMATCH[2]};i<=${BASH_REMATCH[3]};i++)); do echo ${BASH_REMATCH[1]}$i; done\n"
           "  else echo \"$3\" | tr , '\\n'; fi\n"
           "elif [ \"$1 $2\" = 'show job' ]; then printf '%s\\n' \"$FAKE_JOB_D\"; else exit 1; fi\n");
  WriteExe(dir / "job.sh", script);
  std::string cmd = "cd " + ShQuote(dir.string()) + " && PATH=" + ShQuote((dir / "bin").string()) +
                    ":/usr/bin:/bin SLURM_JOB_ID=7 SLURM_JOB_NODELIST=" + ShQuote(nodelist) +
                    // The batch step runs on the allocation's first node with the job's GPUs there.
                    " SLURMD_NODENAME=" + ShQuote(nodelist.substr(0, nodelist.find(','))) +
                    " SLURM_LOCALID=0 SLURM_PROCID=0 CUDA_VISIBLE_DEVICES=" + ShQuote(step_cvd) +
                    " FAKE_STEP_CVD=" + ShQuote(step_cvd) + " FAKE_JOB_D=" + ShQuote(job_d) +
                    " TASKS=" + ShQuote((dir / "tasks").string()) + " bash job.sh >stdout.txt 2>stderr.txt";
  ScriptRun r;
  int st = std::system(cmd.c_str());
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::istringstream lines(slurp(dir / "tasks"));
  for (std::string l; std::getline(lines, l);) r.tasks.push_back(l);
  std::sort(r.tasks.begin(), r.tasks.end());
  r.exit_file = slurp(dir / "exit");
  r.stderr_text = slurp(dir / "stderr.txt");
  r.stdout_text = slurp(dir / "stdout.txt");
  return r;
}

std::string TempRunDir(const std::string& stem) {
  std::string t = (std::filesystem::temp_directory_path() / (stem + "XXXXXX")).string();
  if (::mkdtemp(t.data()) == nullptr) return "";
  return t;
}

// Each task prints: rank node CUDA_VISIBLE_DEVICES ASCEND_RT_VISIBLE_DEVICES ("-" when unset).
LaunchRequest DeviceReq(std::vector<NodeShare> nodes, int apw, const std::string& device_env,
                        const std::string& accel) {
  LaunchRequest r = Req(std::move(nodes), apw);
  r.accelerator = accel;
  r.device_env = device_env;
  r.argv = {"sh", "-c",
            "echo \"$CNET_WORKER_INDEX $SLURMD_NODENAME ${CUDA_VISIBLE_DEVICES--} ${ASCEND_RT_VISIBLE_DEVICES--}\" >> "
            "\"$TASKS\""};
  return r;
}

TEST(BatchScriptTest, UnevenTwoPlusOneRunsExactlyThreeTasks) {
  auto spec = MakeJobSpec(Req({{"node1", 2}, {"node2", 1}}), Settings());
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->nodes, 2);
  EXPECT_EQ(spec->tasks_per_node, 2);  // room for the largest share on every node
  auto steps = Steps(spec->script);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0], std::make_pair(0, 2));
  EXPECT_EQ(steps[1], std::make_pair(1, 1));
  EXPECT_EQ(steps[0].second + steps[1].second, 3);
  // Ranks node by node: the second step's ranks start after the first share; world size 3.
  EXPECT_NE(spec->script.find("CNET_WORKER_INDEX=$((SLURM_PROCID+0)) CNET_WORLD_SIZE=3"), std::string::npos);
  EXPECT_NE(spec->script.find("CNET_WORKER_INDEX=$((SLURM_PROCID+2)) CNET_WORLD_SIZE=3"), std::string::npos);
  EXPECT_EQ(spec->script.find("SLURM_NTASKS"), std::string::npos);
}

TEST(BatchScriptTest, GresPerNodeForTheLargestShareAndPerStepBinding) {
  auto spec = MakeJobSpec(Req({{"a", 3}, {"b", 1}}, 2), Settings("gpu:h100"));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->gres_per_node, "gpu:h100:6");
  EXPECT_EQ(spec->memory_per_node_mb, static_cast<int64_t>(1.5 * 1024 * 3));
  EXPECT_EQ(spec->cpus_per_task, 3);
  EXPECT_NE(spec->script.find("--ntasks=3 --cpus-per-task=3 --gres=gpu:h100:6 "), std::string::npos);
  EXPECT_NE(spec->script.find("--ntasks=1 --cpus-per-task=3 --gres=gpu:h100:2 "), std::string::npos);
}

TEST(BatchScriptTest, EveryNodeButThePlacedIsExcluded) {
  BatchSettings bs = Settings();
  bs.site_nodes = {"node1", "node2", "node3", "node4"};
  auto spec = MakeJobSpec(Req({{"node4", 1}, {"node2", 2}}), bs);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->nodes, 2);
  EXPECT_EQ(spec->exclude_nodes, "node1,node3");
  // Each share's step is pinned to its node by name, in the request's order.
  EXPECT_LT(spec->script.find("cnet_node 'node4' 0"), spec->script.find("cnet_node 'node2' 1"));
  bs.site_nodes = {"node2"};
  EXPECT_EQ(MakeJobSpec(Req({{"node2", 1}}), bs)->exclude_nodes, "");
}

// A one-node request Slurm may place itself (LaunchRequest::any_of) excludes only the nodes outside
// that set; its workers run on the one node Slurm allocates, whichever it is.
TEST(BatchScriptTest, ASitePlacedRequestExcludesOnlyTheNodesOutsideItsSet) {
  BatchSettings bs = Settings("gpu:h100");
  bs.site_nodes = {"node1", "node2", "node3", "node4"};
  LaunchRequest r = Req({{"node2", 2}}, 1);
  r.any_of = {"node2", "node3"};
  auto spec = MakeJobSpec(r, bs);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->nodes, 1);
  EXPECT_EQ(spec->exclude_nodes, "node1,node4");
  EXPECT_EQ(spec->gres_per_node, "gpu:h100:2");
  // The step names node2 but falls back to the allocation's only node (cnet_node).
  EXPECT_NE(spec->script.find("cnet_node 'node2' 0"), std::string::npos);
  EXPECT_NE(spec->script.find("echo \"${cnet_alloc[$2]}\""), std::string::npos);
}


// Issue 16 item 1: both workers of a 2 x 2 gang on one node saw CUDA_VISIBLE_DEVICES=0,1,2,3.
TEST(BatchScriptTest, GpuWorkersOnOneNodeSeeDisjointSlicesOfTheStepsDevices) {
  BatchSettings bs = Settings("gpu:h100");
  bs.run_dir = TempRunDir("cnet-bs-gpu");
  ASSERT_FALSE(bs.run_dir.empty());
  std::string script = BatchScript(DeviceReq({{"node2", 2}}, 2, "CUDA_VISIBLE_DEVICES", "H100-SXM"), bs);
  ScriptRun r = RunWithFakeSlurm(script, "node2", "4,5,6,7", "", bs.run_dir);
  EXPECT_EQ(r.rc, 0) << r.stderr_text;
  EXPECT_EQ(r.exit_file, "0\n");
  EXPECT_EQ(r.tasks, (std::vector<std::string>{"0 node2 4,5 -", "1 node2 6,7 -"}));
  std::filesystem::remove_all(bs.run_dir);
}

// Issue 16 item 6: a one-worker job runs in the batch step (no srun launch), still seeing only
// its own devices through the vendor's variable.
TEST(BatchScriptTest, SoleWorkerRunsInTheBatchStepWithItsDevices) {
  BatchSettings bs = Settings("gpu:h100");
  bs.run_dir = TempRunDir("cnet-bs-sole");
  ASSERT_FALSE(bs.run_dir.empty());
  std::string script = BatchScript(DeviceReq({{"node3", 1}}, 2, "CUDA_VISIBLE_DEVICES", "H100-SXM"), bs);
  EXPECT_EQ(script.find("srun "), std::string::npos) << script;
  EXPECT_EQ(script.find("scontrol"), std::string::npos) << "it names no node: no scontrol run\n" << script;
  ScriptRun r = RunWithFakeSlurm(script, "node3", "2,5", "", bs.run_dir);
  EXPECT_EQ(r.rc, 0) << r.stderr_text;
  EXPECT_EQ(r.exit_file, "0\n");
  EXPECT_EQ(r.tasks, (std::vector<std::string>{"0 node3 2,5 -"}));
  std::filesystem::remove_all(bs.run_dir);
  // A failing command's exit code is the job's.
  bs.run_dir = TempRunDir("cnet-bs-sole2");
  LaunchRequest bad = Req({{"node3", 1}});
  bad.argv = {"sh", "-c", "exit 3"};
  r = RunWithFakeSlurm(BatchScript(bad, bs), "node3", "", "", bs.run_dir);
  EXPECT_EQ(r.rc, 3);
  EXPECT_EQ(r.exit_file, "3\n");
  std::filesystem::remove_all(bs.run_dir);
}

// Issue 12: inputs the site lacks are copied into the run directory before any worker starts;
// the command reads them at $CNET_INPUT_<NAME>; a copy that fails fails the job, saying which.
TEST(BatchScriptTest, StageInCopiesInputsBeforeTheWorkersAndRecordsTheBytes) {
  namespace fs = std::filesystem;
  BatchSettings bs = Settings("gpu:h100");
  bs.run_dir = TempRunDir("cnet-bs-stage");
  ASSERT_FALSE(bs.run_dir.empty());
  const std::string src = bs.run_dir + "-src";
  fs::create_directories(src);
  std::ofstream(src + "/f") << "hello from the replica";
  LaunchRequest req = Req({{"node3", 1}});
  req.argv = {"sh", "-c", "cat \"$CNET_INPUT_TRAIN_SET/f\""};
  req.stage_in = {{"train-set", src}};
  ScriptRun r = RunWithFakeSlurm(BatchScript(req, bs), "node3", "", "", bs.run_dir);
  EXPECT_EQ(r.rc, 0) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "hello from the replica");
  SiteEvent e;
  AddStageInFields(bs.run_dir + "/inputs", &e);
  EXPECT_EQ(e.fields[kStageInBytesField], "22");
  EXPECT_TRUE(e.fields.count(kStageInSecondsField));
  fs::remove_all(bs.run_dir);

  bs.run_dir = TempRunDir("cnet-bs-stage2");
  req.stage_in = {{"train-set", src + "/missing"}};
  r = RunWithFakeSlurm(BatchScript(req, bs), "node3", "", "", bs.run_dir);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.exit_file, "1\n");
  EXPECT_NE(r.stderr_text.find("computenet: stage-in of dataset 'train-set' from '" + src + "/missing' failed"),
            std::string::npos)
      << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "") << "no worker ran";
  fs::remove_all(bs.run_dir);
  fs::remove_all(src);
}

// Issue 16 item 1: on an npu:910b site no device variable was set at all. The indices come from
// the job's allocation per node (here node[1-2] grouped, and a non-contiguous list).
TEST(BatchScriptTest, NpuWorkersGetAscendVariableFromTheJobsIndicesPerNode) {
  BatchSettings bs = Settings("npu:910b");
  bs.run_dir = TempRunDir("cnet-bs-npu");
  ASSERT_FALSE(bs.run_dir.empty());
  std::string script =
      BatchScript(DeviceReq({{"node3", 2}, {"node1", 1}}, 2, "ASCEND_RT_VISIBLE_DEVICES", "Ascend-910B"), bs);
  const std::string job_d =
      "JobId=7 JobName=x\n"
      "   JOB_GRES=npu:910b:8\n"
      "     Nodes=node1 CPU_IDs=0-1 Mem=1024 GRES=npu:910b:4(IDX:4-7)\n"
      "     Nodes=node3 CPU_IDs=0-1 Mem=1024 GRES=npu:910b:4(IDX:0-1,5-6)\n";
  ScriptRun r = RunWithFakeSlurm(script, "node1,node3", "", job_d, bs.run_dir);
  EXPECT_EQ(r.rc, 0) << r.stderr_text;
  EXPECT_EQ(r.tasks, (std::vector<std::string>{"0 node3 - 0,1", "1 node3 - 5,6", "2 node1 - 4,5"}));
  // Grouped node lines are expanded.
  std::filesystem::remove_all(bs.run_dir);
  bs.run_dir = TempRunDir("cnet-bs-npu2");
  script = BatchScript(DeviceReq({{"node2", 1}}, 3, "ASCEND_RT_VISIBLE_DEVICES", "Ascend-910B"), bs);
  r = RunWithFakeSlurm(script, "node2", "", "     Nodes=node[1-2] CPU_IDs=0 Mem=1 GRES=npu:910b:3(IDX:2-4)\n", bs.run_dir);
  EXPECT_EQ(r.rc, 0) << r.stderr_text;
  EXPECT_EQ(r.tasks, (std::vector<std::string>{"0 node2 - 2,3,4"}));
  std::filesystem::remove_all(bs.run_dir);
}

// Issue 11: a gang's workers share the log files; each line goes there after its worker's rank,
// numbered across the job's steps (node2's worker is 2), stdout and stderr kept apart; a worker's
// exit code is still the job's. A lone worker's lines stay as they are.
TEST(BatchScriptTest, GangLinesCarryTheWorkersRank) {
  BatchSettings bs = Settings();
  bs.run_dir = TempRunDir("cnet-bs-label");
  ASSERT_FALSE(bs.run_dir.empty());
  LaunchRequest gang = Req({{"node1", 2}, {"node2", 1}});
  gang.argv = {"sh", "-c", "echo out $CNET_WORKER_INDEX; echo err $CNET_WORKER_INDEX >&2; printf 'no newline'; "
                           "[ $CNET_WORKER_INDEX = 2 ] && { sleep 0.5; exit 3; }; exit 0"};
  ScriptRun r = RunWithFakeSlurm(BatchScript(gang, bs), "node1,node2", "", "", bs.run_dir);
  EXPECT_EQ(r.rc, 3) << r.stderr_text;
  EXPECT_EQ(r.exit_file, "3\n");
  for (int k = 0; k < 3; ++k) {
    const std::string rank = "[" + std::to_string(k) + "] ";
    EXPECT_NE(r.stdout_text.find(rank + "out " + std::to_string(k) + "\n"), std::string::npos) << r.stdout_text;
    EXPECT_NE(r.stdout_text.find(rank + "no newline"), std::string::npos) << r.stdout_text;
    EXPECT_NE(r.stderr_text.find(rank + "err " + std::to_string(k) + "\n"), std::string::npos) << r.stderr_text;
  }
  EXPECT_EQ(r.stdout_text.find("err "), std::string::npos) << r.stdout_text;
  std::filesystem::remove_all(bs.run_dir);
  bs.run_dir = TempRunDir("cnet-bs-label1");
  LaunchRequest one = Req({{"node1", 1}});
  one.argv = {"sh", "-c", "echo plain"};
  r = RunWithFakeSlurm(BatchScript(one, bs), "node1", "", "", bs.run_dir);
  EXPECT_EQ(r.stdout_text, "plain\n");
  std::filesystem::remove_all(bs.run_dir);
}

// A task that would get fewer devices than asked fails the gang instead of sharing devices.
TEST(BatchScriptTest, TooFewDevicesFailsTheGang) {
  BatchSettings bs = Settings("gpu:h100");
  bs.run_dir = TempRunDir("cnet-bs-few");
  std::string script = BatchScript(DeviceReq({{"node1", 2}}, 2, "CUDA_VISIBLE_DEVICES", "H100-SXM"), bs);
  ScriptRun r = RunWithFakeSlurm(script, "node1", "0,1,2", "", bs.run_dir);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.exit_file, "0\n");
  EXPECT_NE(r.stderr_text.find("want 2 devices"), std::string::npos) << r.stderr_text;
  std::filesystem::remove_all(bs.run_dir);
  // No indices for the node: the job fails with a message naming it.
  bs = Settings("npu:910b");
  bs.run_dir = TempRunDir("cnet-bs-none");
  script = BatchScript(DeviceReq({{"node1", 1}}, 1, "ASCEND_RT_VISIBLE_DEVICES", "Ascend-910B"), bs);
  r = RunWithFakeSlurm(script, "node1", "", "     Nodes=node2 CPU_IDs=0 Mem=1 GRES=npu:910b:1(IDX:0)\n", bs.run_dir);
  EXPECT_NE(r.rc, 0);
  EXPECT_EQ(r.exit_file, "1\n");
  EXPECT_NE(r.stderr_text.find("no npu:910b indices for node node1"), std::string::npos) << r.stderr_text;
  std::filesystem::remove_all(bs.run_dir);
}

TEST(BatchScriptTest, FenceFirstExitFileLastArgvQuoted) {
  auto spec = MakeJobSpec(Req({{"a", 1}}), Settings());
  ASSERT_TRUE(spec.ok());
  const std::string& s = spec->script;
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  size_t fence = s.find("mkdir '/out/42/2'/claim");
  size_t started = s.find("echo \"$SLURM_JOB_NODELIST\" > '/out/42/2'/started");
  size_t step = s.find("( export SLURM_PROCID=0 SLURM_LOCALID=0;");  // one worker: no srun step, no shell
  EXPECT_LT(fence, started) << "the start is told only by the attempt that won the fence";
  EXPECT_LT(started, step);
  size_t exit_file = s.find("'/out/42/2'/exit.tmp");
  ASSERT_NE(fence, std::string::npos);
  EXPECT_LT(fence, step);
  EXPECT_LT(step, exit_file);
  EXPECT_EQ(s.find("srun "), std::string::npos);
  EXPECT_NE(s.find("'it'\\''s'"), std::string::npos);
  EXPECT_EQ(spec->name, "cnet-42-2");
  EXPECT_EQ(spec->stdout_path, "/out/42/2/stdout.log");
  EXPECT_EQ(spec->working_dir, "/out/42/2");
  EXPECT_EQ(spec->env.at("CNET_JOB_ID"), "42");
  EXPECT_TRUE(spec->env.count("PATH"));
  EXPECT_EQ(spec->partition, "debug");
}

TEST(BatchScriptTest, BadRequestsAreInvalid) {
  EXPECT_EQ(MakeJobSpec(Req({}), Settings()).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeJobSpec(Req({{"a", 0}}), Settings()).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(MakeJobSpec(Req({{"a", 1}}, 1), Settings("")).status().code(), Code::kInvalidArgument);
  LaunchRequest r = Req({{"a", 1}});
  r.argv.clear();
  EXPECT_EQ(MakeJobSpec(r, Settings()).status().code(), Code::kInvalidArgument);
}

TEST(BatchScriptTest, TimeLimitRoundsUpToMinutes) {
  LaunchRequest r = Req({{"a", 1}});
  r.time_limit_s = 61;
  auto spec = MakeJobSpec(r, Settings());
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->time_limit_min, 2);
}

}  // namespace
}  // namespace cnet::backends::slurm
