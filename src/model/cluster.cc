#include "model/cluster.h"

#include <algorithm>
#include <map>

#include "common/csv.h"
#include "model/yaml_util.h"

namespace cnet {

int Cluster::AccelCount(AccelId a) const {
  return a.valid() && a.value() < static_cast<int>(accel_count_.size()) ? accel_count_[a.value()] : 0;
}

int Cluster::TotalAccels() const {
  int t = 0;
  for (int c : accel_count_) t += c;
  return t;
}

const std::vector<NodeId>& Cluster::NodesWith(AccelId a) const {
  static const std::vector<NodeId> kNone;
  if (!a.valid() || a.value() >= static_cast<int>(nodes_by_accel_.size())) return kNone;
  return nodes_by_accel_[a.value()];
}

int Cluster::MaxPerNode(AccelId a) const {
  return a.valid() && a.value() < static_cast<int>(max_per_node_.size()) ? max_per_node_[a.value()] : 0;
}

int Cluster::MaxPerSite(AccelId a) const {
  return a.valid() && a.value() < static_cast<int>(max_per_site_.size()) ? max_per_site_[a.value()] : 0;
}

void Cluster::Index(const Catalogue& cat) {
  size_t n = cat.size();
  accel_count_.assign(n, 0);
  nodes_by_accel_.assign(n, {});
  max_per_node_.assign(n, 0);
  max_per_site_.assign(n, 0);
  std::vector<std::vector<int>> per_site(n, std::vector<int>(sites_.size(), 0));
  for (const Node& node : nodes_) {
    if (!node.accel.valid() || node.accel_count == 0) continue;
    int a = node.accel.value();
    accel_count_[a] += node.accel_count;
    nodes_by_accel_[a].push_back(node.id);
    max_per_node_[a] = std::max(max_per_node_[a], node.accel_count);
    per_site[a][node.site.value()] += node.accel_count;
  }
  accel_types_.clear();
  for (size_t a = 0; a < n; ++a) {
    if (accel_count_[a] > 0) accel_types_.push_back(AccelId(static_cast<int32_t>(a)));
    for (int v : per_site[a]) max_per_site_[a] = std::max(max_per_site_[a], v);
  }
}

Result<Cluster> Cluster::LoadYaml(const std::string& path, const Catalogue& cat) {
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return ParseYaml(text, path, cat);
}

namespace {

// What the YAML levels add to, in id order.
struct Parts {
  std::vector<Site> sites;
  std::vector<Rack> racks;
  std::vector<Node> nodes;
};

// A node group's accelerator fields; adds the group's idle draw to *idle_w.
Status ParseGroupAccelerator(const YamlCtx& c, const YAML::Node& gn, const std::string& gp,
                             const Catalogue& cat, int64_t count, Node& proto, double* idle_w) {
  if (!gn["accelerator"]) {
    if (gn["accelerators_per_node"])
      return c.Error(gn["accelerators_per_node"], gp + ".accelerators_per_node",
                     "given without 'accelerator'");
    return Status::Ok();
  }
  CNET_ASSIGN_OR_RETURN(std::string an, YamlString(c, gn, "accelerator", gp));
  auto id = cat.Find(an);
  if (!id)
    return c.Error(gn["accelerator"], gp + ".accelerator",
                   "unknown accelerator type '" + an + "' (known: " + cat.NameList() + ")");
  if (cat.Get(*id).kind == AccelKind::kCpu)
    return c.Error(gn["accelerator"], gp + ".accelerator", "'" + an + "' is a CPU; name it under cpu_model");
  proto.accel = *id;
  CNET_ASSIGN_OR_RETURN(int64_t per, YamlInt(c, gn, "accelerators_per_node", gp));
  if (per <= 0 || per > 1024)
    return c.Error(gn["accelerators_per_node"], gp + ".accelerators_per_node", "must be between 1 and 1024");
  proto.accel_count = static_cast<int>(per);
  *idle_w += static_cast<double>(count) * per * cat.Get(*id).idle_power_w;
  return Status::Ok();
}

// A node group's host fields: CPU model, cpus, memory.
Status ParseGroupHost(const YamlCtx& c, const YAML::Node& gn, const std::string& gp,
                      const Catalogue& cat, Node& proto) {
  if (gn["cpu_model"]) {
    CNET_ASSIGN_OR_RETURN(std::string cn, YamlString(c, gn, "cpu_model", gp));
    auto id = cat.Find(cn);
    if (!id || cat.Get(*id).kind != AccelKind::kCpu)
      return c.Error(gn["cpu_model"], gp + ".cpu_model",
                     "unknown CPU model '" + cn + "' (a catalogue entry of kind cpu)");
    proto.cpu_model = *id;
  }
  const int64_t def_cpus = 0;
  CNET_ASSIGN_OR_RETURN(int64_t cpus, YamlInt(c, gn, "cpus", gp, &def_cpus));
  if (cpus < 0 || cpus > 100000) return c.Error(gn["cpus"], gp + ".cpus", "must be 0..100000");
  proto.cpus = static_cast<int>(cpus);
  double def_mem = 0;
  CNET_ASSIGN_OR_RETURN(proto.memory_gib, YamlDouble(c, gn, "memory_gib", gp, &def_mem));
  if (proto.memory_gib < 0) return c.Error(gn["memory_gib"], gp + ".memory_gib", "must be >= 0");
  if (!proto.accel.valid() && proto.cpus == 0)
    return c.Error(gn, gp, "a node group needs an accelerator or cpus > 0");
  return Status::Ok();
}

// groups[gi] of a rack: `count` nodes named "<site>/<rack>/<group>-<k>".
Status ParseNodeGroup(const YamlCtx& c, const YAML::Node& groups, size_t gi, const std::string& rp,
                      const Site& site, const Rack& rack, const Catalogue& cat, Parts& out,
                      double* idle_w) {
  const YAML::Node& gn = groups[gi];
  std::string gp = rp + ".nodes[" + std::to_string(gi) + "]";
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(
      c, gn, {"name", "count", "accelerator", "accelerators_per_node", "cpu_model", "cpus", "memory_gib"}, gp));
  CNET_ASSIGN_OR_RETURN(std::string gname, YamlString(c, gn, "name", gp));
  for (size_t gj = 0; gj < gi; ++gj)
    if (groups[gj]["name"] && groups[gj]["name"].as<std::string>() == gname)
      return c.Error(gn["name"], gp + ".name", "duplicate node group name '" + gname + "' in rack " + rack.name);
  CNET_ASSIGN_OR_RETURN(int64_t count, YamlInt(c, gn, "count", gp));
  if (count <= 0 || count > 1000000) return c.Error(gn["count"], gp + ".count", "must be between 1 and 1000000");
  Node proto;
  proto.site = site.id;
  proto.rack = rack.id;
  CNET_RETURN_IF_ERROR(ParseGroupAccelerator(c, gn, gp, cat, count, proto, idle_w));
  CNET_RETURN_IF_ERROR(ParseGroupHost(c, gn, gp, cat, proto));
  for (int64_t k = 0; k < count; ++k) {
    Node node = proto;
    node.id = NodeId(static_cast<int32_t>(out.nodes.size()));
    node.name = site.name + "/" + rack.name + "/" + gname + "-" + std::to_string(k);
    out.nodes.push_back(std::move(node));
  }
  return Status::Ok();
}

// racks[ri] of a site, with its node groups; its power cap must cover their idle draw.
Status ParseRack(const YamlCtx& c, const YAML::Node& rn, const std::string& rp, const Site& site,
                 const Catalogue& cat, Parts& out) {
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, rn, {"name", "power_cap_kw", "nodes"}, rp));
  Rack rack;
  rack.id = RackId(static_cast<int32_t>(out.racks.size()));
  rack.site = site.id;
  CNET_ASSIGN_OR_RETURN(rack.name, YamlString(c, rn, "name", rp));
  CNET_ASSIGN_OR_RETURN(rack.power_cap_kw, YamlDouble(c, rn, "power_cap_kw", rp));
  if (rack.power_cap_kw <= 0) return c.Error(rn["power_cap_kw"], rp + ".power_cap_kw", "must be > 0");
  for (const Rack& other : out.racks)
    if (other.site == site.id && other.name == rack.name)
      return c.Error(rn["name"], rp + ".name", "duplicate rack name '" + rack.name + "' in site " + site.name);
  out.racks.push_back(rack);
  CNET_ASSIGN_OR_RETURN(YAML::Node groups, YamlSeq(c, rn, "nodes", rp));
  if (groups.size() == 0) return c.Error(groups, rp + ".nodes", "empty list");
  double idle_w = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi)
    CNET_RETURN_IF_ERROR(ParseNodeGroup(c, groups, gi, rp, site, rack, cat, out, &idle_w));
  if (idle_w > rack.power_cap_kw * 1000)
    return c.Error(rn["power_cap_kw"], rp + ".power_cap_kw",
                   "below the rack's idle accelerator power (" + std::to_string(idle_w / 1000) + " kW)");
  return Status::Ok();
}

