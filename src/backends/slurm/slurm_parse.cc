// slurmrestd JSON parsing. See slurm_parse.h (and the response shapes at the top of slurm_client.cc).
#include "backends/slurm/slurm_parse.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>

#include "backends/slurm/hostlist.h"
#include "common/strings.h"

namespace cnet::backends::slurm {

using json = nlohmann::json;

std::string JsonStr(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return "";
  return it->get<std::string>();
}
int64_t JsonInt(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return 0;
  if (it->is_number_integer() || it->is_number_unsigned()) return it->get<int64_t>();
  if (it->is_number_float()) return static_cast<int64_t>(it->get<double>());
  if (it->is_string() && AllDigits(it->get<std::string>())) return std::stoll(it->get<std::string>());
  return 0;
}
std::vector<std::string> JsonStrList(const json& o, const char* key) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// "gpu:h100:8(S:0-1),gpu:a100:2,shard:4" -> {"gpu:h100": 8, "gpu:a100": 2, "shard": 4}.
std::map<std::string, int> ParseGres(const std::string& s) {
  std::map<std::string, int> out;
  std::string t = Trim(s);
  if (t.empty() || t == "(null)" || t == "N/A") return out;
  for (std::string item : SplitTopLevel(t, ',')) {
    item = Trim(item);
    if (size_t p = item.find('('); p != std::string::npos) item.resize(p);  // "(S:0-1)", "(IDX:0-7)"
    if (item.empty()) continue;
    std::string name = item;
    int64_t count = 1;
    if (size_t c = item.rfind(':'); c != std::string::npos) {
      std::string num = item.substr(c + 1);
      int64_t mult = 1;
      if (!num.empty()) {
        switch (std::toupper(static_cast<unsigned char>(num.back()))) {
          case 'K': mult = 1024; break;
          case 'M': mult = 1024 * 1024; break;
          case 'G': mult = 1024LL * 1024 * 1024; break;
        }
        if (mult != 1) num.pop_back();
      }
      if (AllDigits(num) && num.size() < 12) {
        name = item.substr(0, c);
        count = std::stoll(num) * mult;
      }
    }
    if (name.empty()) continue;
    out[name] += static_cast<int>(std::min<int64_t>(count, 1 << 30));
  }
  return out;
}

// The batch script's exit code from v0.0.38's exit_code (a raw wait status in 22.05; an object
// {"status", "return_code", "signal"} in later API versions).
int ExitCode(const json& job) {
  auto it = job.find("exit_code");
  if (it == job.end() || it->is_null()) return 0;
  if (it->is_object()) {
    const json& sig = it->contains("signal") ? (*it)["signal"] : json();
    if (sig.is_object()) {
      int64_t id = JsonInt(sig, "signal_id");
      if (id > 0 && id < 128) return 128 + static_cast<int>(id);
    }
    return static_cast<int>(JsonInt(*it, "return_code"));
  }
  if (!it->is_number()) return 0;
  int64_t w = it->get<int64_t>();
  if (w < 0) return static_cast<int>(w);
  if ((w & 0x7f) == 0) return static_cast<int>((w >> 8) & 0xff);  // WIFEXITED
  return 128 + static_cast<int>(w & 0x7f);                         // WIFSIGNALED
}

// Expands the filename patterns Slurm applies to standard_output/standard_error paths (the API
// reports them unexpanded): %j %J %A %a %x %u %N %%. Others are left as they are.
std::string ExpandOutputPath(const std::string& path, const json& job) {
  if (path.find('%') == std::string::npos) return path;
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%' || i + 1 >= path.size()) {
      out += path[i];
      continue;
    }
    // Optional zero-padding width, e.g. %4j.
    size_t k = i + 1;
    int width = 0;
    while (k < path.size() && std::isdigit(static_cast<unsigned char>(path[k])) && width < 10)
      width = width * 10 + (path[k++] - '0');
    if (k >= path.size()) {
      out += path.substr(i);
      break;
    }
    auto pad = [&](int64_t v) {
      std::string s = std::to_string(v);
      if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), '0');
      return s;
    };
    switch (path[k]) {
      case 'j': case 'J': out += pad(JsonInt(job, "job_id")); break;
      case 'A': out += pad(JsonInt(job, "array_job_id") ? JsonInt(job, "array_job_id") : JsonInt(job, "job_id")); break;
      case 'a': out += pad(JsonInt(job, "array_task_id")); break;
      case 'x': out += JsonStr(job, "name"); break;
      case 'u': out += JsonStr(job, "user_name"); break;
      case 'N': out += JsonStr(job, "batch_host"); break;
      case '%': out += '%'; break;
      default: out += path.substr(i, k - i + 1); break;
    }
    i = k;
  }
  return out;
}

