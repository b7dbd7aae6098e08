// Which device ids of each accelerator node of the local site are in use. The local backend takes
// a job's devices here at launch, gives them back when the run ends or is killed, and re-takes an
// adopted run's devices after a restart. Device ids are 0..count-1 per node, as the device
// variables (CUDA_VISIBLE_DEVICES, ...) number them. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace cnet::backends::local {

class DeviceLedger {
 public:
  // `devices`: node name -> how many devices it has.
  explicit DeviceLedger(std::map<std::string, int> devices);

  // `n` free ids of `node`, lowest first, now marked busy. kNotFound for an unknown node,
  // kInvalidArgument if n < 0 or n exceeds the node's devices, kResourceExhausted if fewer than n
  // are free (nothing is taken then).
  Result<std::vector<int>> Take(const std::string& node, int n);
  // Marks `ids` free again; ids that are not busy (or out of range) are ignored.
  void Release(const std::string& node, const std::vector<int>& ids);
  // Marks `ids` busy again (adoption after a restart). Every valid id is taken; kAlreadyExists
  // names the ids that were already busy (two runs share them: the caller reports it), and
  // kInvalidArgument names ids out of range or an unknown node.
  Status Retake(const std::string& node, const std::vector<int>& ids);
  // Busy ids of `node`, ascending.
  std::vector<int> Busy(const std::string& node) const;
  int Free(const std::string& node) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> count_;
  std::map<std::string, std::set<int>> busy_;  // guarded by mu_
};

}  // namespace cnet::backends::local
