// The accelerator catalogue: one entry per accelerator type (a package as the scheduler hands it
// out: a GPU board's die as exposed to software, or a multi-die package such as Ascend 910C).
// Immutable after load; safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "common/status.h"

namespace cnet {

enum class AccelKind { kGpu, kNpu, kCpu };
const char* AccelKindName(AccelKind k);

struct AcceleratorSpec {
  std::string name;                  // canonical, e.g. "V100"
  std::vector<std::string> aliases;  // other spellings accepted in inputs ("v100", "V100-SXM2")
  std::string vendor;
  AccelKind kind = AccelKind::kGpu;
  double peak_tflops = 0;        // peak dense BF16/FP16 (FP32 where the part has no fast FP16)
  double memory_gib = 0;
  double mem_bw_gbs = 0;         // memory bandwidth, GB/s
  int dies_per_package = 1;
  double d2d_bw_gbs = 0;         // die-to-die bandwidth inside the package, GB/s (0: one die)
  double link_bw_gbs = 0;        // intra-node accelerator link per device (NVLink, HCCS, PCIe), GB/s
  double network_bw_gbs = 12.5;  // inter-node bandwidth per device, GB/s
  double board_power_w = 0;      // board power under load, W
  double idle_power_w = 0;       // board power idle, W
  double price_per_hour_usd = 0;
  std::string source;            // where the figures come from
};

class Catalogue {
 public:
  // Loads data/accelerators.yaml; errors name file, line and field.
  static Result<Catalogue> LoadYaml(const std::string& path);
  static Result<Catalogue> ParseYaml(const std::string& text, const std::string& file);

  // Case-insensitive lookup by name or alias.
  std::optional<AccelId> Find(const std::string& name) const;
  const AcceleratorSpec& Get(AccelId id) const { return specs_.at(id.value()); }
  size_t size() const { return specs_.size(); }
  const std::vector<AcceleratorSpec>& specs() const { return specs_; }
  // "K80, P100, ..." for error messages.
  std::string NameList() const;

  Status Add(AcceleratorSpec spec);

 private:
  std::vector<AcceleratorSpec> specs_;
};

}  // namespace cnet
