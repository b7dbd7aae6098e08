// A Slurm cluster behind the Site interface, through slurmrestd (sites::SlurmClient). One
// computenet job becomes one Slurm batch job named cnet-<job>-<attempt> whose tasks are the gang's
// workers (srun); Slurm picks the exact nodes inside what the service reserved. Job states are
// polled at most every poll_interval_s; an unreachable slurmrestd marks the site unhealthy (no new
// work, nothing lost) until it answers again. The last inventory seen is kept in
// <data>/sites/<name>.json so a restart while Slurm is down still knows the site's nodes.
#pragma once

#include <memory>

#include "service/config.h"
#include "service/site.h"

namespace cnet::service {

Result<std::unique_ptr<Site>> MakeSlurmSite(const SiteConfig& cfg, const std::string& data_dir);

}  // namespace cnet::service
