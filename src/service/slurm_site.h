// A Slurm cluster behind the Site interface, through slurmrestd (sites::SlurmClient). One
// computenet job becomes one Slurm batch job named cnet-<job>-<attempt> whose tasks are the gang's
// workers (srun); Slurm picks the exact nodes inside the count the service reserved. A refresher
// thread reads nodes every inventory_interval_s and jobs every poll_interval_s, so callers never
// wait on slurmrestd except in Launch, Kill and FindInterrupted. An unreachable slurmrestd or
// slurmctld marks the site unhealthy (no new work, nothing lost) until it answers again. Each
// attempt's run directory (shared with the nodes) is its fence (the script and Withdraw race to
// mkdir `claim`) and keeps its exit code. The last inventory seen is kept in
// <data>/sites/<name>.json so a restart while Slurm is down still knows the site's nodes.
#pragma once

#include <memory>

#include "service/config.h"
#include "service/site.h"

namespace cnet::service {

Result<std::unique_ptr<Site>> MakeSlurmSite(const SiteConfig& cfg, const std::string& data_dir);

}  // namespace cnet::service
