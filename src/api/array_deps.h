// Job arrays and dependencies as users write them (cnet submit --array / --dependency, or the
// `array:` and `dependency:` fields of a job file), parsed without touching the service.
// Array:      "0-99", "1,3,5-7", "0-20:2" (step), any of these with "%N" (at most N tasks of the
//             array dispatched or running at once). Indices are 0..max_array_index.
// Dependency: "afterok:ID[:ID...][,afterany:ID][,afternotok:ID]". Slurm's meanings: afterok waits
//             for SUCCEEDED, afternotok for FAILED/TIMEOUT/CANCELLED, afterany for any end.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace cnet::api {

inline constexpr int kMaxArrayIndex = 10000000;

struct ArraySpec {
  std::vector<int> indices;  // ascending, distinct, non-empty
  int max_running = 0;       // the %N limit; 0 = none
  std::string Canonical() const;  // runs of consecutive indices as ranges: "0-99%8", "1,3,5-7", "0,2,4"
};

// `field` names the input in errors ("array" or "--array"). max_tasks: the array-size bound
// (the service's max_array_size); beyond it the error is kInfeasible (HTTP 422) naming the field.
Result<ArraySpec> ParseArraySpec(const std::string& text, const std::string& field, int max_tasks);

// The %N of a canonical array text ("0-99%8" -> 8), without expanding it; 0 when none.
int ArrayLimit(const std::string& canonical);

enum class DepKind { kAfterOk, kAfterAny, kAfterNotOk };
const char* DepKindName(DepKind k);  // "afterok", ...

struct Dependency {
  DepKind kind = DepKind::kAfterOk;
  int64_t job = 0;  // a job id, or an array id (then: every task of that array)
  bool operator==(const Dependency&) const = default;
};

// At most kMaxDependencies ids in all.
inline constexpr size_t kMaxDependencies = 64;
Result<std::vector<Dependency>> ParseDependencies(const std::string& text, const std::string& field);
// "afterok:3:4,afterany:7" (grouped by kind: afterok, afterany, afternotok); "" for none.
std::string DependenciesText(const std::vector<Dependency>& deps);

}  // namespace cnet::api
