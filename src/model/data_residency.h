// A job's allowed-site set from its input datasets (docs/data.md): the sites every input's policy,
// and every grant's narrower policy, allow; for each other site, which rule denied it and why.
// Computed by whoever knows the datasets (the service at submit and on every policy change; the
// simulator and tests directly) and carried on the JobSpec, where the scheduling core's
// ResidencyFilter (sched/placement/residency_filter.h) enforces it on every placement.
// Value type, immutable once built; shared between copies of a JobSpec by shared_ptr<const>.
#pragma once

#include <string>
#include <vector>

#include "common/ids.h"
#include "model/residency_expr.h"

namespace cnet {

// One expression a job's data must satisfy, and a label naming its origin for reasons and audit,
// e.g. "dataset 'genome' policy v3" or "grant of dataset 'genome' to tenant 'lab'".
struct ResidencyRule {
  std::string label;
  ResidencyExpr expr;
};

struct DataResidency {
  std::vector<char> allowed;     // by SiteId value; sites past the end are denied
  std::vector<std::string> why;  // by SiteId value: "" when allowed, else the rule, clause and site

  bool Allows(SiteId s) const {
    return s.valid() && static_cast<size_t>(s.value()) < allowed.size() && allowed[s.value()];
  }
  // "" when allowed.
  std::string WhyNot(SiteId s) const;
  size_t AllowedCount() const;
};

// Evaluates every rule on every site (`sites[i]` is SiteId i). A site is allowed when all rules
// allow it; a denied site's reason names the first rule that denied it and its failing clause.
DataResidency BuildResidency(const std::vector<ResidencyRule>& rules, const std::vector<SiteAttributes>& sites);

}  // namespace cnet
