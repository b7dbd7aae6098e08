#include "backends/registry.h"

namespace cnet::backends {

Status BackendRegistry::Register(const std::string& type, BackendFactory factory) {
  if (factories_.count(type)) return Status(Code::kAlreadyExists, "backend type '" + type + "' is already registered");
  factories_.emplace(type, std::move(factory));
  return Status::Ok();
}

Result<std::unique_ptr<SiteBackend>> BackendRegistry::Create(const std::string& type, const std::string& name,
                                                             const YAML::Node& block, const BackendEnv& env) const {
  auto it = factories_.find(type);
  if (it == factories_.end()) {
    std::string known;
    for (const std::string& t : Types()) known += (known.empty() ? "" : ", ") + t;
    std::string where = env.where.empty() ? "type" : env.where + ".type";
    return InvalidArgument(where + ": unknown site type '" + type + "' (known: " + known + ")");
  }
  return it->second(name, block, env);
}

std::vector<std::string> BackendRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [t, f] : factories_) out.push_back(t);
  return out;
}

}  // namespace cnet::backends
