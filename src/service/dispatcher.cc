#include "service/dispatcher.h"
#include "service/residency.h"

#include <nlohmann/json.hpp>

#include "backends/stage_in.h"
#include "backends/unix_account.h"

namespace cnet::service {

using nlohmann::json;
using store::JobState;

std::string PlacementJson(const std::string& site, const std::string& accelerator,
                          const std::vector<backends::NodeShare>& shape, const std::vector<std::vector<int>>& devices,
                          const std::vector<std::string>& any_of) {
  json nodes = json::array(), sh = json::array();
  for (const auto& n : shape) {
    nodes.push_back(n.node);
    sh.push_back({{"node", n.node}, {"workers", n.workers}});
  }
  json p{{"site", site}, {"accelerator", accelerator}, {"node", shape.empty() ? "" : shape.front().node},
         {"nodes", nodes}, {"shape", sh}, {"devices", devices}};
  if (!any_of.empty()) p["any_of"] = any_of;
  return p.dump();
}

Result<std::vector<std::string>> AnyOfFromPlacementJson(const std::string& text) {
  json p = json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!p.is_object()) return InvalidArgument("placement_json: not a JSON object");
  std::vector<std::string> out;
  if (!p.contains("any_of")) return out;
  if (!p["any_of"].is_array()) return InvalidArgument("placement_json.any_of: not a list of node names");
  for (const auto& n : p["any_of"]) {
    if (!n.is_string()) return InvalidArgument("placement_json.any_of: not a list of node names");
    out.push_back(n.get<std::string>());
  }
  return out;
}

Result<std::vector<backends::NodeShare>> ShapeFromPlacementJson(const std::string& text, int workers) {
  json p = json::parse(text.empty() ? "{}" : text, nullptr, false);
  if (!p.is_object()) return InvalidArgument("placement_json: not a JSON object");
  std::vector<backends::NodeShare> shape;
  if (p.contains("shape")) {
    if (!p["shape"].is_array()) return InvalidArgument("placement_json.shape: not an array");
    for (const auto& s : p["shape"]) {
      if (!s.is_object() || !s.contains("node") || !s["node"].is_string() || !s.contains("workers") ||
          !s["workers"].is_number_integer())
        return InvalidArgument("placement_json.shape: each entry needs a node (string) and workers (integer)");
      shape.push_back({s["node"].get<std::string>(), s["workers"].get<int>()});
    }
    return shape;
  }
  // Rows from before "shape": workers spread evenly over "nodes" (or the single "node").
  std::vector<std::string> names;
  if (p.contains("nodes") && p["nodes"].is_array()) {
    for (const auto& n : p["nodes"]) {
      if (!n.is_string()) return InvalidArgument("placement_json.nodes: not a list of names");
      names.push_back(n.get<std::string>());
    }
  } else if (p.contains("node") && p["node"].is_string()) {
    names.push_back(p["node"].get<std::string>());
  }
  if (names.empty()) return InvalidArgument("placement_json: no nodes");
  const int per = workers / static_cast<int>(names.size());
  for (size_t k = 0; k < names.size(); ++k)
    shape.push_back({names[k], k + 1 == names.size() ? workers - per * static_cast<int>(k) : per});
  return shape;
}

backends::LaunchRequest Dispatcher::RequestFor(const Active& a, int site) const {
  backends::LaunchRequest r;
  r.job_id = a.id;
  r.attempt = a.attempts;
  r.tenant = a.tenant;
  auto tenant = st_.ledger.Tenant(a.tenant);
  r.unix_user = tenant && !tenant->unix_user.empty() ? tenant->unix_user : backends::DefaultUnixUser(a.tenant);
  r.name = a.req.name;
  r.argv = a.req.command;
  r.env = a.req.env;
  if (a.array_id > 0) {  // reserved names (api/job_request.cc): the job cannot set them itself
    r.env["CNET_ARRAY_JOB_ID"] = std::to_string(a.array_id);
    r.env["CNET_ARRAY_TASK_ID"] = std::to_string(a.array_index);
  }
  r.working_dir = a.req.working_dir;
  r.accelerator = a.accelerator;
  r.accelerators_per_worker = a.accelerator.empty() ? 0 : a.req.accelerators_per_worker;
  r.cpus_per_worker = a.req.cpus_per_worker;
  r.memory_gib_per_worker = a.req.memory_gib_per_worker;
  r.nodes = a.shape;
  r.any_of = a.any_of;
  AddInputs(a, site, r);
  r.time_limit_s = a.req.time_limit_s;
  auto accel = a.accelerator.empty() ? st_.admission.cpu_type() : *st_.cat.Find(a.accelerator);
  r.device_env = st_.DeviceEnv(site, accel);
  return r;
}

// Each input: named where the site holds a copy (CNET_INPUT_<NAME>), else staged in from the
// replica it moves fastest from (the estimates' choice: ReplicaStageIn).
void Dispatcher::AddInputs(const Active& a, int site, backends::LaunchRequest& r) const {
  if (!a.spec.inputs) return;
  const std::string& name = st_.sites[site].cfg.name;
  for (const InputData& in : *a.spec.inputs) {
    if (int held = ReplicaStageIn::HeldAt(in, name); held >= 0 && static_cast<size_t>(held) < in.paths.size())
      r.env[backends::InputEnvName(in.name)] = in.paths[held];
    else if (int from = st_.stage_in->SourceOf(in, name); from >= 0 && static_cast<size_t>(from) < in.paths.size())
      r.stage_in.push_back({in.name, in.paths[from]});
  }
}

