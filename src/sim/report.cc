#include "sim/report.h"

#include <cstdio>
#include <set>

namespace cnet {

nlohmann::json ToJson(const SimResult& r) {
  nlohmann::json j;
  j["policy"] = r.policy;
  j["workload"] = r.workload;
  j["jobs_total"] = r.jobs_total;
  j["jobs_completed"] = r.jobs_completed;
  j["jobs_measured"] = r.jobs_measured;
  j["avg_jct_hours"] = r.avg_jct_hours;
  j["p50_jct_hours"] = r.p50_jct_hours;
  j["p99_jct_hours"] = r.p99_jct_hours;
  j["makespan_hours"] = r.makespan_hours;
  j["utilization"] = r.utilization;
  j["energy_kwh"] = r.energy_kwh;
  j["cost_usd"] = r.cost_usd;
  j["avg_ftf_ratio"] = r.avg_ftf_ratio;
  j["solve_ms_p50"] = r.solve_ms_p50;
  j["solve_ms_max"] = r.solve_ms_max;
  j["cycles"] = r.cycles;
  j["preemptions"] = r.preemptions;
  j["wall_seconds"] = r.wall_seconds;
  j["predicted_throughputs"] = r.predicted;
  j["carbon_kg"] = r.carbon_g / 1000;
  j["busy_energy_kwh"] = r.busy_energy_kwh;
  j["deadline_jobs"] = r.deadline_jobs;
  j["deadline_misses"] = r.deadline_misses;
  j["shifted"] = r.shifted;
  j["shift_wait_hours"] = r.shift_wait_hours;
  j["stage_in_tb"] = r.stage_in_tb;
  return j;
}

std::string FormatTable(const std::vector<SimResult>& rs) {
  std::string out;
  char b[512];
  std::snprintf(b, sizeof b, "%-16s %7s %9s %9s %10s %10s %10s %11s %10s %8s %9s\n", "policy", "jobs",
                "avg JCT h", "p50 JCT h", "p99 JCT h", "makespan h", "energy MWh", "cost $", "avg FTF",
                "solve ms", "wall s");
  out += b;
  for (const auto& r : rs) {
    std::snprintf(b, sizeof b, "%-16s %7zu %9.2f %9.2f %10.2f %10.2f %10.2f %11.0f %10.2f %8.2f %9.2f\n",
                  r.policy.c_str(), r.jobs_measured, r.avg_jct_hours, r.p50_jct_hours, r.p99_jct_hours,
                  r.makespan_hours, r.energy_kwh / 1000, r.cost_usd, r.avg_ftf_ratio, r.solve_ms_p50,
                  r.wall_seconds);
    out += b;
  }
  if (!rs.empty()) {
    out += "utilisation by accelerator type:\n";
    for (const auto& r : rs) {
      std::snprintf(b, sizeof b, "  %-16s", r.policy.c_str());
      out += b;
      for (const auto& [name, u] : r.utilization) {
        std::snprintf(b, sizeof b, " %s %.0f%%", name.c_str(), u * 100);
        out += b;
      }
      out += "\n";
    }
    bool carbon = false, deadlines = false;
    for (const auto& r : rs) carbon = carbon || r.busy_energy_kwh > 0, deadlines = deadlines || r.deadline_jobs > 0;
    if (carbon || deadlines) {
      out += "carbon and deadlines (busy packages; true intensity at each site):\n";
      std::snprintf(b, sizeof b, "  %-24s %12s %10s %8s %9s %9s %9s %8s %12s\n", "policy", "tCO2eq", "busy MWh", "g/kWh",
                    "avg JCT h", "deadlines", "missed", "shifted", "avg wait h");
      out += b;
      for (const auto& r : rs) {
        std::snprintf(b, sizeof b, "  %-24s %12.3f %10.3f %8.1f %9.2f %9zu %9zu %8zu %12.2f\n", r.policy.c_str(),
                      r.carbon_g / 1e6, r.busy_energy_kwh / 1000,
                      r.busy_energy_kwh > 0 ? r.carbon_g / r.busy_energy_kwh : 0.0, r.avg_jct_hours, r.deadline_jobs,
                      r.deadline_misses, r.shifted, r.shifted ? r.shift_wait_hours / r.shifted : 0.0);
        out += b;
      }
    }
    bool staged = false;
    for (const auto& r : rs) staged = staged || r.stage_in_tb > 0;
    if (staged) {
      out += "input data moved to the sites jobs started on (stage-in):\n";
      for (const auto& r : rs) {
        std::snprintf(b, sizeof b, "  %-32s %10.3f TB   avg JCT %.2f h   cost $%.0f\n", r.policy.c_str(), r.stage_in_tb,
                      r.avg_jct_hours, r.cost_usd);
        out += b;
      }
    }
    std::set<std::string> pred;
    for (const auto& r : rs) pred.insert(r.predicted.begin(), r.predicted.end());
    if (!pred.empty()) {
      out += "predicted (not measured) throughputs used: " + std::to_string(pred.size()) + " job type/accelerator pairs";
      size_t k = 0;
      for (const auto& p : pred) {
        if (k++ == 4) { out += ", ..."; break; }
        out += (k == 1 ? ": " : "; ") + p;
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace cnet
