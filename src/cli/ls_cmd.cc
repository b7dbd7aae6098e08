// `cnet ls`: jobs like squeue / sacct. By default the active jobs (not yet ended), newest first;
// --all adds ended ones. Columns are chosen with --format; --parsable prints '|'-separated fields
// for scripts. Reasons are never cut. When the listing stops at --limit with more to come, a hint
// on stderr gives the cursor (--before ID) for the next page.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "cli/array_view.h"
#include "cli/client_conn.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "common/suggest.h"

namespace cnet {

namespace {

using nlohmann::json;

struct Column {
  const char* name;
  const char* header;
  int width;  // table width; 0: last column, not padded
  std::string (*get)(const json& job);
};

std::string Field(const json& j, const char* k) { return j.contains(k) ? Str(j[k]) : "-"; }

const Column kColumns[] = {
    {"id", "ID", 7, [](const json& j) { return Field(j, "id"); }},
    {"name", "NAME", 24, [](const json& j) { return Field(j, "name"); }},
    {"tenant", "TENANT", 10, [](const json& j) { return Field(j, "tenant"); }},
    {"state", "STATE", 10, [](const json& j) { return Field(j, "state"); }},
    {"submit", "SUBMIT", 9, [](const json& j) { return j.contains("submit_time") ? Time(j["submit_time"]) : "-"; }},
    {"start", "START", 9, [](const json& j) { return j.contains("start_time") ? Time(j["start_time"]) : "-"; }},
    // squeue's START_TIME for a pending job: only from a reservation, else "-".
    {"est_start", "EST_START", 11, [](const json& j) { return j.contains("estimated_start") ? EstimatedTime(j["estimated_start"]) : "-"; }},
    {"end", "END", 9, [](const json& j) { return j.contains("end_time") ? Time(j["end_time"]) : "-"; }},
    {"exit", "EXIT", 5, [](const json& j) { return Field(j, "exit_code"); }},
    {"site", "SITE", 10, [](const json& j) { return Field(j, "site"); }},
    {"workers", "WORKERS", 7,
     [](const json& j) { return j.contains("spec") && j["spec"].is_object() ? Field(j["spec"], "workers") : "-"; }},
    {"reason", "REASON", 0, [](const json& j) { return Field(j, "reason"); }},
};

const char kDefaultFormat[] = "id,name,tenant,state,submit,est_start,start,end,reason";

Result<std::vector<const Column*>> ParseFormat(const std::string& fmt) {
  std::vector<std::string> names;
  for (const auto& c : kColumns) names.push_back(c.name);
  std::vector<const Column*> out;
  std::stringstream ss(fmt);
  for (std::string item; std::getline(ss, item, ',');) {
    const Column* found = nullptr;
    for (const auto& c : kColumns)
      if (item == c.name) found = &c;
    if (!found) {
      std::string all;
      for (const auto& n : names) all += (all.empty() ? "" : ",") + n;
      return InvalidArgument("--format: unknown column '" + item + "'" + DidYouMean(item, names) + "; the columns are " + all);
    }
    out.push_back(found);
  }
  if (out.empty()) return InvalidArgument("--format: no columns");
  return out;
}

// A table (the last column unpadded, nothing cut unless `narrow`), or '|'-separated fields.
void Print(const json& jobs, const std::vector<const Column*>& cols, bool parsable, bool header, bool wide) {
  auto row = [&](auto cell) {
    std::string line;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string v = cell(*cols[i]);
      if (parsable) {
        line += (i ? "|" : "") + v;
        continue;
      }
      const size_t w = static_cast<size_t>(cols[i]->width);
      const bool last = i + 1 == cols.size();
      const bool id = std::string(cols[i]->name) == "id";  // never cut (an array's is "40_[0-99%8]")
      if (!wide && !id && w > 0 && !last && v.size() > w) v = v.substr(0, w);
      if (!last && v.size() < w) v.resize(w, ' ');
      line += v + (last ? "" : " ");
    }
    std::puts(line.c_str());
  };
  if (header) row([](const Column& c) { return std::string(c.header); });
  for (const auto& j : jobs) row([&j](const Column& c) { return c.get(j); });
}

struct LsArgs {
  Conn c;
  std::string state, label, tenant, since, format = kDefaultFormat;
  int limit = 100;
  int64_t before = 0, after = 0;
  bool all = false, oldest = false, parsable = false, noheader = false, wide = false, tasks = false;
};

Result<std::string> FirstPath(const LsArgs& a) {
  httplib::Params p;
  if (!a.state.empty()) p.emplace("state", a.state);
  else if (!a.all) p.emplace("active", "true");
  if (!a.label.empty()) p.emplace("label", a.label);
  if (!a.tenant.empty()) p.emplace("tenant", a.tenant);
  if (!a.since.empty()) {
    CNET_ASSIGN_OR_RETURN(double d, ParseDuration(a.since, "--since"));
    p.emplace("since", std::to_string(static_cast<double>(std::time(nullptr)) - d));
  }
  if (a.before > 0) p.emplace("before", std::to_string(a.before));
  if (a.after > 0) p.emplace("after", std::to_string(a.after));
  p.emplace("order", a.oldest ? "oldest" : "newest");
  p.emplace("limit", std::to_string(a.limit == 0 || a.limit > 1000 ? 1000 : a.limit));
  return "/v1/jobs?" + httplib::detail::params_to_query_str(p);
}

void RunLs(LsArgs& a, int* rc) {
  if (Status st = Resolve(a.c); !st.ok()) { *rc = ReportError(st); return; }
  auto cols = ParseFormat(a.format);
  if (!cols.ok()) { *rc = ReportError(cols.status()); return; }
  auto first = FirstPath(a);
  if (!first.ok()) { *rc = ReportError(first.status()); return; }
  // The server ends a page at `limit` jobs or at its byte cap, and gives the next one as `next`.
  json jobs = json::array();
  std::string path = *first;
  bool more = false;
  while (!path.empty()) {
    if (a.limit != 0 && jobs.size() >= static_cast<size_t>(a.limit)) { more = true; break; }
    auto r = Call(a.c, "GET", path);
    if (!r.ok()) { *rc = ReportError(r.status()); return; }
    for (auto& j : r->doc["jobs"]) {
      if (a.limit != 0 && jobs.size() >= static_cast<size_t>(a.limit)) { more = true; break; }
      jobs.push_back(std::move(j));
    }
    path = r->doc.contains("next") && r->doc["next"].is_string() ? r->doc["next"].get<std::string>() : "";
  }
  more = more && !jobs.empty();
  if (a.c.json_out) {
    json out{{"jobs", jobs}};
    if (more) out[a.oldest ? "next_after" : "next_before"] = jobs.back()["id"];
    std::cout << out.dump(2) << "\n";
  } else {
    Print(a.tasks ? jobs : CompactArrays(jobs), *cols, a.parsable, !a.noheader, a.wide);
  }
  if (more)
    std::cerr << "cnet: more jobs than --limit " << a.limit << "; the next page: cnet ls " << (a.oldest ? "--oldest --after " : "--before ")
              << jobs.back()["id"].get<int64_t>() << " (same filters), or --limit 0 for all\n";
  if (jobs.empty() && !a.all && a.state.empty() && !a.c.json_out && !a.parsable)
    std::cerr << "cnet: no active jobs (cnet ls --all shows ended ones too)\n";
  *rc = 0;
}

}  // namespace

