#include "service/host_fit.h"

#include <algorithm>
#include <cstdio>

#include "common/strings.h"

namespace cnet::service {

namespace {

std::string Gib(double v) { return FormatNumber("%.1f", v); }

}  // namespace

Status CheckWorkerFits(const Cluster& cl, const Catalogue& cat, const api::JobRequest& req,
                       const std::vector<AccelId>& acceptable) {
  const bool cpu_job = req.accelerators_per_worker <= 0;
  int max_cpus = 0;
  bool cpus_unknown = false, memory_unknown = false, any = false;
  double max_mem = 0;
  for (const Node& n : cl.nodes()) {
    if (std::find(acceptable.begin(), acceptable.end(), n.accel) == acceptable.end()) continue;
    any = true;
    // A CPU node's packages are its cores; an accelerator node's CPUs are `cpus` (0: not declared).
    const int cpus = n.accel.valid() && cat.Get(n.accel).kind == AccelKind::kCpu ? std::max(n.cpus, n.accel_count) : n.cpus;
    if (cpus <= 0) cpus_unknown = true;
    max_cpus = std::max(max_cpus, cpus);
    if (n.memory_gib <= 0) memory_unknown = true;
    max_mem = std::max(max_mem, n.memory_gib);
  }
  if (!any) return Status::Ok();  // which types exist is Prepare's to say
  if ((cpu_job || !cpus_unknown) && req.cpus_per_worker > max_cpus)
    return Infeasible("cpus_per_worker: " + std::to_string(req.cpus_per_worker) + " CPUs per worker, but the largest " +
                      (cpu_job ? "CPU node" : "node with an acceptable accelerator") + " has " + std::to_string(max_cpus) +
                      " CPUs; this job can never run here");
  if (!memory_unknown && req.memory_gib_per_worker > max_mem)
    return Infeasible("memory_gib_per_worker: " + Gib(req.memory_gib_per_worker) + " GiB per worker, but the largest " +
                      (cpu_job ? "CPU node" : "node with an acceptable accelerator") + " has " + Gib(max_mem) +
                      " GiB; this job can never run here");
  return Status::Ok();
}

}  // namespace cnet::service