SlurmNode ParseNode(const json& n) {
  SlurmNode node;
  node.name = JsonStr(n, "name");
  // Base state: lower case in 22.05 ("idle", "down"); tolerate sinfo-style suffixes ("down*").
  std::string base = Trim(JsonStr(n, "state"));
  bool not_responding = false;
  while (!base.empty() && std::strchr("*~#!%$@^-+", base.back())) {
    if (base.back() == '*') not_responding = true;
    base.pop_back();
  }
  auto add = [&node](const std::string& s) {
    if (!s.empty() && std::find(node.state.begin(), node.state.end(), s) == node.state.end())
      node.state.push_back(s);
  };
  add(ToUpper(base));
  for (const auto& f : JsonStrList(n, "state_flags")) add(ToUpper(f));
  if (not_responding) add("NOT_RESPONDING");
  node.cpus = static_cast<int>(JsonInt(n, "cpus"));
  node.real_memory_mb = JsonInt(n, "real_memory");
  node.gres = ParseGres(JsonStr(n, "gres"));
  node.partitions = JsonStrList(n, "partitions");
  node.reason = JsonStr(n, "reason");
  return node;
}

SlurmPartition ParsePartition(const json& p) {
  SlurmPartition part;
  part.name = JsonStr(p, "name");
  part.nodes = ExpandHostList(JsonStr(p, "nodes"));
  part.state = ToUpper(JsonStr(p, "state"));
  return part;
}

SlurmJob ParseJob(const json& j) {
  SlurmJob job;
  job.job_id = JsonInt(j, "job_id");
  job.name = JsonStr(j, "name");
  job.state = ToUpper(JsonStr(j, "job_state"));
  job.reason = JsonStr(j, "state_reason");
  job.exit_code = ExitCode(j);
  job.nodes = ExpandHostList(JsonStr(j, "nodes"));
  job.cluster = JsonStr(j, "cluster");
  job.submit_time = static_cast<double>(JsonInt(j, "submit_time"));
  job.start_time = static_cast<double>(JsonInt(j, "start_time"));
  job.end_time = static_cast<double>(JsonInt(j, "end_time"));
  std::string out = JsonStr(j, "standard_output"), err = JsonStr(j, "standard_error");
  if (out.empty() && j.contains("batch_flag") && j["batch_flag"].is_boolean() &&
      j["batch_flag"].get<bool>()) {
    std::string cwd = JsonStr(j, "current_working_directory");  // Slurm's default: <cwd>/slurm-%j.out
    if (!cwd.empty()) out = cwd + (cwd.back() == '/' ? "" : "/") + "slurm-%j.out";
  }
  if (err.empty()) err = out;  // Slurm sends stderr to the stdout file unless told otherwise
  job.stdout_path = ExpandOutputPath(out, j);
  job.stderr_path = ExpandOutputPath(err, j);
  return job;
}

std::vector<SlurmError> Errors(const json& body) {
  std::vector<SlurmError> out;
  auto it = body.find("errors");
  if (it == body.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    SlurmError se;
    for (const char* k : {"error_code", "error_number", "errno"}) {
      if (e.contains(k) && e[k].is_number()) {
        se.number = e[k].get<int64_t>();
        se.has_number = true;
        break;
      }
    }
    std::string err = JsonStr(e, "error"), desc = JsonStr(e, "description"), src = JsonStr(e, "source");
    se.text = err;
    if (!desc.empty() && desc != err) se.text += (se.text.empty() ? "" : ": ") + desc;
    if (se.has_number || !src.empty()) {
      se.text += " (";
      if (se.has_number) se.text += "error " + std::to_string(se.number);
      if (!src.empty()) se.text += std::string(se.has_number ? ", " : "") + src;
      se.text += ")";
    }
    out.push_back(std::move(se));
  }
  return out;
}

std::string JoinErrors(const std::vector<SlurmError>& errs) {
  std::string s;
  for (const auto& e : errs) s += (s.empty() ? "" : "; ") + e.text;
  return s;
}

bool CommunicationError(int64_t n) {
  switch (n) {
    case EPIPE: case ECONNRESET: case ECONNREFUSED: case ECONNABORTED: case ETIMEDOUT:
    case EHOSTUNREACH: case ENETUNREACH: case ENETDOWN: case EHOSTDOWN: case EAGAIN:
      return true;
    default:
      return n == -1 || (n >= 1000 && n < 2000) || (n >= 5000 && n < 6000);
  }
}

bool SlurmNode::Usable() const {
  static const std::set<std::string> kBad = {
      "DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "FUTURE", "NOT_RESPONDING",
      "MAINT", "INVAL",  // INVAL: the node's configuration is invalid (e.g. GRES count mismatch)
  };
  for (const auto& s : state)
    if (kBad.count(s)) return false;
  return true;
}

bool SlurmJob::Terminal() const {
  static const std::set<std::string> kTerminal = {
      "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
      "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "REVOKED", "SPECIAL_EXIT",
  };
  return kTerminal.count(state) > 0;
}

}  // namespace cnet::backends::slurm
