// The service's control loop with a long queue (docs/BENCHMARKS.md): the cost of one tick with
// 100,000 queued jobs when nothing changed, and when one running job ends (a scheduling cycle
// runs and reasons are republished). Fake sites (no processes), a manual clock, the real SQLite
// store on /dev/shm (or $TMPDIR). Run: build/bench/cnet_loop_bench [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "backends/fake/fake_backend.h"
#include "backends/registry.h"
#include "service/service.h"

namespace cnet {
namespace {

constexpr int kQueued = 100000;

struct World {
  ManualClock clock{1000};
  backends::BackendRegistry reg;
  backends::FakeBackend* fake = nullptr;
  std::unique_ptr<service::Service> svc;
  std::vector<int64_t> running;
  std::string dir;
};

World& W(const std::string& policy) {
  static std::map<std::string, std::unique_ptr<World>> worlds;
  auto& w = worlds[policy];
  if (w) return *w;
  w = std::make_unique<World>();
  const char* shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::filesystem::temp_directory_path().c_str();
  w->dir = std::string(shm) + "/cnet-loop-bench-" + std::to_string(getpid()) + "-" + policy;
  std::filesystem::remove_all(w->dir);
  backends::FakeOptions o;
  for (int i = 0; i < 100; ++i) o.nodes.push_back({"n" + std::to_string(i), "H100", 8, 64, 512, true, ""});
  o.caps = {true, false, false, 1};
  auto fake = std::make_unique<backends::FakeBackend>("a", o);
  w->fake = fake.get();
  auto owned = std::make_shared<std::unique_ptr<backends::FakeBackend>>(std::move(fake));
  (void)w->reg.Register("fake", [owned](const std::string&, const YAML::Node&, const backends::BackendEnv&)
                                    -> Result<std::unique_ptr<backends::SiteBackend>> {
    return std::unique_ptr<backends::SiteBackend>(std::move(*owned));
  });
  service::ServiceConfig cfg;
  cfg.data_dir = w->dir;
  cfg.policy = policy;
  service::SiteConfig s;
  s.name = "a";
  s.type = "fake";
  s.block = YAML::Load("{}");
  cfg.sites.push_back(s);
  cfg.tenants.push_back({"t", {}, 0});
  service::ServiceDeps deps;
  deps.clock = &w->clock;
  deps.backends = &w->reg;
  deps.inline_launches = true;
  w->svc = std::move(service::Service::Create(cfg, deps, CNET_BENCH_DATA_DIR "/accelerators.yaml", "")).value();
  // 100 full-node jobs hold every node; 100,000 more wait behind them.
  api::JobRequest r;
  r.name = "b";
  r.command = {"true"};
  r.workers = 1;
  r.accelerators_per_worker = 8;
  r.estimated_duration_s = 600;
  auto submit = [&](int n) {
    std::vector<std::thread> ts;
    for (int k = 0; k < 16; ++k)
      ts.emplace_back([&, k] {
        for (int i = k; i < n; i += 16) (void)w->svc->Submit(service::Caller{"t", false}, r, "");
      });
    for (auto& t : ts) t.join();
  };
  submit(100);
  for (int i = 0; i < 3; ++i) w->svc->loop().Tick();
  w->running = w->fake->active();
  submit(kQueued);
  for (int i = 0; i < 3; ++i) w->svc->loop().Tick();
  return *w;
}

// A tick with nothing new: no cycle runs; commands, events and inventories are empty.
void BM_TickIdle(benchmark::State& state, const std::string& policy) {
  World& w = W(policy);
  for (auto _ : state) w.svc->loop().Tick();
  state.SetLabel(std::to_string(w.svc->state().jobs.size()) + " active jobs");
}

// A tick after one running job ended: its end is committed, a cycle places the next job, the
// launch outcome comes back on the following tick (both ticks timed).
void BM_TickOneJobEnds(benchmark::State& state, const std::string& policy) {
  World& w = W(policy);
  for (auto _ : state) {
    state.PauseTiming();
    auto running = w.fake->active();
    w.fake->End(running.front(), 0);
    state.ResumeTiming();
    w.svc->loop().Tick();
    w.svc->loop().Tick();
  }
  state.SetLabel(std::to_string(w.svc->state().jobs.size()) + " active jobs");
}

BENCHMARK_CAPTURE(BM_TickIdle, fifo_hetero, std::string("fifo-hetero"))->Unit(benchmark::kMillisecond)->Iterations(50);
BENCHMARK_CAPTURE(BM_TickOneJobEnds, fifo_hetero, std::string("fifo-hetero"))->Unit(benchmark::kMillisecond)->Iterations(20);
BENCHMARK_CAPTURE(BM_TickIdle, backfill, std::string("backfill"))->Unit(benchmark::kMillisecond)->Iterations(50);
BENCHMARK_CAPTURE(BM_TickOneJobEnds, backfill, std::string("backfill"))->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace cnet

BENCHMARK_MAIN();
