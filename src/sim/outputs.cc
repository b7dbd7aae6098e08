#include "sim/outputs.h"

#include <cmath>
#include <cstdio>
#include <fstream>

#include "common/strings.h"

namespace cnet {

namespace {
std::string Num(double v) { return FormatNumber("%.3f", v); }
// Whole counts as integers, shares of accelerators with 3 decimals.
std::string Count(double v) {
  const double r = std::round(v);
  return std::fabs(v - r) < 5e-4 ? std::to_string(static_cast<int64_t>(r)) : Num(v);
}
}  // namespace

std::string JobsCsv(const std::vector<SimResult>& runs) {
  std::string s = "policy,job_id,submit_s,start_s,end_s,jct_s,types,nodes,preemptions,predicted\n";
  for (const auto& r : runs)
    for (const auto& j : r.jobs) {
      std::string types;
      for (const auto& t : j.types) types += (types.empty() ? "" : "|") + t;
      s += r.policy + "," + std::to_string(j.id) + "," + Num(j.submit_s) + "," + Num(j.start_s) + "," +
           Num(j.end_s) + "," + Num(j.end_s - j.submit_s) + "," + types + "," + std::to_string(j.max_nodes) +
           "," + std::to_string(j.preemptions) + "," + (j.predicted ? "1" : "0") + "\n";
    }
  return s;
}

std::string UtilCsv(const std::vector<SimResult>& runs) {
  std::string s = "policy,time_s,type,total,allocated,idle,fragmented\n";
  for (const auto& r : runs)
    for (const auto& u : r.util)
      s += r.policy + "," + Num(u.t) + "," + u.type + "," + std::to_string(u.total) + "," + Count(u.allocated) +
           "," + Count(u.idle) + "," + Count(u.fragmented) + "\n";
  return s;
}

Status WriteFileAtomically(const std::string& path, const std::string& text, const std::string& flag) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) return Status(Code::kUnavailable, flag + ": cannot write " + tmp);
    out << text;
    if (!out) return Status(Code::kUnavailable, flag + ": write failed on " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Status(Code::kUnavailable, flag + ": cannot rename " + tmp + " to " + path);
  return Status::Ok();
}

}  // namespace cnet
