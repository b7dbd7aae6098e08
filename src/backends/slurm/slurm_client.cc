// slurmrestd client (OpenAPI v0.0.38, Slurm 22.05.8 as in Debian 12). See slurm_client.h.
//
// Response shapes, as captured from a real slurmrestd 22.05.8 (`-s openapi/v0.0.38`,
// `-a rest_auth/jwt`, SLURM_JWT=daemon). Every response is an object with "meta" and "errors":
//   errors[]: {"error_code": 2014, "error": "Requested node configuration is not available"}  (submit)
//             {"error_number": 2017, "error": "Invalid job id specified",
//              "description": "Unable to find JobId=999", "source": "slurm_load_job"}       (job get/delete)
//             {"errno": -1, "error": "Unspecified error"}                                    (nodes/partitions)
//             {"description": "Unknown key \"gres_per_node\"", "source": "hsearch_r"}       (parse, no code)
//     The number's key differs by endpoint, so all three are read.
//   GET /ping       -> pings[]: {hostname, ping: "UP", status: 0, mode: "primary"}
//   GET /nodes      -> nodes[]: {name, state: "idle" (lower case base state: idle, mixed, allocated,
//                      down, ...), state_flags: ["DRAIN"] / ["NOT_RESPONDING"] (upper case),
//                      cpus: 16, real_memory: 65536, gres: "gpu:h100:8" (may carry a socket suffix
//                      "gpu:h100:8(S:0-1)"), gres_used: "gpu:h100:0(IDX:N/A)", partitions: ["debug"],
//                      reason: "" / "Not responding", ...}
//   GET /partitions -> partitions[]: {name, nodes: "node[1-4]" (host list), state: "UP", ...}
//   GET /jobs, GET /job/{id} -> jobs[]: {job_id, name, job_state: "COMPLETED", state_reason: "None" /
//                      "NonZeroExitCode" / "BadConstraints" / "JobHeldUser", exit_code: 768 (the raw
//                      wait(2) status: 3<<8 for `exit 3`, 15 for SIGTERM), nodes: "node[1-2]" ("" while
//                      pending), submit_time/start_time/end_time: unix seconds (ints),
//                      standard_output: the path as submitted, "%j" NOT expanded, "" when not given
//                      (Slurm then writes <cwd>/slurm-%j.out), standard_error: "" when not given
//                      (stderr then goes to standard_output), batch_host, user_name,
//                      current_working_directory, tres_per_node: "gres:gpu:h100:8", ...}
//     GET /job/{unknown} -> HTTP 500, error_number 2017.
//   POST /job/submit -> {job_id: 2, step_id: "BATCH", job_submit_user_msg: "", errors: []}; a held
//                      job also gets errors [{error_code: 2042, "Job is in held state, pending
//                      scheduler release"}] with its job_id. A job Slurm cannot place (gres
//                      gpu:h100:9 on 8-GPU nodes) -> HTTP 500, error_code 2014, no job_id (the
//                      rejected job is still recorded: it lists as FAILED/BadConstraints).
//                      An unknown key in "job" -> HTTP 400, 9001 "Failure during parsing".
//   DELETE /job/{id} -> {errors: []} (also for a job that already ended); unknown -> HTTP 500, 2017.
// Submit body fields accepted by v0.0.38 (from /openapi/v3 and tried): "gres" (per node, like sbatch
// --gres; "gres_per_node" and "tres_per_node" are rejected as unknown keys), "environment" is an
// object of strings and required (2127 "environment must be set"), "nodes" an integer.
// Authentication: a request without a token gets HTTP 401 "Authentication failure" (text/plain).
// With SLURM_JWT=daemon slurmrestd passes the token on to slurmctld, so a token signed with the
// wrong key (or expired) is refused by slurmctld, and slurmrestd answers HTTP 500 with
// errno/error_number -1 "Unspecified error" or 5005 "Zero Bytes were transmitted or received":
// exactly what a slurmctld that is down produces as well.
#include "backends/slurm/slurm_client.h"

#include <httplib.h>
#include <openssl/x509.h>
#include <jwt.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "backends/slurm/slurm_parse.h"
#include "common/strings.h"

