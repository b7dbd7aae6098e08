// Inventory detection of the local site: sysconf, /proc/meminfo, nvidia-smi.
#include "backends/local/inventory.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "backends/local/program_path.h"

namespace cnet::backends::local {

std::string CatalogueNameForDevice(const std::string& raw) {
  // Longer names first where one contains another (A100 / A10, L40S / L4); memory size decides
  // between parts that share a name, so an A100-SXM4-40GB is not taken for the 80 GB part.
  auto has = [&](const char* s) { return raw.find(s) != std::string::npos; };
  if (has("A100")) return has("40GB") ? "A100-40GB" : "A100-80GB";
  if (has("V100")) return has("32GB") ? "V100-32GB" : "V100";
  if (has("L40") && !has("L40S")) return raw;  // an L40 is no L4, and not in the catalogue
  static const std::pair<const char*, const char*> kMap[] = {
      {"H100", "H100-SXM"}, {"H200", "H200"}, {"T4", "T4"},   {"B200", "B200"},     {"P100", "P100"},
      {"K80", "K80"},       {"L40S", "L40S"}, {"L4", "L4"},   {"A10", "A10"},       {"RTX 4090", "RTX-4090"},
      {"MI300X", "MI300X"},
  };
  for (const auto& [needle, name] : kMap) {
    if (raw.find(needle) != std::string::npos) return name;
  }
  return raw;
}

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

LocalInventory DetectInventory() {
  LocalInventory inv;
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  inv.cpus = n > 0 ? static_cast<int>(n) : 0;
  std::ifstream mem("/proc/meminfo");
  std::string key;
  while (mem >> key) {
    if (key == "MemTotal:") {
      double kib = 0;
      mem >> kib;
      inv.memory_gib = kib / (1024.0 * 1024.0);
      break;
    }
    mem.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }

  const char* path = std::getenv("PATH");
  std::string path_env = path ? path : "/usr/local/bin:/usr/bin:/bin";
  if (!ProgramExists("nvidia-smi", path_env, "/")) return inv;
  std::string cmd = "nvidia-smi --query-gpu=index,name --format=csv,noheader 2>/dev/null";
  if (ProgramExists("timeout", path_env, "/")) cmd = "timeout 5 " + cmd;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return inv;
  std::string out;
  char buf[512];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  int rc = ::pclose(p);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) return inv;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::string name = Trim(line.substr(comma + 1));
    if (name.empty()) continue;
    inv.device_names.push_back(name);
  }
  inv.accelerator_count = static_cast<int>(inv.device_names.size());
  if (!inv.device_names.empty()) inv.accelerator = CatalogueNameForDevice(inv.device_names.front());
  return inv;
}

}  // namespace cnet::backends::local
