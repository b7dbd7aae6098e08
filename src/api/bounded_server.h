// An httplib::Server whose connections are bounded, so that slow or greedy clients cannot starve
// the others or make the server hold memory:
//  - one thread per connection, up to HttpLimits::max_connections in all (503 beyond) and
//    max_connections_per_client per peer IP address (429 beyond): a slow client holds only its
//    own threads, never a shared pool;
//  - a total deadline per request (request line, headers and body, from its first byte; 408),
//    an idle timeout between keep-alive requests, and a timeout per response write;
//  - a byte budget: max_header_bytes for the request line and headers (431), then exactly the body
//    the request gate allowed (Connection::AllowBody), then end of input;
//  - optional TLS (OpenSSL) on the same terms; the handshake counts in the first request's deadline.
// Debian's cpp-httplib 0.11 has no per-connection hook, so this overrides its per-connection entry
// point, Server::process_and_close_socket (a private virtual; overriding one is ordinary C++), and
// hands httplib's request parser (process_request, protected) a Stream of its own.
// Keep-alive and TCP_NODELAY are kept. Thread-safe as httplib::Server is.
#pragma once

#include <httplib.h>

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#error "cpp-httplib must be used with CPPHTTPLIB_OPENSSL_SUPPORT (as Debian builds it; see pkg-config --cflags cpp-httplib)"
#endif

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/http_limits.h"
#include "api/tls_context.h"

namespace cnet::api {

// The connection the calling thread serves, for the request gate (request_gate.h), which runs on
// that thread after the headers were read and before any body byte is.
class Connection {
 public:
  virtual ~Connection() = default;
  // The headers are acceptable: the body may be `bytes` long; reads end there.
  virtual void AllowBody(size_t bytes) = 0;
  // Close the connection after this response (its body was refused and is left unread).
  virtual void CloseAfterResponse() = 0;
  enum class Problem { kNone, kDeadline, kHeadersTooLarge };
  // Why reading this request failed, if it did (the error handler answers 408 or 431).
  virtual Problem problem() const = 0;
};
// The connection served by the calling thread; nullptr on other threads.
Connection* CurrentConnection();

class BoundedServer : public httplib::Server {
 public:
  // `tls`: null for plain HTTP.
  BoundedServer(const HttpLimits& limits, SslCtxPtr tls);
  ~BoundedServer() override;
  BoundedServer(const BoundedServer&) = delete;
  BoundedServer& operator=(const BoundedServer&) = delete;

  bool tls() const { return tls_ != nullptr; }
  int open_connections() const;  // admitted and not yet closed

 private:
  class Registry;
  bool process_and_close_socket(socket_t sock) override;
  bool stopping() const { return svr_sock_ == INVALID_SOCKET; }

  const HttpLimits limits_;
  SslCtxPtr tls_;
  std::unique_ptr<Registry> registry_;
};

}  // namespace cnet::api
