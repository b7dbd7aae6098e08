// A real `cnet serve` for CLI end-to-end tests: started with --init in a fresh directory, its admin
// token read from its output, tenants and their tokens made through the CLI itself, and `cnet`
// commands run against it with no user configuration (own XDG_CONFIG_HOME, CNET_* unset).
// CNET_BINARY is the program under test (tests/CMakeLists.txt). Not thread-safe: one test thread.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/strings.h"
#include "testing/serve_process.h"

namespace cnet::testing {

struct CmdResult {
  int rc = -1;  // the command's exit status; -1 when it did not exit normally
  std::string out, err;
};

// The file's contents, or "" when it cannot be read.
inline std::string Slurp(const std::string& path) {
  auto r = cnet::ReadWholeFile(path);
  return r.ok() ? *r : std::string();
}

class CliServer {
 public:
  CliServer() = default;
  CliServer(const CliServer&) = delete;
  CliServer& operator=(const CliServer&) = delete;
  ~CliServer() { Stop(); }

  // Starts the server in <tmp>/<name>-<pid> (emptied first) with `config`, the YAML that follows
  // its `addr` and `data` lines. Returns "" when it answers /healthz and printed its admin token,
  // otherwise what went wrong with the server's output.
  std::string Start(const std::string& name, const std::string& config) {
    dir_ = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "xdg");
    port_ = FreePort();
    const std::string cfg = (dir_ / "cnet.yaml").string(), out = (dir_ / "server.out").string();
    std::ofstream(cfg) << "addr: 127.0.0.1:" << port_ << "\ndata: " << (dir_ / "data").string() << "\n" << config;
    server_ = StartServer(cfg, out, true);
    if (!WaitHealthy(port_, 20)) return "server did not become healthy: " + Slurp(out);
    const std::string text = Slurp(out);
    const size_t at = text.find("cnet_");
    if (at == std::string::npos) return "no admin token in the server's output: " + text;
    admin_ = text.substr(at, text.find_first_of(" \n", at) - at);
    return "";
  }

  // Kills the server (SIGKILL) and removes its directory. Safe to call twice.
  void Stop() {
    if (server_ > 0 && kill(server_, SIGKILL) == 0) waitpid(server_, nullptr, 0);
    server_ = -1;
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    dir_.clear();
  }

  // Creates `tenant` (extra `admin tenant` flags in `flags`) and returns a token for it; "" on failure.
  std::string AddTenant(const std::string& tenant, const std::string& flags = "") const {
    if (Cnet("admin tenant " + tenant + (flags.empty() ? "" : " " + flags), admin_).rc != 0) return "";
    CmdResult tok = Cnet("admin token create --tenant " + tenant, admin_);
    return tok.rc == 0 ? std::string(cnet::Trim(tok.out)) : std::string();
  }

  // `cnet args` with the server's address and `token` in the environment (neither when the token is
  // empty), plus the `env` assignments given (e.g. "TZ=UTC").
  CmdResult Cnet(const std::string& args, const std::string& token, const std::string& env = "") const {
    const std::string o = (dir_ / "cmd.out").string(), e = (dir_ / "cmd.err").string();
    std::string cmd = "env -u CNET_CONFIG -u CNET_ADDR -u CNET_TOKEN XDG_CONFIG_HOME=" + (dir_ / "xdg").string() + " ";
    if (!token.empty()) cmd += "CNET_ADDR=127.0.0.1:" + std::to_string(port_) + " CNET_TOKEN=" + token + " ";
    cmd += env + " " + CNET_BINARY + " " + args + " >" + o + " 2>" + e;
    const int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, Slurp(o), Slurp(e)};
  }

  const std::filesystem::path& dir() const { return dir_; }
  int port() const { return port_; }
  pid_t pid() const { return server_; }
  const std::string& admin() const { return admin_; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t server_ = -1;
  std::string admin_;
};

}  // namespace cnet::testing
