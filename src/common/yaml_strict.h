// A strict YAML 1.2 check run before yaml-cpp reads a text: yaml-cpp 0.7 accepts some malformed
// input (an unclosed quote swallows the following lines), so every YAML text the program reads is
// first parsed by libfyaml (a conforming YAML 1.2 parser, Debian's libfyaml-dev) and refused on
// the first error. Beyond syntax, constructs the program's formats never need are refused too, so
// that a file means what it looks like: duplicate keys, anchors and aliases, non-scalar keys and
// streams of more than one document. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace cnet {

// Ok, or kInvalidArgument "FILE:LINE:COLUMN: YAML: what" (1-based line and column).
Status CheckStrictYaml(std::string_view text, const std::string& file);

}  // namespace cnet
