#include "cli/cli.h"

#include <csignal>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "cli/dispatch_cmds.h"
#include "cli/man_page.h"
#include "common/status.h"
#include "common/suggest.h"
#include "common/version.h"

namespace cnet {

int ReportError(const Status& st) {
  if (st.ok()) return 0;
  std::cerr << "cnet: error: " << st.message() << "\n";
  return st.code() == Code::kInvalidArgument || st.code() == Code::kNotFound ? 2 : 1;
}

namespace {

// The first word that is not an option must name a subcommand; else "did you mean".
// (CLI11 would only say "A subcommand is required".)
Status CheckSubcommand(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return Status::Ok();
  std::vector<std::string> names;
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(s->get_name());
  for (const auto& n : names)
    if (n == argv[1]) return Status::Ok();
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return InvalidArgument(std::string("unknown command '") + argv[1] + "'" + DidYouMean(argv[1], names) + "; the commands are " +
                         all + " (cnet --help)");
}

}  // namespace

int RunCli(int argc, char** argv) {
  // A peer that hangs up mid-write must cost an error return, not the process (server and client).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"computenet: one access point to heterogeneous compute", "cnet"};
  app.set_version_flag("-V,--version", std::string("cnet ") + kVersion);
  app.require_subcommand(1);
  int rc = 0;
  AddSimulateCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddPoliciesCommand(app, &rc);
  AddPerfLooCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddPackCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddServeCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddClientCommands(app, &rc);
  AddLsCommand(app, &rc);
  AddDispatchCommands(app, &rc);
  AddConfigCommand(app, &rc);
  AddDataCommands(app, &rc);
  AddJobActionCommands(app, &rc);
  if (argc == 2 && std::strcmp(argv[1], "--man-page") == 0) {  // the build's cnet.1 (man_page.h)
    std::cout << ManPage(app, kVersion);
    return 0;
  }
  if (Status st = CheckSubcommand(app, argc, argv); !st.ok()) return ReportError(st);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}

}  // namespace cnet
