// TLS for `cnet serve`: an OpenSSL server context from PEM files, with errors that name the file
// at fault. Pure functions; the context is then shared read-only by all connections.
#pragma once

#include <openssl/ssl.h>

#include <memory>

#include "api/http_limits.h"
#include "common/status.h"

namespace cnet::api {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// TLS 1.2 or later; the certificate chain from cert_file (leaf first), the key from key_file.
// kInvalidArgument naming tls_cert or tls_key and the path: unreadable, not PEM, or a key that
// does not match the certificate.
Result<SslCtxPtr> MakeServerTlsContext(const TlsFiles& files);

// The OpenSSL error queue as one line (and cleared), for messages.
std::string OpenSslErrors();

}  // namespace cnet::api