namespace cnet::backends::slurm {
namespace {

using json = nlohmann::json;
constexpr const char* kApi = "/slurm/v0.0.38";

std::string Excerpt(const std::string& body) {
  std::string s = Trim(body);
  if (s.size() > 300) s = s.substr(0, 300) + "...";
  return s;
}

std::string ErrnoText(int e) { return std::strerror(e); }

std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

// --- the client ---

struct SlurmClient::Impl {
  SlurmConfig cfg;
  std::mutex mu;
  Status bad_config;            // non-ok: every call fails with it
  std::string scheme, host;
  int port = 80;
  std::string prefix;           // path before /slurm/... ("" normally)
  std::unique_ptr<httplib::Client> http;
  bool conn_reused = false;     // the last request left a keep-alive connection open
  std::string token;
  std::chrono::steady_clock::time_point renew_at{};

  explicit Impl(SlurmConfig c) : cfg(std::move(c)) {
    // url: http[s]://host[:port][/prefix]
    std::string u = Trim(cfg.url);
    size_t sep = u.find("://");
    scheme = sep == std::string::npos ? "" : ToLower(u.substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      bad_config = InvalidArgument("slurm url '" + cfg.url + "': expected http://host:port");
      return;
    }
    port = scheme == "https" ? 443 : 80;
    u = u.substr(sep + 3);
    size_t slash = u.find('/');
    std::string hostport = u.substr(0, slash);
    prefix = slash == std::string::npos ? "" : u.substr(slash);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    size_t colon = hostport.rfind(':');
    if (!hostport.empty() && hostport.front() == '[') {  // [::1]:6820
      size_t rb = hostport.find(']');
      host = hostport.substr(1, rb == std::string::npos ? std::string::npos : rb - 1);
      colon = rb == std::string::npos ? std::string::npos : hostport.find(':', rb);
    } else {
      host = hostport.substr(0, colon);
    }
    if (colon != std::string::npos) {
      std::string p = hostport.substr(colon + 1);
      if (!AllDigits(p) || p.size() > 5 || std::stoi(p) > 65535) {
        bad_config = InvalidArgument("slurm url '" + cfg.url + "': bad port '" + p + "'");
        return;
      }
      port = std::stoi(p);
    }
    if (host.empty()) {
      bad_config = InvalidArgument("slurm url '" + cfg.url + "': no host");
      return;
    }
    if (!(cfg.timeout_s > 0)) cfg.timeout_s = 5;
    if (!(cfg.token_lifetime_s >= 1)) cfg.token_lifetime_s = 1;
    const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    http = std::make_unique<httplib::Client>(scheme + "://" + h + ":" + std::to_string(port));
    if (!http->is_valid()) {
      bad_config = InvalidArgument("slurm url '" + cfg.url + "': not usable (https needs TLS support)");
      return;
    }
    time_t sec = static_cast<time_t>(cfg.timeout_s);
    time_t usec = static_cast<time_t>((cfg.timeout_s - static_cast<double>(sec)) * 1e6);
    http->set_connection_timeout(sec, usec);
    http->set_read_timeout(sec, usec);
    http->set_write_timeout(sec, usec);
    http->set_keep_alive(true);
    if (scheme == "https") {
      http->enable_server_certificate_verification(true);
      if (!cfg.ca_file.empty()) http->set_ca_cert_path(cfg.ca_file);
    }
    // httplib writes a request's headers and body separately: without TCP_NODELAY the body waits
    // for the delayed ACK (about 40 ms a request on Linux).
    http->set_tcp_nodelay(true);
  }

  // A TLS failure in words: slurmrestd's certificate not verified (and why), or the CA file.
  std::string TlsFailure(httplib::Error err) const {
    const std::string against = cfg.ca_file.empty() ? "the system's CA certificates (set ca_file)" : "ca_file '" + cfg.ca_file + "'";
    if (err == httplib::Error::SSLLoadingCerts) return "TLS: cannot load " + against;
    if (err == httplib::Error::SSLConnection) return "TLS: the handshake failed (is slurmrestd serving https?)";
    const long v = http->get_openssl_verify_result();
    return "TLS: slurmrestd's certificate failed verification against " + against + ": " +
           (v != X509_V_OK ? X509_verify_cert_error_string(v) : "it does not name this host");
  }

  std::string Endpoint(const std::string& method, const std::string& path) const {
    return "slurmrestd " + method + " " + scheme + "://" + host + ":" + std::to_string(port) + prefix + path;
  }

