// `cnet perf-loo`: the performance model's leave-one-out prediction error on a measured matrix.
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/commands.h"
#include "cli/data_paths.h"
#include "common/status.h"
#include "perf/leave_one_out.h"

namespace cnet {

namespace {

struct LooArgs {
  std::string throughputs, spread, catalogue, csv;
};

Status RunPerfLoo(const LooArgs& a, const char* argv0) {
  std::string cat_path = a.catalogue.empty() ? FindDataFile("accelerators.yaml", argv0) : a.catalogue;
  CNET_ASSIGN_OR_RETURN(Catalogue cat, Catalogue::LoadYaml(cat_path));
  CNET_ASSIGN_OR_RETURN(ThroughputMatrix m, ThroughputMatrix::LoadCsv(a.throughputs, cat, a.spread));
  LooResult r = LeaveOneOut(cat, m);
  std::printf("leave-one-out over %s%s: %zu measurements predicted from the rest\n%s",
              a.throughputs.c_str(), a.spread.empty() ? "" : (" + " + a.spread).c_str(), r.points.size(),
              FormatLooTable(cat, r).c_str());
  if (a.csv.empty()) return Status::Ok();
  std::ofstream out(a.csv);
  if (!out) return Status(Code::kUnavailable, "--csv: cannot write " + a.csv);
  out << "job_type,accelerator,workers,spread,measured,predicted\n";
  for (const auto& p : r.points)
    out << '"' << p.job_type << "\"," << cat.Get(p.accel).name << ',' << p.workers << ','
        << (p.spread ? 1 : 0) << ',' << p.measured << ',' << p.predicted << '\n';
  if (!out) return Status(Code::kUnavailable, "--csv: write failed on " + a.csv);
  return Status::Ok();
}

}  // namespace

void AddPerfLooCommand(CLI::App& app, int* rc, const char* argv0) {
  auto a = std::make_shared<LooArgs>();
  CLI::App* s = app.add_subcommand(
      "perf-loo", "leave-one-out prediction error of the performance model on a throughput matrix");
  s->add_option("--throughputs", a->throughputs, "throughput matrix CSV")->required();
  s->add_option("--throughputs-spread", a->spread, "throughputs of gangs spread over nodes (CSV)");
  s->add_option("--catalogue", a->catalogue, "accelerator catalogue YAML (default data/accelerators.yaml)");
  s->add_option("--csv", a->csv, "also write every point (measured, predicted) to this CSV");
  s->callback([a, rc, argv0] { *rc = ReportError(RunPerfLoo(*a, argv0)); });
}

}  // namespace cnet
