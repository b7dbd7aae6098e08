#include "backends/slurm/batch_script.h"
#include "backends/stage_in.h"

#include <algorithm>
#include <cmath>
#include <set>

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

bool IsGpuGres(const std::string& gres) { return gres == "gpu" || gres.rfind("gpu:", 0) == 0; }

// Bash functions the script needs. cnet_node NAME I: NAME when Slurm allocated it (the job was
// submitted with every other node excluded), else the I-th node of the allocation. cnet_devices
// NODE: the job's indices of `gres` on NODE, comma separated, from `scontrol show job -d`
// ("Nodes=node[1-2] ... GRES=npu:910b:4(IDX:0-1,4-5)"): Slurm 22.05 sets no variable for a GRES
// other than gpu, and shows a step's indices nowhere.
// A sole worker names no node (SoleWorkerLine): no cnet_node, and one scontrol run less per job.
std::string Functions(const std::string& gres, bool generic, bool sole) {
  std::string f =
      sole ? ""
           : "mapfile -t cnet_alloc < <(scontrol show hostnames \"$SLURM_JOB_NODELIST\")\n"
             "cnet_node() { local h; for h in \"${cnet_alloc[@]}\"; do [ \"$h\" = \"$1\" ] && { echo \"$1\"; return; }; done; "
             "echo \"${cnet_alloc[$2]}\"; }\n";
  if (!generic) return f;
  f += "cnet_fail() { echo \"computenet: $*\" >&2; echo 1 > " + std::string("\"$CNET_RUN_DIR\"") +
       "/exit.tmp && mv -f \"$CNET_RUN_DIR\"/exit.tmp \"$CNET_RUN_DIR\"/exit; exit 1; }\n"
       "cnet_show=$(scontrol show job -d \"$SLURM_JOB_ID\") || cnet_fail \"scontrol show job -d $SLURM_JOB_ID failed\"\n"
       "declare -A cnet_idx\n"
       "while read -r hl idx; do\n"
       "  for h in $(scontrol show hostnames \"$hl\"); do cnet_idx[$h]=$idx; done\n"
       "done < <(printf '%s\\n' \"$cnet_show\" | sed -n 's/^ *Nodes=\\([^ ]*\\) .*GRES=.*" + gres +
       ":[0-9]*(IDX:\\([^)]*\\)).*/\\1 \\2/p')\n"
       "cnet_devices() {\n"
       "  local out='' p k; local -a ps; IFS=, read -ra ps <<< \"${cnet_idx[$1]:-}\"\n"
       "  for p in \"${ps[@]}\"; do\n"
       "    if [[ $p == *-* ]]; then for ((k=${p%-*}; k<=${p#*-}; k++)); do out+=${out:+,}$k; done\n"
       "    else out+=${out:+,}$p; fi\n"
       "  done\n"
       "  [ -n \"$out\" ] || cnet_fail \"Slurm shows no " + gres + " indices for node $1 of job $SLURM_JOB_ID\"\n"
       "  echo \"$out\"\n"
       "}\n";
  return f;
}

// What each task sets up before its command (bash): rank and world size from the step; with
// accelerators, its own devices: the slice [SLURM_LOCALID * a, + a) of the step's list (Slurm's
// CUDA_VISIBLE_DEVICES for gpu, CNET_STEP_DEVICES from cnet_devices otherwise), exported as the
// vendor's variable while Slurm's whole-step variables are unset. A task given fewer than `a`
// devices fails. Shell builtins only: no process is started before the command (issue 16 item 6).
std::string TaskSetup(const LaunchRequest& req, const BatchSettings& s, int offset) {
  std::string setup = "CNET_WORKER_INDEX=$((SLURM_PROCID+" + std::to_string(offset) + ")) CNET_WORLD_SIZE=" +
                      std::to_string(req.workers()) + "; export CNET_WORKER_INDEX CNET_WORLD_SIZE;";
  const int a = req.accelerators_per_worker;
  if (a > 0) {
    const std::string var = req.device_env.empty() ? "CUDA_VISIBLE_DEVICES" : req.device_env;
    const std::string list = IsGpuGres(s.gres) ? "$CUDA_VISIBLE_DEVICES" : "$CNET_STEP_DEVICES";
    const std::string a_s = std::to_string(a);
    setup += " l=\"" + list + "\"; IFS=, read -ra cnet_all <<< \"$l\"; f=$((SLURM_LOCALID*" + a_s + "));"
             " cnet_mine=(\"${cnet_all[@]:f:" + a_s + "}\"); printf -v d '%s,' \"${cnet_mine[@]}\"; d=${d%,};"
             " [ ${#cnet_mine[@]} -eq " + a_s + " ] ||"
             " { echo \"computenet: task $SLURM_LOCALID: want " + a_s + " devices from the step's list [$l], got [$d]\" >&2; exit 1; };"
             " unset CUDA_VISIBLE_DEVICES ROCR_VISIBLE_DEVICES HIP_VISIBLE_DEVICES GPU_DEVICE_ORDINAL"
             " ASCEND_RT_VISIBLE_DEVICES CNET_STEP_DEVICES;"
             " " + var + "=$d; export " + var + ";";
  }
  return setup;
}

