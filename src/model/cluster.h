// The physical model: sites -> racks (power cap) -> node groups -> nodes -> accelerator packages
// -> dies. Loaded from a cluster-spec YAML (docs/formats.md). Immutable after load; share freely.
#pragma once

#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "model/accelerator.h"

namespace cnet {

struct Site {
  SiteId id;
  std::string name;
  std::string region;
};

struct Rack {
  RackId id;
  SiteId site;
  std::string name;
  double power_cap_kw = 0;  // accelerator board power the rack may draw
};

struct Node {
  NodeId id;
  SiteId site;
  RackId rack;
  std::string name;     // "<site>/<rack>/<group>-<k>"
  AccelId accel;        // invalid for CPU-only nodes
  int accel_count = 0;  // packages on the node
  AccelId cpu_model;    // a catalogue entry of kind cpu; may be invalid
  int cpus = 0;
  double memory_gib = 0;
};

class Cluster {
 public:
  static Result<Cluster> LoadYaml(const std::string& path, const Catalogue& cat);
  static Result<Cluster> ParseYaml(const std::string& text, const std::string& file,
                                   const Catalogue& cat);

  const std::string& name() const { return name_; }
  const std::vector<Site>& sites() const { return sites_; }
  const std::vector<Rack>& racks() const { return racks_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const Node& node(NodeId id) const { return nodes_[id.value()]; }
  const Rack& rack(RackId id) const { return racks_[id.value()]; }
  const Site& site(SiteId id) const { return sites_[id.value()]; }

  // Accelerator types present, in catalogue order, and their package counts.
  const std::vector<AccelId>& accel_types() const { return accel_types_; }
  int AccelCount(AccelId a) const;
  int TotalAccels() const;
  // Nodes that carry accelerator type a.
  const std::vector<NodeId>& NodesWith(AccelId a) const;
  // Largest number of packages of type a on one node, in one rack and in one site.
  int MaxPerNode(AccelId a) const;
  int MaxPerSite(AccelId a) const;

  // Builds a cluster programmatically (tests, generators).
  struct GroupSpec {
    std::string site = "site", region = "region", rack = "rack";
    double power_cap_kw = 1e9;
    std::string name;
    int count = 1;
    AccelId accel;
    int per_node = 0;
    int cpus = 32;
    double memory_gib = 256;
  };
  static Result<Cluster> Build(const std::string& name, const std::vector<GroupSpec>& groups,
                               const Catalogue& cat);

 private:
  void Index(const Catalogue& cat);

  std::string name_;
  std::vector<Site> sites_;
  std::vector<Rack> racks_;
  std::vector<Node> nodes_;
  std::vector<AccelId> accel_types_;
  std::vector<int> accel_count_;                   // by AccelId
  std::vector<std::vector<NodeId>> nodes_by_accel_;  // by AccelId
  std::vector<int> max_per_node_, max_per_site_;
};

}  // namespace cnet
