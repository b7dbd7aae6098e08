#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/data_paths.h"
#include "common/csv.h"
#include "sched/policy_registry.h"
#include "sim/carbon_config.h"
#include "sim/datasets.h"
#include "sim/elastic_variant.h"
#include "sim/generator.h"
#include "sim/multi_run.h"
#include "sim/outputs.h"
#include "sim/report.h"

namespace cnet {

namespace {

struct SimArgs {
  std::string cluster, throughputs, spread, catalogue, trace, trace_format = "csv", generate;
  std::string policies = "las,las-hetero", measure, json, reference = "V100";
  std::vector<std::string> catalogue_extensions;
  std::string jobs_out, util_out, restore_costs, elastic, economics, objectives, carbon;
  std::string share_scorers = "best-fit", share_mix;
  int datasets = 0;                                      // --datasets N (sim/datasets.h)
  std::string dataset_gb = "10:10000", data_placement = "aware";
  bool check_invariants = false;
  double util_interval = 0, restore_gbs = 0;
  double rate = 0, round = 360, penalty = 0;
  size_t jobs = 0, limit = 0;
  uint64_t seed = 0;
  bool quiet = false;
};

Status ParseMeasure(const std::string& m, SimOptions* o) {
  if (m.empty()) return Status::Ok();
  size_t dash = m.find('-');
  auto a = dash == std::string::npos ? std::nullopt : ParseInt(m.substr(0, dash));
  auto b = dash == std::string::npos ? std::nullopt : ParseInt(m.substr(dash + 1));
  if (!a || !b || *a < 0 || *b < *a)
    return InvalidArgument("--measure: expected FIRST-LAST job ids (e.g. 4000-4999), got '" + m + "'");
  o->measure_first = *a;
  o->measure_last = *b;
  return Status::Ok();
}

// --share-scorer (a list: each policy runs once per scorer), --share-mix, --check-invariants.
Result<std::vector<ShareScorer>> ParseShareOptions(const SimArgs& a, const Workload& wl, SimOptions* o) {
  CNET_ASSIGN_OR_RETURN(std::vector<ShareScorer> out, ParseShareScorers(a.share_scorers, "--share-scorer"));
  if (!a.share_mix.empty()) {
    auto mix = DemandMix::Parse(a.share_mix);
    if (!mix.ok()) {
      std::string m = mix.status().message();
      if (m.rfind("--mix: ", 0) == 0) m = m.substr(7);
      return InvalidArgument("--share-mix: " + m);
    }
    o->share_mix = std::move(mix).value();
    for (const GpuDemand& d : o->share_mix.demand)
      if (d.cpus > 0) return InvalidArgument("--share-mix: the simulator does not model CPU cores of a share ('x')");
  }
  o->check_invariants = a.check_invariants;
  if (!wl.HasShares()) out.resize(1);  // no fractional jobs: the scorer changes nothing
  return out;
}

Status RunSimulate(const SimArgs& a, const char* argv0) {
  std::string cat_path = a.catalogue.empty() ? FindDataFile("accelerators.yaml", argv0) : a.catalogue;
  CNET_ASSIGN_OR_RETURN(Catalogue cat, Catalogue::LoadWithExtensions(cat_path, a.catalogue_extensions));
  CNET_ASSIGN_OR_RETURN(Cluster cluster, Cluster::LoadYaml(a.cluster, cat));
  CNET_ASSIGN_OR_RETURN(ThroughputMatrix matrix, ThroughputMatrix::LoadCsv(a.throughputs, cat, a.spread));
  PerfModel perf(cat, matrix);
  auto ref = cat.Find(a.reference);
  if (!ref || cat.Get(*ref).kind == AccelKind::kCpu)
    return InvalidArgument("--reference: unknown accelerator type '" + a.reference + "'");
  SimOptions opts;
  opts.round_s = a.round;
  opts.seed = a.seed;
  opts.preempt_penalty_s = a.penalty;
  if (a.round <= 0) return InvalidArgument("--round: must be > 0 seconds");
  if (a.penalty < 0) return InvalidArgument("--preempt-penalty: must be >= 0 seconds");
  CNET_RETURN_IF_ERROR(ParseMeasure(a.measure, &opts));
  opts.record_jobs = !a.jobs_out.empty();
  if (a.util_interval < 0) return InvalidArgument("--util-interval: must be > 0 seconds");
  if (a.restore_gbs < 0) return InvalidArgument("--restore-bandwidth: must be > 0 GB/s");
  opts.util_interval_s = a.util_out.empty() ? 0 : (a.util_interval > 0 ? a.util_interval : a.round);

  Rng wl_rng(a.seed);
  Workload wl;
  if (!a.trace.empty() == !a.generate.empty())
    return InvalidArgument("give exactly one of --trace FILE or --generate WORKLOAD");
  if (!a.trace.empty()) {
    if (a.trace_format == "csv") {
      CNET_ASSIGN_OR_RETURN(wl, ReadCsvTrace(a.trace, perf));
    } else if (a.trace_format == "philly") {
      CNET_ASSIGN_OR_RETURN(wl, ReadPhillyTrace(a.trace, perf, *ref, wl_rng, a.limit));
    } else {
      return InvalidArgument("--trace-format: expected csv or philly, got '" + a.trace_format + "'");
    }
  } else {
    GavelWorkload kind;
    if (a.generate == "gavel-single") kind = GavelWorkload::kSingle;
    else if (a.generate == "gavel-multi") kind = GavelWorkload::kMulti;
    else return InvalidArgument("--generate: expected gavel-single or gavel-multi, got '" + a.generate + "'");
    if (a.jobs == 0) return InvalidArgument("--jobs: required with --generate, and > 0");
    if (a.rate < 0) return InvalidArgument("--rate: must be >= 0 jobs/hour (0: all jobs at time 0)");
    CNET_ASSIGN_OR_RETURN(wl, GenerateGavel(kind, a.rate, a.jobs, perf, *ref, wl_rng));
  }

  if (!a.restore_costs.empty()) CNET_RETURN_IF_ERROR(ApplyRestoreCosts(a.restore_costs, perf, &wl, a.restore_gbs));
  if (!a.elastic.empty()) {
    CNET_ASSIGN_OR_RETURN(ElasticRange er, ParseElasticRange(a.elastic));
    MakeElastic(&wl, er);
  }
  DataGen data;
  data.count = a.datasets;
  data.seed = a.seed + 1;
  CNET_RETURN_IF_ERROR(ParseDatasetSizes(a.dataset_gb, "--dataset-gb", &data));
  CNET_RETURN_IF_ERROR(AssignDatasets(data, cluster, &wl));
  // Each variant runs with data-aware placement, compute-only placement, or both (to compare).
  std::vector<bool> aware;
  for (const auto& p : SplitList(a.data_placement)) {
    if (p != "aware" && p != "compute-only")
      return InvalidArgument("--data-placement: expected aware or compute-only (comma-separated), got '" + p + "'");
    aware.push_back(p == "aware");
  }
  if (aware.empty()) return InvalidArgument("--data-placement: expected aware or compute-only");
  for (const auto& w : cat.AmbiguousUses()) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (!a.economics.empty()) {
    std::vector<std::string> sites;
    for (const Site& s : cluster.sites()) sites.push_back(s.name);
    CNET_ASSIGN_OR_RETURN(SiteEconomics e, LoadEconomicsFile(a.economics, sites, cat));
    opts.economics = std::make_shared<const SiteEconomics>(std::move(e));
  }
  if (!a.carbon.empty()) {
    std::vector<std::string> sites;
    for (const Site& s : cluster.sites()) sites.push_back(s.name);
    CNET_ASSIGN_OR_RETURN(CarbonSetup cs, LoadCarbonFile(a.carbon, sites));
    SiteEconomics e = opts.economics ? *opts.economics : SiteEconomics();
    e.SetCarbon(cs.carbon);
    opts.economics = std::make_shared<const SiteEconomics>(std::move(e));
    opts.shift = cs.shift;
    opts.deadlines = cs.deadlines;
    for (const auto& l : cs.labels) std::cout << "carbon " << l << "\n";
  }
  // Each policy runs once per objective (none given: once, with the policy's own type order).
  std::vector<std::optional<Objective>> objectives;
  for (const auto& o : SplitList(a.objectives)) {
    auto obj = ParseObjective(o);
    if (!obj || *obj == Objective::kBudget)
      return InvalidArgument("--objective: expected fastest, cheapest or greenest (comma-separated), got '" + o + "'");
    objectives.push_back(obj);
  }
  if (objectives.empty()) objectives.push_back(std::nullopt);
  CNET_ASSIGN_OR_RETURN(std::vector<ShareScorer> scorers, ParseShareOptions(a, wl, &opts));
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  std::vector<std::string> names = SplitList(a.policies);
  if (names.empty()) return InvalidArgument("--policy: no policy named");
  for (const auto& n : names) CNET_RETURN_IF_ERROR(reg.Create(n).status());
  const bool tty = !a.quiet && isatty(STDERR_FILENO);
  std::vector<SimResult> results;
  std::vector<std::pair<std::string, Status>> failures;  // policy, why
  struct Variant {
    std::optional<Objective> objective;
    ShareScorer scorer;
    bool data_aware;
  };
  std::vector<Variant> variants;
  for (const auto& objective : objectives)
    for (ShareScorer scorer : scorers)
      for (bool da : aware) variants.push_back({objective, scorer, da});
  for (const auto& [objective, scorer, data_aware] : variants) {
    SimOptions oo = opts;
    oo.objective = objective;
    oo.share_scorer = scorer;
    oo.data_aware = data_aware;
    // One policy's failure does not lose the others' results: it is reported after them.
    MultiRunResult runs = SimulatePolicies(cluster, perf, reg, names, wl, oo, [tty](const std::string& n, SimOptions& o) {
      o.keep_policy_type_order = n == "cost-hetero";  // as the service runs it
      if (!tty) return;
      o.progress = [n](double f, Seconds t, size_t done) {
        int bar = static_cast<int>(f * 30);
        std::fprintf(stderr, "\r%-16s [%-30s] %3.0f%%  t=%.1f h  finished %-10zu", n.c_str(),
                     std::string(bar, '#').c_str(), f * 100, t / 3600, done);
        std::fflush(stderr);
      };
    });
    if (tty) std::fprintf(stderr, "\r%80s\r", "");
    for (SimResult& r : runs.results) {
      if (objective) r.policy += std::string("/") + ObjectiveName(*objective);
      if (wl.HasShares()) r.policy += std::string("/") + ShareScorerName(scorer);
      if (data.count > 0) r.policy += data_aware ? "/data-aware" : "/compute-only";
      results.push_back(std::move(r));
    }
    for (auto& f : runs.failures) failures.push_back(std::move(f));
  }
  // Bad input fails every policy alike: its error alone, no table, no --json.
  if (results.empty()) return failures.front().second;
  std::cout << "cluster " << cluster.name() << " (" << cluster.TotalAccels() << " accelerators), workload "
            << wl.source << " (" << wl.jobs.size() << " jobs), round " << a.round << " s, seed " << a.seed
            << "\n"
            << FormatTable(results);
  if (results.size() > 1) {
    const auto& base = results.front();
    for (size_t i = 1; i < results.size(); ++i)
      if (results[i].avg_jct_hours > 0)
        std::printf("avg JCT %s / %s = %.2fx; makespan ratio %.2fx\n", base.policy.c_str(),
                    results[i].policy.c_str(), base.avg_jct_hours / results[i].avg_jct_hours,
                    base.makespan_hours / results[i].makespan_hours);
  }
  if (!a.jobs_out.empty()) CNET_RETURN_IF_ERROR(WriteFileAtomically(a.jobs_out, JobsCsv(results), "--jobs-out"));
  if (!a.util_out.empty()) CNET_RETURN_IF_ERROR(WriteFileAtomically(a.util_out, UtilCsv(results), "--util-out"));
  if (!a.json.empty()) {
    nlohmann::json j;
    if (results.size() == 1) {
      j = ToJson(results.front());
    } else {
      j["runs"] = nlohmann::json::array();
      for (const auto& r : results) j["runs"].push_back(ToJson(r));
    }
    std::string tmp = a.json + ".tmp";
    {
      std::ofstream out(tmp);
      if (!out) return Status(Code::kUnavailable, "--json: cannot write " + tmp);
      out << j.dump(2) << "\n";
      if (!out) return Status(Code::kUnavailable, "--json: write failed on " + tmp);
    }
    if (std::rename(tmp.c_str(), a.json.c_str()) != 0)
      return Status(Code::kUnavailable, "--json: cannot rename " + tmp + " to " + a.json);
  }
  if (failures.empty()) return Status::Ok();
  for (size_t i = 0; i + 1 < failures.size(); ++i)
    (void)ReportError(Status(failures[i].second.code(), "policy " + failures[i].first + ": " +
                                                            failures[i].second.message()));
  const auto& [last, st] = failures.back();
  return Status(st.code(), "policy " + last + ": " + st.message());
}

}  // namespace

void AddSimulateCommand(CLI::App& app, int* rc, const char* argv0) {
  auto a = std::make_shared<SimArgs>();
  CLI::App* s = app.add_subcommand("simulate", "run scheduling policies on a workload in simulated time");
  s->add_option("--cluster", a->cluster, "cluster spec YAML")->required();
  s->add_option("--throughputs", a->throughputs, "throughput matrix CSV")->required();
  s->add_option("--throughputs-spread", a->spread, "throughputs of gangs spread over nodes (CSV)");
  s->add_option("--catalogue", a->catalogue, "accelerator catalogue YAML replacing the built-in one (default data/accelerators.yaml)");
  s->add_option("--catalogue-extension", a->catalogue_extensions,
                "YAML file adding types to the catalogue (or replacing same-named ones); repeatable");
  s->add_option("--trace", a->trace, "trace file");
  s->add_option("--trace-format", a->trace_format, "csv (default) or philly");
  s->add_option("--generate", a->generate, "gavel-single or gavel-multi");
  s->add_option("--rate", a->rate, "arrivals per hour for --generate (0: all at time 0)");
  // CLI11 would wrap a negative count into a huge size_t.
  const CLI::Validator count(
      [](std::string& v) { return Trim(v).rfind('-', 0) == 0 ? "must be >= 0, got " + v : std::string(); },
      "COUNT");
  s->add_option("--jobs", a->jobs, "number of jobs for --generate")->check(count);
  s->add_option("--limit", a->limit, "philly: first N jobs only")->check(count);
  s->add_option("--reference", a->reference, "accelerator whose throughput turns durations into steps (V100)");
  s->add_option("--policy", a->policies, "policy name, or several separated by commas")->capture_default_str();
  s->add_option("--round", a->round, "round length, seconds")->capture_default_str();
  s->add_option("--seed", a->seed, "random seed")->capture_default_str();
  s->add_option("--measure", a->measure, "job ids FIRST-LAST to measure (default: all)");
  s->add_option("--preempt-penalty", a->penalty,
                "seconds without progress after each restart, for jobs without their own restore_s");
  s->add_option("--restore-costs", a->restore_costs,
                "CSV job_type,restore_s (or job_type,checkpoint_gib): restore cost per job type");
  s->add_option("--restore-bandwidth", a->restore_gbs, "GB/s at which a checkpoint_gib is restored");
  s->add_option("--elastic", a->elastic,
                 "MIN:FACTOR: make every rigid job elastic, min MIN workers, max FACTOR x its size (docs/elastic.md)");
  s->add_option("--jobs-out", a->jobs_out, "write one CSV row per completed job to this file");
  s->add_option("--util-out", a->util_out, "write the utilisation time series (per type) to this CSV file");
  s->add_option("--util-interval", a->util_interval, "seconds between --util-out samples (default: --round)");
  s->add_option("--json", a->json, "write results as JSON to this file");
  s->add_option("--economics", a->economics, "site prices and network between sites (YAML; docs/dispatch.md)");
  s->add_option("--objective", a->objectives,
                "fastest, cheapest and/or greenest (comma-separated): every job's objective; each policy runs once per objective");
  s->add_option("--carbon", a->carbon, "per-site carbon signals, forecast error, temporal shifting, deadlines (YAML; docs/energy.md)");
  s->add_option("--share-scorer", a->share_scorers,
                "best-fit, best-fit-gpu and/or fgd (comma-separated): places fractional jobs; each policy runs once per scorer (docs/sharing.md)")
      ->capture_default_str();
  s->add_option("--share-mix", a->share_mix,
                "D:W,... demand mix that fragmentation of shared accelerators is measured against (default: the workload's)");
  s->add_option("--datasets", a->datasets, "give every job one of N input datasets (sim/datasets.h; docs/data.md)")
      ->check(CLI::NonNegativeNumber);
  s->add_option("--dataset-gb", a->dataset_gb, "dataset sizes MIN:MAX in GB, drawn log-uniformly")->capture_default_str();
  s->add_option("--data-placement", a->data_placement,
                "aware (the scorers count stage-in), compute-only, or both comma-separated")
      ->capture_default_str();
  s->add_flag("--check-invariants", a->check_invariants,
              "check after every event that no accelerator is over-committed (slower)");
  s->add_flag("--quiet", a->quiet, "no progress bar");
  s->callback([a, rc, argv0] { *rc = ReportError(RunSimulate(*a, argv0)); });
}

void AddPoliciesCommand(CLI::App& app, int* rc) {
  CLI::App* p = app.add_subcommand("policies", "list scheduling policies");
  p->callback([rc] {
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    for (const auto& n : reg.Names()) std::printf("%-16s %s\n", n.c_str(), reg.Description(n).c_str());
    *rc = 0;
  });
}

}  // namespace cnet
