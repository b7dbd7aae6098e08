#include "backends/local/program_path.h"

#include <sys/stat.h>
#include <unistd.h>

namespace cnet::backends::local {
namespace {

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  return S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::optional<std::string> FindProgram(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  if (prog.empty()) return std::nullopt;
  if (prog.find('/') != std::string::npos) {
    std::string full = prog[0] == '/' ? prog : cwd + "/" + prog;
    if (IsExecutableFile(full)) return full;
    return std::nullopt;
  }
  size_t start = 0;
  while (true) {
    size_t colon = path_env.find(':', start);
    std::string dir = path_env.substr(start, colon == std::string::npos ? std::string::npos
                                                                        : colon - start);
    if (dir.empty()) dir = ".";
    std::string full = (dir[0] == '/' ? dir : cwd + "/" + dir) + "/" + prog;
    if (IsExecutableFile(full)) return full;
    if (colon == std::string::npos) return std::nullopt;
    start = colon + 1;
  }
}

std::vector<std::string> ProgramCandidates(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  if (prog.find('/') != std::string::npos) return {prog[0] == '/' ? prog : cwd + "/" + prog};
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t colon = path_env.find(':', start);
    std::string dir = path_env.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    out.push_back((dir[0] == '/' ? dir : cwd + "/" + dir) + "/" + prog);
    if (colon == std::string::npos) return out;
    start = colon + 1;
  }
}

bool ProgramExists(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  return FindProgram(prog, path_env, cwd).has_value();
}

}  // namespace cnet::backends::local
