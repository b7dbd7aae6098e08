// JobCgroup on cgroup v1 (memory, cpu, pids, freezer hierarchies) and v2 (one unified tree).
#include "backends/local/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "common/strings.h"

namespace cnet::backends::local {
namespace {

constexpr int64_t kCfsPeriodUs = 100000;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Writes `value` in one write(2), as cgroup files expect; the error names the file.
Status WriteFile(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cgroup: cannot open " + path + ": " + std::strerror(errno));
  ssize_t n = write(fd, value.data(), value.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return Internal("cgroup: cannot write '" + Trim(value) + "' to " + path + ": " +
                    std::strerror(err));
  }
  return Status::Ok();
}

Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return Status::Ok();
  return Internal("cgroup: cannot create " + path + ": " + std::strerror(errno));
}

// The value of "key N" in a flat keyed file (memory.events, memory.oom_control), or -1.
int64_t KeyedValue(const std::string& path, const std::string& key) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return -1;
  std::istringstream in(*text);
  std::string k;
  int64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return -1;
}

std::optional<int64_t> NumberIn(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return std::nullopt;
  return ParseInt(*text);
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 200 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// v1 hierarchies in attach order; the memory hierarchy is the one Pids() reads.
const char* const kV1Controllers[] = {"memory", "cpu", "pids", "freezer"};

std::vector<std::string> ParentDirs(const CgroupHost& host) {
  std::vector<std::string> out;
  if (host.version == CgroupVersion::kV2) {
    out.push_back(host.root + "/" + host.parent);
  } else {
    for (const char* c : kV1Controllers) out.push_back(host.root + "/" + c + "/" + host.parent);
  }
  return out;
}

// v2 only delegates a controller to a child when every ancestor's subtree_control enables it.
Status EnableV2Controllers(const CgroupHost& host) {
  for (const std::string& dir : {host.root, host.root + "/" + host.parent}) {
    auto now = ReadWholeFile(dir + "/cgroup.subtree_control");
    std::string want;
    for (const char* c : {"memory", "cpu", "pids"}) {
      bool on = false;
      if (now.ok()) {
        std::istringstream in(*now);
        std::string w;
        while (in >> w) on = on || w == c || w == std::string("+") + c;
      }
      if (!on) want += std::string(want.empty() ? "+" : " +") + c;
    }
    if (!want.empty()) CNET_RETURN_IF_ERROR(WriteFile(dir + "/cgroup.subtree_control", want));
  }
  return Status::Ok();
}

Status WriteV2Limits(const std::string& dir, const CgroupLimits& l) {
  CNET_RETURN_IF_ERROR(WriteFile(
      dir + "/memory.max", l.memory_bytes > 0 ? std::to_string(l.memory_bytes) : "max"));
  if (l.memory_bytes > 0 && Exists(dir + "/memory.swap.max")) {
    CNET_RETURN_IF_ERROR(WriteFile(dir + "/memory.swap.max", "0"));
  }
  std::string quota = "max";
  if (l.cpus > 0) quota = std::to_string(std::max<int64_t>(1000, l.cpus * kCfsPeriodUs));
  CNET_RETURN_IF_ERROR(WriteFile(dir + "/cpu.max", quota + " " + std::to_string(kCfsPeriodUs)));
  return WriteFile(dir + "/pids.max", l.pids > 0 ? std::to_string(l.pids) : "max");
}

// memsw (memory + swap) must stay >= the memory limit, so the order of the two writes depends on
// whether the limit grows or shrinks; trying memory first and falling back covers both.
Status WriteV1Memory(const std::string& dir, const CgroupLimits& l) {
  std::string v = l.memory_bytes > 0 ? std::to_string(l.memory_bytes) : "-1";
  std::string mem = dir + "/memory.limit_in_bytes", memsw = dir + "/memory.memsw.limit_in_bytes";
  if (!Exists(memsw)) return WriteFile(mem, v);
  if (WriteFile(mem, v).ok()) return WriteFile(memsw, v);
  CNET_RETURN_IF_ERROR(WriteFile(memsw, v));
  return WriteFile(mem, v);
}

Status WriteV1Limits(const std::vector<std::string>& dirs, const CgroupLimits& l) {
  CNET_RETURN_IF_ERROR(WriteV1Memory(dirs[0], l));
  CNET_RETURN_IF_ERROR(WriteFile(dirs[1] + "/cpu.cfs_period_us", std::to_string(kCfsPeriodUs)));
  std::string quota = "-1";
  if (l.cpus > 0) quota = std::to_string(std::max<int64_t>(1000, l.cpus * kCfsPeriodUs));
  CNET_RETURN_IF_ERROR(WriteFile(dirs[1] + "/cpu.cfs_quota_us", quota));
  return WriteFile(dirs[2] + "/pids.max", l.pids > 0 ? std::to_string(l.pids) : "max");
}

std::vector<pid_t> ReadPids(const std::string& procs_file) {
  std::vector<pid_t> out;
  auto text = ReadWholeFile(procs_file);
  if (!text.ok()) return out;
  std::istringstream in(*text);
  long pid = 0;
  while (in >> pid) out.push_back(static_cast<pid_t>(pid));
  return out;
}

}  // namespace

