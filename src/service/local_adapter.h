// The local site behind the Site interface: this machine's accelerators (declared or detected) as
// one node, its CPU cores as another, jobs run by sites::LocalSite.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "service/config.h"
#include "service/site.h"
#include "sites/local_site.h"

namespace cnet::service {

class LocalAdapter final : public Site {
 public:
  LocalAdapter(const SiteConfig& cfg, const std::string& data_dir);
  const std::string& name() const override { return name_; }
  std::string type() const override { return "local"; }
  SiteInventory Inventory() override { return inventory_; }
  Result<std::string> Launch(const SiteLaunch& l, LaunchInfo* info) override;
  std::vector<SiteEvent> Poll(double now) override;
  Status Kill(int64_t job_id, const std::string& reason) override { return site_.Kill(job_id, reason); }
  bool Withdraw(int64_t, int) override { return false; }  // runs start at Launch: nothing to withdraw
  bool Adopt(int64_t job_id, const std::string& runtime_json) override;
  std::optional<std::string> FindInterrupted(int64_t job_id, int attempt) override;
  std::string LogPath(int64_t job_id, int attempt, const std::string& stream) override {
    return stream == "stderr" ? site_.StderrPath(job_id, attempt) : site_.StdoutPath(job_id, attempt);
  }
  const sites::LocalInventory& detected() const { return detected_; }

 private:
  std::string name_, data_dir_;
  sites::LocalInventory detected_;
  SiteInventory inventory_;
  sites::LocalSite site_;
  std::mutex mu_;
  std::vector<SiteEvent> ended_;  // adopted runs that had already ended: reported by the next Poll
};

}  // namespace cnet::service
