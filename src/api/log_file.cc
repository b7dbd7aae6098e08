#include "api/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cnet::api {
namespace {

// Closes a descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::string> ReadLogChunk(const std::string& path, size_t offset, size_t max) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0) return errno == ENOENT ? NotFound("log: no such file") : Internal("log: " + std::string(std::strerror(errno)));
  // O_NONBLOCK: opening a FIFO planted in place of the log must not hang this thread.
  Fd f{::openat(d.fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return NotFound("log: no such file");
    if (errno == ELOOP) return PermissionDenied("log: the log file is a symbolic link; not served");
    return Internal("log: " + std::string(std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return Internal("log: " + std::string(std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return PermissionDenied("log: not a regular file; not served");
  std::string out(max, '\0');
  ssize_t n;
  do {
    n = ::pread(f.fd, out.data(), max, static_cast<off_t>(offset));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Internal("log: " + std::string(std::strerror(errno)));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace cnet::api
