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

}  // namespace
}  // namespace cnet

BENCHMARK_MAIN();
