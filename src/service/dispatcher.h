// Dispatch: the scheduler's placements become runs on sites, in three phases.
//   1. Dispatch: a durable SCHEDULED for every placement (one commit), so that a crash after a
//      launch never leaves a job that looks unstarted; then each launch goes to the Launcher.
//   2. (launcher threads) SiteBackend::Launch.
//   3. CommitOutcomes: RUNNING (the run started), the handle of a submitted run, FAILED (the
//      site refused it), or PENDING again (the site could not be reached).
// A placement whose SCHEDULED commit fails leaves the scheduler and waits again, held at the
// front of its tenant's queue: nothing is launched that was not recorded. Loop thread only.
#pragma once

#include <vector>

#include "sched/policy.h"
#include "service/launcher.h"
#include "service/loop_state.h"

namespace cnet::service {

// Placement JSON as stored: {"site", "accelerator", "nodes": [..], "shape": [{"node", "workers"}],
// "devices": [[..] per worker], and "any_of": [..] while the site may still choose the node
// (Active::any_of)}; parsing accepts rows written before "shape" existed.
std::string PlacementJson(const std::string& site, const std::string& accelerator,
                          const std::vector<backends::NodeShare>& shape,
                          const std::vector<std::vector<int>>& devices,
                          const std::vector<std::string>& any_of = {});
// The stored "any_of" (empty when absent); kInvalidArgument naming the field when malformed.
Result<std::vector<std::string>> AnyOfFromPlacementJson(const std::string& json);
// The shape of a stored placement; kInvalidArgument naming the field when it is malformed.
Result<std::vector<backends::NodeShare>> ShapeFromPlacementJson(const std::string& json, int workers);

class Dispatcher {
 public:
  Dispatcher(LoopState& st, Launcher& launcher) : st_(st), launcher_(launcher) {}
  void Dispatch(const std::vector<Decision>& places);
  // Outcomes whose commit fails are kept and tried again by the next call.
  void CommitOutcomes(std::vector<LaunchOutcome> outcomes);
  bool has_retries() const { return !retry_.empty(); }

 private:
  backends::LaunchRequest RequestFor(const Active& a, int site) const;
  // The job's inputs at `site`: env for the copies it holds, stage-in items for the others.
  void AddInputs(const Active& a, int site, backends::LaunchRequest& r) const;
  void Started(Active& a, const LaunchOutcome& o, std::vector<Transition>& out) const;
  LoopState& st_;
  Launcher& launcher_;
  std::vector<LaunchOutcome> retry_;  // outcomes whose commit failed: tried again next tick
};

}  // namespace cnet::service
