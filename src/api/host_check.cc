#include "api/host_check.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace cnet::api {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// This machine's host name and interface addresses, for a server listening on all of them.
void AddMachineNames(std::set<std::string>& out) {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0]) out.insert(Lower(name));
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    const int fam = a->ifa_addr->sa_family;
    const void* src = fam == AF_INET    ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr)
                      : fam == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr)
                                        : nullptr;
    if (src && inet_ntop(fam, src, buf, sizeof buf)) out.insert(Lower(buf));
  }
  freeifaddrs(list);
}

}  // namespace

std::string HostName(const std::string& h) {
  if (!h.empty() && h[0] == '[') {
    size_t close = h.find(']');
    return Lower(close == std::string::npos ? h.substr(1) : h.substr(1, close - 1));
  }
  size_t colon = h.find(':');
  if (colon != std::string::npos && h.find(':', colon + 1) != std::string::npos) return Lower(h);  // bare IPv6
  return Lower(h.substr(0, colon));
}

HostAllowList HostAllowList::For(const std::string& listen_host, const std::vector<std::string>& configured) {
  HostAllowList a;
  if (!configured.empty()) {
    for (const auto& c : configured) {
      if (c == "*") a.any_ = true;
      a.names_.insert(HostName(c));
    }
    return a;
  }
  a.names_ = {"localhost", "127.0.0.1", "::1"};
  const std::string h = HostName(listen_host);
  if (h.empty() || h == "0.0.0.0" || h == "::") AddMachineNames(a.names_);
  else a.names_.insert(h);
  return a;
}

bool HostAllowList::Allows(const std::string& host_header) const {
  if (host_header.empty()) return false;
  return any_ || names_.count(HostName(host_header)) > 0;
}

}  // namespace cnet::api
