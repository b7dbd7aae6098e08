#include "api/array_deps.h"

#include <algorithm>

#include "common/strings.h"

namespace cnet::api {

namespace {

Status Bad(const std::string& field, const std::string& msg) { return InvalidArgument(field + ": " + msg); }

Result<int64_t> Number(const std::string& s, const std::string& field, const std::string& what, int64_t hi) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
    return Bad(field, what + " '" + s + "' is not a non-negative integer");
  auto v = ParseInt(s);
  if (!v || *v > hi) return Bad(field, what + " '" + s + "' is larger than " + std::to_string(hi));
  return *v;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    size_t e = s.find(sep, at);
    out.push_back(Trim(s.substr(at, e == std::string::npos ? std::string::npos : e - at)));
    if (e == std::string::npos) return out;
    at = e + 1;
  }
}

}  // namespace

Result<ArraySpec> ParseArraySpec(const std::string& text, const std::string& field, int max_tasks) {
  ArraySpec a;
  std::string body = Trim(text);
  if (size_t pct = body.find('%'); pct != std::string::npos) {
    CNET_ASSIGN_OR_RETURN(int64_t n, Number(body.substr(pct + 1), field, "the concurrency limit after '%'", kMaxArrayIndex));
    if (n < 1) return Bad(field, "the concurrency limit after '%' must be at least 1");
    a.max_running = static_cast<int>(n);
    body = body.substr(0, pct);
  }
  if (body.empty()) return Bad(field, "no indices (write e.g. 0-99, 1,3,5-7 or 0-20:2, optionally with %N)");
  int64_t count = 0;
  for (const std::string& part : Split(body, ',')) {
    if (part.empty()) return Bad(field, "an empty item in '" + text + "'");
    std::string range = part;
    int64_t step = 1;
    if (size_t colon = part.find(':'); colon != std::string::npos) {
      CNET_ASSIGN_OR_RETURN(step, Number(part.substr(colon + 1), field, "the step", kMaxArrayIndex));
      if (step < 1) return Bad(field, "the step in '" + part + "' must be at least 1");
      range = part.substr(0, colon);
    }
    int64_t lo, hi;
    if (size_t dash = range.find('-'); dash != std::string::npos) {
      CNET_ASSIGN_OR_RETURN(lo, Number(range.substr(0, dash), field, "index", kMaxArrayIndex));
      CNET_ASSIGN_OR_RETURN(hi, Number(range.substr(dash + 1), field, "index", kMaxArrayIndex));
      if (hi < lo) return Bad(field, "the range '" + range + "' ends before it starts");
    } else {
      if (range.size() != part.size()) return Bad(field, "a step needs a range ('0-20:2'), not '" + part + "'");
      CNET_ASSIGN_OR_RETURN(lo, Number(range, field, "index", kMaxArrayIndex));
      hi = lo;
    }
    count += (hi - lo) / step + 1;  // counted before expanding, so a huge range is refused cheaply
    if (count > max_tasks)
      return Infeasible(field + ": more than " + std::to_string(max_tasks) + " tasks (the service's max_array_size)");
    for (int64_t i = lo; i <= hi; i += step) a.indices.push_back(static_cast<int>(i));
  }
  std::sort(a.indices.begin(), a.indices.end());
  a.indices.erase(std::unique(a.indices.begin(), a.indices.end()), a.indices.end());
  return a;
}

std::string ArraySpec::Canonical() const {
  std::string out;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(indices[i]);
    if (j > i) out += "-" + std::to_string(indices[j]);
    i = j + 1;
  }
  if (max_running > 0) out += "%" + std::to_string(max_running);
  return out;
}

int ArrayLimit(const std::string& canonical) {
  size_t pct = canonical.find('%');
  if (pct == std::string::npos) return 0;
  auto n = ParseInt(canonical.substr(pct + 1));
  return n && *n > 0 && *n <= kMaxArrayIndex ? static_cast<int>(*n) : 0;
}

const char* DepKindName(DepKind k) {
  switch (k) {
    case DepKind::kAfterOk: return "afterok";
    case DepKind::kAfterAny: return "afterany";
    case DepKind::kAfterNotOk: return "afternotok";
  }
  return "?";
}

Result<std::vector<Dependency>> ParseDependencies(const std::string& text, const std::string& field) {
  std::vector<Dependency> deps;
  if (Trim(text).empty()) return deps;
  for (const std::string& item : Split(text, ',')) {
    std::vector<std::string> parts = Split(item, ':');
    DepKind kind;
    if (parts[0] == "afterok") kind = DepKind::kAfterOk;
    else if (parts[0] == "afterany") kind = DepKind::kAfterAny;
    else if (parts[0] == "afternotok") kind = DepKind::kAfterNotOk;
    else return Bad(field, "'" + item + "': the type must be afterok, afterany or afternotok (e.g. afterok:12:13)");
    if (parts.size() < 2) return Bad(field, "'" + item + "': name at least one job id (" + parts[0] + ":ID)");
    for (size_t i = 1; i < parts.size(); ++i) {
      CNET_ASSIGN_OR_RETURN(int64_t id, Number(parts[i], field, "job id", INT64_MAX / 2));
      if (id < 1) return Bad(field, "job id 0 does not exist");
      Dependency d{kind, id};
      if (std::find(deps.begin(), deps.end(), d) == deps.end()) deps.push_back(d);
      if (deps.size() > kMaxDependencies)
        return Bad(field, "more than " + std::to_string(kMaxDependencies) + " dependencies");
    }
  }
  return deps;
}

std::string DependenciesText(const std::vector<Dependency>& deps) {
  std::string out;
  for (DepKind k : {DepKind::kAfterOk, DepKind::kAfterAny, DepKind::kAfterNotOk}) {
    std::string ids;
    for (const auto& d : deps)
      if (d.kind == k) ids += ":" + std::to_string(d.job);
    if (ids.empty()) continue;
    if (!out.empty()) out += ',';
    out += std::string(DepKindName(k)) + ids;
  }
  return out;
}

}  // namespace cnet::api
