// Host-list expansion. See hostlist.h.
#include "backends/slurm/hostlist.h"

#include <cstdint>
#include <iterator>

#include "common/strings.h"

namespace cnet::backends::slurm {
namespace {

// Expanding a host list beyond this many names is refused (the item is kept literally).
constexpr size_t kMaxHosts = 1 << 20;

}  // namespace

std::vector<std::string> SplitTopLevel(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '[' || c == '(' || c == '{') ++depth;
    if ((c == ']' || c == ')' || c == '}') && depth > 0) --depth;
    if (c == sep && depth == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

namespace {

// Expands one host-list item (no top-level commas), appending to `out`. false: malformed.
bool ExpandItem(const std::string& item, std::vector<std::string>& out) {
  size_t lb = item.find('[');
  if (lb == std::string::npos) {
    if (item.find(']') != std::string::npos) return false;
    out.push_back(item);
    return true;
  }
  size_t rb = item.find(']', lb);
  if (rb == std::string::npos) return false;
  std::string prefix = item.substr(0, lb);
  if (prefix.find(']') != std::string::npos) return false;
  std::vector<std::string> suffixes;
  if (!ExpandItem(item.substr(rb + 1), suffixes)) return false;
  std::vector<std::string> mids;
  for (const std::string& raw : SplitTopLevel(item.substr(lb + 1, rb - lb - 1), ',')) {
    std::string r = Trim(raw);
    size_t dash = r.find('-');
    std::string lo = r.substr(0, dash), hi = dash == std::string::npos ? lo : r.substr(dash + 1);
    if (!AllDigits(lo) || !AllDigits(hi) || lo.size() > 18 || hi.size() > 18) return false;
    int64_t a = std::stoll(lo), b = std::stoll(hi);
    if (b < a) return false;
    if (static_cast<uint64_t>(b - a) >= kMaxHosts) return false;
    for (int64_t v = a; v <= b; ++v) {
      std::string s = std::to_string(v);
      if (s.size() < lo.size()) s.insert(0, lo.size() - s.size(), '0');  // "n[01-10]" keeps width 2
      mids.push_back(std::move(s));
    }
  }
  if (mids.size() * suffixes.size() > kMaxHosts) return false;
  for (const auto& m : mids)
    for (const auto& s : suffixes) out.push_back(prefix + m + s);
  return true;
}

}  // namespace

std::vector<std::string> ExpandHostList(const std::string& list) {
  std::vector<std::string> out;
  for (const std::string& raw : SplitTopLevel(list, ',')) {
    std::string item = Trim(raw);
    if (item.empty() || item == "(null)") continue;
    std::vector<std::string> names;
    if (ExpandItem(item, names)) {
      out.insert(out.end(), std::make_move_iterator(names.begin()), std::make_move_iterator(names.end()));
    } else {
      out.push_back(item);  // not a host-list expression we understand: keep it as one name
    }
  }
  return out;
}

}  // namespace cnet::backends::slurm
