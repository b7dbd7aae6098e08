#include "backends/fake/fake_backend.h"

#include <nlohmann/json.hpp>

#include "backends/config_block.h"

namespace cnet::backends {

struct FakeBackend::Run {
  LaunchRequest req;
  bool started = false;
  double started_at = -1;  // the Poll clock; -1 until the first Poll after it started
  std::string handle;
};

namespace {

std::string FakeHandle(int64_t job_id, int attempt) {
  return nlohmann::json{{"fake_job", job_id}, {"attempt", attempt}}.dump();
}

SiteEvent Event(SiteEvent::Kind kind, int64_t job_id, int attempt) {
  SiteEvent e;
  e.kind = kind;
  e.job_id = job_id;
  e.attempt = attempt;
  return e;
}

}  // namespace

FakeBackend::FakeBackend(std::string name, FakeOptions opts) : name_(std::move(name)), opts_(std::move(opts)) {}

FakeBackend::~FakeBackend() = default;

const std::string& FakeBackend::name() const { return name_; }

Capabilities FakeBackend::capabilities() const { return opts_.caps; }

SiteInventory FakeBackend::Inventory() {
  std::lock_guard<std::mutex> l(mu_);
  SiteInventory inv;
  inv.nodes = opts_.nodes;
  if (!reachable_) {
    inv.healthy = false;
    inv.reason = unreachable_reason_;
    for (SiteNode& n : inv.nodes) {
      n.usable = false;
      n.reason = "site unreachable";
    }
  }
  return inv;
}

Result<LaunchResult> FakeBackend::Launch(const LaunchRequest& req) {
  std::lock_guard<std::mutex> l(mu_);
  if (!reachable_) return Status(Code::kUnavailable, name_ + ": " + unreachable_reason_);
  if (fail_next_) {
    Status st = *fail_next_;
    fail_next_.reset();
    return st;
  }
  if (req.argv.empty()) return InvalidArgument("launch: empty argv");
  if (req.nodes.empty() || req.workers() < 1) return InvalidArgument("launch: no workers placed");
  if (runs_.count(req.job_id)) return Status(Code::kAlreadyExists, "job " + std::to_string(req.job_id) + " runs here");
  if (!req.any_of.empty() && (!opts_.caps.chooses_node || req.nodes.size() != 1))
    return InvalidArgument("launch: any_of needs a one-node request and a site that chooses nodes");
  launches_.push_back(req);
  auto run = std::make_unique<Run>();
  run->req = req;
  run->started = opts_.caps.starts_at_launch;
  run->handle = FakeHandle(req.job_id, req.attempt);
  LaunchResult r;
  r.handle = run->handle;
  r.started = run->started;
  r.note = run->started ? "running on " + name_ : "submitted to " + name_;
  runs_[req.job_id] = std::move(run);
  if (lose_next_) {
    r.unconfirmed = true;
    r.note = "unconfirmed: " + *lose_next_;
    reachable_ = false;
    unreachable_reason_ = std::move(*lose_next_);
    lose_next_.reset();
  }
  return r;
}

std::vector<SiteEvent> FakeBackend::Poll(double now) {
  std::lock_guard<std::mutex> l(mu_);
  for (auto it = runs_.begin(); it != runs_.end();) {
    Run& r = *it->second;
    if (!r.started && opts_.run_seconds >= 0) {  // a config-made fake starts what it is given
      r.started = true;
      SiteEvent e = Event(SiteEvent::kStarted, it->first, r.req.attempt);
      e.handle = r.handle;
      for (const NodeShare& n : r.req.nodes) e.nodes.push_back(n.node);
      events_.push_back(std::move(e));
    }
    if (r.started && r.started_at < 0) r.started_at = now;
    if (r.started && opts_.run_seconds >= 0 && now - r.started_at >= opts_.run_seconds) {
      SiteEvent e = Event(SiteEvent::kEnded, it->first, r.req.attempt);
      e.success = true;
      e.reason = "exit code 0";
      events_.push_back(std::move(e));
      it = runs_.erase(it);
      continue;
    }
    ++it;
  }
  std::vector<SiteEvent> out;
  out.swap(events_);
  return out;
}

Status FakeBackend::Kill(int64_t job_id, const std::string& reason) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = runs_.find(job_id);
  if (it == runs_.end()) return NotFound("job " + std::to_string(job_id) + " is not on " + name_);
  kills_.push_back(job_id);
  SiteEvent e = Event(SiteEvent::kEnded, job_id, it->second->req.attempt);
  e.killed = true;
  e.exit_code = 143;
  e.reason = reason;
  events_.push_back(std::move(e));
  runs_.erase(it);
  return Status::Ok();
}

