// A strict YAML 1.2 check run before yaml-cpp reads a text: yaml-cpp 0.7 accepts some malformed
// input (an unclosed quote swallows the following lines), so every YAML text the program reads is
// first parsed by libfyaml (a conforming YAML 1.2 parser, Debian's libfyaml-dev) and refused on
// the first error. Beyond syntax, constructs the program's formats never need are refused too, so
// that a file means what it looks like: duplicate keys, anchors and aliases, non-scalar keys and
// streams of more than one document. (Complex keys are left to the readers, which
// name the field.) Thread-safe (no shared state).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cnet {

// The first thing wrong with a YAML text (1-based line and column).
struct YamlProblem {
  int line = 1, column = 1;
  bool syntax = true;  // a YAML syntax error; false: valid YAML of a kind refused here
  std::string what;
};
std::optional<YamlProblem> FindYamlProblem(std::string_view text);

// Ok, or kInvalidArgument "FILE:LINE:COLUMN: YAML syntax error: what" (or "...: YAML: what" for
// the refused constructs).
Status CheckStrictYaml(std::string_view text, const std::string& file);

}  // namespace cnet
