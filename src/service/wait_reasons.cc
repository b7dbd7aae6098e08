#include "service/wait_reasons.h"

#include "model/data_residency.h"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace cnet::service {

OutageBook::OutageBook(const Cluster& cl, std::vector<std::pair<std::string, SiteOutage>> down)
    : sites_(cl.sites().size()) {
  for (const Node& n : cl.nodes()) sites_[n.site.value()].types.insert(n.accel);
  for (const cnet::Site& s : cl.sites())
    for (auto& [name, o] : down)
      if (name == s.name) {
        sites_[s.id.value()].down = any_ = true;
        sites_[s.id.value()].outage = o;
      }
}

std::vector<const SiteOutage*> OutageBook::For(const JobSpec& job, bool* all_down) const {
  std::vector<const SiteOutage*> out;
  size_t relevant = 0;
  for (size_t i = 0; i < sites_.size(); ++i) {
    const SiteId id(static_cast<int32_t>(i));
    if (!job.allowed_sites.empty() &&
        std::find(job.allowed_sites.begin(), job.allowed_sites.end(), id) == job.allowed_sites.end())
      continue;
    if (job.residency && !job.residency->Allows(id)) continue;  // its data may not go there
    const PerSite& s = sites_[i];
    if (std::none_of(job.acceptable.begin(), job.acceptable.end(), [&](AccelId a) { return s.types.count(a) > 0; }))
      continue;
    ++relevant;
    if (s.down) out.push_back(&s.outage);
  }
  *all_down = relevant > 0 && out.size() == relevant;
  return out;
}

std::string UtcClock(double epoch_s) {
  std::time_t t = static_cast<std::time_t>(std::floor(std::max(0.0, epoch_s)));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M:%S UTC", &tm);
  return buf;
}

std::string WithOutages(const std::string& reason, const std::vector<const SiteOutage*>& down, bool all_down) {
  if (down.empty()) return reason;
  std::string t;
  for (const SiteOutage* o : down)
    t += (t.empty() ? "" : "; ") + std::string("site ") + o->site + ", unreachable since " + UtcClock(o->since) +
         (o->reason.empty() ? "" : " (" + o->reason + ")");
  if (all_down) return "waiting for " + t + "; " + reason;
  return reason + "; " + t;
}

}  // namespace cnet::service
