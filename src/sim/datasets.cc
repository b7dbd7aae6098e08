#include "sim/datasets.h"

#include <cmath>
#include <memory>

#include "common/rng.h"
#include "common/strings.h"

namespace cnet {

namespace {

// SplitMix64: the job's draw depends only on its id and the seed, not on the order of jobs.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Status ParseDatasetSizes(const std::string& text, const std::string& flag, DataGen* gen) {
  const size_t colon = text.find(':');
  std::optional<double> lo = colon == std::string::npos ? std::nullopt : ParseDouble(text.substr(0, colon));
  std::optional<double> hi = colon == std::string::npos ? std::nullopt : ParseDouble(text.substr(colon + 1));
  if (!lo || !hi || !(*lo > 0) || !(*hi >= *lo) || !std::isfinite(*hi))
    return InvalidArgument(flag + ": expected MIN:MAX in GB with 0 < MIN <= MAX, got '" + text + "'");
  gen->min_gb = *lo;
  gen->max_gb = *hi;
  return Status::Ok();
}

Status AssignDatasets(const DataGen& gen, const Cluster& cluster, Workload* wl) {
  if (gen.count <= 0) return Status::Ok();
  if (!(gen.min_gb > 0) || !(gen.max_gb >= gen.min_gb)) return InvalidArgument("dataset sizes: need 0 < min <= max GB");
  std::vector<std::string> homes;
  for (const Site& s : cluster.sites())
    for (const Node& n : cluster.nodes())
      if (n.site == s.id && n.accel.valid() && n.accel_count > 0) {
        homes.push_back(s.name);
        break;
      }
  if (homes.empty()) return InvalidArgument("datasets: the cluster has no site with accelerators to hold them");
  Rng rng(gen.seed);
  std::vector<std::shared_ptr<const std::vector<InputData>>> sets;
  for (int k = 0; k < gen.count; ++k) {
    const double gb = std::exp(rng.Uniform(std::log(gen.min_gb), std::log(gen.max_gb)));
    const std::string home = homes[static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(homes.size()) - 1))];
    const std::string name = "d" + std::to_string(k);
    sets.push_back(std::make_shared<const std::vector<InputData>>(
        std::vector<InputData>{InputData{name, gb * 1e9, {home}, {"/data/" + name}}}));
  }
  for (JobSpec& j : wl->jobs)
    j.inputs = sets[Mix(static_cast<uint64_t>(j.id.value()) ^ Mix(gen.seed)) % sets.size()];
  wl->source += ", " + std::to_string(gen.count) + " datasets of " + FormatNumber("%g", gen.min_gb) + "-" +
                FormatNumber("%g", gen.max_gb) + " GB";
  return Status::Ok();
}

}  // namespace cnet
