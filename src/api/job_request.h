// The job spec users submit (JSON or YAML), parsed and validated without touching any site:
// every problem is an InvalidArgument naming the field ("workers: must be between 1 and 4096").
// Site-dependent checks (known accelerator types, a site that can hold the gang) happen at
// admission in the service. Pure functions; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/array_deps.h"
#include "common/status.h"

namespace cnet::api {

struct Limits {
  size_t max_body_bytes = 1 << 20;   // 1 MiB
  int max_workers = 4096;
  int max_accelerators_per_worker = 64;
  size_t max_name = 128;
  size_t max_args = 256;
  size_t max_arg_bytes = 4096;
  size_t max_env = 256;
  size_t max_env_value_bytes = 65536;
  size_t max_labels = 64;
  double max_time_limit_s = 30 * 86400.0;
  int max_array_size = 10000;        // tasks of one job array (config: max_array_size)
};

struct JobRequest {
  std::string name;
  std::vector<std::string> command;          // argv; a string command becomes sh -c "<string>"
  std::map<std::string, std::string> env;
  std::string working_dir;
  int workers = 1;                           // gang size: processes that start together or not at all
  // Elastic jobs (docs/elastic.md): sizes elastic-hetero may run the gang at, around `workers`;
  // 0 = that bound is `workers`. Needs a job_type (the rate of each size). Other policies run `workers`.
  int min_workers = 0;
  int max_workers = 0;
  int accelerators_per_worker = 1;           // 0: CPU-only job
  std::vector<std::string> accelerator_types;  // acceptable types; empty: any
  int cpus_per_worker = 1;
  double memory_gib_per_worker = 1;
  std::string job_type;                      // a row of the throughput matrix, or ""
  double estimated_duration_s = 0;           // 0: unknown
  double priority = 1;
  double time_limit_s = 0;                   // 0: none
  std::map<std::string, std::string> labels;
  std::vector<std::string> sites;            // allowed sites (data residency); empty: any
  std::vector<std::string> inputs;           // datasets the job reads (docs/data.md); their policies bind it
  std::string output;                        // dataset it writes, registered at submit; "" = none
  int max_retries = 0;                       // requeues after a failure of the machine/service
  // What the placement optimises (docs/dispatch.md): "fastest", "cheapest", "budget"; "" = the
  // tenant's default (fastest unless configured).
  std::string objective;
  double budget_usd = 0;                     // objective budget: the most the job may cost
  double deadline_s = 0;                     // seconds after submit by which it should finish; 0 = none
  std::string array;                         // job array, canonical (api/array_deps.h); "" = not an array
  std::vector<Dependency> dependency;        // jobs (or arrays) this job waits for; empty = none

  int TotalAccelerators() const { return workers * accelerators_per_worker; }
};

enum class BodyFormat { kJson, kYaml };
// From a Content-Type header: application/json (default), application/yaml, application/x-yaml,
// text/yaml. Nullopt for anything else.
std::optional<BodyFormat> FormatFromContentType(std::string_view content_type);

// Parses and validates a body. Unknown fields, wrong types, out-of-range numbers, invalid UTF-8,
// oversize bodies or strings: InvalidArgument naming the field.
Result<JobRequest> ParseJobRequest(std::string_view body, BodyFormat format, const Limits& limits = {});
// Validates an already-parsed JSON document (the common path of JSON and YAML).
Result<JobRequest> JobRequestFromJson(const nlohmann::json& doc, const Limits& limits = {});
// Normalised JSON (every field present); JobRequestFromJson(ToJson(r)) == r.
nlohmann::json ToJson(const JobRequest& r);

bool IsValidUtf8(std::string_view s);
// Where each field of a YAML document starts, by the path field errors use ("workers",
// "env.FOO", "command[2]"): 1-based line and column.
using YamlMarks = std::map<std::string, std::pair<int, int>>;
// A YAML document as JSON: plain scalars become numbers/bools/null where they read as such,
// quoted scalars stay strings. Errors name the line. `marks`, when given, gets every field's place.
Result<nlohmann::json> YamlToJson(std::string_view text, YamlMarks* marks = nullptr);

}  // namespace cnet::api
