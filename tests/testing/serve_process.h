// Helpers for tests that run the real `cnet serve` as a child process (crash and signal tests):
// a free loopback port, starting the server with its output appended to a file, and waiting for
// /healthz. CNET_BINARY is the program under test (tests/CMakeLists.txt).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace cnet::testing {

// A free loopback port: bind port 0 on a plain socket, read it back, close it.
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// Forks `cnet serve --config cfg [--init]` with stdout and stderr appended to `out`.
inline pid_t StartServer(const std::string& cfg, const std::string& out, bool init) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    if (init) execl(CNET_BINARY, CNET_BINARY, "serve", "--config", cfg.c_str(), "--init", (char*)nullptr);
    else execl(CNET_BINARY, CNET_BINARY, "serve", "--config", cfg.c_str(), (char*)nullptr);
    _exit(127);
  }
  return pid;
}

// Forks `cnet args...` (e.g. serve with flags) with stdout and stderr appended to `out`.
inline pid_t StartCnet(const std::vector<std::string>& args, const std::string& out) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv{const_cast<char*>(CNET_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(CNET_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// Whether GET /healthz on 127.0.0.1:port answers 200 within `secs`.
inline bool WaitHealthy(int port, double secs) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
  while (std::chrono::steady_clock::now() < end) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(0, 200000);
    if (auto r = c.Get("/healthz"); r && r->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace cnet::testing
