// Finding a program as a shell would (PATH search, or a path relative to a directory). Used to
// refuse a launch whose program is missing and to look for nvidia-smi. Internal to the local site.
// Thread-safe (stat and access only).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cnet::backends::local {

// Where `prog` is: found through `path_env` (colon-separated; an empty entry is ".") unless it
// contains '/', in which case relative to `cwd`; nullopt if not found or not an executable file.
std::optional<std::string> FindProgram(const std::string& prog, const std::string& path_env, const std::string& cwd);
// Every path a shell would try for `prog`, in order (whether or not they exist).
std::vector<std::string> ProgramCandidates(const std::string& prog, const std::string& path_env, const std::string& cwd);
// FindProgram(...).has_value().
bool ProgramExists(const std::string& prog, const std::string& path_env, const std::string& cwd);

}  // namespace cnet::backends::local
