// Whether one worker of a job could ever fit on a node: its CPUs and memory against the largest
// node that carries an acceptable type. Refusing at submission (422 naming the field) beats a job
// that pends forever with a message about "accelerators" when CPUs were asked for, or one that
// runs on a host with far less memory than it declared (issue 11).
#pragma once

#include <vector>

#include "api/job_request.h"
#include "common/ids.h"
#include "common/status.h"
#include "model/accelerator.h"
#include "model/cluster.h"

namespace cnet::service {

// Ok, or kInfeasible "cpus_per_worker: ..." / "memory_gib_per_worker: ..." naming the largest
// node's capacity. Nodes of which memory is unknown (0) are taken to fit any memory request.
// `acceptable`: the job's acceptable types (for a CPU job, the CPU type its nodes carry).
Status CheckWorkerFits(const Cluster& cl, const Catalogue& cat, const api::JobRequest& req,
                       const std::vector<AccelId>& acceptable);

}  // namespace cnet::service
