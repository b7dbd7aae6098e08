#include "service/datasets.h"

#include <cctype>
#include <mutex>

namespace cnet::service {

namespace {

bool GoodName(const std::string& s) {
  if (s.empty() || s.size() > 128 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.' && ch != '-') return false;
  return true;
}

Status NoSuch(const std::string& name) { return NotFound("no dataset '" + name + "'"); }

}  // namespace

Datasets::Datasets(std::unique_ptr<store::DatasetStore> s, const std::vector<SiteConfig>& sites, const Clock& clock)
    : store_(std::move(s)), clock_(clock) {
  for (const auto& sc : sites) sites_[sc.name] = SiteAttributes{sc.name, sc.attributes};
}

Result<std::unique_ptr<Datasets>> Datasets::Open(const std::string& db_path, const std::vector<SiteConfig>& sites,
                                                 const Clock& clock) {
  CNET_ASSIGN_OR_RETURN(auto s, store::DatasetStore::Open(db_path));
  std::unique_ptr<Datasets> d(new Datasets(std::move(s), sites, clock));
  CNET_RETURN_IF_ERROR(d->Load());
  return d;
}

Status Datasets::Load() {
  CNET_ASSIGN_OR_RETURN(auto ds, store_->ListDatasets());
  CNET_ASSIGN_OR_RETURN(auto gs, store_->ListGrants());
  std::unique_lock l(mu_);
  for (auto& d : ds) datasets_[d.name] = d;
  for (auto& g : gs) grants_[g.dataset][g.tenant] = g;
  return Status::Ok();
}

Result<DatasetView> Datasets::Visible(const Caller& c, const std::string& name) const {
  auto it = datasets_.find(name);
  if (it == datasets_.end()) return NoSuch(name);
  DatasetView v{it->second, {}};
  auto g = grants_.find(name);
  if (c.admin || c.tenant == it->second.owner) {
    if (g != grants_.end())
      for (const auto& [t, row] : g->second) v.grants.push_back(row);
    return v;
  }
  if (g == grants_.end() || !g->second.count(c.tenant)) return NoSuch(name);
  v.grants.push_back(g->second.at(c.tenant));
  return v;
}

Result<store::DatasetRow> Datasets::Owned(const Caller& c, const std::string& name) const {
  std::shared_lock l(mu_);
  CNET_ASSIGN_OR_RETURN(DatasetView v, Visible(c, name));
  if (c.admin || c.tenant != v.row.owner)
    return PermissionDenied("dataset '" + name + "': only its owner, tenant '" + v.row.owner + "', changes it");
  return v.row;
}

Status Datasets::CheckPolicy(const std::string& field, const std::string& policy) const {
  auto e = ResidencyExpr::Parse(policy);
  if (!e.ok()) return InvalidArgument(field + ": " + e.status().message() + " in '" + policy + "'");
  return Status::Ok();
}

Status Datasets::CheckReplicas(const std::map<std::string, std::string>& replicas) const {
  for (const auto& [site, path] : replicas) {
    if (!sites_.count(site)) return InvalidArgument("replicas." + site + ": unknown site '" + site + "'");
    if (path.empty() || path[0] != '/') return InvalidArgument("replicas." + site + ": the path must be absolute");
  }
  return Status::Ok();
}

store::AuditRecord Datasets::Change(const Caller& c, const std::string& action, const store::DatasetRow& d,
                                    const std::string& reason) const {
  store::AuditRecord a;
  a.time = clock_.Now();
  a.actor = c.admin ? "admin" : c.tenant;
  a.action = action;
  a.dataset = d.name;
  a.policy_version = d.policy_version;
  a.reason = reason;
  return a;
}

void Datasets::Changed(const std::string& name, bool enforce_running) const {
  if (on_change_) on_change_(name, enforce_running);
}

Result<DatasetView> Datasets::Register(const Caller& c, store::DatasetRow d) {
  if (c.admin || c.tenant.empty()) return PermissionDenied("datasets are registered by a tenant, which owns them");
  if (!GoodName(d.name)) return InvalidArgument("name: expected 1-128 letters, digits, _ . - (starting with a letter or digit)");
  if (d.size_bytes < 0) return InvalidArgument("size_bytes: must be >= 0");
  CNET_RETURN_IF_ERROR(CheckPolicy("policy", d.policy));
  CNET_RETURN_IF_ERROR(CheckReplicas(d.replicas));
  d.owner = c.tenant;
  d.policy_version = 1;
  d.created = d.updated = clock_.Now();
  std::lock_guard w(write_mu_);
  CNET_RETURN_IF_ERROR(store_->PutDataset(d, true, Change(c, "register", d, "policy '" + d.policy + "'")));
  {
    std::unique_lock l(mu_);
    datasets_[d.name] = d;
  }
  return DatasetView{d, {}};
}

Result<std::vector<DatasetView>> Datasets::List(const Caller& c) const {
  std::shared_lock l(mu_);
  std::vector<DatasetView> out;
  for (const auto& [name, row] : datasets_) {
    auto v = Visible(c, name);
    if (v.ok()) out.push_back(std::move(v).value());
  }
  return out;
}

Result<DatasetView> Datasets::Show(const Caller& c, const std::string& name) const {
  std::shared_lock l(mu_);
  return Visible(c, name);
}

Result<DatasetView> Datasets::Update(const Caller& c, const std::string& name, const DatasetUpdate& u) {
  std::lock_guard w(write_mu_);
  CNET_ASSIGN_OR_RETURN(store::DatasetRow d, Owned(c, name));
  std::string what;
  if (u.policy && *u.policy != d.policy) {
    CNET_RETURN_IF_ERROR(CheckPolicy("policy", *u.policy));
    what = "policy '" + d.policy + "' -> '" + *u.policy + "'";
    d.policy = *u.policy;
    ++d.policy_version;
  }
  if (u.replicas) {
    CNET_RETURN_IF_ERROR(CheckReplicas(*u.replicas));
    d.replicas = *u.replicas;
    what += std::string(what.empty() ? "" : "; ") + "replicas";
  }
  if (u.size_bytes) {
    if (*u.size_bytes < 0) return InvalidArgument("size_bytes: must be >= 0");
    d.size_bytes = *u.size_bytes;
  }
  if (u.expires) d.expires = *u.expires;
  d.updated = clock_.Now();
  if (u.enforce_running) what += std::string(what.empty() ? "" : "; ") + "running jobs it denies are stopped";
  CNET_RETURN_IF_ERROR(store_->PutDataset(d, false, Change(c, "update", d, what)));
  {
    std::unique_lock l(mu_);
    datasets_[name] = d;
  }
  Changed(name, u.enforce_running);
  return Show(c, name);
}

Result<store::GrantRow> Datasets::Grant(const Caller& c, const std::string& name, const std::string& tenant,
                                        const std::string& policy) {
  if (tenant.empty()) return InvalidArgument("tenant: required");
  if (!policy.empty()) CNET_RETURN_IF_ERROR(CheckPolicy("policy", policy));
  std::lock_guard w(write_mu_);
  CNET_ASSIGN_OR_RETURN(store::DatasetRow d, Owned(c, name));
  if (tenant == d.owner) return InvalidArgument("tenant: '" + tenant + "' owns the dataset");
  store::GrantRow g{name, tenant, policy, clock_.Now()};
  CNET_RETURN_IF_ERROR(store_->PutGrant(
      g, Change(c, "grant", d, "to tenant '" + tenant + "'" + (policy.empty() ? "" : " under '" + policy + "'"))));
  {
    std::unique_lock l(mu_);
    grants_[name][tenant] = g;
  }
  Changed(name);
  return g;
}

Status Datasets::Revoke(const Caller& c, const std::string& name, const std::string& tenant, bool enforce_running) {
  std::lock_guard w(write_mu_);
  CNET_ASSIGN_OR_RETURN(store::DatasetRow d, Owned(c, name));
  CNET_RETURN_IF_ERROR(store_->DeleteGrant(
      name, tenant,
      Change(c, "revoke", d, "from tenant '" + tenant + "'" + (enforce_running ? "; running jobs it denies are stopped" : ""))));
  {
    std::unique_lock l(mu_);
    grants_[name].erase(tenant);
  }
  Changed(name, enforce_running);
  return Status::Ok();
}

Status Datasets::Remove(const Caller& c, const std::string& name, bool enforce_running) {
  std::lock_guard w(write_mu_);
  CNET_ASSIGN_OR_RETURN(store::DatasetRow d, Owned(c, name));
  CNET_RETURN_IF_ERROR(
      store_->DeleteDataset(name, Change(c, "remove", d, enforce_running ? "running jobs it denies are stopped" : "")));
  {
    std::unique_lock l(mu_);
    datasets_.erase(name);
    grants_.erase(name);
  }
  Changed(name, enforce_running);
  return Status::Ok();
}

Result<std::vector<store::AuditRecord>> Datasets::Audit(const Caller& c, const std::string& dataset, int64_t after_seq,
                                                        int limit) {
  if (dataset.empty()) {
    if (!c.admin) return InvalidArgument("dataset: required (a tenant reads the log of the datasets it owns)");
  } else if (!c.admin) {
    CNET_ASSIGN_OR_RETURN(store::DatasetRow d, Owned(c, dataset));
    (void)d;
  }
  return store_->ListAudit({dataset, after_seq, limit});
}

Result<std::shared_ptr<const DataResidency>> Datasets::Resolve(const std::string& tenant,
                                                               const std::vector<std::string>& inputs,
                                                               const Cluster& cl) const {
  std::vector<ResidencyRule> rules;
  {
    std::shared_lock l(mu_);
    const double now = clock_.Now();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string& name = inputs[i];
      auto v = Visible(Caller{tenant, false}, name);
      if (!v.ok()) return NotFound("inputs[" + std::to_string(i) + "]: no dataset '" + name + "'");
      const store::DatasetRow& d = v->row;
      if (d.expires > 0 && now >= d.expires) return Infeasible("inputs[" + std::to_string(i) + "]: dataset '" + name + "' has expired");
      auto e = ResidencyExpr::Parse(d.policy);
      if (!e.ok()) return Internal("dataset '" + name + "' holds a bad policy: " + e.status().message());
      rules.push_back({"dataset '" + name + "' policy v" + std::to_string(d.policy_version), *e});
      if (d.owner == tenant || v->grants.empty() || v->grants[0].policy.empty()) continue;
      auto g = ResidencyExpr::Parse(v->grants[0].policy);
      if (!g.ok()) return Internal("dataset '" + name + "' holds a bad grant policy: " + g.status().message());
      rules.push_back({"grant of dataset '" + name + "' to tenant '" + tenant + "'", *g});
    }
  }
  std::vector<SiteAttributes> attrs;
  for (const cnet::Site& s : cl.sites()) {
    auto it = sites_.find(s.name);
    attrs.push_back(it != sites_.end() ? it->second : SiteAttributes{s.name, {}});
  }
  auto r = std::make_shared<DataResidency>(BuildResidency(rules, attrs));
  if (r->AllowedCount() == 0) {
    std::string why;
    for (size_t i = 0; i < attrs.size(); ++i) why += (why.empty() ? "" : "; ") + r->why[i];
    return Infeasible("inputs: no site may hold this job's data: " + why);
  }
  return std::shared_ptr<const DataResidency>(std::move(r));
}

Result<std::shared_ptr<const std::vector<InputData>>> Datasets::Inputs(const std::string& tenant,
                                                                       const std::vector<std::string>& inputs) const {
  auto out = std::make_shared<std::vector<InputData>>();
  std::shared_lock l(mu_);
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto v = Visible(Caller{tenant, false}, inputs[i]);
    if (!v.ok()) return NotFound("inputs[" + std::to_string(i) + "]: no dataset '" + inputs[i] + "'");
    InputData d{v->row.name, static_cast<double>(v->row.size_bytes), {}};
    for (const auto& [site, path] : v->row.replicas) {
      d.replicas.push_back(site);
      d.paths.push_back(path);
    }
    out->push_back(std::move(d));
  }
  return std::shared_ptr<const std::vector<InputData>>(std::move(out));
}

