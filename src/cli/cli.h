// The `cnet` command line: subcommands over the library layers. Returns the process exit code:
// 0 success, 2 bad input or usage, 1 anything else.
#pragma once

namespace cnet {

int RunCli(int argc, char** argv);

}  // namespace cnet
