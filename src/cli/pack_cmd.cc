// `cnet pack`: the GPU-sharing experiment (sim/pack.h), several scorers side by side.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/data_paths.h"
#include "common/strings.h"
#include "sim/outputs.h"
#include "sim/pack.h"

namespace cnet {

namespace {

struct PackArgs {
  std::string cluster, catalogue, mix, pods, scorers = "best-fit,best-fit-gpu,fgd", loads = "0.5,0.6,0.7,0.8,0.9,1.0", out;
  std::vector<std::string> catalogue_extensions;
  int seeds = 3;
  uint64_t seed = 0;
};

Status RunPack(const PackArgs& a, const char* argv0) {
  std::string cat_path = a.catalogue.empty() ? FindDataFile("accelerators.yaml", argv0) : a.catalogue;
  CNET_ASSIGN_OR_RETURN(Catalogue cat, Catalogue::LoadWithExtensions(cat_path, a.catalogue_extensions));
  CNET_ASSIGN_OR_RETURN(Cluster cluster, Cluster::LoadYaml(a.cluster, cat));
  for (const auto& w : cat.AmbiguousUses()) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (a.mix.empty() == a.pods.empty()) return InvalidArgument("give exactly one of --mix SPEC or --pods FILE");
  if (a.seeds < 1 || a.seeds > 1000) return InvalidArgument("--seeds: must be between 1 and 1000");
  PackOptions base;
  PodTrace trace;
  if (!a.pods.empty()) {
    CNET_ASSIGN_OR_RETURN(trace, ReadPodTrace(a.pods));
    base.trace = &trace;
    base.mix = MixOf(trace);
  } else {
    CNET_ASSIGN_OR_RETURN(base.mix, DemandMix::Parse(a.mix));
  }
  base.loads.clear();
  for (const auto& l : SplitList(a.loads)) {
    char* end = nullptr;
    double v = std::strtod(l.c_str(), &end);
    if (end != l.c_str() + l.size()) return InvalidArgument("--loads: '" + l + "' is not a number");
    base.loads.push_back(v);
  }
  CNET_ASSIGN_OR_RETURN(std::vector<ShareScorer> scorers, ParseShareScorers(a.scorers, "--scorer"));
  const int seeds = a.pods.empty() ? a.seeds : 1;  // a trace is one fixed sequence
  // mean[scorer][load point]
  std::vector<std::vector<PackPoint>> mean(scorers.size(), std::vector<PackPoint>(base.loads.size()));
  std::string csv = "scorer,seed,load,unallocated,fragmented,pods,failed\n";
  for (size_t s = 0; s < scorers.size(); ++s)
    for (int k = 0; k < seeds; ++k) {
      PackOptions o = base;
      o.scorer = scorers[s];
      o.seed = a.seed + static_cast<uint64_t>(k);
      CNET_ASSIGN_OR_RETURN(std::vector<PackPoint> pts, RunPacking(cluster, o));
      for (size_t i = 0; i < pts.size(); ++i) {
        auto& m = mean[s][i];
        m.load = pts[i].load;
        m.unallocated += pts[i].unallocated / seeds;
        m.fragmented += pts[i].fragmented / seeds;
        m.pods += pts[i].pods;
        m.failed += pts[i].failed;
        char line[160];
        std::snprintf(line, sizeof line, "%s,%llu,%.3f,%.5f,%.5f,%zu,%zu\n", ShareScorerName(scorers[s]),
                      static_cast<unsigned long long>(o.seed), pts[i].load, pts[i].unallocated,
                      pts[i].fragmented, pts[i].pods, pts[i].failed);
        csv += line;
      }
    }
  std::printf("cluster %s (%.0f GPUs), %s, %d seed(s) from %llu\n", cluster.name().c_str(),
              static_cast<double>(GpuShareState(cluster).TotalMilli()) / kMilliPerGpu,
              a.pods.empty() ? ("mix " + a.mix).c_str() : ("pods " + a.pods).c_str(), seeds,
              static_cast<unsigned long long>(a.seed));
  std::printf("%-6s %-7s", "load", "ideal");
  for (auto s : scorers) std::printf("  %-30s", ShareScorerName(s));
  std::printf("\n%-14s", "");
  for (size_t s = 0; s < scorers.size(); ++s) std::printf("  %-10s %-10s %-8s", "unalloc", "fragmented", "failed%");
  std::printf("\n");
  for (size_t i = 0; i < base.loads.size(); ++i) {
    std::printf("%-6.2f %-7.3f", base.loads[i], std::max(0.0, 1 - base.loads[i]));
    for (size_t s = 0; s < scorers.size(); ++s)
      std::printf("  %-10.4f %-10.4f %-8.2f", mean[s][i].unallocated, mean[s][i].fragmented,
                  mean[s][i].pods ? 100.0 * mean[s][i].failed / mean[s][i].pods : 0.0);
    std::printf("\n");
  }
  if (!a.out.empty()) CNET_RETURN_IF_ERROR(WriteFileAtomically(a.out, csv, "--out"));
  return Status::Ok();
}

}  // namespace

void AddPackCommand(CLI::App& app, int* rc, const char* argv0) {
  auto a = std::make_shared<PackArgs>();
  CLI::App* s = app.add_subcommand("pack", "GPU sharing: pack fractional-GPU pods with best-fit and FGD-style scorers");
  s->add_option("--cluster", a->cluster, "cluster spec YAML")->required();
  s->add_option("--catalogue", a->catalogue, "accelerator catalogue YAML replacing the built-in one");
  s->add_option("--catalogue-extension", a->catalogue_extensions, "YAML file extending the catalogue; repeatable");
  s->add_option("--mix", a->mix, "pod GPU demands DEMAND:WEIGHT,... (e.g. 0.25:3,0.5:2,1:4,8:1)");
  s->add_option("--pods", a->pods, "pod trace CSV job_id,accelerators_per_worker[,workers]");
  s->add_option("--scorer", a->scorers, "best-fit, best-fit-gpu, fgd, or several separated by commas")->capture_default_str();
  s->add_option("--loads", a->loads, "arrived demand / cluster GPUs at which to measure")->capture_default_str();
  s->add_option("--seeds", a->seeds, "runs per scorer (seeds seed..seed+N-1), averaged")->capture_default_str();
  s->add_option("--seed", a->seed, "first seed")->capture_default_str();
  s->add_option("--out", a->out, "write every run's points as CSV to this file");
  s->callback([a, rc, argv0] { *rc = ReportError(RunPack(*a, argv0)); });
}

}  // namespace cnet
