#include "sim/share_lane.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace cnet {

namespace {

// One accelerator of `node` held outside the policy while shares use it.
Placement HoldOf(AccelId a, NodeId node) {
  Placement p;
  p.accel = a;
  p.slots.push_back(Slot{node, 1});
  return p;
}

}  // namespace

ShareLane::ShareLane(const Cluster& cluster, ShareScorer scorer, DemandMix mix)
    : cluster_(cluster), scorer_(scorer), mix_(std::move(mix)) {
  int32_t top = -1;
  for (AccelId a : cluster.accel_types()) top = std::max(top, a.value());
  by_type_.resize(static_cast<size_t>(top + 1));
  for (AccelId a : cluster.accel_types()) by_type_[a.value()].emplace(cluster, a);
}

GpuShareState* ShareLane::StateOf(AccelId a) {
  if (!a.valid() || static_cast<size_t>(a.value()) >= by_type_.size() || !by_type_[a.value()]) return nullptr;
  return &*by_type_[a.value()];
}

const GpuShareState* ShareLane::StateOf(AccelId a) const {
  return const_cast<ShareLane*>(this)->StateOf(a);
}

void ShareLane::TakeWhole(JobId id, const Placement& p) {
  if (whole_.count(id) && broken_.empty())
    broken_ = "job " + std::to_string(id.value()) + " placed again without being released";
  GiveWhole(id);
  GpuShareState* st = StateOf(p.accel);
  if (!st) {
    if (broken_.empty()) broken_ = "job " + std::to_string(id.value()) + " placed on a type the lane does not know";
    return;
  }
  std::vector<SharePlacement> taken;
  for (const Slot& s : p.slots) {
    SharePlacement sp;
    sp.node = s.node;
    const GpuFree& f = st->Free(s.node);
    for (size_t g = 0; g < f.size() && static_cast<int>(sp.gpus.size()) < s.count; ++g)
      if (f[g] == kMilliPerGpu) sp.gpus.push_back({static_cast<int>(g), kMilliPerGpu});
    if (static_cast<int>(sp.gpus.size()) < s.count && broken_.empty())
      broken_ = "job " + std::to_string(id.value()) + " was placed on " + std::to_string(s.count) +
                " accelerators of node " + cluster_.node(s.node).name + ", which has only " +
                std::to_string(sp.gpus.size()) + " unshared";
    st->Take(sp);
    taken.push_back(std::move(sp));
  }
  whole_[id] = {p.accel, std::move(taken)};
}

void ShareLane::GiveWhole(JobId id) {
  auto it = whole_.find(id);
  if (it == whole_.end()) return;
  GpuShareState* st = StateOf(it->second.first);
  for (const SharePlacement& sp : it->second.second) st->Give(sp);
  whole_.erase(it);
  ++released_;
}

void ShareLane::Enqueue(JobRecord rec, int milli) {
  Waiting w;
  for (AccelId a : cluster_.accel_types())
    if (a.value() < static_cast<int32_t>(rec.rate.size()) && rec.rate[a.value()] > 0 && StateOf(a)) w.types.push_back(a);
  std::stable_sort(w.types.begin(), w.types.end(), [&](AccelId x, AccelId y) {
    return rec.rate[x.value()] != rec.rate[y.value()] ? rec.rate[x.value()] > rec.rate[y.value()] : x < y;
  });
  w.rec = std::move(rec);
  w.milli = milli;
  waiting_.push_back(std::move(w));
}

bool ShareLane::TryPlace(Scheduler& sched, const Waiting& w, Seconds now) {
  for (AccelId a : w.types) {
    GpuShareState* st = StateOf(a);
    auto spot = st->Find(GpuDemand{w.milli, 0}, scorer_, mix_);
    if (!spot) continue;
    const int g = spot->gpus.front().first;
    const bool fresh = st->Free(spot->node)[static_cast<size_t>(g)] == kMilliPerGpu;
    if (fresh && !sched.HoldOutside(HoldOf(a, spot->node))) continue;  // the rack cannot power one more
    st->Take(*spot);
    Running r;
    r.rec = w.rec;
    r.rec.first_start_s = now;
    r.milli = w.milli;
    r.accel = a;
    r.where = *spot;
    r.finish_s = now + w.rec.spec.first_start_cost_s + w.rec.spec.total_steps / (r.Share() * w.rec.rate[a.value()]);
    running_.push_back(std::move(r));
    return true;
  }
  return false;
}

