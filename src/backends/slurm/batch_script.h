// The Slurm batch job that runs one placed computenet job (pure functions, no I/O).
//
// Shape: slurmrestd v0.0.38 cannot name the nodes of a job (required_nodes is a disabled key), but
// it takes exclude_nodes (a string, tried on 22.05.8): the job asks for exactly as many nodes as
// LaunchRequest::nodes has and excludes every other node of the site (BatchSettings::site_nodes),
// so Slurm can only choose the placed ones. Each node has room for the largest share (tasks, CPUs,
// GRES and memory per node are uniform in a Slurm request), and the batch script runs one
// `srun --nodes=1 --nodelist=<node> --ntasks=w_i` step per share: the gang is exactly
// w_0 + w_1 + ... tasks, worker ranks are node by node (CNET_WORKER_INDEX = the step's
// SLURM_PROCID + the share's offset) and CNET_WORLD_SIZE is the total. (A node Slurm has that
// site_nodes lacks cannot be excluded; if Slurm chose it, share i runs on the allocation's i-th.)
// A job of one worker on one node runs in the batch step itself (no srun step: one launch less).
// A one-node request with LaunchRequest::any_of excludes only the nodes outside that set: Slurm
// picks among them (the script names no node; its step runs on the allocation's one node).
//
// Devices: TaskPlugin=task/none binds nothing per task, so each task computes its own: the slice
// [SLURM_LOCALID * a, (SLURM_LOCALID + 1) * a) of its step's device list, where the list is
// Slurm's CUDA_VISIBLE_DEVICES for a `gpu` GRES, and for any other GRES (npu:910b) the job's
// indices on the node from `scontrol show job -d` (Slurm sets no variable for those). The slice
// goes into LaunchRequest::device_env; Slurm's whole-step CUDA/ROCR/GPU_DEVICE_ORDINAL are unset.
//
// Fence: the script first mkdirs <run_dir>/claim; Withdraw mkdirs it too, and the loser of that
// race does not run the command. The winner then writes its allocation's nodes to
// <run_dir>/started (how the backend sees the start within 0.1 s). The script writes the gang's exit code (the first failing step's,
// else 0) to <run_dir>/exit, so the outcome survives Slurm forgetting the job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backends/site_backend.h"
#include "backends/slurm/slurm_client.h"
#include "common/status.h"

namespace cnet::backends::slurm {

struct BatchSettings {
  std::string partition, account, qos, reservation;  // "" = Slurm's defaults
  std::string gres;      // the GRES of the request's accelerator, e.g. "gpu:h100"; "" = CPU only
  std::string run_dir;   // the attempt's directory, shared with the nodes
  std::vector<std::string> site_nodes;  // every node of the site known; all but the placed are excluded
};

// "cnet-<job>-<attempt>": how a restarted service finds the job by name.
std::string JobName(int64_t job_id, int attempt);
// Single-quotes a word for sh.
std::string ShQuote(const std::string& s);
// The largest share of the request (workers on one node).
int MaxShare(const LaunchRequest& req);
// The batch script (bash) described above.
std::string BatchScript(const LaunchRequest& req, const BatchSettings& s);
// The whole job description. kInvalidArgument for a request with no nodes, a share < 1 worker,
// empty argv, or accelerators without a GRES name.
Result<SlurmJobSpec> MakeJobSpec(const LaunchRequest& req, const BatchSettings& s);

}  // namespace cnet::backends::slurm
