#include "backends/local/device_ledger.h"

namespace cnet::backends::local {
namespace {

std::string JoinIds(const std::vector<int>& ids) {
  std::string s;
  for (int i : ids) s += (s.empty() ? "" : ",") + std::to_string(i);
  return s;
}

}  // namespace

DeviceLedger::DeviceLedger(std::map<std::string, int> devices) : count_(std::move(devices)) {}

Result<std::vector<int>> DeviceLedger::Take(const std::string& node, int n) {
  std::lock_guard<std::mutex> l(mu_);
  auto c = count_.find(node);
  if (c == count_.end()) return NotFound("node '" + node + "' has no devices here");
  if (n < 0 || n > c->second) {
    return InvalidArgument("node '" + node + "' has " + std::to_string(c->second) + " devices, " +
                           std::to_string(n) + " asked");
  }
  std::set<int>& busy = busy_[node];
  std::vector<int> ids;
  for (int id = 0; id < c->second && static_cast<int>(ids.size()) < n; ++id) {
    if (!busy.count(id)) ids.push_back(id);
  }
  if (static_cast<int>(ids.size()) < n) {
    return Status(Code::kResourceExhausted, "node '" + node + "': " + std::to_string(n) + " devices asked, " +
                                                std::to_string(ids.size()) + " free");
  }
  busy.insert(ids.begin(), ids.end());
  return ids;
}

void DeviceLedger::Release(const std::string& node, const std::vector<int>& ids) {
  std::lock_guard<std::mutex> l(mu_);
  auto b = busy_.find(node);
  if (b == busy_.end()) return;
  for (int id : ids) b->second.erase(id);
}

Status DeviceLedger::Retake(const std::string& node, const std::vector<int>& ids) {
  std::lock_guard<std::mutex> l(mu_);
  auto c = count_.find(node);
  if (c == count_.end()) return InvalidArgument("node '" + node + "' has no devices here");
  std::vector<int> bad, shared;
  std::set<int>& busy = busy_[node];
  for (int id : ids) {
    if (id < 0 || id >= c->second) {
      bad.push_back(id);
    } else if (!busy.insert(id).second) {
      shared.push_back(id);
    }
  }
  if (!bad.empty()) return InvalidArgument("node '" + node + "': no device ids " + JoinIds(bad));
  if (!shared.empty()) {
    return Status(Code::kAlreadyExists, "node '" + node + "': devices " + JoinIds(shared) + " were already in use");
  }
  return Status::Ok();
}

std::vector<int> DeviceLedger::Busy(const std::string& node) const {
  std::lock_guard<std::mutex> l(mu_);
  auto b = busy_.find(node);
  return b == busy_.end() ? std::vector<int>{} : std::vector<int>(b->second.begin(), b->second.end());
}

int DeviceLedger::Free(const std::string& node) const {
  std::lock_guard<std::mutex> l(mu_);
  auto c = count_.find(node);
  if (c == count_.end()) return 0;
  auto b = busy_.find(node);
  return c->second - (b == busy_.end() ? 0 : static_cast<int>(b->second.size()));
}

}  // namespace cnet::backends::local