std::vector<size_t> ShareLane::Place(Scheduler& sched, Seconds now) {
  std::vector<size_t> started;
  // A demand that found no spot finds none later in the same pass, nor in later passes until
  // something is released (capacity only shrinks in between).
  std::set<std::pair<int, std::vector<AccelId>>> failed;
  std::vector<Waiting> still;
  for (Waiting& w : waiting_) {
    auto key = std::make_pair(w.milli, w.types);
    if (w.failed_at == released_ || failed.count(key) || !TryPlace(sched, w, now)) {
      w.failed_at = released_;
      failed.insert(std::move(key));
      still.push_back(std::move(w));
      continue;
    }
    started.push_back(running_.size() - 1);
  }
  waiting_ = std::move(still);
  return started;
}

Seconds ShareLane::NextFinish() const {
  Seconds t = std::numeric_limits<double>::infinity();
  for (const Running& r : running_) t = std::min(t, r.finish_s);
  return t;
}

std::vector<ShareLane::Running> ShareLane::Complete(Scheduler& sched, Seconds now) {
  std::vector<Running> done, keep;
  for (Running& r : running_) (r.finish_s <= now + 1e-9 ? done : keep).push_back(std::move(r));
  running_ = std::move(keep);
  released_ += !done.empty();
  for (const Running& r : done) {
    GpuShareState* st = StateOf(r.accel);
    st->Give(r.where);
    const int g = r.where.gpus.front().first;
    if (st->Free(r.where.node)[static_cast<size_t>(g)] == kMilliPerGpu) sched.ReleaseOutside(HoldOf(r.accel, r.where.node));
  }
  return done;
}

double ShareLane::FreeOf(AccelId a) const {
  const GpuShareState* st = StateOf(a);
  return st ? static_cast<double>(st->FreeMilli()) / kMilliPerGpu : 0;
}

double ShareLane::FragmentedOf(AccelId a) const {
  const GpuShareState* st = StateOf(a);
  return st ? st->Fragmentation(mix_) / kMilliPerGpu : 0;
}

Status ShareLane::Check(const Capacity& cap) const {
  if (!broken_.empty()) return Internal("shared accelerators: " + broken_);
  for (AccelId a : cluster_.accel_types()) {
    const GpuShareState* st = StateOf(a);
    std::vector<std::vector<int>> used(cluster_.nodes().size());
    auto add = [&](const SharePlacement& sp) {
      auto& u = used[sp.node.value()];
      u.resize(st->Free(sp.node).size(), 0);
      for (auto [g, m] : sp.gpus) u[static_cast<size_t>(g)] += m;
    };
    for (const auto& [id, w] : whole_)
      if (w.first == a)
        for (const SharePlacement& sp : w.second) add(sp);
    for (const Running& r : running_)
      if (r.accel == a) add(r.where);
    for (NodeId n : cluster_.NodesWith(a)) {
      const GpuFree& f = st->Free(n);
      auto& u = used[n.value()];
      u.resize(f.size(), 0);
      int unheld = 0;
      for (size_t g = 0; g < f.size(); ++g) {
        const std::string where = "node " + cluster_.node(n).name + " accelerator " + std::to_string(g);
        if (u[g] > kMilliPerGpu) return Internal(where + " is over-committed: " + std::to_string(u[g]) + " milli in use");
        if (f[g] != kMilliPerGpu - u[g])
          return Internal(where + ": " + std::to_string(f[g]) + " milli free on the books, " +
                          std::to_string(kMilliPerGpu - u[g]) + " by its jobs");
        unheld += u[g] == 0;
      }
      if (cap.Usable(n) && cap.Free(n) != unheld)
        return Internal("node " + cluster_.node(n).name + ": the scheduler has " + std::to_string(cap.Free(n)) +
                        " free accelerators, the jobs leave " + std::to_string(unheld) + " unheld");
    }
  }
  return Status::Ok();
}

DemandMix WorkloadMix(const Workload& w) {
  std::map<int, double> count;
  for (size_t i = 0; i < w.jobs.size(); ++i) {
    const int m = w.ShareMilli(i);
    count[m > 0 ? m : std::clamp(w.jobs[i].unit, 1, 64) * kMilliPerGpu] += 1;
  }
  DemandMix mix;
  for (auto [m, c] : count) {
    mix.demand.push_back(GpuDemand{m, 0});
    mix.weight.push_back(c);
  }
  return mix;
}

}  // namespace cnet
