#include "cli/job_wait.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/client_transport.h"

namespace cnet {

using nlohmann::json;

namespace {

void Pause(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

Result<json> GetJob(const Conn& c, int64_t id) {
  CNET_ASSIGN_OR_RETURN(Reply r, Call(c, "GET", "/v1/jobs/" + std::to_string(id)));
  return r.doc;
}

}  // namespace

bool IsFinalState(const std::string& s) {
  return s == "SUCCEEDED" || s == "FAILED" || s == "CANCELLED" || s == "TIMEOUT" || s == "OOM";
}

int OutcomeExitCode(const json& job) {
  const std::string state = job.value("state", "");
  const std::string reason = job.contains("reason") && job["reason"].is_string() ? job["reason"].get<std::string>() : "";
  if (state == "SUCCEEDED") return 0;
  if (state == "CANCELLED") return kExitCancelled;
  if (state == "TIMEOUT" || reason.rfind("TIMEOUT", 0) == 0) return kExitTimeout;  // backends word a time-limit kill so
  if (job.contains("exit_code") && job["exit_code"].is_number_integer()) {
    const int code = job["exit_code"].get<int>();
    if (code > 0 && code < 256) return code;
  }
  return 1;
}

Result<json> WaitForJob(const Conn& c, int64_t id) {
  double pause = 0.2;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(json j, GetJob(c, id));
    if (IsFinalState(j.value("state", ""))) return j;
    Pause(pause);
    pause = std::min(2.0, pause * 1.5);
  }
}

Result<json> FollowJob(const Conn& c, int64_t id, const std::string& stream, LogWriter& out) {
  size_t printed = 0;  // bytes already copied: a reconnect skips them
  bool retried = false;
  double pause = 0.2;
  for (;;) {
    CNET_ASSIGN_OR_RETURN(auto cli, MakeClient(c.addr, c.ca_file));
    cli->set_connection_timeout(5, 0);
    cli->set_read_timeout(3600, 0);
    httplib::Headers h;
    if (!c.token.empty()) h.emplace("Authorization", "Bearer " + c.token);
    const std::string path = "/v1/jobs/" + std::to_string(id) + "/logs?follow=1&stream=" + stream;
    int status = 0;
    size_t seen = 0;
    std::string errbody;
    auto r = cli->Get(path, h, [&](const httplib::Response& res) { status = res.status; return true; },
                      [&](const char* data, size_t n) {
                        if (status >= 400) { errbody.append(data, n); return true; }
                        const size_t skip = seen < printed ? std::min(n, printed - seen) : 0;
                        seen += n;
                        if (n > skip) {
                          out.Write(data + skip, n - skip);
                          printed += n - skip;
                        }
                        return true;
                      });
    if (!r || (status >= 400 && status != 404)) out.Finish();  // what was read is shown before the error
    if (!r) return TransportError(*cli, r.error(), c.addr, c.ca_file);
    if (status >= 400 && status != 404) {
      json e = json::parse(errbody, nullptr, false);
      return Status(Code::kFailedPrecondition, "HTTP " + std::to_string(status) + ": " +
                                                   (e.is_object() && e.contains("error") ? e["error"].value("message", errbody) : errbody));
    }
    // 404: not dispatched yet (or gone); 200: the stream ended. Either way the job's state decides.
    CNET_ASSIGN_OR_RETURN(json j, GetJob(c, id));
    if (IsFinalState(j.value("state", ""))) {
      if (status == 404 && !retried) {  // it may have ended between the two requests: one more read
        retried = true;
        continue;
      }
      out.Finish();
      return j;
    }
    Pause(pause);
    pause = std::min(2.0, pause * 1.5);
  }
}

Result<json> FollowStreams(const Conn& c, int64_t id, const std::string& which, int strip_below) {
  if (which != "both" && which != "merge") {  // one stream: to stdout, as `cnet logs`
    LogWriter w(stdout, strip_below, nullptr);
    return FollowJob(c, id, which, w);
  }
  std::mutex shared;  // merge: one output, whole lines
  const bool merge = which == "merge";
  LogWriter out_w(stdout, strip_below, merge ? &shared : nullptr);
  LogWriter err_w(merge ? stdout : stderr, strip_below, merge ? &shared : nullptr);
  std::optional<Result<json>> err_end;
  std::thread err_thread([&] { err_end = FollowJob(c, id, "stderr", err_w); });
  Result<json> out_end = FollowJob(c, id, "stdout", out_w);
  err_thread.join();
  if (!out_end.ok()) return out_end;
  return *err_end;
}

}  // namespace cnet
