#include "backends/stage_in.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace cnet::backends {

namespace {

bool Remote(const std::string& source) {
  const size_t colon = source.find(':');
  return colon != std::string::npos && source.find('/') > colon;  // host:path, not /a:b
}

}  // namespace

std::string ShellWord(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string InputEnvName(const std::string& dataset) {
  std::string out = "CNET_INPUT_";
  for (char c : dataset) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

std::string StageInExports(const std::vector<StageItem>& items, const std::string& inputs_dir) {
  std::string out;
  for (const StageItem& it : items)
    out += InputEnvName(it.name) + "=" + inputs_dir + "/" + ShellWord(it.name) + "; export " + InputEnvName(it.name) + "; ";
  return out;
}

std::string StageInCopy(const std::vector<StageItem>& items, const std::string& inputs_dir, const std::string& fail) {
  if (items.empty()) return "";
  std::string s = "cnet_t0=$(date +%s.%N); mkdir -p " + inputs_dir + " || { echo \"computenet: stage-in: cannot create " +
                  "the inputs directory\" >&2; " + fail + "; }; ";
  for (const StageItem& it : items) {
    const std::string dst = inputs_dir + "/" + ShellWord(it.name);
    const std::string copy = Remote(it.source) ? "rsync -a " + ShellWord(it.source) + " " + dst
                                               : "cp -a " + ShellWord(it.source) + " " + dst;
    s += copy + " || { echo " + ShellWord("computenet: stage-in of dataset '" + it.name + "' from '" + it.source + "' failed") +
         " >&2; " + fail + "; }; ";
  }
  s += "echo \"$(find " + inputs_dir + " -type f -printf '%s\\n' | awk '{s+=$1} END{printf \"%.0f\", s}') $(awk -v a=\"$cnet_t0\" -v b=\"$(date +%s.%N)\" 'BEGIN{printf \"%.3f\", b-a}')\" > " +
       inputs_dir + "/.stage_in; ";
  return s + StageInExports(items, inputs_dir);
}

void AddStageInFields(const std::string& inputs_dir, SiteEvent* e) {
  std::ifstream in(inputs_dir + "/.stage_in");
  double bytes = 0, secs = 0;
  if (!(in >> bytes >> secs) || bytes < 0 || secs < 0) return;
  std::ostringstream b, t;
  b.precision(17);
  t.precision(6);
  b << bytes;
  t << secs;
  e->fields[kStageInBytesField] = b.str();
  e->fields[kStageInSecondsField] = t.str();
}

}  // namespace cnet::backends
