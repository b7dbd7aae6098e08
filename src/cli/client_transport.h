// The CLI's transport to the API: http:// or https:// addresses, a CA file for https, and errors
// that say what failed (a TLS verification is named as such, with OpenSSL's reason).
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace cnet {

// "host:port" -> "http://host:port"; http:// and https:// are kept; a trailing '/' is dropped.
// Any other scheme, or a path after the port, is kInvalidArgument naming --addr.
Result<std::string> NormalizeAddr(const std::string& addr);

// A client for `url` (from NormalizeAddr). https: the server's certificate must verify against
// `ca_file` (PEM), or the system's CAs when it is empty, and name the host.
Result<std::unique_ptr<httplib::Client>> MakeClient(const std::string& url, const std::string& ca_file);

// kUnavailable describing a failed exchange with `url` (no HTTP answer).
Status TransportError(const httplib::Client& cli, httplib::Error err, const std::string& url, const std::string& ca_file);

}  // namespace cnet
