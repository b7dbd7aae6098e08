#include "sched/estimate/replica_stage_in.h"

#include <algorithm>

namespace cnet {

int ReplicaStageIn::HeldAt(const InputData& in, const std::string& site) {
  auto it = std::find(in.replicas.begin(), in.replicas.end(), site);
  return it == in.replicas.end() ? -1 : static_cast<int>(it - in.replicas.begin());
}

int ReplicaStageIn::SourceOf(const InputData& in, const std::string& site) const {
  if (in.bytes <= 0 || in.replicas.empty() || HeldAt(in, site) >= 0) return -1;
  int best = -1;
  Seconds best_s = 0;
  for (size_t i = 0; i < in.replicas.size(); ++i) {
    const Seconds s = econ_ ? econ_->TransferSeconds(in.replicas[i], site, in.bytes) : 0;
    if (best < 0 || s < best_s) {
      best = static_cast<int>(i);
      best_s = s;
    }
  }
  return best;
}

std::vector<Transfer> ReplicaStageIn::Missing(const JobSpec& job, const std::string& site) const {
  std::vector<Transfer> out;
  if (!job.inputs) return out;
  for (const InputData& in : *job.inputs)
    if (int from = SourceOf(in, site); from >= 0) out.push_back(Transfer{in.replicas[from], in.bytes});
  return out;
}

}  // namespace cnet
