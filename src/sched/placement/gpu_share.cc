#include "sched/placement/gpu_share.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>

#include "common/strings.h"

namespace cnet {

Result<GpuDemand> ParseGpuDemand(const std::string& text) {
  std::string t = Trim(text);
  int cpus = 0;
  if (size_t x = t.find('x'); x != std::string::npos) {
    auto c = ParseInt(Trim(t.substr(x + 1)));
    if (!c || *c < 0 || *c > 1024)
      return InvalidArgument("demand '" + text + "': CPU cores after 'x' must be a whole number from 0 to 1024");
    cpus = static_cast<int>(*c);
    t = Trim(t.substr(0, x));
  }
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(v))
    return InvalidArgument("GPU demand: expected a number of GPUs (e.g. 0.25 or 2), got '" + text + "'");
  const double milli = v * kMilliPerGpu;
  if (v <= 0 || std::fabs(milli - std::round(milli)) > 1e-6)
    return InvalidArgument("GPU demand '" + text + "': must be > 0 with at most 3 decimals");
  if (v > 1 && v != std::floor(v))
    return InvalidArgument("GPU demand '" + text + "': above one GPU, ask for whole GPUs");
  if (v > 64) return InvalidArgument("GPU demand '" + text + "': at most 64 GPUs on one node");
  return GpuDemand{static_cast<int>(std::lround(milli)), cpus};
}

