// Finding a job's processes by their environment (CNET_JOB_ID=<id>, set by the local site on every
// worker), for jobs whose dispatch a crash interrupted before their handle was recorded.
// Reads /proc; processes of other users may be unreadable and are skipped. Thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace cnet::backends::local {

struct FoundProcess {
  int pid = 0;
  int ppid = 0;
  int pgid = 0;
  long long start_ticks = 0;
  int worker_index = -1;  // CNET_WORKER_INDEX, -1 if absent
};

// Live (non-zombie) processes whose environment has CNET_JOB_ID=<job_id>.
std::vector<FoundProcess> FindJobProcesses(int64_t job_id);

}  // namespace cnet::backends::local
