// libFuzzer target for the job-spec parser (src/api/job_request.h).
//
// Every input is parsed as JSON and as YAML (the seed corpus holds plain specs, no selector byte),
// with the default limits and, for JSON, with tight limits too. Besides crashes and sanitizer
// reports, a violated invariant aborts, so the fuzzer finds logic bugs as well:
//  - a parsed request round-trips: JobRequestFromJson(ToJson(r)) succeeds and equals r field by
//    field, and ToJson(r).dump() works (every string is valid UTF-8: the service answers in JSON);
//  - its fields are within the limits (workers >= 1, accelerators_per_worker, name, command, ...);
//  - a body with a raw NUL byte never parses (nlohmann stops at one, yaml-cpp decodes UTF-16);
//  - a failure is an InvalidArgument whose message is non-empty, valid UTF-8 and serialisable;
//  - IsValidUtf8 agrees with a byte-table reference (Unicode 15, table 3-7).
// Built by scripts/fuzz.sh (clang, build-fuzz/); see fuzz/CMakeLists.txt.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/job_request.h"

namespace {

using cnet::api::BodyFormat;
using cnet::api::JobRequest;
using cnet::api::Limits;

[[noreturn]] void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "\n*** job_request_fuzz: invariant violated: %s\n", what);
  if (!detail.empty()) {
    std::string d(detail.substr(0, 2000));
    std::fprintf(stderr, "*** detail: %s\n", d.c_str());
  }
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, ...)                        \
  do {                                               \
    if (!(cond)) Fail(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

// Reference UTF-8 validator, written straight from the table of well-formed byte sequences.
bool RefUtf8(std::string_view s) {
  size_t i = 0;
  auto in = [&](size_t k, unsigned lo, unsigned hi) {
    if (i + k >= s.size()) return false;
    unsigned b = static_cast<unsigned char>(s[i + k]);
    return b >= lo && b <= hi;
  };
  while (i < s.size()) {
    unsigned b = static_cast<unsigned char>(s[i]);
    if (b <= 0x7F) { i += 1; continue; }
    if (b >= 0xC2 && b <= 0xDF) { if (!in(1, 0x80, 0xBF)) return false; i += 2; continue; }
    if (b == 0xE0) { if (!in(1, 0xA0, 0xBF) || !in(2, 0x80, 0xBF)) return false; i += 3; continue; }
    if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      if (!in(1, 0x80, 0xBF) || !in(2, 0x80, 0xBF)) return false;
      i += 3; continue;
    }
    if (b == 0xED) { if (!in(1, 0x80, 0x9F) || !in(2, 0x80, 0xBF)) return false; i += 3; continue; }
    if (b == 0xF0) {
      if (!in(1, 0x90, 0xBF) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
      i += 4; continue;
    }
    if (b >= 0xF1 && b <= 0xF3) {
      if (!in(1, 0x80, 0xBF) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
      i += 4; continue;
    }
    if (b == 0xF4) {
      if (!in(1, 0x80, 0x8F) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
      i += 4; continue;
    }
    return false;
  }
  return true;
}

bool Dumps(const nlohmann::json& j) {
  try {
    (void)j.dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// Field by field (JobRequest has no operator==); keep in step with the struct.
void CheckEqual(const JobRequest& a, const JobRequest& b, const std::string& dump) {
  FUZZ_CHECK(a.name == b.name, dump);
  FUZZ_CHECK(a.command == b.command, dump);
  FUZZ_CHECK(a.env == b.env, dump);
  FUZZ_CHECK(a.working_dir == b.working_dir, dump);
  FUZZ_CHECK(a.workers == b.workers, dump);
  FUZZ_CHECK(a.accelerators_per_worker == b.accelerators_per_worker, dump);
  FUZZ_CHECK(a.accelerator_types == b.accelerator_types, dump);
  FUZZ_CHECK(a.cpus_per_worker == b.cpus_per_worker, dump);
  FUZZ_CHECK(a.memory_gib_per_worker == b.memory_gib_per_worker, dump);
  FUZZ_CHECK(a.job_type == b.job_type, dump);
  FUZZ_CHECK(a.estimated_duration_s == b.estimated_duration_s, dump);
  FUZZ_CHECK(a.priority == b.priority, dump);
  FUZZ_CHECK(a.time_limit_s == b.time_limit_s, dump);
  FUZZ_CHECK(a.labels == b.labels, dump);
  FUZZ_CHECK(a.sites == b.sites, dump);
  FUZZ_CHECK(a.max_retries == b.max_retries, dump);
}

void CheckRequest(const JobRequest& r, const Limits& L) {
  FUZZ_CHECK(!r.name.empty());
  FUZZ_CHECK(r.name.size() <= L.max_name);
  FUZZ_CHECK(r.workers >= 1 && r.workers <= L.max_workers);
  FUZZ_CHECK(r.accelerators_per_worker >= 0 && r.accelerators_per_worker <= L.max_accelerators_per_worker);
  FUZZ_CHECK(r.cpus_per_worker >= 0);
  FUZZ_CHECK(r.accelerators_per_worker > 0 || r.cpus_per_worker > 0);
  FUZZ_CHECK(r.accelerators_per_worker > 0 || r.accelerator_types.empty());
  FUZZ_CHECK(!r.command.empty() && !r.command[0].empty());
  FUZZ_CHECK(r.command.size() <= L.max_args);  // both limit sets allow sh -c "<string>"
  FUZZ_CHECK(r.env.size() <= L.max_env);
  FUZZ_CHECK(r.labels.size() <= L.max_labels);
  FUZZ_CHECK(std::isfinite(r.memory_gib_per_worker) && r.memory_gib_per_worker >= 0);
  FUZZ_CHECK(std::isfinite(r.estimated_duration_s) && r.estimated_duration_s >= 0);
  FUZZ_CHECK(std::isfinite(r.priority) && r.priority > 0);
  FUZZ_CHECK(std::isfinite(r.time_limit_s) && r.time_limit_s >= 0 && r.time_limit_s <= L.max_time_limit_s);
  FUZZ_CHECK(r.max_retries >= 0);
  FUZZ_CHECK(r.working_dir.empty() || r.working_dir[0] == '/');

  nlohmann::json j = cnet::api::ToJson(r);
  FUZZ_CHECK(Dumps(j), r.name);  // every string valid UTF-8, so the service can answer with it
  std::string dump = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto back = cnet::api::JobRequestFromJson(j, L);
  if (!back.ok()) Fail("JobRequestFromJson(ToJson(r)) failed", back.status().message() + "\n    " + dump);
  CheckEqual(r, *back, dump);
}

void CheckError(const cnet::Status& st) {
  FUZZ_CHECK(st.code() == cnet::Code::kInvalidArgument, st.ToString());
  FUZZ_CHECK(!st.message().empty());
  FUZZ_CHECK(cnet::api::IsValidUtf8(st.message()), st.message());
  FUZZ_CHECK(Dumps(nlohmann::json{{"error", st.message()}}), st.message());
}

void ParseAndCheck(std::string_view body, BodyFormat format, const Limits& L) {
  auto r = cnet::api::ParseJobRequest(body, format, L);
  if (r.ok()) {
    FUZZ_CHECK(body.find('\0') == std::string_view::npos);  // neither JSON nor YAML allows a raw NUL
    CheckRequest(*r, L);
  } else {
    CheckError(r.status());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  FUZZ_CHECK(cnet::api::IsValidUtf8(body) == RefUtf8(body));

  static const Limits kDefault;
  static const Limits kTight = [] {
    Limits L;
    L.max_body_bytes = 4096;
    L.max_workers = 16;
    L.max_accelerators_per_worker = 4;
    L.max_name = 8;
    L.max_args = 3;  // the least that still holds a string command (sh -c "...")
    L.max_arg_bytes = 64;
    L.max_env = 2;
    L.max_env_value_bytes = 16;
    L.max_labels = 2;
    L.max_time_limit_s = 3600;
    return L;
  }();

  ParseAndCheck(body, BodyFormat::kJson, kDefault);
  ParseAndCheck(body, BodyFormat::kYaml, kDefault);
  ParseAndCheck(body, BodyFormat::kJson, kTight);
  return 0;
}