  // HS256 token with sun/iat/exp, from the key file's raw bytes.
  Result<std::string> Mint() {
    std::ifstream in(cfg.jwt_key_file, std::ios::binary);
    if (!in)
      return FailedPrecondition("slurm: cannot read JWT key file " + cfg.jwt_key_file + ": " +
                                ErrnoText(errno));
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (key.empty()) return FailedPrecondition("slurm: JWT key file " + cfg.jwt_key_file + " is empty");
    jwt_t* jwt = nullptr;
    if (jwt_new(&jwt) != 0) return Internal("slurm: jwt_new failed");
    std::unique_ptr<jwt_t, void (*)(jwt_t*)> guard(jwt, jwt_free);
    const long now = static_cast<long>(std::time(nullptr));
    const long life = static_cast<long>(std::ceil(cfg.token_lifetime_s));
    int rc = jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(key.data()),
                         static_cast<int>(key.size()));
    if (rc == 0) rc = jwt_add_grant(jwt, "sun", cfg.user.c_str());
    if (rc == 0) rc = jwt_add_grant_int(jwt, "iat", now);
    if (rc == 0) rc = jwt_add_grant_int(jwt, "exp", now + life);
    if (rc != 0) return Internal("slurm: building the JWT failed: " + ErrnoText(rc));
    char* s = jwt_encode_str(jwt);
    if (s == nullptr) return Internal("slurm: encoding the JWT failed");
    std::string tok(s);
    std::free(s);
    return tok;
  }

  Result<std::string> CurrentToken() {
    if (!bad_config.ok()) return bad_config;
    if (cfg.jwt_key_file.empty()) {
      if (cfg.token.empty())
        return FailedPrecondition("slurm: no authentication configured (set jwt_key_file or token)");
      return cfg.token;
    }
    auto now = std::chrono::steady_clock::now();
    if (token.empty() || now >= renew_at) {
      CNET_ASSIGN_OR_RETURN(std::string t, Mint());
      token = std::move(t);
      renew_at = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(0.8 * cfg.token_lifetime_s));
    }
    return token;
  }

  struct Response {
    int status = 0;
    json body;  // null when the body was not JSON
    std::string raw;
  };

  // One HTTP exchange. Transport failures are kUnavailable; the HTTP status is left to the caller.
  Result<Response> Do(const std::string& method, const std::string& path, const std::string& body) {
    CNET_ASSIGN_OR_RETURN(std::string tok, CurrentToken());
    httplib::Headers headers = {{"X-SLURM-USER-NAME", cfg.user},
                                {"X-SLURM-USER-TOKEN", tok},
                                {"Accept", "application/json"}};
    const std::string full = prefix + path;
    // GET and DELETE are idempotent: retried once when a kept-alive connection turns out to have
    // been closed by slurmrestd. A POST is not (the job might have been submitted).
    const bool idempotent = method != "POST";
    for (int attempt = 0;; ++attempt) {
      const bool reused = conn_reused;
      const auto t0 = std::chrono::steady_clock::now();
      httplib::Result r = method == "GET"    ? http->Get(full.c_str(), headers)
                          : method == "POST" ? http->Post(full.c_str(), headers, body, "application/json")
                                             : http->Delete(full.c_str(), headers);
      if (!r) {
        httplib::Error err = r.error();
        http->stop();
        conn_reused = false;
        const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        // A stale connection fails at once; a slow slurmrestd is not asked twice.
        if (reused && idempotent && attempt == 0 && took < 0.5 * cfg.timeout_s &&
            (err == httplib::Error::Read || err == httplib::Error::Write || err == httplib::Error::Unknown))
          continue;
        std::string what = httplib::to_string(err);
        if (err == httplib::Error::Connection) what = "cannot connect";
        if (err == httplib::Error::SSLServerVerification || err == httplib::Error::SSLLoadingCerts ||
            err == httplib::Error::SSLConnection)
          return Status(Code::kUnavailable, Endpoint(method, path) + ": " + TlsFailure(err));
        if (took >= 0.9 * cfg.timeout_s)
          what += " (no answer within the " + FormatSeconds(cfg.timeout_s) + " s timeout)";
        else if (err == httplib::Error::Read)
          what += " (connection closed by slurmrestd)";
        if (method == "POST" && err == httplib::Error::Read)
          what += "; the job may or may not have been submitted";
        return Status(Code::kUnavailable, Endpoint(method, path) + ": " + what);
      }
      // slurmrestd answers errors with "Connection: Close"; drop our end too, so the next call
      // does not write into a closed connection.
      if (ToLower(r->get_header_value("Connection")) == "close") {
        http->stop();
        conn_reused = false;
      } else {
        conn_reused = true;
      }
      Response resp;
      resp.status = r->status;
      resp.raw = r->body;
      resp.body = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
      if (resp.body.is_discarded()) resp.body = json();
      return resp;
    }
  }

