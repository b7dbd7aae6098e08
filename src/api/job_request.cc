#include "api/job_request.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "common/csv.h"
#include "common/suggest.h"
#include "common/yaml_strict.h"

namespace cnet::api {

using nlohmann::json;

namespace {

Status FieldError(const std::string& field, const std::string& msg) {
  return InvalidArgument(field + ": " + msg);
}

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "a mapping";
    default: return "something else";
  }
}

bool NameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

Status CheckName(const std::string& field, const std::string& s, size_t max, bool allow_slash = false) {
  if (s.empty()) return FieldError(field, "must not be empty");
  if (s.size() > max) return FieldError(field, "longer than " + std::to_string(max) + " characters");
  for (char c : s)
    if (!NameChar(c) && !(allow_slash && c == '/'))
      return FieldError(field, "may contain only letters, digits, '-', '_' and '.'");
  return Status::Ok();
}

Result<std::string> GetString(const json& v, const std::string& field, size_t max) {
  if (!v.is_string()) return FieldError(field, std::string("expected a string, got ") + TypeName(v));
  std::string s = v.get<std::string>();
  if (s.size() > max) return FieldError(field, "longer than " + std::to_string(max) + " bytes");
  if (s.find('\0') != std::string::npos) return FieldError(field, "contains a NUL byte");
  return s;
}

Result<int64_t> GetInt(const json& v, const std::string& field, int64_t lo, int64_t hi) {
  int64_t x;
  if (v.is_number_integer()) {
    x = v.get<int64_t>();
  } else if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) return FieldError(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    x = static_cast<int64_t>(u);
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) && std::floor(v.get<double>()) == v.get<double>() &&
             std::fabs(v.get<double>()) < 9e15) {
    x = static_cast<int64_t>(v.get<double>());
  } else {
    return FieldError(field, std::string("expected an integer, got ") + TypeName(v));
  }
  if (x < lo || x > hi)
    return FieldError(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " + std::to_string(x));
  return x;
}

Result<double> GetNumber(const json& v, const std::string& field, double lo, double hi, bool lo_open = false) {
  if (!v.is_number()) return FieldError(field, std::string("expected a number, got ") + TypeName(v));
  double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x <= lo)) {
    char b[160];
    std::snprintf(b, sizeof b, "must be %s %g and at most %g", lo_open ? "greater than" : "at least", lo, hi);
    return FieldError(field, b);
  }
  return x;
}

Result<std::map<std::string, std::string>> GetStringMap(const json& v, const std::string& field, size_t max_entries,
                                                        size_t max_key, size_t max_value, bool env_keys) {
  if (!v.is_object()) return FieldError(field, std::string("expected a mapping, got ") + TypeName(v));
  if (v.size() > max_entries) return FieldError(field, "more than " + std::to_string(max_entries) + " entries");
  std::map<std::string, std::string> out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    std::string f = field + "." + k;
    if (env_keys) {
      if (k.empty() || k.size() > max_key || std::isdigit(static_cast<unsigned char>(k[0])))
        return FieldError(f, "not a valid environment variable name");
      for (char c : k)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return FieldError(f, "not a valid environment variable name");
    } else {
      CNET_RETURN_IF_ERROR(CheckName(f, k, max_key, true));
    }
    // No copy of the value: copying a json recurses, and a 1 MiB body nests ~500k deep.
    const json& raw = it.value();
    json scalar;
    if (raw.is_number() || raw.is_boolean()) scalar = raw.dump();  // YAML users write FOO: 1
    CNET_ASSIGN_OR_RETURN(out[k], GetString(scalar.is_null() ? raw : scalar, f, max_value));
  }
  return out;
}

Result<std::vector<std::string>> GetNameList(const json& v, const std::string& field, size_t max_items) {
  std::vector<std::string> out;
  if (v.is_string()) {  // a single name
    CNET_ASSIGN_OR_RETURN(std::string s, GetString(v, field, 128));
    CNET_RETURN_IF_ERROR(CheckName(field, s, 128));  // as for a list: ToJson writes one back
    out.push_back(s);
  } else if (v.is_array()) {
    if (v.size() > max_items) return FieldError(field, "more than " + std::to_string(max_items) + " entries");
    for (size_t i = 0; i < v.size(); ++i) {
      CNET_ASSIGN_OR_RETURN(std::string s, GetString(v[i], field + "[" + std::to_string(i) + "]", 128));
      CNET_RETURN_IF_ERROR(CheckName(field + "[" + std::to_string(i) + "]", s, 128));
      out.push_back(s);
    }
  } else {
    return FieldError(field, std::string("expected a list of names, got ") + TypeName(v));
  }
  return out;
}

