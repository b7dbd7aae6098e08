// A Store that forwards every call to another and remembers whether writes commit, so that the
// service can say "degraded" while they fail (disk full, read-only, I/O errors) and notice on its
// own when they commit again. Only storage faults (kUnavailable, kInternal) count; a refused
// compare-and-set or a missing row is an answer, not a fault.
// Thread-safe: as the wrapped store; the health record has its own mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

namespace cnet::store {

struct WriteHealth {
  bool writable = true;
  std::string last_error;   // the last storage fault of a write ("" when none yet)
  int64_t failed_writes = 0;  // writes refused by a storage fault since the store opened
};

class HealthStore final : public Store {
 public:
  explicit HealthStore(std::unique_ptr<Store> inner) : in_(std::move(inner)) {}
  WriteHealth Health() const;

  Result<Inserted> InsertJob(JobRow row) override;
  Status Transition(int64_t id, JobState to, const std::string& reason, double time,
                    const Update& u) override;
  std::vector<Status> TransitionMany(const std::vector<TransitionOp>& ops) override;
  Status SetReason(int64_t id, const std::string& reason) override;
  Result<Inserted> InsertArray(std::vector<JobRow> rows) override;
  Status Reopen(int64_t id, const std::string& reason, double time) override;
  Result<std::vector<std::pair<int64_t, JobState>>> ArrayTasks(int64_t a) override { return in_->ArrayTasks(a); }
  Status PutTenant(const TenantRow& t) override;
  Status PutPowerOverride(const PowerOverrideRow& o) override;
  Status ClearPowerOverride(const std::string& site) override;
  Result<std::vector<PowerOverrideRow>> PowerOverrides() override { return in_->PowerOverrides(); }
  Status PutToken(const TokenRow& t) override;
  Status CheckWritable() override;
  Result<TokenRow> RevokeToken(const std::string& id, double time) override;
  Status RecordTokenUse(const std::map<std::string, double>& last_used) override;

  Result<JobRow> GetJob(int64_t id) override { return in_->GetJob(id); }
  Result<std::optional<JobRow>> FindByIdempotencyKey(const std::string& t, const std::string& k) override {
    return in_->FindByIdempotencyKey(t, k);
  }
  Result<std::vector<JobRow>> ListJobs(const JobFilter& f) override { return in_->ListJobs(f); }
  Result<std::vector<JobRow>> ActiveJobs() override { return in_->ActiveJobs(); }
  Result<std::vector<EventRow>> Events(int64_t id) override { return in_->Events(id); }
  Result<std::map<std::string, int64_t>> CountByState() override { return in_->CountByState(); }
  Result<std::optional<TenantRow>> GetTenant(const std::string& n) override { return in_->GetTenant(n); }
  Result<std::vector<TenantRow>> ListTenants() override { return in_->ListTenants(); }
  Result<std::optional<TokenRow>> FindToken(const std::string& h) override { return in_->FindToken(h); }
  Result<int64_t> CountAdminTokens() override { return in_->CountAdminTokens(); }
  Result<int64_t> CountUsableAdminTokens(double now) override { return in_->CountUsableAdminTokens(now); }
  Result<std::vector<TokenRow>> ListTokens() override { return in_->ListTokens(); }

 private:
  void Record(const Status& st);
  std::unique_ptr<Store> in_;
  mutable std::mutex mu_;
  WriteHealth health_;
};

}  // namespace cnet::store
