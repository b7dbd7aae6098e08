// A real Slurm 22.05 site (by default 4 nodes x 16 CPUs x 8 fake H100; LoopbackSlurmOptions for
// another GRES, node count, cluster name and ports; slurmrestd with JWT) on loopback, from
// scripts/slurm, for the suites that need one (run serially: ctest entry slurm_backend). Own BASE
// (a temp dir) and ports, so it does not collide with other sites on the machine:
// CNET_SLURM_TEST_CTLD_PORT (6917), CNET_SLURM_TEST_REST_PORT (6920),
// CNET_SLURM_TEST_SLURMD_PORT_BASE (17100: nodes on 17101..17104); a port in use is replaced by a
// free one further up. CNET_SLURM_TEST_KEEP=1 keeps BASE (logs) after the suite.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace cnet::testing {

inline std::string EnvOr(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v && *v ? v : dflt;
}

// True when nothing listens on (and nothing is bound to) TCP port `port` on 127.0.0.1 / any.
inline bool PortFree(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// `preferred` when it is free (and `count` ports from it), else the next free block above it
// (steps of 10), so that two runs of this suite on one machine do not collide.
inline int PickPorts(int preferred, int count = 1) {
  for (int base = preferred; base < preferred + 2000; base += 10) {
    bool all = true;
    for (int i = 0; i < count && all; ++i) all = PortFree(base + i);
    if (all) return base;
  }
  return preferred;
}

// Reaps zombies of Slurm's processes that are this process's children. When this process is a
// child subreaper (the service makes itself one, and service tests run in this binary), the
// daemons that start.sh detached become its children once start.sh exits, and nobody else reaps
// them: stop.sh would then wait for their /proc entries to vanish. Only Slurm's and munge's
// processes are reaped, never other children of this process.
inline void ReapSlurmZombies() {
  static const std::set<std::string> kNames = {"munged", "slurmctld", "slurmd", "slurmrestd",
                                               "slurmstepd", "slurmscriptd", "srun"};
  const pid_t self = ::getpid();
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in("/proc/" + name + "/stat");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string stat = ss.str();
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    std::string comm = stat.substr(open + 1, close - open - 1);
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == self && state == "Z" && kNames.count(comm)) ::waitpid(std::stoi(name), nullptr, WNOHANG);
  }
}

inline int Shell(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  std::string acc;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) acc.append(buf, n);
  int rc = ::pclose(p);
  if (out) *out = acc;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The shape of a loopback site. Ports are preferences (a busy one is replaced by a free one above);
