#include "service/cluster_view.h"

#include <algorithm>

namespace cnet::service {

Status ClusterView::Add(const std::string& site, const std::string& region, double power_cap_kw,
                        const backends::SiteNode& n) {
  if (by_name_.count({site, n.name})) return Status(Code::kAlreadyExists, "node " + n.name + " of " + site + " is known");
  Cluster::GroupSpec g;
  g.site = site;
  g.region = region;
  g.rack = "rack0";
  g.power_cap_kw = power_cap_kw;
  g.name = n.name;
  g.count = 1;
  g.cpus = n.cpus;
  g.memory_gib = n.memory_gib;
  if (!n.accelerator.empty() && n.accelerators > 0) {
    auto id = cat_->Find(n.accelerator);
    if (!id || cat_->Get(*id).kind == AccelKind::kCpu)
      return InvalidArgument("node " + n.name + ": unknown accelerator type '" + n.accelerator + "' (known: " +
                             cat_->NameList() + ")");
    g.accel = *id;
    g.per_node = n.accelerators;
  } else {
    g.accel = cpu_type_;
    g.per_node = std::max(1, n.cpus);
  }
  const NodeId id(static_cast<int32_t>(groups_.size()));
  by_name_[{site, n.name}] = id;
  groups_.push_back(g);
  origins_.push_back({site, n.name});
  if (g.accel != cpu_type_ && n.cpu_jobs && n.cpus > 0) {
    Cluster::GroupSpec twin = g;
    twin.name = n.name + "+cpu";  // unique in the model; origins_ keeps the site's name
    twin.accel = cpu_type_;
    twin.per_node = n.cpus;
    twin_[id] = NodeId(static_cast<int32_t>(groups_.size()));
    groups_.push_back(twin);
    origins_.push_back({site, n.name});
  }
  return Status::Ok();
}

std::optional<NodeId> ClusterView::FindFor(const std::string& site, const std::string& node, bool cpu_only) const {
  auto id = Find(site, node);
  if (!id || !cpu_only) return id;
  auto t = twin_.find(*id);
  return t == twin_.end() ? id : t->second;
}

std::vector<NodeId> ClusterView::FindAll(const std::string& site, const std::string& node) const {
  std::vector<NodeId> out;
  if (auto id = Find(site, node)) {
    out.push_back(*id);
    if (auto t = twin_.find(*id); t != twin_.end()) out.push_back(t->second);
  }
  return out;
}

std::optional<NodeId> ClusterView::Find(const std::string& site, const std::string& node) const {
  auto it = by_name_.find({site, node});
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

void ClusterView::Truncate(size_t n) {
  while (groups_.size() > n) {
    const NodeId last(static_cast<int32_t>(groups_.size() - 1));
    for (auto it = twin_.begin(); it != twin_.end();) it = it->second == last || it->first == last ? twin_.erase(it) : std::next(it);
    by_name_.erase({origins_.back().site, origins_.back().node});
    groups_.pop_back();
    origins_.pop_back();
  }
}

Result<std::shared_ptr<const Cluster>> ClusterView::Build() const {
  CNET_ASSIGN_OR_RETURN(Cluster cl, Cluster::Build("computenet", groups_, *cat_));
  // Cluster::Build numbers nodes in group order, one node per group: NodeId i is groups_[i].
  if (cl.nodes().size() != groups_.size()) return Internal("cluster model: node count differs from the site nodes");
  return std::shared_ptr<const Cluster>(std::make_shared<Cluster>(std::move(cl)));
}

}  // namespace cnet::service
