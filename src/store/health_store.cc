#include "store/health_store.h"

namespace cnet::store {
namespace {

bool StorageFault(const Status& st) {
  return st.code() == Code::kUnavailable || st.code() == Code::kInternal;
}

}  // namespace

WriteHealth HealthStore::Health() const {
  std::lock_guard l(mu_);
  return health_;
}

void HealthStore::Record(const Status& st) {
  std::lock_guard l(mu_);
  if (StorageFault(st)) {
    health_.writable = false;
    health_.last_error = st.message();
    ++health_.failed_writes;
  } else {
    health_.writable = true;  // an answer from a committed (or cleanly refused) write
  }
}

Result<Store::Inserted> HealthStore::InsertJob(JobRow row) {
  auto r = in_->InsertJob(std::move(row));
  Record(r.status());
  return r;
}

Status HealthStore::Transition(int64_t id, JobState to, const std::string& reason, double time,
                               const Update& u) {
  Status st = in_->Transition(id, to, reason, time, u);
  Record(st);
  return st;
}

std::vector<Status> HealthStore::TransitionMany(const std::vector<TransitionOp>& ops) {
  std::vector<Status> out = in_->TransitionMany(ops);
  Status worst;
  for (const Status& st : out)
    if (StorageFault(st)) worst = st;
  if (!out.empty()) Record(worst);
  return out;
}

Status HealthStore::SetReason(int64_t id, const std::string& reason) {
  Status st = in_->SetReason(id, reason);
  Record(st);
  return st;
}

Result<Store::Inserted> HealthStore::InsertArray(std::vector<JobRow> rows) {
  auto r = in_->InsertArray(std::move(rows));
  Record(r.status());
  return r;
}

Status HealthStore::Reopen(int64_t id, const std::string& reason, double time) {
  Status st = in_->Reopen(id, reason, time);
  Record(st);
  return st;
}

Status HealthStore::PutTenant(const TenantRow& t) {
  Status st = in_->PutTenant(t);
  Record(st);
  return st;
}

Status HealthStore::PutPowerOverride(const PowerOverrideRow& o) {
  Status st = in_->PutPowerOverride(o);
  Record(st);
  return st;
}

Status HealthStore::ClearPowerOverride(const std::string& site) {
  Status st = in_->ClearPowerOverride(site);
  Record(st);
  return st;
}

Status HealthStore::PutToken(const TokenRow& t) {
  Status st = in_->PutToken(t);
  Record(st);
  return st;
}

Result<TokenRow> HealthStore::RevokeToken(const std::string& id, double time) {
  Result<TokenRow> r = in_->RevokeToken(id, time);
  Record(r.ok() ? Status::Ok() : r.status());
  return r;
}

Status HealthStore::RecordTokenUse(const std::map<std::string, double>& last_used) {
  Status st = in_->RecordTokenUse(last_used);
  Record(st);
  return st;
}

Status HealthStore::CheckWritable() {
  Status st = in_->CheckWritable();
  Record(st);
  return st;
}

}  // namespace cnet::store
