#include "service/explain.h"

namespace cnet::service {

std::string QuotaReason(const std::optional<store::TenantRow>& tenant, const Catalogue& cat, AccelId a, int workers) {
  if (!tenant) return "";
  const std::string& name = cat.Get(a).name;
  for (const auto& [type, limit] : tenant->max_accelerators) {
    if (limit <= 0 || (type != "*" && type != name)) continue;
    if (workers > limit)
      return "tenant " + tenant->name + "'s quota is " + std::to_string(limit) + " " + (type == "*" ? "accelerators" : name) +
             "; the job needs " + std::to_string(workers);
  }
  return "";
}

Result<ExplainView> Explain(const ExplainInputs& in, const JobSpec& spec) {
  CNET_ASSIGN_OR_RETURN(JobRecord rec, in.probe->Prepare(spec));
  ExplainView v;
  v.job = spec.id.value();
  v.objective = ObjectiveName(spec.objective);
  v.deadline = spec.deadline_s;
  v.budget_usd = spec.budget_usd;
  v.now = in.now;
  // The loop's capacity and releases when they describe the admission model's cluster; else (no
  // cycle yet, or the model grew since) an idle cluster.
  std::optional<Capacity> idle;
  EstimateInput ei;
  ei.cluster = in.cluster.get();
  ei.catalogue = in.catalogue;
  ei.rules = &in.probe->rules();
  ei.economics = in.economics;
  ei.stage_in = in.stage_in;
  ei.now = in.now;
  if (in.base && in.base->cluster == in.cluster) {
    ei.capacity = &in.base->capacity;
    ei.releases = in.base->releases;
  } else {
    idle.emplace(*in.cluster, *in.catalogue);
    ei.capacity = &*idle;
    v.note = "no scheduling cycle over the current sites yet: starts assume idle sites";
  }
  const auto tenant = in.tenant;
  const Catalogue* cat = in.catalogue;
  const int workers = spec.workers;
  ei.quota = [tenant, cat, workers](AccelId a) { return QuotaReason(tenant, *cat, a, workers); };
  v.candidates = EstimateCandidates(ei, rec);
  v.chosen = ChooseCandidate(v.candidates, spec, in.now);
  v.reason = ChoiceReason(v.candidates, spec, v.chosen, in.now);
  const SiteCarbon* carbon = in.economics ? in.economics->carbon() : nullptr;
  if (in.shift && carbon && spec.objective == Objective::kGreenest && spec.deadline_s)
    v.shift = PlanStart(*carbon, ShiftOptionsFor(rec, *in.cluster, *in.catalogue, in.probe->rules(), in.now), spec, in.now,
                        *in.shift);
  return v;
}

}  // namespace cnet::service
