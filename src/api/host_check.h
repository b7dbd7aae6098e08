// The Host header check (a defence against DNS rebinding: a web page that makes a browser send
// requests to a name resolving to this server). A request whose Host names no allowed host is
// answered 421 before any handler runs; one without a Host header 400. The port in the header is
// not compared (a proxy may change it). Immutable after construction: thread-safe.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace cnet::api {

class HostAllowList {
 public:
  // `configured` empty: the listen host, the localhost names (localhost, 127.0.0.1, ::1), and
  // when the listen host is a wildcard (0.0.0.0, ::, "") also this machine's host name and the
  // addresses of its interfaces. Otherwise exactly `configured` (and "*" allows any host).
  // Names compare without regard to case.
  static HostAllowList For(const std::string& listen_host, const std::vector<std::string>& configured);
  // `host_header`: "name", "name:port", "1.2.3.4:port", "[::1]:port".
  bool Allows(const std::string& host_header) const;
  const std::set<std::string>& names() const { return names_; }

 private:
  std::set<std::string> names_;  // lower case, IPv6 without brackets
  bool any_ = false;
};

// "Name:8080" -> "name"; "[::1]:80" -> "::1"; lower case.
std::string HostName(const std::string& host_header);

}  // namespace cnet::api
