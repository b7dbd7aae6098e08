// `cnet explain`, `cnet acct`, and the parts of `cnet submit --dry-run` and `cnet usage
// --since/--until` that print the dispatch decision and accounting (docs/dispatch.md, docs/cli.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "cli/client_conn.h"

namespace cnet {

// The candidate table of an explain answer (GET /v1/jobs/{id}/explain, POST /v1/jobs/dry-run).
std::string FormatExplain(const nlohmann::json& doc);
// A time given on the command line: epoch seconds, "YYYY-MM-DD[THH:MM[:SS]]" (UTC), or a duration
// before `now` ("2h", "30d"; cli/duration.h). InvalidArgument naming `field` otherwise.
Result<double> ParseWhen(const std::string& text, double now, const std::string& field);
// `cnet usage --since/--until`: per-tenant totals over the window, and the total.
Status PrintWindowUsage(const Conn& c, const std::string& tenant, const std::string& since, const std::string& until);

void AddDispatchCommands(CLI::App& app, int* rc);

}  // namespace cnet
