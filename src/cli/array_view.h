// `cnet ls` without --tasks: the tasks of one job array shown as one line (id "A_[0-99%8]", the
// most advanced state, and per-state counts as its reason), where its first listed task stands.
#pragma once

#include <nlohmann/json.hpp>

namespace cnet {

nlohmann::json CompactArrays(const nlohmann::json& jobs);

}  // namespace cnet
