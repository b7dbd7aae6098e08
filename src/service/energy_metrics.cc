#include "service/energy_metrics.h"

#include <algorithm>

#include "service/acct.h"

namespace cnet::service {

void CountJobEnergy(LoopState& st, const Active& a, double end, const std::optional<std::pair<double, std::string>>& measured) {
  if (a.site < 0) return;  // never dispatched
  const AccelId type = a.accelerator.empty() ? st.admission.cpu_type() : st.cat.Find(a.accelerator).value_or(AccelId());
  if (!type.valid()) return;
  double joules = 0;
  std::string source;
  if (measured) {
    joules = measured->first;
    source = measured->second;
  } else {
    auto row = st.store.GetJob(a.id);  // its start time
    if (!row.ok()) {
      st.log->warn("job {}: energy not counted: {}", a.id, row.status().message());
      return;
    }
    if (row->start_time <= 0) return;  // it never ran
    const int packages = a.req.accelerators_per_worker > 0 ? a.req.TotalAccelerators() : a.req.workers * a.req.cpus_per_worker;
    joules = EstimatedEnergyJ(st.cat.Get(type), packages, std::max(0.0, end - row->start_time));
    source = "estimated";
  }
  st.metrics.Inc("cnet_job_energy_joules_total", "site=\"" + st.sites[a.site].cfg.name + "\",type=\"" + st.cat.Get(type).name +
                                                     "\",tenant=\"" + a.tenant + "\",source=\"" + source + "\"",
                 joules);
}

}  // namespace cnet::service
