// Reading a backend's config block (registry.h): typed fields whose errors name the field as
// "<where>.<key>" and the block's line when it came from a file. Value type.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "backends/registry.h"
#include "common/status.h"

namespace cnet::backends {

class ConfigBlock {
 public:
  ConfigBlock(const YAML::Node& block, const BackendEnv& env) : block_(block), env_(env) {}

  // kInvalidArgument naming the first key that is neither in `known` nor in env.shared_keys.
  Status OnlyKeys(const std::set<std::string>& known) const;
  bool Has(const std::string& key) const { return block_.IsMap() && block_[key].IsDefined() && !block_[key].IsNull(); }
  // Absent keys leave *out as it is. Errors name the field.
  Status String(const std::string& key, std::string* out) const;
  Status Int(const std::string& key, int64_t lo, int64_t hi, int* out) const;
  Status Double(const std::string& key, double lo, double hi, double* out) const;
  Status Bool(const std::string& key, bool* out) const;
  Status StringMap(const std::string& key, std::map<std::string, std::string>* out) const;
  // "<where>.<key>: <msg>" (with the line of the key, or of the block, when known).
  Status Error(const std::string& key, const std::string& msg) const;
  // The same at a given place of the file (mark.line -1: unknown).
  Status ErrorAt(const std::string& key, const YAML::Mark& mark, const std::string& msg) const;
  const YAML::Node& node() const { return block_; }

 private:
  YAML::Node block_;
  const BackendEnv& env_;
};

}  // namespace cnet::backends
