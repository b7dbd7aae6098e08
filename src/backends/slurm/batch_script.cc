#include "backends/slurm/batch_script.h"

#include <algorithm>
#include <cmath>

namespace cnet::backends::slurm {

std::string JobName(int64_t job_id, int attempt) {
  return "cnet-" + std::to_string(job_id) + "-" + std::to_string(attempt);
}

std::string ShQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int MaxShare(const LaunchRequest& req) {
  int m = 0;
  for (const NodeShare& n : req.nodes) m = std::max(m, n.workers);
  return m;
}

namespace {

// The command each task runs: rank and world size from the step, the device variable the job
// asked for (Slurm sets CUDA_VISIBLE_DEVICES), then the job's argv.
std::string TaskCommand(const LaunchRequest& req, int offset) {
  std::string setup = "CNET_WORKER_INDEX=$((SLURM_PROCID+" + std::to_string(offset) + ")) CNET_WORLD_SIZE=" +
                      std::to_string(req.workers()) + "; export CNET_WORKER_INDEX CNET_WORLD_SIZE;";
  if (req.accelerators_per_worker > 0 && !req.device_env.empty() && req.device_env != "CUDA_VISIBLE_DEVICES") {
    setup += " " + req.device_env + "=$CUDA_VISIBLE_DEVICES; export " + req.device_env + ";";
  }
  std::string cmd = "sh -c " + ShQuote(setup + " exec \"$@\"") + " cnet";
  for (const std::string& a : req.argv) cmd += " " + ShQuote(a);
  return cmd;
}

std::string StepLine(const LaunchRequest& req, const BatchSettings& s, size_t i, int offset) {
  const int w = req.nodes[i].workers;
  std::string line = "srun --nodes=1 --relative=" + std::to_string(i) + " --ntasks=" + std::to_string(w) +
                     " --cpus-per-task=" + std::to_string(std::max(1, req.cpus_per_worker));
  if (req.accelerators_per_worker > 0) {
    line += " --gres=" + s.gres + ":" + std::to_string(w * req.accelerators_per_worker) +
            " --gpu-bind=per_task:" + std::to_string(req.accelerators_per_worker);
  }
  return line + " --kill-on-bad-exit=1 " + TaskCommand(req, offset) + " &\npids+=($!)\n";
}

}  // namespace

std::string BatchScript(const LaunchRequest& req, const BatchSettings& s) {
  const std::string d = ShQuote(s.run_dir);
  std::string script =
      "#!/bin/bash\n"
      "# " + JobName(req.job_id, req.attempt) + ": " + std::to_string(req.workers()) + " workers on " +
      std::to_string(req.nodes.size()) + " nodes\n"
      "mkdir " + d + "/claim 2>/dev/null || { echo 'computenet: this attempt was withdrawn; not running it' >&2; exit 0; }\n"
      "pids=()\n";
  int offset = 0;
  for (size_t i = 0; i < req.nodes.size(); ++i) {
    script += StepLine(req, s, i, offset);
    offset += req.nodes[i].workers;
  }
  // A gang fails together: the first step to fail stops the others.
  script +=
      "rc=0\n"
      "for _ in \"${pids[@]}\"; do\n"
      "  wait -n; r=$?\n"
      "  if [ \"$r\" -ne 0 ] && [ \"$rc\" -eq 0 ]; then rc=$r; kill \"${pids[@]}\" 2>/dev/null; fi\n"
      "done\n"
      "echo $rc > " + d + "/exit.tmp && mv -f " + d + "/exit.tmp " + d + "/exit\n"
      "exit $rc\n";
  return script;
}

Result<SlurmJobSpec> MakeJobSpec(const LaunchRequest& req, const BatchSettings& s) {
  const std::string name = JobName(req.job_id, req.attempt);
  if (req.argv.empty()) return InvalidArgument(name + ": empty argv");
  if (req.nodes.empty()) return InvalidArgument(name + ": no nodes placed");
  for (const NodeShare& n : req.nodes) {
    if (n.workers < 1) return InvalidArgument(name + ": node '" + n.node + "' is given no workers");
  }
  if (req.accelerators_per_worker > 0 && s.gres.empty()) {
    return InvalidArgument(name + ": no GRES name for accelerator '" + req.accelerator + "'");
  }
  const int share = MaxShare(req);
  SlurmJobSpec spec;
  spec.name = name;
  spec.partition = s.partition;
  spec.account = s.account;
  spec.qos = s.qos;
  spec.reservation = s.reservation;
  spec.nodes = static_cast<int>(req.nodes.size());
  spec.tasks_per_node = share;
  spec.cpus_per_task = std::max(1, req.cpus_per_worker);
  if (req.accelerators_per_worker > 0) spec.gres_per_node = s.gres + ":" + std::to_string(req.accelerators_per_worker * share);
  spec.memory_per_node_mb = static_cast<int64_t>(std::ceil(req.memory_gib_per_worker * 1024 * share));
  spec.time_limit_min = req.time_limit_s > 0 ? static_cast<int>(std::ceil(req.time_limit_s / 60)) : 0;
  spec.working_dir = req.working_dir.empty() ? s.run_dir : req.working_dir;
  spec.stdout_path = s.run_dir + "/stdout.log";
  spec.stderr_path = s.run_dir + "/stderr.log";
  spec.env = req.env;
  if (!spec.env.count("PATH")) spec.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  spec.env["CNET_JOB_ID"] = std::to_string(req.job_id);
  spec.script = BatchScript(req, s);
  return spec;
}

}  // namespace cnet::backends::slurm
