// DetectCgroups: which cgroup hierarchy this host offers the service (see cgroup.h).
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "backends/local/cgroup.h"
#include "common/strings.h"

namespace cnet::backends::local {
namespace {

struct Mount {
  std::string point, type, options;
};

std::vector<Mount> ReadMounts(const std::string& mounts_file) {
  std::vector<Mount> out;
  auto text = ReadWholeFile(mounts_file);
  if (!text.ok()) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    Mount m;
    std::string device;
    if (f >> device >> m.point >> m.type >> m.options) out.push_back(std::move(m));
  }
  return out;
}

bool HasOption(const std::string& options, const std::string& want) {
  std::istringstream in(options);
  std::string o;
  while (std::getline(in, o, ',')) {
    if (o == want) return true;
  }
  return false;
}

bool HasWord(const std::string& words, const std::string& want) {
  std::istringstream in(words);
  std::string w;
  while (in >> w) {
    if (w == want) return true;
  }
  return false;
}

std::string Canonical(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool IsDir(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The service needs to create its subtree: the parent if it exists, else the directory above.
bool Writable(const std::string& dir, const std::string& parent) {
  std::string p = dir + "/" + parent;
  if (IsDir(p)) return access(p.c_str(), W_OK) == 0;
  return access(dir.c_str(), W_OK) == 0;
}

CgroupHost DetectV2(const std::string& root, CgroupHost host) {
  auto controllers = ReadWholeFile(root + "/cgroup.controllers");
  if (!controllers.ok()) {
    host.why_none = "cannot read " + root + "/cgroup.controllers";
    return host;
  }
  for (const char* c : {"memory", "cpu", "pids"}) {
    if (!HasWord(*controllers, c)) {
      host.why_none = std::string("cgroup2 at ") + root + " lacks the " + c + " controller";
      return host;
    }
  }
  if (!Writable(root, host.parent)) {
    host.why_none = "cannot write under " + root + " (not root?)";
    return host;
  }
  host.version = CgroupVersion::kV2;
  return host;
}

CgroupHost DetectV1(const std::string& root, const std::vector<Mount>& mounts, CgroupHost host) {
  for (const char* c : {"memory", "cpu", "pids", "freezer"}) {
    bool mounted = false;
    for (const Mount& m : mounts) {
      if (m.type == "cgroup" && HasOption(m.options, c) &&
          m.point.rfind(root + "/", 0) == 0) {
        mounted = true;
      }
    }
    std::string dir = root + "/" + c;
    if (!mounted || !IsDir(dir)) {
      host.why_none = std::string("no cgroup2 at ") + root + " and no v1 " + c +
                      " hierarchy at " + dir;
      return host;
    }
    if (!Writable(dir, host.parent)) {
      host.why_none = "cannot write under " + dir + " (not root?)";
      return host;
    }
  }
  host.version = CgroupVersion::kV1;
  return host;
}

}  // namespace

CgroupHost DetectCgroups(const std::string& root, const std::string& mounts_file) {
  CgroupHost host;
  host.root = Canonical(root);
  std::vector<Mount> mounts = ReadMounts(mounts_file);
  if (mounts.empty()) {
    host.why_none = "cannot read mounts from " + mounts_file;
    return host;
  }
  for (const Mount& m : mounts) {
    if (m.type == "cgroup2" && Canonical(m.point) == host.root) return DetectV2(host.root, host);
  }
  return DetectV1(host.root, mounts, host);
}

}  // namespace cnet::backends::local