// sites[si], with its racks.
Status ParseSite(const YamlCtx& c, const YAML::Node& sn, const std::string& sp, const Catalogue& cat,
                 Parts& out) {
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, sn, {"name", "region", "racks"}, sp));
  const std::string no_region = "default";
  Site site;
  site.id = SiteId(static_cast<int32_t>(out.sites.size()));
  CNET_ASSIGN_OR_RETURN(site.name, YamlString(c, sn, "name", sp));
  CNET_ASSIGN_OR_RETURN(site.region, YamlString(c, sn, "region", sp, &no_region));
  for (const Site& s : out.sites)
    if (s.name == site.name) return c.Error(sn["name"], sp + ".name", "duplicate site name");
  out.sites.push_back(site);
  CNET_ASSIGN_OR_RETURN(YAML::Node racks, YamlSeq(c, sn, "racks", sp));
  if (racks.size() == 0) return c.Error(racks, sp + ".racks", "empty list");
  for (size_t ri = 0; ri < racks.size(); ++ri)
    CNET_RETURN_IF_ERROR(ParseRack(c, racks[ri], sp + ".racks[" + std::to_string(ri) + "]", site, cat, out));
  return Status::Ok();
}

}  // namespace

Result<Cluster> Cluster::ParseYaml(const std::string& text, const std::string& file,
                                   const Catalogue& cat) {
  CNET_ASSIGN_OR_RETURN(YAML::Node root, ParseYamlText(text, file));
  YamlCtx c{file};
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, root, {"name", "description", "sites"}, ""));
  Cluster cl;
  CNET_ASSIGN_OR_RETURN(cl.name_, YamlString(c, root, "name", ""));
  CNET_ASSIGN_OR_RETURN(YAML::Node sites, YamlSeq(c, root, "sites", ""));
  if (sites.size() == 0) return c.Error(sites, "sites", "empty list: a cluster needs a site");
  Parts parts;
  for (size_t si = 0; si < sites.size(); ++si)
    CNET_RETURN_IF_ERROR(ParseSite(c, sites[si], "sites[" + std::to_string(si) + "]", cat, parts));
  cl.sites_ = std::move(parts.sites);
  cl.racks_ = std::move(parts.racks);
  cl.nodes_ = std::move(parts.nodes);
  cl.Index(cat);
  return cl;
}

