#include "backends/unix_account.h"

#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace cnet::backends {

std::string DefaultUnixUser(const std::string& tenant) {
  std::string out = "cnet-";
  for (char ch : tenant) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '-';
  }
  return out.substr(0, 32);
}

Status CheckUnixUserName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 32 && (std::islower(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name) ok = ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (ok) return Status::Ok();
  return InvalidArgument("unix_user: '" + name + "' is not a valid account name (1-32 of a-z, 0-9, '_', '-', starting with a letter or '_')");
}

Result<std::optional<UnixAccount>> LookupAccount(const std::string& name) {
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 && rc != ENOENT && rc != ESRCH) return Internal("getpwnam_r(" + name + "): " + std::strerror(rc));
  if (found == nullptr) return std::optional<UnixAccount>();
  UnixAccount a{name, pw.pw_uid, pw.pw_gid, {}};
  int n = 64;
  std::vector<gid_t> groups(n);
  while (::getgrouplist(name.c_str(), pw.pw_gid, groups.data(), &n) < 0) groups.resize(n);
  groups.resize(n);
  a.groups = std::move(groups);
  return std::optional<UnixAccount>(std::move(a));
}

namespace {

// Runs argv; returns its exit status (or -1 if it could not run / was killed).
int RunProgram(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

Status CreateSystemAccount(const std::string& name) {
  CNET_RETURN_IF_ERROR(CheckUnixUserName(name));
  CNET_ASSIGN_OR_RETURN(auto existing, LookupAccount(name));
  if (existing) return Status::Ok();
  if (::geteuid() != 0) return PermissionDenied("cannot create Unix account '" + name + "': the service does not run as root");
  const std::vector<std::string> args = {"/usr/sbin/useradd", "--system", "--user-group", "--no-create-home",
                                         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name};
  int rc = -1;
  for (int attempt = 0; attempt < 20; ++attempt) {
    rc = RunProgram(args);
    if (rc == 0 || rc == 9) return Status::Ok();  // 9: the name is taken (created meanwhile)
    if (rc != 10) break;                           // 10: /etc/passwd is locked by someone else
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Internal("cannot create Unix account '" + name + "': useradd exited " + std::to_string(rc));
}

}  // namespace cnet::backends