Result<DemandMix> DemandMix::Parse(const std::string& text) {
  DemandMix m;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = Trim(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    size_t colon = item.find(':');
    if (colon == std::string::npos)
      return InvalidArgument("--mix: expected DEMAND:WEIGHT items (e.g. 0.25:3,1:4), got '" + item + "'");
    auto d = ParseGpuDemand(item.substr(0, colon));
    if (!d.ok()) return InvalidArgument("--mix: " + d.status().message());
    char* end = nullptr;
    std::string ws = Trim(item.substr(colon + 1));
    double w = std::strtod(ws.c_str(), &end);
    if (ws.empty() || end != ws.c_str() + ws.size() || !(w > 0) || !std::isfinite(w))
      return InvalidArgument("--mix: weight of '" + item + "' must be a number > 0");
    m.demand.push_back(*d);
    m.weight.push_back(w);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return m;
}

double NodeFragmentation(const GpuFree& free, const DemandMix& mix, int cpus_free) {
  int64_t total = 0, partial = 0;
  int full = 0, largest = 0;
  for (int f : free) {
    total += f;
    if (f == kMilliPerGpu) ++full;
    else partial += f;
    largest = std::max(largest, f);
  }
  double sum = 0, wsum = 0;
  for (size_t i = 0; i < mix.demand.size(); ++i) {
    const GpuDemand d = mix.demand[i];
    double frag;
    if (d.cpus > cpus_free) {
      frag = static_cast<double>(total);
    } else if (d.Whole()) {
      frag = full >= d.Gpus() ? static_cast<double>(partial) : static_cast<double>(total);
    } else if (largest < d.milli) {
      frag = static_cast<double>(total);
    } else {
      int64_t below = 0;
      for (int f : free)
        if (f < d.milli) below += f;
      frag = static_cast<double>(below);
    }
    sum += mix.weight[i] * frag;
    wsum += mix.weight[i];
  }
  return wsum > 0 ? sum / wsum : 0;
}

Result<ShareScorer> ParseShareScorer(const std::string& name) {
  if (name == "best-fit") return ShareScorer::kBestFit;
  if (name == "best-fit-gpu") return ShareScorer::kBestFitGpu;
  if (name == "fgd") return ShareScorer::kFgd;
  return InvalidArgument("scorer: expected best-fit, best-fit-gpu or fgd, got '" + name + "'");
}

Result<std::vector<ShareScorer>> ParseShareScorers(const std::string& list, const std::string& flag) {
  std::vector<ShareScorer> out;
  for (const auto& n : SplitList(list)) {
    auto s = ParseShareScorer(n);
    if (!s.ok()) return InvalidArgument(flag + ": " + s.status().message());
    out.push_back(*s);
  }
  if (out.empty()) return InvalidArgument(flag + ": no scorer named");
  return out;
}

const char* ShareScorerName(ShareScorer s) {
  switch (s) {
    case ShareScorer::kBestFit: return "best-fit";
    case ShareScorer::kBestFitGpu: return "best-fit-gpu";
    case ShareScorer::kFgd: return "fgd";
  }
  return "?";
}

GpuShareState::GpuShareState(const Cluster& cluster, AccelId only) {
  free_.resize(cluster.nodes().size());
  cpus_.assign(cluster.nodes().size(), 0);
  cpus_free_.assign(cluster.nodes().size(), 0);
  for (const Node& n : cluster.nodes()) {
    if (!n.accel.valid() || n.accel_count <= 0 || (only.valid() && n.accel != only)) continue;
    free_[n.id.value()] = GpuFree(static_cast<size_t>(n.accel_count), kMilliPerGpu);
    cpus_[n.id.value()] = cpus_free_[n.id.value()] = n.cpus;
    groups_[KeyOf(n.id)].push_back(n.id.value());
    total_milli_ += static_cast<int64_t>(n.accel_count) * kMilliPerGpu;
  }
  free_milli_ = total_milli_;
}

namespace {

GpuFree SortedDesc(GpuFree v) {
  std::sort(v.begin(), v.end(), std::greater<int>());
  return v;
}

int64_t Sum(const GpuFree& v) {
  int64_t s = 0;
  for (int f : v) s += f;
  return s;
}

}  // namespace

GpuShareState::Key GpuShareState::KeyOf(NodeId n) const {
  const size_t i = static_cast<size_t>(n.value());
  return Key{static_cast<int>(free_[i].size()), cpus_[i], cpus_free_[i], SortedDesc(free_[i])};
}

namespace {

// A candidate on a node state: the free value of the GPU a share lands on (or -1 for whole GPUs)
// and the state after.
struct Spot {
  int gpu_free = -1;
  GpuFree after;
};

std::vector<Spot> SpotsOn(const GpuFree& key, GpuDemand d) {
  std::vector<Spot> out;
  if (d.Whole()) {
    int full = static_cast<int>(std::count(key.begin(), key.end(), kMilliPerGpu));
    if (full < d.Gpus()) return out;
    Spot s;
    s.after = key;
    for (int k = 0; k < d.Gpus(); ++k) s.after[static_cast<size_t>(k)] = 0;  // key is sorted: full GPUs first
    s.after = SortedDesc(s.after);
    out.push_back(std::move(s));
    return out;
  }
  int last = -1;
  for (int f : key) {
    if (f < d.milli || f == last) continue;
    last = f;
    Spot s;
    s.gpu_free = f;
    s.after = key;
    *std::find(s.after.begin(), s.after.end(), f) -= d.milli;
    s.after = SortedDesc(s.after);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::optional<SharePlacement> GpuShareState::Find(GpuDemand d, ShareScorer scorer, const DemandMix& mix) const {
  // Score: (fgd delta or 0, then the two best-fit keys in the scorer's order, node id); lowest wins.
  using Score = std::tuple<double, int64_t, int64_t, int32_t>;
  std::optional<Score> best;
  int best_gpu_free = -1;
  for (const auto& [key, nodes] : groups_) {
    if (nodes.empty() || key.cpus_free < d.cpus) continue;
    std::vector<Spot> spots = SpotsOn(key.free, d);
    if (spots.empty()) continue;
    const int cpus_after = key.cpus_free - d.cpus;
    const double before = scorer == ShareScorer::kFgd ? NodeFragmentation(key.free, mix, key.cpus_free) : 0;
    for (const Spot& s : spots) {
      double delta = scorer == ShareScorer::kFgd ? NodeFragmentation(s.after, mix, cpus_after) - before : 0;
      int64_t left = d.Whole() ? 0 : s.gpu_free - d.milli;
      // The node's residual: the sum of its GPU and CPU shares left (each in millis of the
      // node's capacity), as multi-resource best fit scores it.
      const int64_t node_left = Sum(s.after) / std::max(1, key.gpus) +
                                (key.cpus > 0 ? int64_t{kMilliPerGpu} * cpus_after / key.cpus : 0);
      Score sc = scorer == ShareScorer::kBestFitGpu ? Score{delta, left, node_left, nodes.front()}
                                                    : Score{delta, node_left, left, nodes.front()};
      if (!best || sc < *best) {
        best = sc;
        best_gpu_free = s.gpu_free;
      }
    }
  }
  if (!best) return std::nullopt;
  SharePlacement p;
  p.node = NodeId(std::get<3>(*best));
  p.cpus = d.cpus;
  const GpuFree& f = free_[p.node.value()];
  if (d.Whole()) {
    for (size_t g = 0; g < f.size() && static_cast<int>(p.gpus.size()) < d.Gpus(); ++g)
      if (f[g] == kMilliPerGpu) p.gpus.push_back({static_cast<int>(g), kMilliPerGpu});
  } else {
    for (size_t g = 0; g < f.size(); ++g)
      if (f[g] == best_gpu_free) {
        p.gpus.push_back({static_cast<int>(g), d.milli});
        break;
      }
  }
  return p;
}

void GpuShareState::Regroup(NodeId n, const Key& old_key) {
  auto& from = groups_[old_key];
  from.erase(std::lower_bound(from.begin(), from.end(), n.value()));
  if (from.empty()) groups_.erase(old_key);
  auto& to = groups_[KeyOf(n)];
  to.insert(std::lower_bound(to.begin(), to.end(), n.value()), n.value());
}

void GpuShareState::Take(const SharePlacement& p) {
  GpuFree& f = free_[p.node.value()];
  const Key old = KeyOf(p.node);
  cpus_free_[p.node.value()] -= p.cpus;
  for (auto [g, milli] : p.gpus) {
    f[static_cast<size_t>(g)] -= milli;
    free_milli_ -= milli;
  }
  Regroup(p.node, old);
}

void GpuShareState::Give(const SharePlacement& p) {
  GpuFree& f = free_[p.node.value()];
  const Key old = KeyOf(p.node);
  cpus_free_[p.node.value()] += p.cpus;
  for (auto [g, milli] : p.gpus) {
    f[static_cast<size_t>(g)] += milli;
    free_milli_ += milli;
  }
  Regroup(p.node, old);
}

double GpuShareState::Fragmentation(const DemandMix& mix) const {
  double s = 0;
  for (const auto& [key, nodes] : groups_)
    s += NodeFragmentation(key.free, mix, key.cpus_free) * static_cast<double>(nodes.size());
  return s;
}

}  // namespace cnet
