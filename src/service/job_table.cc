#include "service/job_table.h"

namespace cnet::service {

using store::JobState;

Active& JobTable::Insert(std::unique_ptr<Active> a, const Standing& reserved) {
  Active& ref = *a;
  ref.standing = reserved;
  ++by_state_[ref.state];
  jobs_[ref.id] = std::move(a);
  Restand(ref);
  return ref;
}

Active* JobTable::Find(int64_t id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

void JobTable::Restand(Active& a) {
  Standing now = standing_(a);
  ledger_->Move(a.tenant, a.standing, now);
  a.standing = std::move(now);
}

void JobTable::Moved(Active& a, const Transition& t) {
  --by_state_[a.state];
  a.state = t.to;
  ++by_state_[a.state];
  if (t.update.increment_attempts) ++a.attempts;
  Restand(a);
}

void JobTable::Erase(int64_t id) {
  Active* a = Find(id);
  if (!a) return;
  ledger_->Move(a->tenant, a->standing, Standing{});
  --by_state_[a->state];
  jobs_.erase(id);
}

Status JobTable::Apply(const Transition& t) {
  std::vector<Status> st = ApplyAll({t});
  return st.front();
}

std::vector<Status> JobTable::ApplyAll(const std::vector<Transition>& ts) {
  std::vector<store::Store::TransitionOp> ops;
  std::vector<Status> out(ts.size());
  std::vector<size_t> idx;
  for (size_t i = 0; i < ts.size(); ++i) {
    store::Store::TransitionOp op{ts[i].id, ts[i].to, ts[i].reason, ts[i].time, ts[i].update, ts[i].kind};
    if (op.kind == Transition::Kind::kTransition) {
      Active* a = Find(ts[i].id);
      if (!a) {
        out[i] = NotFound("job " + std::to_string(ts[i].id) + " is not active");
        continue;
      }
      op.update.expected_from = a->state;
    }
    ops.push_back(std::move(op));
    idx.push_back(i);
  }
  if (ops.empty()) return out;
  std::vector<Status> st = store_->TransitionMany(ops);
  for (size_t k = 0; k < idx.size(); ++k) {
    out[idx[k]] = st[k];
    const Transition& t = ts[idx[k]];
    if (t.kind != Transition::Kind::kTransition) continue;
    Active* a = Find(t.id);
    if (!st[k].ok()) {
      log_->warn("job {}: {} -> {} not committed: {}", t.id, a ? store::StateName(a->state) : "?", store::StateName(t.to),
                 st[k].message());
      continue;
    }
    if (!a) continue;
    log_->debug("job {}: {} -> {}: {}", t.id, store::StateName(a->state), store::StateName(t.to), t.reason);
    Moved(*a, t);
  }
  return out;
}

}  // namespace cnet::service