// Byte offset -> 1-based line of the body, for JSON syntax errors.
int LineOf(std::string_view body, size_t offset) {
  int line = 1;
  for (size_t i = 0; i < offset && i < body.size(); ++i) line += body[i] == '\n';
  return line;
}

}  // namespace

std::optional<BodyFormat> FormatFromContentType(std::string_view ct) {
  std::string t(ct.substr(0, ct.find(';')));
  t = Trim(t);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t.empty() || t == "application/json") return BodyFormat::kJson;
  if (t == "application/yaml" || t == "application/x-yaml" || t == "text/yaml" || t == "text/x-yaml")
    return BodyFormat::kYaml;
  return std::nullopt;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates, beyond U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

namespace {

// Error messages quote pieces of the body that a parser may have cut inside a character
// (nlohmann's "last read: '<bytes>'", yaml-cpp's "unknown escape character: <byte>"): replace each
// byte that does not start a well-formed sequence with '?', so that a message is valid UTF-8.
std::string ScrubUtf8(const std::string& s) {
  if (IsValidUtf8(s)) return s;
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len != 0 && i + len <= s.size() && IsValidUtf8(std::string_view(s).substr(i, len))) {
      out.append(s, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// `budget`: values still allowed. Aliases share nodes, so a few hundred bytes of anchors
// ("billion laughs") would otherwise expand into billions of values. `path` names `n` as field
// errors do ("env.FOO", "command[2]"); `marks`, when given, gets where each key or item starts.
Result<json> YamlNodeToJson(const YAML::Node& n, int depth, size_t& budget, const std::string& path, YamlMarks* marks) {
  if (depth > 32) return InvalidArgument("line " + std::to_string(n.Mark().line + 1) + ": nested too deeply");
  if (budget == 0) return InvalidArgument("line " + std::to_string(n.Mark().line + 1) + ": too many values (aliases expand too far)");
  --budget;
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      // yaml-cpp can make invalid UTF-8 of a valid body (a NUL byte switches its decoder).
      if (!IsValidUtf8(s)) return InvalidArgument("line " + std::to_string(n.Mark().line + 1) + ": not valid UTF-8");
      if (n.Tag() == "!") return json(s);  // quoted: a string
      if (s == "true" || s == "True" || s == "TRUE") return json(true);
      if (s == "false" || s == "False" || s == "FALSE") return json(false);
      if (s == "~" || s == "null" || s == "Null" || s == "NULL") return json(nullptr);
      char* end = nullptr;
      errno = 0;
      long long i = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return json(static_cast<int64_t>(i));
      if (auto d = ParseDouble(s); d && s.find_first_of("0123456789") != std::string::npos) return json(*d);
      return json(s);
    }
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n) {
        const std::string item = path + "[" + std::to_string(a.size()) + "]";
        if (marks) marks->emplace(item, std::make_pair(e.Mark().line + 1, e.Mark().column + 1));
        CNET_ASSIGN_OR_RETURN(json v, YamlNodeToJson(e, depth + 1, budget, item, marks));
        a.push_back(std::move(v));
      }
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (auto it = n.begin(); it != n.end(); ++it) {
        if (!it->first.IsScalar())
          return InvalidArgument("line " + std::to_string(it->first.Mark().line + 1) + ": a key must be a plain name");
        if (!IsValidUtf8(it->first.Scalar()))
          return InvalidArgument("line " + std::to_string(it->first.Mark().line + 1) + ": not valid UTF-8");
        const std::string key = path.empty() ? it->first.Scalar() : path + "." + it->first.Scalar();
        if (marks) marks->emplace(key, std::make_pair(it->first.Mark().line + 1, it->first.Mark().column + 1));
        CNET_ASSIGN_OR_RETURN(json v, YamlNodeToJson(it->second, depth + 1, budget, key, marks));
        o[it->first.Scalar()] = std::move(v);
      }
      return o;
    }
  }
  return json(nullptr);
}

}  // namespace

Result<json> YamlToJson(std::string_view text, YamlMarks* marks) {
  // yaml-cpp accepts some malformed YAML (an unclosed quote runs on into the next lines).
  if (auto pr = FindYamlProblem(text)) {
    const std::string at = "line " + std::to_string(pr->line) + ", column " + std::to_string(pr->column);
    return FieldError("body", ScrubUtf8(pr->syntax ? "YAML syntax error at " + at + ": " + pr->what : at + ": YAML: " + pr->what));
  }
  try {
    YAML::Node n = YAML::Load(std::string(text));
    size_t budget = 2 * text.size() + 1024;  // without aliases a value takes at least a byte or two
    return YamlNodeToJson(n, 0, budget, "", marks);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("body: YAML syntax error at line " + std::to_string(e.mark.line + 1) + ": " + ScrubUtf8(e.msg));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("body: YAML error: ") + ScrubUtf8(e.what()));
  }
}