std::string QuotedArgv(const LaunchRequest& req) {
  std::string out;
  for (const std::string& arg : req.argv) out += " " + ShQuote(arg);
  return out;
}

// A gang task's command, run by srun: its setup, then the command with its output labelled.
std::string TaskCommand(const LaunchRequest& req, const BatchSettings& s, int offset) {
  // A gang's workers share the job's log files: each line goes there after its worker's rank
  // ("[k] ", as on the local site, and as srun --label would with the step-local id). Both
  // labellers are waited for, so no line is lost at the end; the command's exit code is kept.
  const std::string label =
      " l=\"[$CNET_WORKER_INDEX] \"; exec 4> >(sed -u \"s/^/$l/\" >&2); e=$!; exec 5> >(sed -u \"s/^/$l/\"); o=$!;"
      " \"$@\" >&5 2>&4; rc=$?; exec 4>&- 5>&-; wait $o $e; exit $rc";
  return "bash -c " + ShQuote(TaskSetup(req, s, offset) + label) + " cnet" + QuotedArgv(req);
}

std::string StepLine(const LaunchRequest& req, const BatchSettings& s, size_t i, int offset) {
  const int w = req.nodes[i].workers;
  const std::string node = "$(cnet_node " + ShQuote(req.nodes[i].node) + " " + std::to_string(i) + ")";
  std::string line = "n=" + node + "\n";
  if (req.accelerators_per_worker > 0 && !IsGpuGres(s.gres)) {
    line += "sd=$(cnet_devices \"$n\") || exit 1\nCNET_STEP_DEVICES=$sd ";  // cnet_fail wrote the exit file
  }
  line += "srun --nodes=1 --nodelist=\"$n\" --ntasks=" + std::to_string(w) +
          " --cpus-per-task=" + std::to_string(std::max(1, req.cpus_per_worker));
  if (req.accelerators_per_worker > 0) line += " --gres=" + s.gres + ":" + std::to_string(w * req.accelerators_per_worker);
  return line + " --kill-on-bad-exit=1 " + TaskCommand(req, s, offset) + " &\npids+=($!)\n";
}

// One worker on one node: the batch step already runs there with the job's whole allocation (its
// CPUs, memory and GRES on that node), so the worker runs in it, without an srun step (a step
// launch costs a round trip to slurmctld and slurmd per job: issue 16 item 6).
// It runs in a subshell of the script: no shell is started for it, only its command.
std::string SoleWorkerLine(const LaunchRequest& req, const BatchSettings& s, bool generic) {
  std::string line;
  if (generic) line += "sd=$(cnet_devices \"$SLURMD_NODENAME\") || exit 1\n";
  line += "( export SLURM_PROCID=0 SLURM_LOCALID=0;";
  if (generic) line += " CNET_STEP_DEVICES=$sd;";
  return line + " " + TaskSetup(req, s, 0) + " exec" + QuotedArgv(req) + " ) &\npids+=($!)\n";
}

}  // namespace

std::string BatchScript(const LaunchRequest& req, const BatchSettings& s) {
  const std::string d = ShQuote(s.run_dir);
  const bool generic = req.accelerators_per_worker > 0 && !IsGpuGres(s.gres);
  const bool sole = req.nodes.size() == 1 && req.nodes[0].workers == 1;
  std::string script =
      "#!/bin/bash\n"
      "# " + JobName(req.job_id, req.attempt) + ": " + std::to_string(req.workers()) + " workers on " +
      std::to_string(req.nodes.size()) + " nodes\n"
      "mkdir " + d + "/claim 2>/dev/null || { echo 'computenet: this attempt was withdrawn; not running it' >&2; exit 0; }\n"
      // Its start and nodes, for the backend to see within kExitCheckS instead of at its next job
      // read (a reader that finds the file empty looks again).
      "echo \"$SLURM_JOB_NODELIST\" > " + d + "/started\n"
      "CNET_RUN_DIR=" + d + "\n" + Functions(s.gres, generic, sole);
  // Inputs the site lacks: copied by the job's own account before any worker starts.
  if (!req.stage_in.empty())
    script += StageInCopy(req.stage_in, "\"$CNET_RUN_DIR/inputs\"",
                          "echo 1 > \"$CNET_RUN_DIR\"/exit.tmp && mv -f \"$CNET_RUN_DIR\"/exit.tmp \"$CNET_RUN_DIR\"/exit; exit 1") +
              "\n";
  script += "pids=()\n";
  int offset = 0;
  if (sole) {
    script += SoleWorkerLine(req, s, generic);
  } else {
    for (size_t i = 0; i < req.nodes.size(); ++i) {
      script += StepLine(req, s, i, offset);
      offset += req.nodes[i].workers;
    }
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
  // The exact nodes: Slurm must choose the placed ones when every other node is excluded. A
  // one-node request with `any_of` excludes all but those: Slurm starts it on the first to free.
  std::set<std::string> placed;
  for (const NodeShare& n : req.nodes) placed.insert(n.node);
  if (req.nodes.size() == 1) placed.insert(req.any_of.begin(), req.any_of.end());
  for (const std::string& n : s.site_nodes)
    if (!placed.count(n)) spec.exclude_nodes += (spec.exclude_nodes.empty() ? "" : ",") + n;
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
