#include "sched/policy_registry.h"

namespace cnet {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kPlace: return "place";
    case Action::kPreempt: return "preempt";
    case Action::kKeep: return "keep";
  }
  return "?";
}

Status PolicyRegistry::Register(const std::string& name, const std::string& description, Factory f) {
  if (entries_.count(name)) return InvalidArgument("policy '" + name + "' registered twice");
  entries_[name] = Entry{description, std::move(f)};
  return Status::Ok();
}

Result<std::unique_ptr<Policy>> PolicyRegistry::Create(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string known;
    for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
    return InvalidArgument("unknown policy '" + name + "' (known: " + known + ")");
  }
  return it->second.factory();
}

std::vector<std::string> PolicyRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [n, e] : entries_) out.push_back(n);
  return out;
}

std::string PolicyRegistry::Description(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? "" : it->second.description;
}

}  // namespace cnet
