// A Store that forwards to a real one and fails chosen calls on demand (fault injection for the
// service's durability paths). Thread-safe as the store it wraps; the knobs are atomics.
#pragma once

#include <atomic>
#include <memory>

#include "store/store.h"

namespace cnet::testing {

class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(std::unique_ptr<store::Store> inner) : in_(std::move(inner)) {}
  // The next n calls of a kind fail with kUnavailable ("injected").
  std::atomic<int> fail_transitions{0}, fail_find_token{0}, fail_active_jobs{0}, fail_get_job{0}, fail_insert{0};
  std::atomic<int> fail_put_tenant{0}, fail_put_token{0}, fail_check_writable{0};
  // While set, every transition to RUNNING, or to a terminal state, fails (not counted down).
  std::atomic<bool> fail_to_running{false}, fail_to_terminal{false};

  Result<Inserted> InsertJob(store::JobRow row) override {
    if (Take(fail_insert)) return Injected();
    return in_->InsertJob(std::move(row));
  }
  Status Transition(int64_t id, store::JobState to, const std::string& reason, double time, const Update& u) override {
    if (Take(fail_transitions) || Refused(to)) return Injected();
    return in_->Transition(id, to, reason, time, u);
  }
  std::vector<Status> TransitionMany(const std::vector<TransitionOp>& ops) override {
    if (Take(fail_transitions)) return std::vector<Status>(ops.size(), Injected());
    std::vector<TransitionOp> pass;
    auto refused = [&](const TransitionOp& op) { return op.kind == TransitionOp::Kind::kTransition && Refused(op.to); };
    for (const auto& op : ops)
      if (!refused(op)) pass.push_back(op);
    std::vector<Status> passed = pass.empty() ? std::vector<Status>{} : in_->TransitionMany(pass);
    std::vector<Status> out;
    size_t k = 0;
    for (const auto& op : ops) out.push_back(refused(op) ? Injected() : passed[k++]);
    return out;
  }
  Status SetReason(int64_t id, const std::string& r) override { return in_->SetReason(id, r); }
  Result<Inserted> InsertArray(std::vector<store::JobRow> rows) override {
    if (Take(fail_insert)) return Injected();
    return in_->InsertArray(std::move(rows));
  }
  Status Reopen(int64_t id, const std::string& reason, double time) override {
    if (Take(fail_transitions)) return Injected();
    return in_->Reopen(id, reason, time);
  }
  Result<std::vector<std::pair<int64_t, store::JobState>>> ArrayTasks(int64_t a) override { return in_->ArrayTasks(a); }
  Result<store::JobRow> GetJob(int64_t id) override {
    if (Take(fail_get_job)) return Injected();
    return in_->GetJob(id);
  }
  Result<std::optional<store::JobRow>> FindByIdempotencyKey(const std::string& t, const std::string& k) override {
    return in_->FindByIdempotencyKey(t, k);
  }
  Result<std::vector<store::JobRow>> ListJobs(const store::JobFilter& f) override { return in_->ListJobs(f); }
  Result<std::vector<store::JobRow>> ActiveJobs() override {
    if (Take(fail_active_jobs)) return Injected();
    return in_->ActiveJobs();
  }
  Result<std::vector<store::EventRow>> Events(int64_t id) override { return in_->Events(id); }
  Result<std::map<std::string, int64_t>> CountByState() override { return in_->CountByState(); }
  Status PutTenant(const store::TenantRow& t) override {
    if (Take(fail_put_tenant)) return Injected();
    return in_->PutTenant(t);
  }
  Result<std::optional<store::TenantRow>> GetTenant(const std::string& n) override { return in_->GetTenant(n); }
  Result<std::vector<store::TenantRow>> ListTenants() override { return in_->ListTenants(); }
  Status PutPowerOverride(const store::PowerOverrideRow& o) override {
    if (Take(fail_put_tenant)) return Injected();  // the same switch: an admin's write fails
    return in_->PutPowerOverride(o);
  }
  Status ClearPowerOverride(const std::string& site) override {
    if (Take(fail_put_tenant)) return Injected();
    return in_->ClearPowerOverride(site);
  }
  Result<std::vector<store::PowerOverrideRow>> PowerOverrides() override { return in_->PowerOverrides(); }
  Status PutToken(const store::TokenRow& t) override {
    if (Take(fail_put_token)) return Injected();
    return in_->PutToken(t);
  }
  Result<std::optional<store::TokenRow>> FindToken(const std::string& h) override {
    if (Take(fail_find_token)) return Injected();
    return in_->FindToken(h);
  }
  Result<int64_t> CountAdminTokens() override { return in_->CountAdminTokens(); }
  Result<int64_t> CountUsableAdminTokens(double now) override { return in_->CountUsableAdminTokens(now); }
  Result<std::vector<store::TokenRow>> ListTokens() override { return in_->ListTokens(); }
  Result<store::TokenRow> RevokeToken(const std::string& id, double t) override { return in_->RevokeToken(id, t); }
  // Counts the calls: last use must cost no store write per request.
  std::atomic<int> token_use_writes{0};
  Status RecordTokenUse(const std::map<std::string, double>& u) override {
    ++token_use_writes;
    return in_->RecordTokenUse(u);
  }
  Status CheckWritable() override {
    if (Take(fail_check_writable)) return Injected();
    return in_->CheckWritable();
  }

 private:
  static bool Take(std::atomic<int>& n) {
    int v = n.load();
    while (v > 0)
      if (n.compare_exchange_weak(v, v - 1)) return true;
    return false;
  }
  bool Refused(store::JobState to) const {
    return (fail_to_running && to == store::JobState::kRunning) || (fail_to_terminal && store::IsTerminal(to));
  }
  static Status Injected() { return Status(Code::kUnavailable, "injected store failure"); }
  std::unique_ptr<store::Store> in_;
};

}  // namespace cnet::testing
