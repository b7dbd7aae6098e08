// The accelerator catalogue: one entry per accelerator type (a package as the scheduler hands it
// out: a GPU board's die as exposed to software, or a multi-die package such as Ascend 910C).
// Immutable after load; safe to share between threads.
#pragma once

#include <memory>
#include <mutex>
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

// A name that means several types (e.g. "A100": the 40 GB or the 80 GB part). It resolves to the
// first of `means`, and each use is remembered so that the caller can warn (AmbiguousUses).
struct AmbiguousName {
  std::string name;
  std::vector<std::string> means;  // canonical names; the first is what the name resolves to
};

class Catalogue {
 public:
  // Loads data/accelerators.yaml; errors name file, line and field.
  static Result<Catalogue> LoadYaml(const std::string& path);
  static Result<Catalogue> ParseYaml(const std::string& text, const std::string& file);
  // The base catalogue, then each extension file in order (see Extend).
  static Result<Catalogue> LoadWithExtensions(const std::string& base, const std::vector<std::string>& extensions);

  // Adds the entries of an extension file (the same format; `accelerators` may be empty when the
  // file only declares ambiguous names). An entry named like an existing type replaces it (its
  // figures and aliases); a new name is added. Errors name the file, line and field; on error the
  // catalogue is unchanged.
  Status Extend(const std::string& text, const std::string& file);
  Status ExtendFromFile(const std::string& path);

  // Case-insensitive lookup by name, alias or ambiguous name (which resolves to its default and is
  // recorded for AmbiguousUses).
  std::optional<AccelId> Find(const std::string& name) const;
  // One warning per ambiguous name looked up so far, e.g. "'A100' is ambiguous (A100-80GB,
  // A100-40GB): taken as A100-80GB; write the full name". Thread-safe; shared by copies.
  std::vector<std::string> AmbiguousUses() const;
  const std::vector<AmbiguousName>& ambiguous() const { return ambiguous_; }
  const AcceleratorSpec& Get(AccelId id) const { return specs_.at(id.value()); }
  size_t size() const { return specs_.size(); }
  const std::vector<AcceleratorSpec>& specs() const { return specs_; }
  // "K80, P100, ..." for error messages.
  std::string NameList() const;

  Status Add(AcceleratorSpec spec);

 private:
  struct UseLog {  // ambiguous names looked up, in first-use order
    std::mutex mu;
    std::vector<std::string> names;
  };
  std::optional<AccelId> FindExact(const std::string& name) const;  // names and aliases only
  Status ParseInto(const std::string& text, const std::string& file, bool extension);

  std::vector<AcceleratorSpec> specs_;
  std::vector<AmbiguousName> ambiguous_;
  std::shared_ptr<UseLog> uses_ = std::make_shared<UseLog>();
};

}  // namespace cnet
