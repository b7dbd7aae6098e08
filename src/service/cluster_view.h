// The cluster model as the service builds it from what its sites report: one scheduler node per
// site node, in the order nodes were first seen, so NodeIds never change when the model grows
// (new nodes are appended). Maps (site, site's node name) <-> NodeId. An accelerator node whose
// site lets CPU jobs use its CPUs (SiteNode::cpu_jobs) gets a second scheduler node right after
// it, CPU-only with the node's CPUs and the same origin: its "CPU twin". Loop thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/site_backend.h"
#include "model/cluster.h"

namespace cnet::service {

struct NodeOrigin {
  std::string site;
  std::string node;  // the site's own name for it
};

class ClusterView {
 public:
  ClusterView(const Catalogue& cat, AccelId cpu_type) : cat_(&cat), cpu_type_(cpu_type) {}
  // Appends a node of `site`. kInvalidArgument naming the node if its accelerator type is unknown;
  // kAlreadyExists if the node is known.
  Status Add(const std::string& site, const std::string& region, double power_cap_kw, const backends::SiteNode& n);
  // The node's scheduler node (its accelerator node when it has a CPU twin).
  std::optional<NodeId> Find(const std::string& site, const std::string& node) const;
  // The scheduler node a job of that kind uses: the CPU twin for a CPU-only job when there is one.
  std::optional<NodeId> FindFor(const std::string& site, const std::string& node, bool cpu_only) const;
  // The node's scheduler nodes: one, or the accelerator node and its CPU twin.
  std::vector<NodeId> FindAll(const std::string& site, const std::string& node) const;
  const NodeOrigin& Origin(NodeId id) const { return origins_.at(id.value()); }
  size_t size() const { return groups_.size(); }
  // Forgets the nodes added after the first `n` (a failed growth).
  void Truncate(size_t n);
  // The scheduler's model of every node added so far.
  Result<std::shared_ptr<const Cluster>> Build() const;
  AccelId cpu_type() const { return cpu_type_; }
  // Accelerator node -> its CPU twin (Scheduler::SetCpuTwin couples their capacity).
  const std::map<NodeId, NodeId>& twins() const { return twin_; }

 private:
  const Catalogue* cat_;
  AccelId cpu_type_;
  std::vector<Cluster::GroupSpec> groups_;
  std::vector<NodeOrigin> origins_;
  std::map<std::pair<std::string, std::string>, NodeId> by_name_;
  std::map<NodeId, NodeId> twin_;  // accelerator node -> its CPU twin
};

}  // namespace cnet::service
