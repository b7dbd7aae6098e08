#include "service/time_shift.h"

#include "sched/estimate/temporal_shift.h"
#include "service/wait_reasons.h"

namespace cnet::service {

void PlanTimeShift(LoopState& st, Active& a) {
  a.not_before = 0;
  a.not_before_why.clear();
  const SiteCarbon* carbon = st.cfg.economics ? st.cfg.economics->carbon() : nullptr;
  if (!st.cfg.temporal_shift || !carbon || a.spec.objective != Objective::kGreenest || !a.spec.deadline_s) return;
  auto rec = st.sched->Prepare(a.spec);
  if (!rec.ok()) return;  // admission will say why it cannot run
  const double now = st.clock.Now();
  const ShiftPlan plan = PlanStart(*carbon, ShiftOptionsFor(*rec, *st.cluster, st.cat, *st.rules, now), a.spec, now,
                                   *st.cfg.temporal_shift);
  if (!plan.wait || plan.start_s <= now) return;
  a.not_before = plan.start_s;
  a.not_before_why = "waiting until " + UtcClock(plan.start_s) + " (temporal shifting): " + plan.reason;
}

}  // namespace cnet::service
