// Site backends by type name. Each backend type registers a factory that parses its own config
// block (the site's mapping in the service config, minus the keys every site shares) and builds
// the backend. Adding a site type = one folder under src/backends/ + one Register line in
// builtin.cc. A registry is a value owned by its user (no global registry).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "backends/site_backend.h"
#include "common/status.h"

namespace cnet::backends {

// What every backend is given besides its config block.
struct BackendEnv {
  std::string data_dir;               // the service's state directory (0700, the service's own)
  std::string where;                  // prefix for error messages, e.g. "config.yaml: sites[1]"
  std::set<std::string> shared_keys;  // keys of the block the service itself reads: accept, ignore
  bool allow_root_jobs = false;       // cnet serve --allow-root-jobs (local sites: see local_backend.h)
  // The config file and the block's path ("sites[1]"), when it came from a file: errors then read
  // "file:LINE: field 'sites[1].key': ..." with the key's own line, as every other config error.
  std::string file, path;
};

// Builds a backend named `name` from its config block. Errors name the field
// ("<where>.url: ..."), and the line where the block came from a file.
using BackendFactory = std::function<Result<std::unique_ptr<SiteBackend>>(
    const std::string& name, const YAML::Node& block, const BackendEnv& env)>;

class BackendRegistry {
 public:
  // kAlreadyExists if the type is taken.
  [[nodiscard]] Status Register(const std::string& type, BackendFactory factory);
  // kInvalidArgument naming the known types if `type` is unknown; else the factory's result.
  Result<std::unique_ptr<SiteBackend>> Create(const std::string& type, const std::string& name,
                                              const YAML::Node& block, const BackendEnv& env) const;
  std::vector<std::string> Types() const;  // sorted

 private:
  std::map<std::string, BackendFactory> factories_;
};

// local, slurm, fake.
void RegisterBuiltinBackends(BackendRegistry& registry);

}  // namespace cnet::backends
