// What this machine offers to the local site: CPUs, memory and accelerators, detected at start-up
// (or declared in the site's config instead). Thread-safe (no shared state).
#pragma once

#include <string>
#include <vector>

namespace cnet::backends::local {

// What this machine offers (detected, or declared in the config).
struct LocalInventory {
  int cpus = 0;
  double memory_gib = 0;
  std::string accelerator;      // catalogue name ("H100-SXM", ...), "" when none
  int accelerator_count = 0;
  std::vector<std::string> device_names;  // as reported (nvidia-smi name column), for display
};

// CPUs from sysconf, memory from /proc/meminfo, NVIDIA GPUs from `nvidia-smi --query-gpu=
// index,name --format=csv,noheader` when that program exists (its absence is not an error).
// Runs nvidia-smi (under `timeout 5` when available): may take seconds; never fails.
LocalInventory DetectInventory();
// The catalogue name for a device name as nvidia-smi reports it ("NVIDIA A100-SXM4-40GB" ->
// "A100-40GB"); the raw name when no known type matches.
std::string CatalogueNameForDevice(const std::string& raw);

}  // namespace cnet::backends::local
