#include "api/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cnet::api {

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

namespace {

Status Readable(const char* field, const std::string& path) {
  if (path.empty()) return InvalidArgument(std::string(field) + ": a file is required");
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return InvalidArgument(std::string(field) + ": cannot read '" + path + "': " + std::strerror(errno));
  std::fclose(f);
  return Status::Ok();
}

}  // namespace

Result<SslCtxPtr> MakeServerTlsContext(const TlsFiles& files) {
  CNET_RETURN_IF_ERROR(Readable("tls_cert", files.cert_file));
  CNET_RETURN_IF_ERROR(Readable("tls_key", files.key_file));
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Internal("TLS: cannot create a context: " + OpenSslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert_file.c_str()) != 1)
    return InvalidArgument("tls_cert: '" + files.cert_file + "' is not a usable PEM certificate (" + OpenSslErrors() + ")");
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
      return InvalidArgument("tls_key: '" + files.key_file + "' is not a usable PEM private key (" + OpenSslErrors() + ")");
  } else if (SSL_CTX_check_private_key(ctx.get()) == 1) {
    return ctx;
  }
  return InvalidArgument("tls_key: '" + files.key_file + "' does not match the certificate in '" + files.cert_file +
                         "' (" + OpenSslErrors() + ")");
}

}  // namespace cnet::api