void Dispatcher::Dispatch(const std::vector<Decision>& places) {
  std::vector<Transition> ts;
  std::vector<Active*> placed;
  std::vector<int> sites;
  const double now = st_.clock.Now();
  for (const Decision& d : places) {
    Active* a = st_.jobs.Find(d.job.value());
    if (!a || d.placement.slots.empty()) continue;
    const int site = st_.SiteOf(st_.view.Origin(d.placement.slots.front().node).site);
    a->unconfirmed = false;
    a->accelerator = d.placement.accel == st_.admission.cpu_type() ? "" : st_.cat.Get(d.placement.accel).name;
    a->shape.clear();
    for (const Slot& sl : d.placement.slots)
      a->shape.push_back({st_.view.Origin(sl.node).node, sl.count / std::max(1, a->spec.unit)});
    Transition t{a->id, JobState::kScheduled, d.reason, now, {}};
    t.update.site = st_.sites[site].cfg.name;
    t.update.placement_json = PlacementJson(t.update.site.value(), st_.cat.Get(d.placement.accel).name, a->shape, {}, a->any_of);
    t.update.increment_attempts = true;
    ts.push_back(std::move(t));
    placed.push_back(a);
    sites.push_back(site);
  }
  std::vector<Status> st = st_.jobs.ApplyAll(ts);
  std::vector<store::AuditRecord> audit;  // where jobs with inputs went (service/residency.h)
  for (size_t i = 0; i < placed.size(); ++i) {
    Active& a = *placed[i];
    if (!st[i].ok()) {  // not recorded: nothing is launched; it waits again
      st_.log->error("job {}: dispatch not recorded: {}", a.id, st[i].message());
      st_.LeaveScheduler(a);
      st_.Hold(a, "waiting: its dispatch could not be recorded (" + st[i].message() + "); retrying", true);
      continue;
    }
    a.site = sites[i];
    if (!a.req.inputs.empty()) AuditPlacement(st_, a, sites[i], &audit);
    a.launching = true;
    if (st_.notes.erase(a.id)) st_.notes_changed = true;
    launcher_.Submit(sites[i], RequestFor(a, sites[i]));
  }
  WriteAudit(st_, std::move(audit));
}

void Dispatcher::Started(Active& a, const LaunchOutcome& o, std::vector<Transition>& out) const {
  const backends::LaunchResult& r = *o.result;
  const std::string site = st_.sites[o.site].cfg.name;
  Transition t{a.id, JobState::kScheduled, "", st_.clock.Now(), {}};
  t.update.runtime_json = r.handle;
  if (!r.devices.empty())
    t.update.placement_json = PlacementJson(site, a.accelerator.empty() ? st_.cat.Get(st_.admission.cpu_type()).name : a.accelerator,
                                            a.shape, r.devices, a.any_of);
  if (r.started) {
    t.to = JobState::kRunning;
    t.reason = "started " + std::to_string(o.req.workers()) + " process(es) on " + site + "/" +
               (a.shape.empty() ? "" : a.shape.front().node);
    t.update.start_time = t.time;
  } else {
    t.reason = "submitted to " + site + (r.note.empty() ? "" : " (" + r.note + ")");
  }
  a.unconfirmed = r.unconfirmed && !r.started;
  if (a.unconfirmed) st_.sites[o.site].next_inventory = 0;  // the site is suspect: read its health now
  if (a.cancel_requested) t.reason = std::string(kCancelMark) + a.cancelled_by;  // keeps the cancel durable
  else if (a.requeue_requested) t.reason = std::string(kRequeueMark) + a.requeued_by;
  out.push_back(std::move(t));
}

void Dispatcher::CommitOutcomes(std::vector<LaunchOutcome> outcomes) {
  std::vector<Transition> ts;
  std::vector<Active*> ok;
  std::vector<LaunchOutcome*> started;
  for (auto& o : retry_) outcomes.insert(outcomes.begin(), std::move(o));  // failed commits first
  retry_.clear();
  for (LaunchOutcome& o : outcomes) {
    Active* a = st_.jobs.Find(o.req.job_id);
    if (!a) continue;
    a->launching = false;
    const std::string site = st_.sites[o.site].cfg.name;
    if (!o.result.ok()) {
      st_.log->warn("job {}: launch on {} failed: {}", a->id, site, o.result.status().message());
      Status s = o.result.status().code() == Code::kUnavailable
                     ? st_.Requeue(*a, "requeued: " + site + " could not be reached: " + o.result.status().message())
                     : st_.Finish(*a, JobState::kFailed, "launch failed on " + site + ": " + o.result.status().message(),
                                  std::nullopt);
      if (!s.ok()) {  // not recorded: the job keeps its placement until the commit succeeds
        a->launching = true;
        retry_.push_back(std::move(o));
      }
      continue;
    }
    Started(*a, o, ts);
    ok.push_back(a);
    started.push_back(&o);
  }
  std::vector<Status> st = st_.jobs.ApplyAll(ts);
  for (size_t i = 0; i < ok.size(); ++i) {
    Active& a = *ok[i];
    if (!st[i].ok()) {  // its run exists: record it next tick (events wait for it meanwhile)
      st_.log->error("job {}: its launch could not be recorded: {}", a.id, st[i].message());
      a.launching = true;
      retry_.push_back(std::move(*started[i]));
      continue;
    }
    // Cancelled while it launched: stop it now.
    if (a.cancel_requested || a.requeue_requested) {
      Status k = st_.sites[a.site].backend->Kill(a.id, a.cancel_requested ? "cancelled" : "requeued");
      if (!k.ok()) st_.log->warn("job {}: kill after launch: {}", a.id, k.message());
    }
  }
}

}  // namespace cnet::service
