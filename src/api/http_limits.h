// Bounds on what one HTTP client can make the server hold: connections, time and bytes per request,
// and the size of list responses. Value type; the service config carries one (config.h), and
// `cnet serve` flags override it. The body cap itself is api::Limits::max_body_bytes.
#pragma once

#include <cstddef>
#include <string>

namespace cnet::api {

struct HttpLimits {
  int max_connections = 1000;           // open connections, all clients together (503 beyond)
  int max_connections_per_client = 64;  // open connections from one peer IP address (429 beyond)
  double request_deadline_s = 10;       // request line, headers and body, from the request's first byte
  double idle_timeout_s = 5;            // a keep-alive connection with no request for this long is closed
  double write_timeout_s = 10;          // one write of a response may wait this long for the client
  size_t max_header_bytes = 64 << 10;   // request line and headers together (431 beyond)
  size_t max_list_bytes = 4 << 20;      // a list response stops adding items here (and gives `next`)
};

// TLS for `cnet serve`: PEM files; both empty = plain HTTP.
struct TlsFiles {
  std::string cert_file;  // the server's certificate (chain: leaf first)
  std::string key_file;   // its private key, unencrypted
};

}  // namespace cnet::api
