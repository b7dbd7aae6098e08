// A bounded queue of work ahead of free capacity, for sites that submit and can withdraw (Slurm):
// up to SiteConfig::queue_ahead jobs that wait only for capacity on a site are dispatched before it
// frees, pinned to the nodes they will take, so the site starts each the moment those nodes free
// instead of after computenet has seen them free and dispatched (issue 16 item 6).
//
// How the promises hold (docs/formats.md, `queue_ahead`):
//  - Which jobs, in what order: the policy itself chooses. Choose() asks it (Scheduler::Preview)
//    what it would place if the site's running jobs had ended; its placements there, in its order,
//    are the jobs queued ahead. So residency (its placement rules and allowed sites), priority
//    order and quotas (held jobs are not in the scheduler) are the policy's own.
//  - Model and site agree: an ahead job is pinned to the nodes of that placement (the Slurm
//    backend submits the exact node list). It holds nothing in the scheduler until Book() finds
//    those packages free, before any scheduling cycle of the tick, and books it there; while it
//    waits, its nodes take no other work in a cycle (Fence), as the site gives them to it first.
//    So capacity freed under it is never offered to another job, and the model books it on the
//    nodes the site runs it on. Pinning rather than adopting the site's choice at start: the
//    model then never has to move a booking that a later cycle may already have built on.
//  - Except where the site picks the node itself (Capabilities::chooses_node: Slurm) and the
//    gang takes one node: then the job may run on any node of its site's rack and type that could
//    hold it and the placement rules allow (Active::any_of), as a plain sbatch job would, so the
//    site starts it on whichever node frees first. It is booked only once the site says where it
//    started (kStarted's node becomes its shape). While it waits, each cycle holds room for it on
//    one of those nodes (Fence), as the site will give the next freed packages to it first, and
//    no pinned job is booked early on those nodes (the site serves its queue in age order).
//  - Quotas: an ahead job is charged as if it were in the scheduler (LoopState::StandingOf).
//  - Re-dispatch and cancel: it is an ordinary SCHEDULED attempt (withdrawn and re-dispatched when
//    its site dies, killed on cancel), as every submitted one.
// Loop thread only.
#pragma once

#include <optional>
#include <set>
#include <vector>

#include "sched/policy.h"
#include "service/loop_state.h"

namespace cnet::service {

class QueueAhead {
 public:
  explicit QueueAhead(LoopState& st) : st_(st) {}
  // Books every ahead job whose pinned packages are free now (job id order); call before a cycle.
  void Book();
  // What a cycle may not give away, as the site gives it to ahead jobs not yet booked first.
  struct Fenced {
    std::vector<NodeId> nodes;    // pinned jobs' nodes, made unusable
    std::vector<Placement> held;  // room held for jobs the site places itself (any_of)
  };
  // Fence takes those out of the model for a cycle; Unfence, right after it, gives them back.
  Fenced Fence();
  void Unfence(const Fenced& fenced);
  // Takes the jobs to queue ahead out of the scheduler's queue (marked `ahead`) and returns their
  // placements for the Dispatcher; call after a cycle's own dispatch.
  std::vector<Decision> Choose();
  // Ahead jobs not booked yet, dispatched to `site` and not started there.
  int Queued(int site);

 private:
  bool Eligible(int site) const;
  bool TryBook(Active& a, double now);  // books it if its pinned packages are free
  std::optional<Placement> PlacementOf(const Active& a) const;
  // The nodes a one-node placement `p` of `a` on `site` could take instead, the site choosing
  // (see above); empty when the site does not choose or fewer than two nodes qualify.
  std::vector<std::string> AnyOf(int site, const Active& a, const Placement& p) const;
  // Room for `a` (waiting, any_of) on the fullest of its nodes that still fits it, if any.
  std::optional<Placement> RoomFor(const Active& a) const;
  // The ahead jobs not booked yet (id order); forgets those that left. Costs what is queued
  // ahead, not what is active, so an idle tick stays cheap.
  std::vector<Active*> Waiting();
  LoopState& st_;
  std::set<int64_t> ids_;
  bool scanned_ = false;
};

}  // namespace cnet::service