  // Turns a non-success response into a Status naming the endpoint and Slurm's errors.
  Status Fail(const std::string& method, const std::string& path, const Response& r, bool submit) {
    const std::string ep = Endpoint(method, path);
    if (r.status == 401 || r.status == 403)
      return FailedPrecondition(ep + ": HTTP " + std::to_string(r.status) + " " + Excerpt(r.raw) +
                                ": authentication failed (X-SLURM-USER-NAME '" + cfg.user +
                                "' / X-SLURM-USER-TOKEN not accepted)");
    std::vector<SlurmError> errs = Errors(r.body);
    std::string msg = ep + ": HTTP " + std::to_string(r.status);
    if (!errs.empty()) {
      msg += ": " + JoinErrors(errs);
    } else if (!r.body.is_object()) {
      msg += ": unexpected response: " + Excerpt(r.raw);
    }
    bool not_found = false, comm = false, parse = false, numbered = false;
    for (const auto& e : errs) {
      if (!e.has_number) continue;
      numbered = true;
      if (e.number == 2017) not_found = true;  // ESLURM_INVALID_JOB_ID
      else if (CommunicationError(e.number)) comm = true;
      else if (e.number >= 9000 && e.number < 10000) parse = true;
    }
    if (not_found) return NotFound(msg);
    if (r.status == 400 || parse) return InvalidArgument(msg);
    if (comm) {
      // With SLURM_JWT=daemon, slurmctld checks the token; one it refuses looks exactly like this.
      return Status(Code::kUnavailable,
                    msg + " (slurmctld refused the request or is down: a token that fails "
                          "authentication, e.g. signed with the wrong JWT key or expired, gives this)");
    }
    if (submit && numbered) return InvalidArgument(msg);  // Slurm rejected the job description
    if (r.status >= 500 && errs.empty()) return Status(Code::kUnavailable, msg);
    if (!r.body.is_object() || (r.status >= 200 && r.status < 300 && errs.empty()))
      return Internal(msg + (r.body.is_object() ? ": unexpected response: " + Excerpt(r.raw) : ""));
    return FailedPrecondition(msg);
  }

  // GET/DELETE returning the body when the request succeeded (HTTP 200, no errors).
  Result<json> Call(const std::string& method, const std::string& path, const char* want_key) {
    if (!bad_config.ok()) return bad_config;
    CNET_ASSIGN_OR_RETURN(Response r, Do(method, path, ""));
    bool ok = r.status == 200 && r.body.is_object() && Errors(r.body).empty();
    if (ok && want_key && !(r.body.contains(want_key) && r.body[want_key].is_array()))
      return Internal(Endpoint(method, path) + ": response has no '" + want_key +
                      "' array: " + Excerpt(r.raw));
    if (!ok) return Fail(method, path, r, false);
    return std::move(r.body);
  }
};

SlurmClient::SlurmClient(SlurmConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
SlurmClient::~SlurmClient() = default;

Status SlurmClient::Ping() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::string path = std::string(kApi) + "/ping";
  CNET_ASSIGN_OR_RETURN(json body, impl_->Call("GET", path, "pings"));
  for (const auto& p : body["pings"]) {
    std::string state = ToUpper(JsonStr(p, "ping"));
    if (state != "UP")
      return Status(Code::kUnavailable, impl_->Endpoint("GET", path) + ": slurmctld " +
                                            JsonStr(p, "hostname") + " is " + JsonStr(p, "ping"));
  }
  return Status::Ok();
}

Result<std::vector<SlurmNode>> SlurmClient::Nodes() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  CNET_ASSIGN_OR_RETURN(json body, impl_->Call("GET", std::string(kApi) + "/nodes", "nodes"));
  std::vector<SlurmNode> out;
  for (const auto& n : body["nodes"])
    if (n.is_object()) out.push_back(ParseNode(n));
  return out;
}