Result<JobRequest> JobRequestFromJson(const json& doc, const Limits& L) {
  if (!doc.is_object()) return FieldError("body", std::string("expected a mapping of fields, got ") + TypeName(doc));
  static const std::set<std::string> known = {
      "name", "command", "env", "working_dir", "workers", "min_workers", "max_workers", "accelerators_per_worker", "accelerator_types",
      "cpus_per_worker", "memory_gib_per_worker", "job_type", "estimated_duration_s", "priority",
      "time_limit_s", "labels", "sites", "max_retries", "inputs", "output", "objective", "budget_usd",
      "deadline_s", "array", "dependency"};
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (!known.count(it.key())) {
      std::string k = it.key().size() > 64 ? it.key().substr(0, 64) + "..." : it.key();
      if (!IsValidUtf8(k)) k = "(invalid UTF-8)";
      std::vector<std::string> names(known.begin(), known.end());
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
      return FieldError(k, "unknown field" + DidYouMean(k, names) + "; the fields are " + all);
    }
  JobRequest r;
  auto has = [&](const char* k) { return doc.contains(k) && !doc.at(k).is_null(); };
  if (!has("name")) return FieldError("name", "required");
  CNET_ASSIGN_OR_RETURN(r.name, GetString(doc["name"], "name", L.max_name));
  CNET_RETURN_IF_ERROR(CheckName("name", r.name, L.max_name));
  if (!has("command")) return FieldError("command", "required");
  const json& cmd = doc["command"];
  if (cmd.is_string()) {
    CNET_ASSIGN_OR_RETURN(std::string s, GetString(cmd, "command", L.max_arg_bytes));
    if (Trim(s).empty()) return FieldError("command", "must not be empty");
    r.command = {"/bin/sh", "-c", s};
  } else if (cmd.is_array()) {
    if (cmd.empty()) return FieldError("command", "must not be empty");
    if (cmd.size() > L.max_args) return FieldError("command", "more than " + std::to_string(L.max_args) + " arguments");
    for (size_t i = 0; i < cmd.size(); ++i) {
      CNET_ASSIGN_OR_RETURN(std::string a, GetString(cmd[i], "command[" + std::to_string(i) + "]", L.max_arg_bytes));
      r.command.push_back(std::move(a));
    }
    if (r.command[0].empty()) return FieldError("command[0]", "must not be empty");
  } else {
    return FieldError("command", std::string("expected a list of arguments or a string, got ") + TypeName(cmd));
  }
  if (has("env")) {
    CNET_ASSIGN_OR_RETURN(r.env, GetStringMap(doc["env"], "env", L.max_env, 256, L.max_env_value_bytes, true));
    for (const char* reserved : {"CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES", "CNET_ARRAY_JOB_ID", "CNET_ARRAY_TASK_ID"})
      if (r.env.count(reserved)) return FieldError(std::string("env.") + reserved, "is set by the scheduler");
    for (const auto& [k, v] : r.env)  // where each input is (docs/data.md, "Stage-in")
      if (k.rfind("CNET_INPUT_", 0) == 0) return FieldError("env." + k, "is set by the scheduler (the job's inputs)");
  }
  if (has("working_dir")) {
    CNET_ASSIGN_OR_RETURN(r.working_dir, GetString(doc["working_dir"], "working_dir", 4096));
    if (!r.working_dir.empty() && r.working_dir[0] != '/') return FieldError("working_dir", "must be an absolute path");
  }
  if (has("workers")) { CNET_ASSIGN_OR_RETURN(int64_t v, GetInt(doc["workers"], "workers", 1, L.max_workers)); r.workers = static_cast<int>(v); }
  if (has("min_workers")) {
    CNET_ASSIGN_OR_RETURN(int64_t v, GetInt(doc["min_workers"], "min_workers", 1, r.workers));
    r.min_workers = static_cast<int>(v);
  }
  if (has("max_workers")) {
    CNET_ASSIGN_OR_RETURN(int64_t v, GetInt(doc["max_workers"], "max_workers", r.workers, L.max_workers));
    r.max_workers = static_cast<int>(v);
  }
  if (has("accelerators_per_worker")) {
    CNET_ASSIGN_OR_RETURN(int64_t v, GetInt(doc["accelerators_per_worker"], "accelerators_per_worker", 0, L.max_accelerators_per_worker));
    r.accelerators_per_worker = static_cast<int>(v);
  }
  if (has("accelerator_types")) {
    const json& v = doc["accelerator_types"];
    if (!(v.is_string() && v.get<std::string>() == "any")) {
      CNET_ASSIGN_OR_RETURN(r.accelerator_types, GetNameList(v, "accelerator_types", 32));
    }
  }
  if (has("cpus_per_worker")) { CNET_ASSIGN_OR_RETURN(int64_t v, GetInt(doc["cpus_per_worker"], "cpus_per_worker", 0, 1024)); r.cpus_per_worker = static_cast<int>(v); }
  if (has("memory_gib_per_worker")) { CNET_ASSIGN_OR_RETURN(r.memory_gib_per_worker, GetNumber(doc["memory_gib_per_worker"], "memory_gib_per_worker", 0, 65536)); }
  if (has("job_type")) { CNET_ASSIGN_OR_RETURN(r.job_type, GetString(doc["job_type"], "job_type", 128)); }
  if (has("estimated_duration_s")) { CNET_ASSIGN_OR_RETURN(r.estimated_duration_s, GetNumber(doc["estimated_duration_s"], "estimated_duration_s", 0, 365 * 86400.0)); }
  if (has("priority")) { CNET_ASSIGN_OR_RETURN(r.priority, GetNumber(doc["priority"], "priority", 0, 1000, true)); }
  if (has("time_limit_s")) { CNET_ASSIGN_OR_RETURN(r.time_limit_s, GetNumber(doc["time_limit_s"], "time_limit_s", 0, L.max_time_limit_s)); }
  if (has("labels")) { CNET_ASSIGN_OR_RETURN(r.labels, GetStringMap(doc["labels"], "labels", L.max_labels, 63, 256, false)); }
  if (has("sites")) { CNET_ASSIGN_OR_RETURN(r.sites, GetNameList(doc["sites"], "sites", 64)); }
  if (has("inputs")) { CNET_ASSIGN_OR_RETURN(r.inputs, GetNameList(doc["inputs"], "inputs", 64)); }
  if (has("output")) {
    CNET_ASSIGN_OR_RETURN(r.output, GetString(doc["output"], "output", 128));
    CNET_RETURN_IF_ERROR(CheckName("output", r.output, 128));
  }
  if (has("max_retries")) { CNET_ASSIGN_OR_RETURN(int64_t v, GetInt(doc["max_retries"], "max_retries", 0, 10)); r.max_retries = static_cast<int>(v); }
  if (has("objective")) {
    CNET_ASSIGN_OR_RETURN(r.objective, GetString(doc["objective"], "objective", 16));
    if (!r.objective.empty() && r.objective != "fastest" && r.objective != "cheapest" && r.objective != "budget" &&
        r.objective != "greenest")
      return FieldError("objective", "expected fastest, cheapest, budget or greenest (\"\" = the tenant's default)");
  }
  if (has("budget_usd")) { CNET_ASSIGN_OR_RETURN(r.budget_usd, GetNumber(doc["budget_usd"], "budget_usd", 0, 1e9)); }
  if (has("deadline_s")) { CNET_ASSIGN_OR_RETURN(r.deadline_s, GetNumber(doc["deadline_s"], "deadline_s", 0, 365 * 86400.0)); }
  if (r.objective == "budget" && r.budget_usd <= 0) return FieldError("budget_usd", "required (> 0) with objective budget");
  if (has("array")) {
    const json& v = doc["array"];
    if (!v.is_string() && !v.is_number_integer())
      return FieldError("array", std::string("expected a string such as \"0-99%8\", got ") + TypeName(v));
    const std::string text = v.is_string() ? v.get<std::string>() : std::to_string(v.get<int64_t>());
    if (text.size() > 4096) return FieldError("array", "longer than 4096 bytes");
    if (!Trim(text).empty()) {
      CNET_ASSIGN_OR_RETURN(ArraySpec a, ParseArraySpec(text, "array", L.max_array_size));
      r.array = a.Canonical();
    }
  }
  if (has("dependency")) {
    const json& v = doc["dependency"];
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) {
        CNET_ASSIGN_OR_RETURN(std::string item, GetString(v[i], "dependency[" + std::to_string(i) + "]", 4096));
        text += (text.empty() ? "" : ",") + item;
      }
    } else {
      return FieldError("dependency", std::string("expected a string such as \"afterok:12\" or a list of them, got ") + TypeName(v));
    }
    if (text.size() > 4096) return FieldError("dependency", "longer than 4096 bytes");
    CNET_ASSIGN_OR_RETURN(r.dependency, ParseDependencies(text, "dependency"));
  }
  if (r.accelerators_per_worker == 0 && !r.accelerator_types.empty())
    return FieldError("accelerator_types", "given for a job with accelerators_per_worker 0");
  if (r.accelerators_per_worker == 0 && r.cpus_per_worker == 0)
    return FieldError("cpus_per_worker", "a job without accelerators needs at least one CPU per worker");
  return r;
}

