// Reconciliation of what sites report with what the service holds: run events (started, ended,
// lost), inventories (nodes added, down, removed; site health) and jobs stranded on a site that
// stays unreachable. Start-up recovery (recovery.h) feeds its findings through the same paths.
// Loop thread only.
#pragma once

#include <optional>
#include <vector>

#include "service/loop_state.h"

namespace cnet::service {

class Reconciler {
 public:
  explicit Reconciler(LoopState& st) : st_(st) {}
  // Polls every site and applies its events (events of jobs whose launch result is not in yet
  // wait for it), then retries events whose commit failed before.
  void ApplySiteEvents();
  // Applies one site's events; those that could not be committed are kept for the next tick.
  void Apply(int site, std::vector<backends::SiteEvent> events);
  // Re-reads inventories that are due: health, usable nodes, nodes added (the model grows).
  void RefreshInventories();
  // Jobs submitted to a site unreachable for longer than its redispatch_after_s (unconfirmed
  // submits: redispatch_unconfirmed_after_s), not started: withdrawn there and requeued, if their
  // spec allows another site that could hold them.
  void RedispatchStranded();
  // Takes a site's inventory into the model (also at start).
  void TakeInventory(int site, backends::SiteInventory inv);

 private:
  bool ApplyOne(int site, const backends::SiteEvent& e);  // false: not committed, retry
  void Grow(int site, backends::SiteInventory& inv);
  // A job the site placed itself (Active::any_of): the shape it started with, from kStarted's
  // node; nullopt when it has no any_of or the event names no one node the site reports.
  std::optional<std::vector<backends::NodeShare>> SiteChoice(const Active& a, const backends::SiteEvent& e) const;
  LoopState& st_;
  std::vector<std::pair<int, backends::SiteEvent>> retry_;
};

}  // namespace cnet::service