void AddLsCommand(CLI::App& app, int* rc) {
  auto a = std::make_shared<LsArgs>();
  CLI::App* s = app.add_subcommand("ls", "list jobs: active ones newest first (--all: ended ones too)");
  s->add_flag("-a,--all", a->all, "ended jobs too (SUCCEEDED, FAILED, CANCELLED)");
  s->add_option("--state", a->state, "only this state: PENDING, SCHEDULED, RUNNING, PREEMPTED, SUCCEEDED, FAILED, CANCELLED");
  s->add_option("--since", a->since, "only jobs submitted within this long: 90m, 12h, 2d");
  s->add_option("--tenant,--user", a->tenant, "only this tenant's jobs (admins)");
  s->add_option("--label", a->label, "key=value");
  s->add_option("--limit", a->limit, "at most this many (default 100; 0: all)")->check(CLI::NonNegativeNumber);
  s->add_option("--before", a->before, "jobs older than this id (the cursor the 'more jobs' hint gives)");
  s->add_option("--after", a->after, "jobs newer than this id");
  s->add_flag("--oldest", a->oldest, "oldest first");
  s->add_option("-o,--format", a->format,
                "columns, comma-separated, from: id,name,tenant,state,submit,start,est_start,end,exit,site,workers,reason (default " +
                    std::string(kDefaultFormat) + ")");
  s->add_flag("-p,--parsable", a->parsable, "fields separated by '|', nothing padded or cut (for scripts)");
  s->add_flag("--noheader", a->noheader, "no header line");
  s->add_flag("--tasks", a->tasks, "each task of a job array on its own line (ID is the task's own id)");
  s->add_flag("-w,--wide", a->wide, "do not cut long names (reasons are never cut)");
  AddConn(s, a->c);
  s->callback([a, rc] { RunLs(*a, rc); });
}

}  // namespace cnet