Result<std::vector<SlurmPartition>> SlurmClient::Partitions() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  CNET_ASSIGN_OR_RETURN(json body, impl_->Call("GET", std::string(kApi) + "/partitions", "partitions"));
  std::vector<SlurmPartition> out;
  for (const auto& p : body["partitions"])
    if (p.is_object()) out.push_back(ParsePartition(p));
  return out;
}

Result<int64_t> SlurmClient::Submit(const SlurmJobSpec& spec) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->bad_config.ok()) return impl_->bad_config;
  if (spec.nodes < 1) return InvalidArgument("slurm job '" + spec.name + "': nodes must be >= 1");
  if (spec.tasks_per_node < 1)
    return InvalidArgument("slurm job '" + spec.name + "': tasks_per_node must be >= 1");
  if (spec.cpus_per_task < 1)
    return InvalidArgument("slurm job '" + spec.name + "': cpus_per_task must be >= 1");
  if (spec.script.empty()) return InvalidArgument("slurm job '" + spec.name + "': empty script");
  if (spec.working_dir.empty())
    return InvalidArgument("slurm job '" + spec.name + "': working_dir is required");
  json job = {
      {"name", spec.name},
      {"nodes", spec.nodes},
      {"tasks_per_node", spec.tasks_per_node},
      {"cpus_per_task", spec.cpus_per_task},
      {"current_working_directory", spec.working_dir},
      {"hold", spec.hold},
      {"requeue", spec.requeue},  // always sent: Slurm's default (JobRequeue=1) allows it
  };
  if (!spec.partition.empty()) job["partition"] = spec.partition;
  if (!spec.account.empty()) job["account"] = spec.account;
  if (!spec.qos.empty()) job["qos"] = spec.qos;
  if (!spec.reservation.empty()) job["reservation"] = spec.reservation;
  if (!spec.exclude_nodes.empty()) job["exclude_nodes"] = spec.exclude_nodes;  // a string; required_nodes is disabled
  if (!spec.gres_per_node.empty()) job["gres"] = spec.gres_per_node;  // v0.0.38: "gres" is per node
  if (spec.memory_per_node_mb > 0) job["memory_per_node"] = spec.memory_per_node_mb;
  if (spec.time_limit_min > 0) job["time_limit"] = spec.time_limit_min;
  if (!spec.stdout_path.empty()) job["standard_output"] = spec.stdout_path;
  if (!spec.stderr_path.empty()) job["standard_error"] = spec.stderr_path;
  // slurmrestd refuses a job without an environment (error 2127); PATH is the least it needs.
  json env = json::object();
  for (const auto& [k, v] : spec.env) env[k] = v;
  if (!env.contains("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  job["environment"] = std::move(env);
  const json body = {{"job", std::move(job)}, {"script", spec.script}};

  const std::string path = std::string(kApi) + "/job/submit";
  CNET_ASSIGN_OR_RETURN(Impl::Response r, impl_->Do("POST", path, body.dump()));
  // Success is a job_id, whatever errors[] says (2042 "held" comes with an accepted job).
  if (r.body.is_object()) {
    int64_t id = JsonInt(r.body, "job_id");
    if (id > 0) return id;
  }
  return impl_->Fail("POST", path, r, /*submit=*/true);
}

Result<std::vector<SlurmJob>> SlurmClient::Jobs() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  CNET_ASSIGN_OR_RETURN(json body, impl_->Call("GET", std::string(kApi) + "/jobs", "jobs"));
  std::vector<SlurmJob> out;
  for (const auto& j : body["jobs"])
    if (j.is_object()) out.push_back(ParseJob(j));
  return out;
}

Result<SlurmJob> SlurmClient::Job(int64_t id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::string path = std::string(kApi) + "/job/" + std::to_string(id);
  CNET_ASSIGN_OR_RETURN(json body, impl_->Call("GET", path, "jobs"));
  for (const auto& j : body["jobs"])
    if (j.is_object() && JsonInt(j, "job_id") == id) return ParseJob(j);
  return NotFound(impl_->Endpoint("GET", path) + ": job " + std::to_string(id) + " is not in the response");
}

Status SlurmClient::Cancel(int64_t id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::string path = std::string(kApi) + "/job/" + std::to_string(id);
  auto r = impl_->Call("DELETE", path, nullptr);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::string> SlurmClient::Token() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->CurrentToken();
}

}  // namespace cnet::backends::slurm
