#include "model/data_residency.h"

namespace cnet {

std::string DataResidency::WhyNot(SiteId s) const {
  if (Allows(s)) return "";
  if (s.valid() && static_cast<size_t>(s.value()) < why.size()) return why[s.value()];
  return "site " + std::to_string(s.value()) + " was not known when the job's data policy was evaluated";
}

size_t DataResidency::AllowedCount() const {
  size_t n = 0;
  for (char a : allowed) n += a != 0;
  return n;
}

DataResidency BuildResidency(const std::vector<ResidencyRule>& rules, const std::vector<SiteAttributes>& sites) {
  DataResidency r;
  r.allowed.assign(sites.size(), 1);
  r.why.assign(sites.size(), "");
  for (size_t i = 0; i < sites.size(); ++i) {
    for (const ResidencyRule& rule : rules) {
      ResidencyExpr::Verdict v = rule.expr.Evaluate(sites[i]);
      if (v.allow) continue;
      r.allowed[i] = 0;
      r.why[i] = rule.label + " '" + rule.expr.ToString() + "' denies site '" + sites[i].site + "': clause '" +
                 v.clause + "' fails (" + v.why + ")";
      break;
    }
  }
  return r;
}

}  // namespace cnet
