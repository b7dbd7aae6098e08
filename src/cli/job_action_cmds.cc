// `cnet hold | release | requeue ID|ARRAY_INDEX`: a user hold keeps a pending job from being
// dispatched until released; requeue puts a running or ended job back to PENDING (a run is
// stopped first, as a cancel stops it). An array's id acts on every task of it.
#include <iostream>

#include "cli/client_conn.h"
#include "cli/commands.h"
#include "cli/job_ref.h"

namespace cnet {

namespace {

void AddAction(CLI::App& app, int* rc, const std::string& name, const std::string& help) {
  auto c = std::make_shared<Conn>();
  auto ids = std::make_shared<std::vector<std::string>>();
  CLI::App* s = app.add_subcommand(name, help);
  s->add_option("id", *ids, "job id, array id (every task) or ARRAY_INDEX (one task); several allowed")->required();
  AddConn(s, *c);
  s->callback([c, ids, rc, name] {
    if (Status st = Resolve(*c); !st.ok()) { *rc = ReportError(st); return; }
    *rc = 0;
    for (const std::string& text : *ids) {
      auto ref = ResolveJobRef(*c, text);
      if (!ref.ok()) { *rc = ReportError(ref.status()); continue; }
      auto r = Call(*c, "POST", ActionPath(*ref, name));
      if (!r.ok()) { *rc = ReportError(Status(r.status().code(), "job " + text + ": " + r.status().message())); continue; }
      if (c->json_out) {
        std::cout << r->doc.dump(2) << "\n";
        continue;
      }
      std::cout << "job " << text << ": " << Str(r->doc["state"]);
      if (r->doc.value("jobs", 1) > 1 || !r->doc["skipped"].empty())
        std::cout << " (" << r->doc.value("jobs", 0) << " task(s); " << r->doc["skipped"].size() << " skipped)";
      std::cout << "\n";
      for (const auto& why : r->doc["skipped"]) std::cerr << "cnet: skipped: " << Str(why) << "\n";
    }
  });
}

}  // namespace

void AddJobActionCommands(CLI::App& app, int* rc) {
  AddAction(app, rc, "hold", "keep pending jobs from being dispatched until released");
  AddAction(app, rc, "release", "release held jobs (a hold an admin placed needs an admin)");
  AddAction(app, rc, "requeue", "put running or ended jobs back to PENDING (a run is stopped first)");
}

}  // namespace cnet
