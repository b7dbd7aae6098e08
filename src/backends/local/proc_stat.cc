#include "backends/local/proc_stat.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cnet::backends::local {

std::optional<ProcStat> ReadProcStat(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  // comm (field 2) is in parentheses and may contain spaces or ')': parse after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string tok;
  while (f.size() < 20 && rest >> tok) f.push_back(tok);
  if (f.size() < 20) return std::nullopt;
  ProcStat st;
  try {
    st.state = f[0].empty() ? '?' : f[0][0];
    st.ppid = std::stoi(f[1]);
    st.pgrp = std::stoi(f[2]);
    st.start_ticks = std::stoll(f[19]);  // field 22
  } catch (...) {
    return std::nullopt;
  }
  return st;
}

bool IsDeadState(char s) { return s == 'Z' || s == 'X' || s == 'x'; }

}  // namespace cnet::backends::local