namespace {

// "line L, column C: " before a field error of a YAML body: where the field the message names
// (its text up to ": ", e.g. "env.FOO" or "command[2]") starts, else its nearest enclosing field
// that the body has. Unchanged when none is in the body (a required field left out).
Status WithYamlMark(const YamlMarks& marks, const Status& st) {
  const std::string& m = st.message();
  const size_t colon = m.find(": ");
  if (colon == std::string::npos) return st;
  std::string field = m.substr(0, colon);
  while (!field.empty() && field != "body") {
    if (auto it = marks.find(field); it != marks.end())
      return Status(st.code(), "line " + std::to_string(it->second.first) + ", column " + std::to_string(it->second.second) +
                                   ": " + m);
    const size_t up = field.find_last_of(".[");
    if (up == std::string::npos) break;
    field.resize(up);
  }
  return st;
}

}  // namespace

Result<JobRequest> ParseJobRequest(std::string_view body, BodyFormat format, const Limits& L) {
  if (body.size() > L.max_body_bytes)
    return FieldError("body", "larger than " + std::to_string(L.max_body_bytes) + " bytes");
  if (!IsValidUtf8(body)) return FieldError("body", "not valid UTF-8");
  // Neither JSON nor YAML allows a raw NUL; nlohmann stops at one (accepting "{...}\0garbage") and
  // yaml-cpp takes one for UTF-16/32.
  if (body.find('\0') != std::string_view::npos) return FieldError("body", "contains a NUL byte");
  json doc;
  if (format == BodyFormat::kJson) {
    try {
      doc = json::parse(body.begin(), body.end());
    } catch (const json::parse_error& e) {
      std::string what = e.what();
      size_t p = what.find("parse error");
      return FieldError("body", "JSON syntax error at line " + std::to_string(LineOf(body, e.byte)) + ": " +
                                    ScrubUtf8(p == std::string::npos ? what : what.substr(p)));
    } catch (const json::exception& e) {  // out_of_range.406: a number beyond double ("1e999")
      std::string what = e.what();
      size_t p = what.find("] ");
      return FieldError("body", "JSON " + ScrubUtf8(p == std::string::npos ? what : what.substr(p + 2)));
    }
  } else {
    CNET_ASSIGN_OR_RETURN(doc, YamlToJson(body, nullptr));
    auto r = JobRequestFromJson(doc, L);
    if (r.ok()) return r;
    YamlMarks marks;  // only for an error: where its field is (the body parsed once already)
    if (!YamlToJson(body, &marks).ok()) return r.status();
    return WithYamlMark(marks, r.status());
  }
  return JobRequestFromJson(doc, L);
}

