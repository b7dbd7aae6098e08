// Subcommand registration: each adds itself to the CLI11 app and returns the exit code via *rc.
#pragma once

#include <CLI/CLI.hpp>

namespace cnet {

void AddSimulateCommand(CLI::App& app, int* rc, const char* argv0);
void AddPoliciesCommand(CLI::App& app, int* rc);
void AddPerfLooCommand(CLI::App& app, int* rc, const char* argv0);
void AddPackCommand(CLI::App& app, int* rc, const char* argv0);
void AddServeCommand(CLI::App& app, int* rc, const char* argv0);
void AddClientCommands(CLI::App& app, int* rc);
void AddLsCommand(CLI::App& app, int* rc);
void AddConfigCommand(CLI::App& app, int* rc);
void AddDataCommands(CLI::App& app, int* rc);  // cnet data ..., cnet audit ...
void AddJobActionCommands(CLI::App& app, int* rc);  // hold, release, requeue
void AddPowerCommands(CLI::App* admin, int* rc);    // admin power, admin power-budget

// Exit code for a Status: 0 ok, 2 bad input, 1 otherwise; prints the error to stderr.
class Status;
int ReportError(const Status& st);

}  // namespace cnet
