// Datasets and grants as use cases (docs/data.md): register, list, show, update, grant, revoke,
// remove, and the audit log; and the resolution of a job's `inputs` into the allowed-site set the
// scheduling core enforces (model/data_residency.h). Only a dataset's owner changes it or reads
// its audit log; a grantee sees the dataset and its own grant; any other tenant sees nothing
// (kNotFound, exactly as for a name that does not exist). Every change is written with its audit
// record in one transaction (store/dataset_store.h), then the on-change hook tells the control
// loop to re-check the jobs that read the dataset.
// Thread-safe: reads take a shared lock over an in-memory copy; writes are serialised.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "model/cluster.h"
#include "model/data_residency.h"
#include "service/authenticator.h"
#include "service/config.h"
#include "store/dataset_store.h"

namespace cnet::service {

// What a caller may see of a dataset: everything for its owner (and admins), the caller's own
// grant only for a grantee.
struct DatasetView {
  store::DatasetRow row;
  std::vector<store::GrantRow> grants;
};

struct DatasetUpdate {
  std::optional<std::string> policy;
  std::optional<std::map<std::string, std::string>> replicas;
  std::optional<int64_t> size_bytes;
  std::optional<double> expires;
  // Running (and started) jobs this change takes off their site are stopped and queued again
  // under the new policy (cancelled if it allows no site); else they keep their run (reported).
  bool enforce_running = false;
};

class Datasets {
 public:
  // Opens the dataset tables of the service's SQLite file; `sites` give the attributes policies are
  // evaluated on.
  static Result<std::unique_ptr<Datasets>> Open(const std::string& db_path, const std::vector<SiteConfig>& sites,
                                                const Clock& clock);

  // Called after every committed change, with the dataset's name and whether the owner asked that
  // running jobs it denies be stopped (any thread; must not block).
  void SetOnChange(std::function<void(const std::string&, bool)> f) { on_change_ = std::move(f); }

  // kInvalidArgument naming the field (name, policy with its column, replicas' sites, size);
  // kAlreadyExists when the name is taken. Admins own nothing: kPermissionDenied.
  Result<DatasetView> Register(const Caller& c, store::DatasetRow d);
  Result<std::vector<DatasetView>> List(const Caller& c) const;
  Result<DatasetView> Show(const Caller& c, const std::string& name) const;
  Result<DatasetView> Update(const Caller& c, const std::string& name, const DatasetUpdate& u);
  // policy "": the dataset's own policy; else a narrower expression for this grantee.
  Result<store::GrantRow> Grant(const Caller& c, const std::string& name, const std::string& tenant,
                                const std::string& policy);
  // enforce_running: as DatasetUpdate::enforce_running.
  Status Revoke(const Caller& c, const std::string& name, const std::string& tenant, bool enforce_running = false);
  Status Remove(const Caller& c, const std::string& name, bool enforce_running = false);
  // The owner's (or an admin's) view of the log; `dataset` "" only for admins.
  Result<std::vector<store::AuditRecord>> Audit(const Caller& c, const std::string& dataset, int64_t after_seq,
                                                int limit);

  // The allowed-site set of a job of `tenant` reading `inputs`, over the sites of `cl`: every
  // input's policy and, for a grantee, its grant's policy. kNotFound for an input the tenant may
  // not see; kInfeasible (naming the dataset, its policy and each site's failing clause) when no
  // site of `cl` is allowed, or a dataset has expired.
  Result<std::shared_ptr<const DataResidency>> Resolve(const std::string& tenant, const std::vector<std::string>& inputs,
                                                       const Cluster& cl) const;
  // The sizes and replica sites of `inputs` as `tenant` sees them (JobSpec::inputs, for stage-in
  // estimates). kNotFound for an input the tenant may not see.
  Result<std::shared_ptr<const std::vector<InputData>>> Inputs(const std::string& tenant,
                                                               const std::vector<std::string>& inputs) const;
  // Datasets whose expiry falls in (after, until] (epoch s): the control loop re-checks the jobs
  // that read them when that time comes, as after a policy change.
  std::vector<std::string> ExpiringIn(double after, double until) const;
  // The strictest policy of `inputs` for `tenant`: their policies and grants joined with `&`.
  Result<std::string> StrictestPolicy(const std::string& tenant, const std::vector<std::string>& inputs) const;
  // Records residency decisions (job placed on a site: allow, one record per input; or deny).
  Status Record(std::vector<store::AuditRecord> records) const;
  // The audit fields of dataset `name` for a residency record: its policy version (0 if gone).
  int64_t PolicyVersion(const std::string& name) const;

 private:
  Datasets(std::unique_ptr<store::DatasetStore> s, const std::vector<SiteConfig>& sites, const Clock& clock);
  Status Load();
  // The dataset as `c` may see it: kNotFound when it may not.
  Result<DatasetView> Visible(const Caller& c, const std::string& name) const;
  // The dataset `c` owns: kNotFound when invisible, kPermissionDenied for a grantee.
  Result<store::DatasetRow> Owned(const Caller& c, const std::string& name) const;
  Status CheckPolicy(const std::string& field, const std::string& policy) const;
  Status CheckReplicas(const std::map<std::string, std::string>& replicas) const;
  store::AuditRecord Change(const Caller& c, const std::string& action, const store::DatasetRow& d,
                            const std::string& reason) const;
  void Changed(const std::string& name, bool enforce_running = false) const;

  std::unique_ptr<store::DatasetStore> store_;
  std::map<std::string, SiteAttributes> sites_;  // by site name
  const Clock& clock_;
  std::function<void(const std::string&, bool)> on_change_;
  std::mutex write_mu_;
  mutable std::shared_mutex mu_;
  std::map<std::string, store::DatasetRow> datasets_;
  std::map<std::string, std::map<std::string, store::GrantRow>> grants_;  // dataset -> tenant -> grant
};

}  // namespace cnet::service
