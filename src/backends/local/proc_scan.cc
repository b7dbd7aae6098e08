#include "backends/local/proc_scan.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace cnet::backends::local {

std::vector<FoundProcess> FindJobProcesses(int64_t job_id) {
  std::vector<FoundProcess> out;
  const std::string want = "CNET_JOB_ID=" + std::to_string(job_id);
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::ifstream env(base + "/environ", std::ios::binary);
    if (!env) continue;
    std::string all((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    bool match = false;
    int worker = -1;
    size_t pos = 0;
    while (pos < all.size()) {
      size_t z = all.find('\0', pos);
      if (z == std::string::npos) z = all.size();
      std::string kv = all.substr(pos, z - pos);
      if (kv == want) match = true;
      if (kv.rfind("CNET_WORKER_INDEX=", 0) == 0) worker = std::atoi(kv.c_str() + 18);
      pos = z + 1;
    }
    if (!match) continue;
    std::ifstream stat(base + "/stat");
    std::string s((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    size_t rp = s.rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream fields(s.substr(rp + 2));
    std::string state;
    long long v[20] = {0};
    fields >> state;
    for (int i = 0; i < 19 && fields; ++i) fields >> v[i];
    if (state == "Z" || state == "X") continue;
    FoundProcess p;
    p.pid = static_cast<int>(pid);
    p.ppid = static_cast<int>(v[0]);
    p.pgid = static_cast<int>(v[1]);
    p.start_ticks = v[18];  // field 22 (fields after state start at 4)
    p.worker_index = worker;
    out.push_back(p);
  }
  closedir(d);
  return out;
}

}  // namespace cnet::backends::local
