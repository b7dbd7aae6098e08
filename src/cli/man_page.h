// cnet(1) in troff (man) format, generated from the program's own help: every command and
// subcommand's CLI11 help text, so the page cannot drift from the flags. `cnet --man-page` prints
// it; the build writes it to <build>/cnet.1 and `cmake --install` puts it in share/man/man1.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace cnet {

std::string ManPage(const CLI::App& app, const std::string& version);

}  // namespace cnet