Result<WithdrawOutcome> FakeBackend::Withdraw(int64_t job_id, int attempt) {
  std::lock_guard<std::mutex> l(mu_);
  if (!opts_.caps.can_withdraw) return WithdrawOutcome::kMayRun;
  auto it = runs_.find(job_id);
  if (it == runs_.end() || it->second->req.attempt != attempt) return WithdrawOutcome::kWithdrawn;
  if (it->second->started) return WithdrawOutcome::kMayRun;
  runs_.erase(it);
  return WithdrawOutcome::kWithdrawn;
}

// The fake keeps no state outside memory: a valid handle of another instance is trusted to name a
// running run (the test then scripts its end).
Result<AdoptOutcome> FakeBackend::Adopt(int64_t job_id, int attempt, const std::string& handle) {
  std::lock_guard<std::mutex> l(mu_);
  if (handle != FakeHandle(job_id, attempt)) return AdoptOutcome::kGone;
  if (runs_.count(job_id)) return AdoptOutcome::kAdopted;
  auto run = std::make_unique<Run>();
  run->req.job_id = job_id;
  run->req.attempt = attempt;
  run->started = true;
  run->handle = handle;
  runs_[job_id] = std::move(run);
  return AdoptOutcome::kAdopted;
}

Interrupted FakeBackend::FindInterrupted(int64_t job_id, int attempt) {
  std::lock_guard<std::mutex> l(mu_);
  if (!reachable_) return {Interrupted::kUnknown, ""};
  auto it = runs_.find(job_id);
  if (it != runs_.end() && it->second->req.attempt == attempt) return {Interrupted::kFound, it->second->handle};
  return {Interrupted::kNeverStarted, ""};
}

// Nothing runs, so there are no logs: an empty path.
std::string FakeBackend::LogPath(int64_t, int, std::string_view) const { return ""; }

std::vector<LaunchRequest> FakeBackend::launches() const {
  std::lock_guard<std::mutex> l(mu_);
  return launches_;
}

std::vector<int64_t> FakeBackend::active() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<int64_t> out;
  for (const auto& [id, r] : runs_) out.push_back(id);
  return out;
}

void FakeBackend::Start(int64_t job_id) { Start(job_id, ""); }

void FakeBackend::Start(int64_t job_id, const std::string& node) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = runs_.find(job_id);
  if (it == runs_.end() || it->second->started) return;
  it->second->started = true;
  SiteEvent e = Event(SiteEvent::kStarted, job_id, it->second->req.attempt);
  e.handle = it->second->handle;
  e.reason = "running on " + name_;
  if (!node.empty()) e.nodes = {node};
  else
    for (const NodeShare& n : it->second->req.nodes) e.nodes.push_back(n.node);
  events_.push_back(std::move(e));
}

void FakeBackend::Note(int64_t job_id, std::string note) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = runs_.find(job_id);
  if (it == runs_.end() || it->second->started) return;
  SiteEvent e = Event(SiteEvent::kNote, job_id, it->second->req.attempt);
  e.reason = std::move(note);
  events_.push_back(std::move(e));
}

void FakeBackend::End(int64_t job_id, int exit_code, std::string reason) { End(job_id, exit_code, std::move(reason), {}); }

