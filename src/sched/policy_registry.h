// Policies by name. No global registry: the program builds one and passes it where needed.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "sched/policy.h"

namespace cnet {

class PolicyRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Policy>()>;

  Status Register(const std::string& name, const std::string& description, Factory f);
  // Fails naming the known policies.
  Result<std::unique_ptr<Policy>> Create(const std::string& name) const;
  std::vector<std::string> Names() const;
  std::string Description(const std::string& name) const;

 private:
  struct Entry {
    std::string description;
    Factory factory;
  };
  std::map<std::string, Entry> entries_;
};

// Registers fifo, fifo-hetero, backfill, las, las-hetero, ftf-hetero, makespan-hetero,
// max-sum-throughput, elastic-hetero, cost-hetero.
void RegisterBuiltinPolicies(PolicyRegistry& r);

}  // namespace cnet
