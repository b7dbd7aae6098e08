// `cnet submit --array SPEC --dependency SPEC`: job-file fields given on the command line. They
// override the file's own `array:` / `dependency:`; the body is then sent as JSON (a YAML file is
// converted first, its syntax checked with line and column as the server would).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "common/status.h"

namespace cnet {

struct SubmitFields {
  std::string array, dependency;
};

void AddSubmitFields(CLI::App* s, SubmitFields& f);
// Rewrites `*text` (and *is_json) when a field was given; else leaves them as they are.
Status ApplySubmitFields(const SubmitFields& f, std::string* text, bool* is_json);

}  // namespace cnet
