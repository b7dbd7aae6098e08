#include "api/bounded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <thread>
#include <vector>

#include "api/json_views.h"

namespace cnet::api {

namespace {

using Clock = std::chrono::steady_clock;
using Time = Clock::time_point;

Time After(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// "1.2.3.4" / "::1" and the port of a socket's peer (remote) or own (local) address.
void AddressOf(int fd, bool remote, std::string& ip, int& port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  ip.clear();
  port = 0;
  if ((remote ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len)) != 0)
    return;
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    port = ntohs(v6->sin6_port);
  }
  ip = buf;
}

// Reads and discards what the peer still sends, after our last response, for at most `seconds` and
// `max_bytes`, so that closing does not reset the connection before the client has read the answer
// (a client still writing a refused body would otherwise see a reset instead of our 413).
void LingerAndClose(int fd, double seconds, size_t max_bytes) {
  ::shutdown(fd, SHUT_WR);
  const Time end = After(seconds);
  char buf[16384];
  size_t seen = 0;
  while (seen < max_bytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100))) < 0 && errno != EINTR) break;
    if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
    if (n > 0) seen += static_cast<size_t>(n);
  }
  ::close(fd);
}

// A whole HTTP response written straight to a fresh socket (refusals before any request is read).
void WriteRefusal(int fd, int status, const std::string& reason, const std::string& message) {
  const std::string body = ErrorJson(status, message).dump();
  const std::string msg = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                          "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)!::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// A thread per connection (httplib's default is a fixed pool, which slow clients fill). Finished
// threads are joined at the next connection or at shutdown. Beyond `hard_cap` threads the task runs
// on the accepting thread: the server is then over its connection cap and refuses it at once.
class ConnectionThreads : public httplib::TaskQueue {
 public:
  explicit ConnectionThreads(size_t hard_cap) : hard_cap_(hard_cap) {}
  ~ConnectionThreads() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock l(mu_);
    Reap(l);
    if (running_ >= hard_cap_) {
      l.unlock();
      fn();
      return;
    }
    ++running_;
    auto it = threads_.emplace(threads_.end());
    *it = std::thread([this, it, fn = std::move(fn)] {
      fn();
      std::lock_guard g(mu_);
      done_.push_back(it);
      --running_;
      cv_.notify_all();
    });
  }

  void shutdown() override {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return running_ == 0; });
    Reap(l);
  }

 private:
  void Reap(std::unique_lock<std::mutex>&) {
    for (auto it : done_) {
      it->join();  // it has finished its task; join only collects it
      threads_.erase(it);
    }
    done_.clear();
  }

  const size_t hard_cap_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t running_ = 0;                                   // guarded by mu_
  std::list<std::thread> threads_;                       // guarded by mu_
  std::vector<std::list<std::thread>::iterator> done_;   // guarded by mu_
};

thread_local Connection* g_current = nullptr;

}  // namespace

Connection* CurrentConnection() { return g_current; }

// Open connections in all and per peer address.
class BoundedServer::Registry {
 public:
  enum class Admission { kOk, kTooManyFromClient, kTooMany };
  explicit Registry(const HttpLimits& l) : limits_(l) {}
  Admission Admit(const std::string& peer) {
    std::lock_guard l(mu_);
    if (total_ >= limits_.max_connections) return Admission::kTooMany;
    int& n = per_peer_[peer];
    if (n >= limits_.max_connections_per_client) {
      if (n == 0) per_peer_.erase(peer);
      return Admission::kTooManyFromClient;
    }
    ++n;
    ++total_;
    return Admission::kOk;
  }
  void Release(const std::string& peer) {
    std::lock_guard l(mu_);
    --total_;
    if (--per_peer_[peer] <= 0) per_peer_.erase(peer);
  }
  int total() const {
    std::lock_guard l(mu_);
    return total_;
  }

 private:
  const HttpLimits limits_;
  mutable std::mutex mu_;
  int total_ = 0;                      // guarded by mu_
  std::map<std::string, int> per_peer_;  // guarded by mu_
};