Result<JobCgroup> JobCgroup::Open(const CgroupHost& host, const std::string& name) {
  if (!ValidName(name)) {
    return InvalidArgument("cgroup: field 'name': '" + name +
                           "' is not a single path component of [A-Za-z0-9._-]");
  }
  if (host.version == CgroupVersion::kNone) {
    return Unavailable("cgroup: this host has no usable cgroups: " + host.why_none);
  }
  JobCgroup g;
  g.host_ = host;
  g.name_ = name;
  for (const std::string& parent : ParentDirs(host)) {
    g.dirs_.push_back(parent + "/" + name);
    g.procs_files_.push_back(g.dirs_.back() + "/cgroup.procs");
    if (!Exists(g.dirs_.back())) return NotFound("cgroup: " + g.dirs_.back() + " does not exist");
  }
  return g;
}

Result<JobCgroup> JobCgroup::Create(const CgroupHost& host, const std::string& name,
                                    const CgroupLimits& limits) {
  if (limits.memory_bytes < 0 || limits.cpus < 0 || limits.pids < 0) {
    return InvalidArgument("cgroup: field 'limits': memory, cpus and pids must be >= 0");
  }
  if (ValidName(name) && host.version != CgroupVersion::kNone) {
    if (host.version == CgroupVersion::kV2) {
      CNET_RETURN_IF_ERROR(MakeDir(host.root + "/" + host.parent));
      CNET_RETURN_IF_ERROR(EnableV2Controllers(host));
    }
    for (const std::string& parent : ParentDirs(host)) {
      CNET_RETURN_IF_ERROR(MakeDir(parent));
      CNET_RETURN_IF_ERROR(MakeDir(parent + "/" + name));
    }
  }
  CNET_ASSIGN_OR_RETURN(JobCgroup g, Open(host, name));
  if (host.version == CgroupVersion::kV2) {
    CNET_RETURN_IF_ERROR(WriteV2Limits(g.dirs_[0], limits));
  } else {
    CNET_RETURN_IF_ERROR(WriteV1Limits(g.dirs_, limits));
  }
  return g;
}

Status JobCgroup::Attach(pid_t pid) const {
  for (const std::string& f : procs_files_) {
    CNET_RETURN_IF_ERROR(WriteFile(f, std::to_string(pid) + "\n"));
  }
  return Status::Ok();
}

std::vector<pid_t> JobCgroup::Pids() const {
  return procs_files_.empty() ? std::vector<pid_t>{} : ReadPids(procs_files_[0]);
}

bool JobCgroup::OomKilled() const {
  if (dirs_.empty()) return false;
  if (host_.version == CgroupVersion::kV2) return KeyedValue(dirs_[0] + "/memory.events", "oom_kill") > 0;
  int64_t kills = KeyedValue(dirs_[0] + "/memory.oom_control", "oom_kill");
  if (kills >= 0) return kills > 0;
  // Kernels before 4.13 have no oom_kill counter: a failed charge at the limit is the best sign.
  auto fail = NumberIn(dirs_[0] + "/memory.failcnt");
  auto peak = NumberIn(dirs_[0] + "/memory.max_usage_in_bytes");
  auto limit = NumberIn(dirs_[0] + "/memory.limit_in_bytes");
  return fail && *fail > 0 && peak && limit && *peak >= *limit;
}

std::optional<int64_t> JobCgroup::PeakMemoryBytes() const {
  if (dirs_.empty()) return std::nullopt;
  if (host_.version == CgroupVersion::kV2) return NumberIn(dirs_[0] + "/memory.peak");
  return NumberIn(dirs_[0] + "/memory.max_usage_in_bytes");
}

Status JobCgroup::Remove() const {
  if (!Empty()) {
    return FailedPrecondition("cgroup: " + name_ + " still has processes; cannot remove it");
  }
  for (const std::string& dir : dirs_) {
    // An exiting task may hold the group for a moment after it left cgroup.procs.
    int tries = 0;
    while (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      if (errno != EBUSY || ++tries > 100) {
        return Internal("cgroup: cannot remove " + dir + ": " + std::strerror(errno));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return Status::Ok();
}

}  // namespace cnet::backends::local
