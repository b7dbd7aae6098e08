// Stage-in of a run's input datasets (docs/data.md, "Stage-in"), shared by the backends: a POSIX
// shell fragment the run itself executes before its command, under the job's own account, so a
// copy reads only what the job may read (never with the service's rights). It copies each item
// into an inputs directory (cp -a for a path, rsync -a for host:path), exports CNET_INPUT_<NAME>
// for each, and writes "<bytes> <seconds>" to <inputs dir>/.stage_in for the backend to report. A
// failed copy prints "computenet: stage-in of dataset 'NAME' from 'SOURCE' failed" and exits 1.
// Pure functions, except AddStageInFields (reads one small file).
#pragma once

#include <string>
#include <vector>

#include "backends/site_backend.h"

namespace cnet::backends {

// `s` as one single-quoted shell word.
std::string ShellWord(const std::string& s);

// CNET_INPUT_ and the dataset's name upper-cased, every character other than A-Z and 0-9 as '_'.
std::string InputEnvName(const std::string& dataset);

// The fragment for `items`, copying into `inputs_dir` (a shell word: a quoted path, or an
// expression such as "$CNET_RUN_DIR/inputs"). `fail` is the shell command run after the message
// on failure (e.g. "exit 1"). Empty when there is nothing to copy.
std::string StageInCopy(const std::vector<StageItem>& items, const std::string& inputs_dir, const std::string& fail);
// The exports alone (for workers that wait for another's copy).
std::string StageInExports(const std::vector<StageItem>& items, const std::string& inputs_dir);

// Reads <inputs_dir>/.stage_in into e's kStageInBytesField and kStageInSecondsField, when there
// and well formed.
void AddStageInFields(const std::string& inputs_dir, SiteEvent* e);

}  // namespace cnet::backends
