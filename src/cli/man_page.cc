#include "cli/man_page.h"

#include <sstream>

namespace cnet {

namespace {

// Text for troff: backslashes escaped, '-' as \- (so copied options stay ASCII hyphens), and a
// line that starts with '.' or '\'' is not taken as a request.
std::string Escape(const std::string& text) {
  std::string out;
  bool line_start = true;
  for (char ch : text) {
    if (line_start && (ch == '.' || ch == '\'')) out += "\\&";
    if (ch == '\\') out += "\\e";
    else if (ch == '-') out += "\\-";
    else out += ch;
    line_start = ch == '\n';
  }
  return out;
}

bool Visible(const CLI::App* s) { return !s->get_group().empty(); }

// `cnet a b` and its help, then its subcommands' (depth first, in the order they were added).
void Commands(const CLI::App& app, const std::string& prefix, std::ostringstream& out) {
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (!Visible(s)) continue;
    const std::string path = prefix + " " + s->get_name();
    out << ".SS \"" << Escape(path) << "\"\n.nf\n" << Escape(s->help(prefix)) << ".fi\n";  // the help starts with the description
    Commands(*s, path, out);
  }
}

}  // namespace

std::string ManPage(const CLI::App& app, const std::string& version) {
  std::ostringstream out;
  out << ".TH CNET 1 \"\" \"cnet " << Escape(version) << "\" \"User Commands\"\n"
      << ".SH NAME\ncnet \\- " << Escape(app.get_description()) << "\n"
      << ".SH SYNOPSIS\n.B cnet\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n.br\n.B cnet\n\\fICOMMAND\\fR \\-\\-help\n"
      << ".SH DESCRIPTION\n.nf\n" << Escape(app.help()) << ".fi\n"
      << ".SH COMMANDS\n";
  Commands(app, "cnet", out);
  out << ".SH EXIT STATUS\n"
         "0 on success; 2 for bad input (a flag, a file, a job spec the server refuses); 1 for other errors.\n"
         "With \\fBsubmit \\-\\-wait\\fR, \\fBsubmit \\-\\-follow\\fR and \\fBlogs \\-f\\fR: the job's outcome, "
         "0 when it succeeded, its exit code when it failed, 124 when its time limit ended it, "
         "125 when it was cancelled, 137 when its memory limit ended it (state OOM).\n"
         ".SH ENVIRONMENT\n"
         ".TP\n.B CNET_ADDR\nthe server (HOST:PORT, http:// or https:// URL)\n"
         ".TP\n.B CNET_TOKEN\nthe API token\n"
         ".TP\n.B CNET_CA_FILE\nPEM CA certificates for an https:// server\n"
         ".TP\n.B XDG_CONFIG_HOME\nwhere the client config is looked for (default ~/.config)\n"
         ".SH FILES\n"
         ".TP\n.I $XDG_CONFIG_HOME/cnet/config.yaml\nthe client config (\\fBcnet config show\\fR, \\fBcnet config set\\fR)\n"
         ".SH SEE ALSO\n"
         "docs/cli.md, docs/formats.md and docs/openapi.json in the computenet sources.\n";
  return out.str();
}

}  // namespace cnet
