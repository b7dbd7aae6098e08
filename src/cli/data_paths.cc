#include "cli/data_paths.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

namespace cnet {

std::string FindDataFile(const std::string& relative, const char* argv0) {
  namespace fs = std::filesystem;
  std::vector<fs::path> dirs;
  if (const char* d = std::getenv("CNET_DATA_DIR")) dirs.emplace_back(d);
  dirs.emplace_back("data");
  std::error_code ec;
  fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (ec && argv0) exe = fs::absolute(argv0, ec);
  if (!exe.empty()) dirs.push_back(exe.parent_path().parent_path() / "data");
  dirs.emplace_back(CNET_SOURCE_DATA_DIR);
  for (const auto& d : dirs)
    if (fs::exists(d / relative, ec)) return (d / relative).string();
  return (fs::path("data") / relative).string();
}

}  // namespace cnet