std::vector<std::string> Datasets::ExpiringIn(double after, double until) const {
  std::vector<std::string> out;
  std::shared_lock l(mu_);
  for (const auto& [name, d] : datasets_)
    if (d.expires > after && d.expires <= until) out.push_back(name);
  return out;
}

Result<std::string> Datasets::StrictestPolicy(const std::string& tenant, const std::vector<std::string>& inputs) const {
  std::shared_lock l(mu_);
  std::string out;
  for (const auto& name : inputs) {
    CNET_ASSIGN_OR_RETURN(DatasetView v, Visible(Caller{tenant, false}, name));
    out += (out.empty() ? "(" : " & (") + v.row.policy + ")";
    if (v.row.owner != tenant && !v.grants.empty() && !v.grants[0].policy.empty())
      out += " & (" + v.grants[0].policy + ")";
  }
  if (out.empty()) return std::string("*");
  auto e = ResidencyExpr::Parse(out);  // canonical text
  if (!e.ok()) return Internal("joined policy does not parse: " + e.status().message());
  return e->ToString();
}

Status Datasets::Record(std::vector<store::AuditRecord> records) const {
  for (auto& r : records)
    if (r.time == 0) r.time = clock_.Now();
  return store_->Append(std::move(records));
}

int64_t Datasets::PolicyVersion(const std::string& name) const {
  std::shared_lock l(mu_);
  auto it = datasets_.find(name);
  return it == datasets_.end() ? 0 : it->second.policy_version;
}

}  // namespace cnet::service