Result<Cluster> Cluster::Build(const std::string& name, const std::vector<GroupSpec>& groups,
                               const Catalogue& cat) {
  Cluster cl;
  cl.name_ = name;
  std::map<std::string, SiteId> sites;
  std::map<std::pair<std::string, std::string>, RackId> racks;
  for (const auto& g : groups) {
    if (g.count <= 0) return InvalidArgument("group " + g.name + ": count must be > 0");
    auto sit = sites.find(g.site);
    if (sit == sites.end()) {
      SiteId id(static_cast<int32_t>(cl.sites_.size()));
      cl.sites_.push_back(Site{id, g.site, g.region});
      sit = sites.emplace(g.site, id).first;
    }
    auto key = std::make_pair(g.site, g.rack);
    auto rit = racks.find(key);
    if (rit == racks.end()) {
      RackId id(static_cast<int32_t>(cl.racks_.size()));
      cl.racks_.push_back(Rack{id, sit->second, g.rack, g.power_cap_kw});
      rit = racks.emplace(key, id).first;
    }
    for (int k = 0; k < g.count; ++k) {
      Node n;
      n.id = NodeId(static_cast<int32_t>(cl.nodes_.size()));
      n.site = sit->second;
      n.rack = rit->second;
      n.name = g.site + "/" + g.rack + "/" + g.name + "-" + std::to_string(k);
      n.accel = g.accel;
      n.accel_count = g.per_node;
      n.cpus = g.cpus;
      n.memory_gib = g.memory_gib;
      cl.nodes_.push_back(std::move(n));
    }
  }
  cl.Index(cat);
  return cl;
}

}  // namespace cnet