// 0 = the CNET_SLURM_TEST_* defaults above. Several sites at once need distinct ports and names.
// Makes slurmctld save its job state now and waits (up to `timeout_s`) for `state_file`
// (<base>/state/job_state) to be newer than the call. Slurm saves lazily (batched, seconds apart,
// and only after a change): killed before that save it forgets jobs it had accepted, reuses their
// ids and drains the nodes that still run them. That is Slurm's own loss, not one a test is about,
// so a test that kills slurmctld calls this first: a change to a job's comment is a change it saves.
// `slurm` runs a command with the cluster's environment and returns its exit status.
inline bool MakeSlurmSaveJobState(const std::function<int(const std::string&)>& slurm, const std::string& state_file,
                                  double timeout_s = 30) {
  const auto since = std::chrono::system_clock::now();
  if (slurm("scontrol update JobId=$(squeue -h -o %i | head -1) Comment=cnet-test-save") != 0) return false;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    struct stat st;
    if (::stat(state_file.c_str(), &st) == 0) {
      const auto mtime = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(
              std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
      if (mtime > since) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

struct LoopbackSlurmOptions {
  std::string cluster = "cnettest";
  std::string gres_name = "gpu", gres_type = "h100";  // setup.sh GRES_NAME / GRES_TYPE
  int nodes = 4;
  int ctld_port = 0, rest_port = 0, slurmd_port_base = 0;
};

// One loopback Slurm site. Start() sets `skip` (Slurm not installed, not root) or `error`, or
// starts it; Stop() stops what Start started and removes BASE. After Start, `env` holds the
// variables the scripts need (BASE and ports), e.g. for daemon.sh.
struct LoopbackSlurm {
  std::string skip, error, base, scripts, rest_port, env;
  bool started = false;

  void Start(const std::string& stem) { Start(stem, LoopbackSlurmOptions{}); }

  void Start(const std::string& stem, const LoopbackSlurmOptions& o) {
    skip.clear();
    error.clear();
    for (const char* b : {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/slurmrestd",
                          "/usr/sbin/munged", "/usr/lib/x86_64-linux-gnu/slurm-wlm/auth_jwt.so"}) {
      if (!std::filesystem::exists(b)) {
        skip = std::string("Slurm is not installed (") + b + " missing; scripts/install-deps.sh installs it)";
        return;
      }
    }
    if (::geteuid() != 0) {
      skip = "the Slurm site needs root (slurmd, mknod, munge key ownership)";
      return;
    }
    scripts = std::filesystem::canonical(std::filesystem::path(CNET_TEST_DATA_DIR) / ".." / "scripts" / "slurm").string();
    std::string tmpl = (std::filesystem::temp_directory_path() / (stem + "XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      error = "mkdtemp failed";
      return;
    }
    ::chmod(tmpl.c_str(), 0755);  // munged and job users must traverse it
    base = tmpl;
    const int ctld = PickPorts(o.ctld_port ? o.ctld_port : std::stoi(EnvOr("CNET_SLURM_TEST_CTLD_PORT", "6917")));
    int rest = PickPorts(o.rest_port ? o.rest_port : std::stoi(EnvOr("CNET_SLURM_TEST_REST_PORT", "6920")));
    if (rest == ctld) rest = PickPorts(ctld + 3);
    // slurmd of node i listens on base + i (i = 1..nodes).
    const int slurmd_pref = o.slurmd_port_base ? o.slurmd_port_base : std::stoi(EnvOr("CNET_SLURM_TEST_SLURMD_PORT_BASE", "17100"));
    const int slurmd = PickPorts(slurmd_pref + 1, o.nodes) - 1;
    rest_port = std::to_string(rest);
    env = "BASE=" + base + " SLURMCTLD_PORT=" + std::to_string(ctld) + " RESTPORT=" + rest_port +
          " SLURMD_PORT_BASE=" + std::to_string(slurmd);
    const std::string setup_env = env + " CLUSTER_NAME=" + o.cluster + " NNODES=" + std::to_string(o.nodes) +
                                  " GRES_NAME=" + o.gres_name + " GRES_TYPE=" + o.gres_type;
    std::string out;
    auto t0 = std::chrono::steady_clock::now();
    if (Shell(setup_env + " " + scripts + "/setup.sh", &out) != 0) {
      error = "scripts/slurm/setup.sh failed:\n" + out;
      return;
    }
    if (Shell("BASE=" + base + " " + scripts + "/start.sh", &out) != 0) {
      error = "scripts/slurm/start.sh failed:\n" + out;
      return;
    }
    started = true;
    std::fprintf(stderr, "[slurm] site %s up in %.2f s\n", base.c_str(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  void Stop() {
    if (started) {
      std::string out;
      std::atomic<bool> stopping{true};
      std::thread reaper([&stopping] {
        while (stopping) {
          ReapSlurmZombies();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      });
      int rc = Shell("BASE=" + base + " " + scripts + "/stop.sh", &out);
      stopping = false;
      reaper.join();
      ReapSlurmZombies();
      std::fprintf(stderr, "[slurm] stopped (rc %d)\n", rc);
      if (rc != 0) std::fprintf(stderr, "%s\n", out.c_str());
      started = false;
    }
    if (!base.empty() && std::getenv("CNET_SLURM_TEST_KEEP") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(base, ec);
    }
    base.clear();
  }
};

}  // namespace cnet::testing
