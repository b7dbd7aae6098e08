// Scheduling-core speed (docs/BENCHMARKS.md): one heterogeneity-aware allocation over N active
// jobs, the LP alone, and event-driven cycles. Run: build/bench/cnet_bench
#include <benchmark/benchmark.h>

#include "sched/policy/maxmin_lp.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "sim/generator.h"

namespace cnet {
namespace {

struct World {
  Catalogue cat;
  ThroughputMatrix m;
  Cluster gavel, pai;
  std::unique_ptr<PerfModel> perf;
};

const World& W() {
  static const World* w = [] {
    auto* x = new World{std::move(Catalogue::LoadYaml(CNET_BENCH_DATA_DIR "/accelerators.yaml")).value(), {}, {}, {}, {}};
    x->m = std::move(ThroughputMatrix::LoadCsv(CNET_BENCH_DATA_DIR "/gavel/throughputs.csv", x->cat,
                                               CNET_BENCH_DATA_DIR "/gavel/throughputs_unconsolidated.csv")).value();
    x->gavel = std::move(Cluster::LoadYaml(CNET_BENCH_DATA_DIR "/clusters/gavel-36x3.yaml", x->cat)).value();
    x->pai = std::move(Cluster::LoadYaml(CNET_BENCH_DATA_DIR "/clusters/alibaba-pai.yaml", x->cat)).value();
    x->perf = std::make_unique<PerfModel>(x->cat, x->m);
    return x;
  }();
  return *w;
}

std::unique_ptr<Scheduler> Loaded(const Cluster& cl, const std::string& policy, size_t jobs) {
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  auto s = std::make_unique<Scheduler>(cl, *W().perf, std::move(reg.Create(policy)).value(), SchedulerOptions{});
  Rng rng(42);
  auto wl = GenerateGavel(GavelWorkload::kMulti, 0, jobs, *W().perf, *W().cat.Find("V100"), rng);
  for (auto& j : wl->jobs) (void)s->Admit(j);
  return s;
}

// One las-hetero allocation (LP + one round's placement) over N active jobs on gavel-36x3's
// three accelerator types. A fresh scheduler each iteration, so the LP is solved every time.
void BM_LasHeteroAllocation(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto s = Loaded(W().gavel, "las-hetero", n);
    Rng rng(1);
    state.ResumeTiming();
    CycleResult r = s->RunCycle(0, true, rng);
    benchmark::DoNotOptimize(r.applied.size());
  }
  state.SetLabel(std::to_string(n) + " jobs, 3 types");
}
BENCHMARK(BM_LasHeteroAllocation)->Arg(256)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->Iterations(5);

// The max-min LP alone at the same sizes.
void BM_MaxMinLp(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Rng rng(3);
  MaxMinProblem p;
  p.jobs = n;
  p.types = 3;
  p.capacity = {36, 36, 36};
  for (int m = 0; m < n; ++m) {
    p.workers.push_back(rng.Weighted({0.7, 0.1, 0.15, 0.05}) == 0 ? 1 : 2);
    for (int j = 0; j < 3; ++j) p.coef.push_back(rng.Uniform(0.2, 3.0));
  }
  for (auto _ : state) {
    MaxMinSolution s = SolveMaxMin(p);
    if (!s.ok) state.SkipWithError(s.error.c_str());
    benchmark::DoNotOptimize(s.z);
  }
}
BENCHMARK(BM_MaxMinLp)->Arg(256)->Arg(2048)->Unit(benchmark::kMillisecond);

// One event-driven backfill cycle with N pending jobs on the PAI cluster (1,897 nodes).
void BM_BackfillCyclePai(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto s = Loaded(W().pai, "backfill", n);
    Rng rng(1);
    state.ResumeTiming();
    CycleResult r = s->RunCycle(0, true, rng);
    benchmark::DoNotOptimize(r.applied.size());
  }
}
BENCHMARK(BM_BackfillCyclePai)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(5);

// The service's cycle at scale (issue 3): 10,000 pending jobs, 1,000 nodes (8 accelerators each,
// four types). First cycle: places jobs until the cluster is full. Steady cycle: the cluster is
// full and the queue of ~7,000 still waits; the policy must conclude nothing fits, quickly.
const Cluster& ThousandNodes() {
  static const Cluster* c = [] {
    std::vector<Cluster::GroupSpec> g;
    const char* types[] = {"H100", "A100-80GB", "910B", "V100"};
    for (int r = 0; r < 20; ++r)
      g.push_back({"site" + std::to_string(r % 2), "region", "rack" + std::to_string(r), 1e9, "n", 50,
                   *W().cat.Find(types[r % 4]), 8});
    return new Cluster(std::move(Cluster::Build("1000-nodes", g, W().cat)).value());
  }();
  return *c;
}

void BM_Cycle10kJobs1kNodes(benchmark::State& state, const char* policy, bool steady) {
  for (auto _ : state) {
    state.PauseTiming();
    auto s = Loaded(ThousandNodes(), policy, 10000);
    Rng rng(1);
    if (steady) s->RunCycle(0, true, rng);
    state.ResumeTiming();
    CycleResult r = s->RunCycle(1, true, rng);
    benchmark::DoNotOptimize(r.applied.size());
    state.counters["placed"] = static_cast<double>(r.applied.size());
    state.counters["pending"] = static_cast<double>(s->pending().size());
  }
}
BENCHMARK_CAPTURE(BM_Cycle10kJobs1kNodes, backfill_first, "backfill", false)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Cycle10kJobs1kNodes, backfill_steady, "backfill", true)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Cycle10kJobs1kNodes, fifo_hetero_first, "fifo-hetero", false)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_Cycle10kJobs1kNodes, fifo_hetero_steady, "fifo-hetero", true)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace cnet

BENCHMARK_MAIN();