namespace {

// One connection as httplib's parser sees it: a non-blocking socket (optionally TLS) read through
// a buffer, with the request's deadline and byte budget enforced on every read.
class ConnStream : public httplib::Stream, public Connection {
 public:
  ConnStream(int fd, SSL* ssl, const HttpLimits& limits, const std::atomic<socket_t>& listen_sock)
      : fd_(fd), ssl_(ssl), limits_(limits), listen_sock_(listen_sock) {}
  ~ConnStream() override {
    if (ssl_) SSL_free(ssl_);
  }

  // TLS: the handshake, within the first request's deadline.
  bool Handshake() {
    if (!ssl_) return true;
    const Time deadline = After(limits_.request_deadline_s);
    for (;;) {
      int r = SSL_accept(ssl_);
      if (r == 1) return true;
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ ? !Wait(POLLIN, deadline) : e == SSL_ERROR_WANT_WRITE ? !Wait(POLLOUT, deadline) : true)
        return false;
    }
  }

  // Waits for the next request's first byte: false on idle timeout, stop, or a closed peer.
  bool WaitForRequest() {
    if (pos_ < len_ || (ssl_ && SSL_pending(ssl_) > 0)) return true;
    return Wait(POLLIN, After(limits_.idle_timeout_s));
  }

  void BeginRequest() {
    deadline_ = After(limits_.request_deadline_s);
    budget_ = limits_.max_header_bytes;
    in_body_ = false;
    problem_ = Problem::kNone;
  }

  bool close_after_response() const { return close_after_; }
  bool broken() const { return broken_; }

  // Sends close_notify (TLS) and closes; lingers when the peer may still be sending a refused body.
  void Close() {
    if (ssl_ && !broken_) (void)SSL_shutdown(ssl_);
    if (close_after_) {
      LingerAndClose(fd_, 2.0, 64u << 20);
    } else {
      ::shutdown(fd_, SHUT_RDWR);
      ::close(fd_);
    }
  }

  // Connection
  void AllowBody(size_t bytes) override {
    in_body_ = true;
    budget_ = bytes;
  }
  void CloseAfterResponse() override { close_after_ = true; }
  Problem problem() const override { return problem_; }

