// Builders for service tests: a Service over fake sites (backends/fake) with a manual clock and
// inline launches, driven tick by tick; no processes, no HTTP, no sleeps. The fake sites outlive
// a Service, so a restart (a second Service on the same data dir) finds their runs.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/fake/fake_backend.h"
#include "backends/registry.h"
#include "service/service.h"
#include "testing/faulty_store.h"
#include "testing/test_util.h"

namespace cnet::testing {

// Forwards to a FakeBackend the harness owns, so runs survive the Service that launched them.
class SharedFake final : public backends::SiteBackend {
 public:
  explicit SharedFake(backends::FakeBackend* f) : f_(f) {}
  const std::string& name() const override { return f_->name(); }
  std::string_view type() const override { return "fake"; }
  backends::Capabilities capabilities() const override { return f_->capabilities(); }
  backends::SiteInventory Inventory() override { return f_->Inventory(); }
  Result<backends::LaunchResult> Launch(const backends::LaunchRequest& r) override { return f_->Launch(r); }
  std::vector<backends::SiteEvent> Poll(double now) override { return f_->Poll(now); }
  Status Kill(int64_t id, const std::string& why) override { return f_->Kill(id, why); }
  Result<backends::WithdrawOutcome> Withdraw(int64_t id, int a) override { return f_->Withdraw(id, a); }
  Result<backends::AdoptOutcome> Adopt(int64_t id, int a, const std::string& h) override { return f_->Adopt(id, a, h); }
  backends::Interrupted FindInterrupted(int64_t id, int a) override { return f_->FindInterrupted(id, a); }
  std::string LogPath(int64_t id, int a, std::string_view s) const override { return f_->LogPath(id, a, s); }

 private:
  backends::FakeBackend* f_;
};

inline backends::SiteNode GpuNode(std::string name, std::string type, int count, int cpus = 64) {
  return {std::move(name), std::move(type), count, cpus, 512, true, ""};
}
inline backends::SiteNode CpuNode(std::string name, int cpus) { return {std::move(name), "", 0, cpus, 256, true, ""}; }

// Local-like (runs start at launch) or Slurm-like (submitted, started later, withdrawable).
inline backends::Capabilities LocalLike() { return {true, false, false, 1}; }
inline backends::Capabilities SlurmLike() { return {false, true, true, 4}; }

class LoopHarness {
 public:
  LoopHarness() : clock_(1000) {
    dir_ = std::filesystem::temp_directory_path() /
           ("cnet-loop-" + std::to_string(getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    Status st = registry_.Register("fake", [this](const std::string& name, const YAML::Node&, const backends::BackendEnv&)
                                               -> Result<std::unique_ptr<backends::SiteBackend>> {
      auto it = fakes_.find(name);
      if (it == fakes_.end()) return InvalidArgument("no fake named " + name);
      return std::unique_ptr<backends::SiteBackend>(std::make_unique<SharedFake>(it->second.get()));
    });
    EXPECT_TRUE(st.ok());
    cfg_.policy = "fifo-hetero";
  }
  ~LoopHarness() {
    svc_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Declares a site (before Start).
  backends::FakeBackend& AddSite(const std::string& name, std::vector<backends::SiteNode> nodes,
                                 backends::Capabilities caps = LocalLike(), double redispatch_after_s = 120) {
    backends::FakeOptions o;
    o.nodes = std::move(nodes);
    o.caps = caps;
    fakes_[name] = std::make_unique<backends::FakeBackend>(name, o);
    service::SiteConfig s;
    s.name = name;
    s.type = "fake";
    s.region = "r-" + name;
    s.redispatch_after_s = redispatch_after_s;
    s.inventory_interval_s = 1;
    s.block = YAML::Load("{}");
    s.where = "test: " + name;
    cfg_.sites.push_back(s);
    return *fakes_[name];
  }
  void AddTenant(const std::string& name, std::map<std::string, int> max_accel = {}, int max_queued = 0) {
    cfg_.tenants.push_back({name, std::move(max_accel), max_queued, ""});
  }
  service::ServiceConfig& config() { return cfg_; }
  // A throughput matrix (CSV text) for the next Start: job types and their rates per gang size.
  void SetThroughputs(const std::string& csv) {
    std::filesystem::create_directories(dir_);
    throughputs_ = (dir_ / "throughputs.csv").string();
    std::ofstream(throughputs_) << csv;
  }
  std::filesystem::path dir() const { return dir_; }
  backends::FakeBackend& fake(const std::string& name) { return *fakes_.at(name); }

  // (Re)starts the service on the same data dir; the loop is driven by Tick().
  Status Start(const PolicyRegistry* policies = nullptr) {
    svc_.reset();
    cfg_.data_dir = dir_.string();
    service::ServiceDeps deps;
    deps.clock = &clock_;
    deps.backends = &registry_;
    deps.policies = policies;
    deps.inline_launches = true;
    deps.wrap_store = [this](std::unique_ptr<store::Store> s) -> std::unique_ptr<store::Store> {
      auto f = std::make_unique<FaultyStore>(std::move(s));
      f->fail_active_jobs = std::exchange(fail_active_jobs_, 0);
      faulty_ = f.get();
      return f;
    };
    auto s = service::Service::Create(cfg_, deps, DataPath("accelerators.yaml"), throughputs_);
    if (!s.ok()) return s.status();
    svc_ = std::move(s).value();
    return Status::Ok();
  }
  service::Service& svc() { return *svc_; }
  FaultyStore& store() { return *faulty_; }
  ManualClock& clock() { return clock_; }
  void Tick(int n = 1) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(0.1);
      svc_->loop().Tick();
    }
  }

  static api::JobRequest Job(int workers, int accel_per_worker, std::vector<std::string> types = {}) {
    api::JobRequest r;
    r.name = "t";
    r.command = {"true"};
    r.workers = workers;
    r.accelerators_per_worker = accel_per_worker;
    r.accelerator_types = std::move(types);
    r.estimated_duration_s = 60;
    return r;
  }
  Result<int64_t> Submit(const std::string& tenant, const api::JobRequest& r, const std::string& idem = "") {
    auto s = svc_->Submit(service::Caller{tenant, false}, r, idem);
    if (!s.ok()) return s.status();
    return s->job.id;
  }
  store::JobRow Row(int64_t id) {
    auto r = svc_->GetJob(service::Caller{"", true}, id, false);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->row : store::JobRow{};
  }
  store::JobState State(int64_t id) { return Row(id).state; }
  void fail_active_jobs_at_next_start() { fail_active_jobs_ = 1; }
  service::TenantUsage Usage(const std::string& tenant) {
    auto u = svc_->Usage(service::Caller{"", true}, tenant);
    EXPECT_TRUE(u.ok());
    return u.ok() ? u->usage : service::TenantUsage{};
  }

 private:
  static inline int counter_ = 0;
  ManualClock clock_;
  std::filesystem::path dir_;
  backends::BackendRegistry registry_;
  std::map<std::string, std::unique_ptr<backends::FakeBackend>> fakes_;
  service::ServiceConfig cfg_;
  std::string throughputs_;  // "" = none
  std::unique_ptr<service::Service> svc_;
  FaultyStore* faulty_ = nullptr;
  int fail_active_jobs_ = 0;
};

}  // namespace cnet::testing
