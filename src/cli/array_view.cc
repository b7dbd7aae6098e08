#include "cli/array_view.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace cnet {

using nlohmann::json;

namespace {

// A state's rank for the array's line: the most advanced state any task is in.
int Rank(const std::string& s) {
  static const char* order[] = {"RUNNING", "SCHEDULED", "PREEMPTED", "PENDING", "FAILED", "TIMEOUT", "CANCELLED", "SUCCEEDED"};
  for (int i = 0; i < 8; ++i)
    if (s == order[i]) return i;
  return 8;
}

std::string Ranges(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(v[i]) + (j > i ? "-" + std::to_string(v[j]) : "");
    i = j + 1;
  }
  return out;
}

}  // namespace

json CompactArrays(const json& jobs) {
  struct Group {
    size_t line = 0;
    std::vector<int64_t> indices;
    std::map<std::string, int> states;
  };
  std::map<int64_t, Group> groups;
  json out = json::array();
  for (const auto& j : jobs) {
    if (!j.contains("array_id") || !j["array_id"].is_number_integer()) {
      out.push_back(j);
      continue;
    }
    const int64_t a = j["array_id"].get<int64_t>();
    auto [it, first] = groups.try_emplace(a);
    if (first) {
      it->second.line = out.size();
      out.push_back(j);
    }
    it->second.indices.push_back(j.value("array_index", int64_t{0}));
    const std::string st = j.value("state", std::string("?"));
    ++it->second.states[st];
    if (Rank(st) < Rank(out[it->second.line].value("state", std::string()))) out[it->second.line]["state"] = st;
  }
  for (auto& [a, g] : groups) {
    json& line = out[g.line];
    std::string limit;
    if (line.contains("spec") && line["spec"].is_object() && line["spec"].contains("array")) {
      const std::string spec = line["spec"].value("array", std::string());
      if (size_t p = spec.find('%'); p != std::string::npos) limit = spec.substr(p);
    }
    line["id"] = std::to_string(a) + "_[" + Ranges(g.indices) + limit + "]";
    std::string counts;
    for (const auto& [st, n] : g.states) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + st;
    line["reason"] = "array of " + std::to_string(g.indices.size()) + " task(s) listed: " + counts + " (cnet ls --tasks for each)";
    for (const char* k : {"start_time", "end_time", "exit_code", "site"}) line.erase(k);
  }
  return out;
}

}  // namespace cnet