void FakeBackend::End(int64_t job_id, int exit_code, std::string reason, std::map<std::string, std::string> fields) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = runs_.find(job_id);
  if (it == runs_.end()) return;
  SiteEvent e = Event(SiteEvent::kEnded, job_id, it->second->req.attempt);
  e.success = exit_code == 0;
  e.exit_code = exit_code;
  e.reason = reason.empty() ? "exit code " + std::to_string(exit_code) : std::move(reason);
  e.fields = std::move(fields);
  events_.push_back(std::move(e));
  runs_.erase(it);
}

void FakeBackend::SetReachable(bool reachable, std::string reason) {
  std::lock_guard<std::mutex> l(mu_);
  reachable_ = reachable;
  unreachable_reason_ = std::move(reason);
}

void FakeBackend::FailNextLaunch(Status st) {
  std::lock_guard<std::mutex> l(mu_);
  fail_next_ = std::move(st);
}

void FakeBackend::LoseNextAnswer(std::string reason) {
  std::lock_guard<std::mutex> l(mu_);
  lose_next_ = std::move(reason);
}

void FakeBackend::SetNodes(std::vector<SiteNode> nodes) {
  std::lock_guard<std::mutex> l(mu_);
  opts_.nodes = std::move(nodes);
}

void FakeBackend::LoseAll() {
  std::lock_guard<std::mutex> l(mu_);
  runs_.clear();
}

std::vector<int64_t> FakeBackend::kills() const {
  std::lock_guard<std::mutex> l(mu_);
  return kills_;
}

namespace {

Result<SiteNode> ParseFakeNode(const YAML::Node& n, const BackendEnv& env, size_t i) {
  BackendEnv at = env;
  at.where = (env.where.empty() ? "" : env.where + ".") + "nodes[" + std::to_string(i) + "]";
  at.shared_keys.clear();
  ConfigBlock b(n, at);
  CNET_RETURN_IF_ERROR(b.OnlyKeys({"name", "accelerator", "accelerators", "cpus", "memory_gib"}));
  SiteNode node;
  CNET_RETURN_IF_ERROR(b.String("name", &node.name));
  if (node.name.empty()) return b.Error("name", "required");
  CNET_RETURN_IF_ERROR(b.String("accelerator", &node.accelerator));
  CNET_RETURN_IF_ERROR(b.Int("accelerators", 0, 1024, &node.accelerators));
  CNET_RETURN_IF_ERROR(b.Int("cpus", 0, 1000000, &node.cpus));
  CNET_RETURN_IF_ERROR(b.Double("memory_gib", 0, 1e9, &node.memory_gib));
  return node;
}

}  // namespace

Result<std::unique_ptr<SiteBackend>> MakeFakeBackend(const std::string& name, const YAML::Node& block,
                                                     const BackendEnv& env) {
  ConfigBlock b(block, env);
  CNET_RETURN_IF_ERROR(b.OnlyKeys({"nodes", "starts_at_launch", "run_seconds"}));
  FakeOptions o;
  o.caps.starts_at_launch = true;
  CNET_RETURN_IF_ERROR(b.Bool("starts_at_launch", &o.caps.starts_at_launch));
  o.caps.can_withdraw = !o.caps.starts_at_launch;
  CNET_RETURN_IF_ERROR(b.Double("run_seconds", -1, 1e9, &o.run_seconds));
  if (b.Has("nodes")) {
    if (!block["nodes"].IsSequence()) return b.Error("nodes", "expected a list of nodes");
    for (size_t i = 0; i < block["nodes"].size(); ++i) {
      CNET_ASSIGN_OR_RETURN(SiteNode n, ParseFakeNode(block["nodes"][i], env, i));
      o.nodes.push_back(std::move(n));
    }
  }
  return std::unique_ptr<SiteBackend>(std::make_unique<FakeBackend>(name, std::move(o)));
}

}  // namespace cnet::backends
