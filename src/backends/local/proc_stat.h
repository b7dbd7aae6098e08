// One process's /proc/<pid>/stat, as the local site's runner needs it to tell a live worker from a
// reused pid or a zombie. Internal to the local site. Thread-safe (reads /proc only).
#pragma once

#include <optional>

namespace cnet::backends::local {

struct ProcStat {
  char state = '?';            // field 3: 'R', 'S', 'Z', ...
  int ppid = 0;                // field 4
  int pgrp = 0;                // field 5
  long long start_ticks = 0;   // field 22: start time in clock ticks since boot (tells pid reuse)
};

// nullopt when the process does not exist (or is unreadable, or pid <= 0).
std::optional<ProcStat> ReadProcStat(int pid);
// A zombie or dead state ('Z', 'X', 'x'): the process runs no more.
bool IsDeadState(char s);

}  // namespace cnet::backends::local
