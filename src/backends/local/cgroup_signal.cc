// JobCgroup::Signal: reaching every process of a group, including ones forking meanwhile.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "backends/local/cgroup.h"
#include "common/strings.h"

namespace cnet::backends::local {
namespace {

// Bounds the wait for a freezer to settle; signalling proceeds after it either way (a frozen
// group cannot grow, a group still freezing is signalled twice below).
constexpr int kFreezePolls = 2000;
constexpr auto kFreezePollGap = std::chrono::milliseconds(1);

Status Write(const std::string& path, const std::string& value) {
  FILE* f = std::fopen(path.c_str(), "we");
  if (!f) return Internal("cgroup: cannot open " + path + ": " + std::strerror(errno));
  bool ok = std::fputs(value.c_str(), f) >= 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) return Internal("cgroup: cannot write '" + value + "' to " + path);
  return Status::Ok();
}

bool Frozen(const std::string& state_file, bool v2) {
  auto text = ReadWholeFile(state_file);
  if (!text.ok()) return false;
  if (!v2) return Trim(*text) == "FROZEN";
  return text->find("frozen 1") != std::string::npos;
}

}  // namespace

Result<int> JobCgroup::Signal(int sig) const {
  if (dirs_.empty()) return FailedPrecondition("cgroup: signal on an unopened group");
  const bool v2 = host_.version == CgroupVersion::kV2;
  const std::string& dir = v2 ? dirs_[0] : dirs_[3];
  if (v2 && sig == SIGKILL && access((dir + "/cgroup.kill").c_str(), F_OK) == 0) {
    int n = static_cast<int>(Pids().size());
    CNET_RETURN_IF_ERROR(Write(dir + "/cgroup.kill", "1"));
    return n;
  }
  const std::string freeze = dir + (v2 ? "/cgroup.freeze" : "/freezer.state");
  const std::string state = dir + (v2 ? "/cgroup.events" : "/freezer.state");
  CNET_RETURN_IF_ERROR(Write(freeze, v2 ? "1" : "FROZEN"));
  for (int i = 0; i < kFreezePolls && !Frozen(state, v2); ++i) {
    std::this_thread::sleep_for(kFreezePollGap);
  }
  int signalled = 0;
  for (int round = 0; round < 2; ++round) {
    for (pid_t pid : Pids()) {
      if (kill(pid, sig) == 0 && round == 0) ++signalled;
    }
  }
  CNET_RETURN_IF_ERROR(Write(freeze, v2 ? "0" : "THAWED"));
  return signalled;
}

}  // namespace cnet::backends::local
