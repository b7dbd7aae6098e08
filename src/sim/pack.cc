#include "sim/pack.h"

#include <map>

#include "common/csv.h"

namespace cnet {

Result<PodTrace> ReadPodTrace(const std::string& path) {
  CNET_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile(path));
  CNET_RETURN_IF_ERROR(t.RequireColumns({"job_id", "accelerators_per_worker"}));
  const size_t cd = *t.Column("accelerators_per_worker");
  auto cw = t.Column("workers");
  auto cc = t.Column("cpus_per_worker");
  PodTrace tr;
  tr.source = path;
  for (const auto& r : t.rows()) {
    auto d = ParseGpuDemand(r.cells[cd]);
    if (!d.ok() || r.cells[cd].find('x') != std::string::npos)
      return InputError(path, r.line, "accelerators_per_worker",
                        d.ok() ? "GPUs only (cores go in cpus_per_worker)" : d.status().message());
    if (cc && !r.cells[*cc].empty()) {
      CNET_ASSIGN_OR_RETURN(int64_t cpus, t.Int(r, *cc));
      if (cpus < 0 || cpus > 1024) return InputError(path, r.line, "cpus_per_worker", "must be between 0 and 1024");
      d->cpus = static_cast<int>(cpus);
    }
    int64_t n = 1;
    if (cw && !r.cells[*cw].empty()) {
      CNET_ASSIGN_OR_RETURN(n, t.Int(r, *cw));
      if (n < 1 || n > 100000) return InputError(path, r.line, "workers", "must be between 1 and 100000");
    }
    for (int64_t k = 0; k < n; ++k) tr.pods.push_back(*d);
  }
  if (tr.pods.empty()) return InputError(path, 0, "", "trace has no pods");
  return tr;
}

DemandMix MixOf(const PodTrace& t) {
  std::map<std::pair<int, int>, double> count;
  for (const auto& d : t.pods) count[{d.milli, d.cpus}] += 1;
  DemandMix m;
  for (auto [key, c] : count) {
    m.demand.push_back(GpuDemand{key.first, key.second});
    m.weight.push_back(c);
  }
  return m;
}

Result<std::vector<PackPoint>> RunPacking(const Cluster& cluster, const PackOptions& opts) {
  if (opts.mix.demand.empty()) return InvalidArgument("packing: the demand mix is empty");
  for (size_t i = 0; i < opts.loads.size(); ++i)
    if (!(opts.loads[i] > 0 && opts.loads[i] <= 1.5) || (i > 0 && opts.loads[i] <= opts.loads[i - 1]))
      return InvalidArgument("packing: load points must increase within (0, 1.5]");
  GpuShareState st(cluster);
  if (st.TotalMilli() == 0) return InvalidArgument("packing: cluster " + cluster.name() + " has no GPUs");
  Rng rng(opts.seed);
  const double total = static_cast<double>(st.TotalMilli());
  std::vector<PackPoint> out;
  double arrived = 0;
  size_t pods = 0, failed = 0, next = 0;
  while (out.size() < opts.loads.size()) {
    GpuDemand d = opts.trace ? opts.trace->pods[next++ % opts.trace->pods.size()]
                             : opts.mix.demand[rng.Weighted(opts.mix.weight)];
    auto p = st.Find(d, opts.scorer, opts.mix);
    ++pods;
    if (p) st.Take(*p);
    else ++failed;
    arrived += d.milli;
    while (out.size() < opts.loads.size() && arrived >= opts.loads[out.size()] * total) {
      PackPoint pt;
      pt.load = opts.loads[out.size()];
      pt.arrived = arrived / total;
      pt.unallocated = static_cast<double>(st.FreeMilli()) / total;
      pt.fragmented = st.Fragmentation(opts.mix) / total;
      pt.pods = pods;
      pt.failed = failed;
      out.push_back(pt);
    }
  }
  return out;
}

}  // namespace cnet
