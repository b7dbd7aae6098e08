#include "backends/local/launch_prep.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "backends/local/program_path.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

bool ValidEnvName(const std::string& k) {
  return !k.empty() && k.find('=') == std::string::npos && k.find('\0') == std::string::npos;
}

}  // namespace

Status ValidateSpec(const LaunchSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return InvalidArgument("launch: empty argv");
  if (spec.workers < 1) {
    return InvalidArgument("launch: workers must be >= 1, got " + std::to_string(spec.workers));
  }
  if (!spec.devices.empty() && static_cast<int>(spec.devices.size()) != spec.workers) {
    return InvalidArgument("launch: devices has " + std::to_string(spec.devices.size()) +
                           " entries for " + std::to_string(spec.workers) + " workers");
  }
  if (!spec.devices.empty() && !ValidEnvName(spec.device_env)) {
    return InvalidArgument("launch: bad device_env '" + spec.device_env + "'");
  }
  for (const auto& [k, v] : spec.env) {
    if (!ValidEnvName(k)) return InvalidArgument("launch: bad environment variable name '" + k + "'");
  }
  if (!(spec.time_limit_s >= 0) || !std::isfinite(spec.time_limit_s)) {
    return InvalidArgument("launch: bad time_limit_s");
  }
  if (!spec.working_dir.empty()) {
    struct stat st;
    if (::stat(spec.working_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return InvalidArgument("launch: working directory '" + spec.working_dir +
                             "' does not exist");
    }
  }
  return Status::Ok();
}

std::map<std::string, std::string> BaseEnv(const LaunchSpec& spec, const std::string& work_dir) {
  std::map<std::string, std::string> env;
  auto base = [&](const char* name, const char* dflt) {
    const char* v = std::getenv(name);
    env[name] = (v != nullptr && *v != '\0') ? v : dflt;
  };
  base("PATH", "/usr/local/bin:/usr/bin:/bin");
  base("HOME", "/");
  base("LANG", "C.UTF-8");
  if (spec.run_as) {
    env["HOME"] = work_dir;
    env["USER"] = env["LOGNAME"] = spec.run_as->name;
  }
  for (const auto& [k, v] : spec.env) env[k] = v;
  return env;
}

Status CheckProgram(const std::string& prog, const std::string& path_env, const std::string& cwd) {
  if (ProgramExists(prog, path_env, cwd)) return Status::Ok();
  if (prog.find('/') == std::string::npos) {
    return InvalidArgument("program '" + prog + "' not found in PATH");
  }
  return InvalidArgument("program '" + prog + "' not found or not executable");
}

std::vector<WorkerPlan> BuildPlans(const LaunchSpec& spec, const std::map<std::string, std::string>& env,
                                   const std::string& private_dir, const std::vector<std::string>& candidates) {
  std::vector<WorkerPlan> plans(spec.workers);
  for (int k = 0; k < spec.workers; ++k) {
    WorkerPlan& p = plans[k];
    p.candidates = candidates;
    p.exit_file = private_dir + "/exit." + std::to_string(k);
    p.exit_tmp = p.exit_file + ".tmp";
    p.began_file = private_dir + "/began." + std::to_string(k);
    if (spec.workers > 1) p.label = "[" + std::to_string(k) + "] ";
    p.arg_store = spec.argv;
    std::map<std::string, std::string> wenv = env;
    if (!spec.devices.empty()) {
      std::string ids;
      for (int d : spec.devices[k]) ids += (ids.empty() ? "" : ",") + std::to_string(d);
      wenv[spec.device_env] = ids;  // "" for a worker without devices: it sees none
    }
    wenv["CNET_WORKER_INDEX"] = std::to_string(k);
    wenv["CNET_JOB_ID"] = std::to_string(spec.job_id);
    wenv["CNET_WORLD_SIZE"] = std::to_string(spec.workers);
    for (const auto& [key, v] : wenv) p.env_store.push_back(key + "=" + v);
    for (auto& s : p.arg_store) p.argv.push_back(s.data());
    p.argv.push_back(nullptr);
    for (auto& s : p.env_store) p.envp.push_back(s.data());
    p.envp.push_back(nullptr);
  }
  return plans;
}

std::string CgroupName(int64_t job_id, int attempt) {
  return "job-" + std::to_string(job_id) + "-" + std::to_string(attempt);
}

// The run's private directory, under <data_dir>/runs (0700: only the service reads it).
Status MakePrivateDir(const std::string& data_dir, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("launch: cannot create run directory " + dir + ": " + ec.message());
  if (::chmod((data_dir + "/runs").c_str(), 0700) != 0) return Internal("launch: cannot chmod " + data_dir + "/runs: " + std::strerror(errno));
  return Status::Ok();
}

Status MakeWorkDir(const std::string& run_root, const std::string& dir, const std::optional<RunAs>& run_as) {
  std::error_code ec;
  fs::create_directories(run_root, ec);
  if (ec) return Internal("launch: cannot create run_root " + run_root + ": " + ec.message());
  struct stat st;
  if (::lstat(run_root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
    return FailedPrecondition("launch: run_root " + run_root + " must be a directory owned by the service");
  if (::chmod(run_root.c_str(), 0711) != 0) return Internal("launch: cannot chmod " + run_root + ": " + std::strerror(errno));
  // Another account must be able to reach its run directory: every parent lets others traverse.
  if (run_as) {
    std::error_code ec2;
    for (fs::path p = fs::absolute(run_root, ec2).parent_path(); !p.empty(); p = p.parent_path()) {
      if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXOTH) == 0)
        return FailedPrecondition("launch: run_root " + run_root + " is not reachable by job accounts: " + p.string() +
                                  " does not let others traverse it; choose a run_root (site option) elsewhere");
      if (p == p.root_path()) break;
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Internal("launch: cannot create run directory " + dir + ": " + std::strerror(errno));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Internal("launch: run directory " + dir + " is not a directory: " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0700) == 0 && (!run_as || ::fchown(fd, run_as->uid, run_as->gid) == 0);
  int e = errno;
  ::close(fd);
  if (!ok) return Internal("launch: cannot give run directory " + dir + " to its account: " + std::strerror(e));
  return Status::Ok();
}

Status WriteHandleFile(const RunHandle& h) {
  const std::string tmp = h.run_dir + "/handle.json.tmp", path = h.run_dir + "/handle.json";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << h.ToJson();
    f.flush();
    if (!f) return Internal("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Internal("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace cnet::backends::local
