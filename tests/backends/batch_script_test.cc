// The Slurm batch job for a placed request: exact shape, ranks, devices, fence.
#include "backends/slurm/batch_script.h"

#include <gtest/gtest.h>

#include <regex>

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

// (relative node index, ntasks) of every srun step in the script.
std::vector<std::pair<int, int>> Steps(const std::string& script) {
  std::vector<std::pair<int, int>> out;
  std::regex step("srun --nodes=1 --relative=([0-9]+) --ntasks=([0-9]+)");
  for (auto it = std::sregex_iterator(script.begin(), script.end(), step); it != std::sregex_iterator(); ++it) {
    out.emplace_back(std::stoi((*it)[1]), std::stoi((*it)[2]));
  }
  return out;
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
  EXPECT_NE(spec->script.find("--ntasks=3 --cpus-per-task=3 --gres=gpu:h100:6 --gpu-bind=per_task:2"), std::string::npos);
  EXPECT_NE(spec->script.find("--ntasks=1 --cpus-per-task=3 --gres=gpu:h100:2 --gpu-bind=per_task:2"), std::string::npos);
}

TEST(BatchScriptTest, OtherDeviceVariableIsExported) {
  LaunchRequest r = Req({{"a", 1}}, 1);
  r.device_env = "ASCEND_RT_VISIBLE_DEVICES";
  std::string s = BatchScript(r, Settings("npu:910b"));
  EXPECT_NE(s.find("ASCEND_RT_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"), std::string::npos);
}

TEST(BatchScriptTest, FenceFirstExitFileLastArgvQuoted) {
  auto spec = MakeJobSpec(Req({{"a", 1}}), Settings());
  ASSERT_TRUE(spec.ok());
  const std::string& s = spec->script;
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  size_t fence = s.find("mkdir '/out/42/2'/claim");
  size_t step = s.find("srun ");
  size_t exit_file = s.find("'/out/42/2'/exit.tmp");
  ASSERT_NE(fence, std::string::npos);
  EXPECT_LT(fence, step);
  EXPECT_LT(step, exit_file);
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