json ToJson(const JobRequest& r) {
  json j{{"name", r.name},
              {"command", r.command},
              {"env", r.env},
              {"working_dir", r.working_dir},
              {"workers", r.workers},
              {"accelerators_per_worker", r.accelerators_per_worker},
              {"accelerator_types", r.accelerator_types},
              {"cpus_per_worker", r.cpus_per_worker},
              {"memory_gib_per_worker", r.memory_gib_per_worker},
              {"job_type", r.job_type},
              {"estimated_duration_s", r.estimated_duration_s},
              {"priority", r.priority},
              {"time_limit_s", r.time_limit_s},
              {"labels", r.labels},
              {"sites", r.sites},
              {"max_retries", r.max_retries},
              {"objective", r.objective},
              {"budget_usd", r.budget_usd},
              {"deadline_s", r.deadline_s},
              {"array", r.array},
              {"dependency", DependenciesText(r.dependency)}};
  if (r.min_workers > 0) j["min_workers"] = r.min_workers;  // absent when unused, as inputs
  if (r.max_workers > 0) j["max_workers"] = r.max_workers;
  if (!r.inputs.empty()) j["inputs"] = r.inputs;  // absent when unused: older specs read the same
  if (!r.output.empty()) j["output"] = r.output;
  return j;
}

}  // namespace cnet::api