  // httplib::Stream
  bool is_readable() const override { return pos_ < len_ || (ssl_ && SSL_pending(ssl_) > 0); }
  bool is_writable() const override {
    if (stopping() || broken_) return false;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
    return true;
  }
  ssize_t read(char* ptr, size_t size) override {
    if (budget_ == 0) {
      if (in_body_) return 0;  // the allowed body is all read: end of input
      problem_ = Problem::kHeadersTooLarge;
      broken_ = true;
      return -1;
    }
    if (pos_ == len_) {
      ssize_t n = Fill();
      if (n <= 0) return n;
    }
    size_t n = std::min({size, len_ - pos_, budget_});
    std::memcpy(ptr, buf_ + pos_, n);
    pos_ += n;
    budget_ -= n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      const Time deadline = After(limits_.write_timeout_s);
      ssize_t n;
      if (ssl_) {
        int r = SSL_write(ssl_, ptr + done, static_cast<int>(std::min<size_t>(size - done, 1 << 30)));
        if (r > 0) {
          n = r;
        } else {
          int e = SSL_get_error(ssl_, r);
          if ((e == SSL_ERROR_WANT_WRITE && Wait(POLLOUT, deadline)) || (e == SSL_ERROR_WANT_READ && Wait(POLLIN, deadline))) continue;
          broken_ = true;
          return -1;
        }
      } else {
        n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
        if (n < 0) {
          if ((errno == EAGAIN || errno == EINTR) && Wait(POLLOUT, deadline)) continue;
          broken_ = true;
          return -1;
        }
      }
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { AddressOf(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { AddressOf(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  bool stopping() const { return listen_sock_ == INVALID_SOCKET; }

  // Waits until fd_ is ready for `events`, in short slices so that a stopping server is noticed;
  // false at the deadline (noted as this request's problem) or when the server stops.
  bool Wait(short events, Time deadline) {
    for (;;) {
      if (stopping()) return false;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        problem_ = Problem::kDeadline;
        return false;
      }
      pollfd p{fd_, events, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
      if (r < 0 && errno != EINTR) return false;
      if (r > 0) return true;  // ready, or an error/hangup that the next call reports
    }
  }

  // Refills the buffer: bytes read, 0 at end of input, -1 on error or deadline.
  ssize_t Fill() {
    pos_ = len_ = 0;
    for (;;) {
      if (Clock::now() >= deadline_) {
        problem_ = Problem::kDeadline;
        broken_ = true;
        return -1;
      }
      if (ssl_) {
        int r = SSL_read(ssl_, buf_, sizeof buf_);
        if (r > 0) return static_cast<ssize_t>(len_ = static_cast<size_t>(r));
        int e = SSL_get_error(ssl_, r);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if ((e == SSL_ERROR_WANT_READ && Wait(POLLIN, deadline_)) || (e == SSL_ERROR_WANT_WRITE && Wait(POLLOUT, deadline_))) continue;
      } else {
        ssize_t n = ::recv(fd_, buf_, sizeof buf_, 0);
        if (n > 0) return static_cast<ssize_t>(len_ = static_cast<size_t>(n));
        if (n == 0) return 0;
        if ((errno == EAGAIN || errno == EINTR) && Wait(POLLIN, deadline_)) continue;
      }
      broken_ = true;
      return -1;
    }
  }

  const int fd_;
  SSL* const ssl_;
  const HttpLimits& limits_;
  const std::atomic<socket_t>& listen_sock_;
  char buf_[16384];
  size_t pos_ = 0, len_ = 0;
  Time deadline_ = Clock::now();
  size_t budget_ = 0;
  bool in_body_ = false;
  bool close_after_ = false;
  bool broken_ = false;
  Problem problem_ = Problem::kNone;
};

}  // namespace

BoundedServer::BoundedServer(const HttpLimits& limits, SslCtxPtr tls)
    : limits_(limits), tls_(std::move(tls)), registry_(std::make_unique<Registry>(limits_)) {
  const size_t hard_cap = static_cast<size_t>(limits_.max_connections) + 64;  // room for quick refusals
  new_task_queue = [hard_cap] { return new ConnectionThreads(hard_cap); };
  set_keep_alive_max_count(100000);
  // Without TCP_NODELAY, httplib's separate header and body writes meet the client's delayed ACK:
  // ~40 ms per request on a keep-alive connection (measured by bench/submit_bench.sh).
  set_tcp_nodelay(true);
}

BoundedServer::~BoundedServer() = default;

int BoundedServer::open_connections() const { return registry_->total(); }

bool BoundedServer::process_and_close_socket(socket_t sock) {
  std::string peer;
  int port = 0;
  AddressOf(sock, true, peer, port);
  const auto admission = registry_->Admit(peer);
  if (admission != Registry::Admission::kOk) {
    // TLS peers get no HTTP answer: that would need a handshake, which is what is being refused.
    if (!tls_) {
      if (admission == Registry::Admission::kTooManyFromClient)
        WriteRefusal(sock, 429, "Too Many Requests",
                     "connections: more than " + std::to_string(limits_.max_connections_per_client) + " open from " + peer);
      else
        WriteRefusal(sock, 503, "Service Unavailable",
                     "connections: the server has " + std::to_string(limits_.max_connections) + " open; try again later");
    }
    LingerAndClose(sock, 0.2, 1u << 20);
    return false;
  }
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = nullptr;
  if (tls_) {
    ssl = SSL_new(tls_.get());
    if (ssl) SSL_set_fd(ssl, sock);
  }
  bool ok = false;
  if (!tls_ || ssl) {
    ConnStream s(sock, ssl, limits_, svr_sock_);
    g_current = &s;
    if (s.Handshake()) {
      for (size_t n = 1; n <= keep_alive_max_count_ && !stopping() && s.WaitForRequest(); ++n) {
        s.BeginRequest();
        bool closed_by_client = false;
        ok = process_request(s, n == keep_alive_max_count_, closed_by_client, nullptr);
        if (!ok || closed_by_client || s.close_after_response() || s.broken()) break;
      }
    }
    g_current = nullptr;
    s.Close();
  } else {
    ::close(sock);
  }
  registry_->Release(peer);
  return ok;
}

}  // namespace cnet::api
