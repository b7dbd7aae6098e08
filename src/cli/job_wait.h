// Waiting for a job's outcome from the client: `cnet submit --wait/--follow` and `cnet logs -f`.
// Exit codes (docs/cli.md): 0 SUCCEEDED; the job's own exit code when it FAILED with one (1 if
// it has none); 124 when it was killed at its time limit; 125 when it was CANCELLED.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/client_conn.h"
#include "cli/log_lines.h"
#include "common/status.h"

namespace cnet {

inline constexpr int kExitTimeout = 124;
inline constexpr int kExitCancelled = 125;

// Whether a job state (as the API spells it) is final.
bool IsFinalState(const std::string& state);

// The exit code for a job's JSON view (GET /v1/jobs/{id}) in a final state, as above.
int OutcomeExitCode(const nlohmann::json& job);

// Polls the job until it is final and returns its view.
Result<nlohmann::json> WaitForJob(const Conn& c, int64_t id);

// Copies the job's `stream` (stdout or stderr) to `out` from the first byte, waiting while the job
// is pending (not yet dispatched), until the job is final; returns its final view.
Result<nlohmann::json> FollowJob(const Conn& c, int64_t id, const std::string& stream, LogWriter& out);

// Which of the job's streams to follow: "stdout", "stderr", "both" (its stdout to our stdout and
// its stderr to our stderr, concurrently) or "merge" (both to our stdout, whole lines).
// `strip_below`: drop the rank labels of a gang of that many workers (0: keep them).
Result<nlohmann::json> FollowStreams(const Conn& c, int64_t id, const std::string& which, int strip_below = 0);

}  // namespace cnet
