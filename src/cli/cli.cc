#include "cli/cli.h"

#include <csignal>
#include <iostream>

#include "cli/commands.h"
#include "common/status.h"

namespace cnet {

int ReportError(const Status& st) {
  if (st.ok()) return 0;
  std::cerr << "cnet: error: " << st.message() << "\n";
  return st.code() == Code::kInvalidArgument || st.code() == Code::kNotFound ? 2 : 1;
}

int RunCli(int argc, char** argv) {
  // A peer that hangs up mid-write must cost an error return, not the process (server and client).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"computenet: one access point to heterogeneous compute"};
  app.require_subcommand(1);
  int rc = 0;
  AddSimulateCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddPoliciesCommand(app, &rc);
  AddPerfLooCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddPackCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddServeCommand(app, &rc, argc > 0 ? argv[0] : nullptr);
  AddClientCommands(app, &rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return rc;
}

}  // namespace cnet
