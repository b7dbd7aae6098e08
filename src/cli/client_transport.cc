#include "cli/client_transport.h"

#include <openssl/x509.h>

namespace cnet {

Result<std::string> NormalizeAddr(const std::string& addr) {
  std::string a = addr;
  while (!a.empty() && a.back() == '/') a.pop_back();
  size_t sep = a.find("://");
  if (sep == std::string::npos) a = "http://" + a;
  else if (a.compare(0, sep, "http") != 0 && a.compare(0, sep, "https") != 0)
    return InvalidArgument("--addr: '" + addr + "': use http://HOST:PORT or https://HOST:PORT");
  const size_t host = a.find("://") + 3;
  if (host >= a.size()) return InvalidArgument("--addr: '" + addr + "': no host");
  if (a.find('/', host) != std::string::npos) return InvalidArgument("--addr: '" + addr + "': a path is not supported");
  return a;
}

Result<std::unique_ptr<httplib::Client>> MakeClient(const std::string& url, const std::string& ca_file) {
  std::unique_ptr<httplib::Client> cli;
  try {
    cli = std::make_unique<httplib::Client>(url);
  } catch (const std::exception& e) {
    return InvalidArgument("--addr: '" + url + "': " + e.what());
  }
  if (!cli->is_valid()) return InvalidArgument("--addr: '" + url + "': not a usable address");
  if (url.rfind("https://", 0) == 0) {
    cli->enable_server_certificate_verification(true);
    if (!ca_file.empty()) cli->set_ca_cert_path(ca_file);
  }
  return cli;
}

Status TransportError(const httplib::Client& cli, httplib::Error err, const std::string& url, const std::string& ca_file) {
  const std::string against = ca_file.empty() ? "the system's CA certificates (give --ca-file or $CNET_CA_FILE)"
                                              : "the CA file '" + ca_file + "'";
  switch (err) {
    case httplib::Error::SSLServerVerification: {
      long v = cli.get_openssl_verify_result();
      std::string why = v != X509_V_OK ? X509_verify_cert_error_string(v) : "the certificate does not name this host";
      return Status(Code::kUnavailable, "TLS: the certificate of " + url + " failed verification against " + against + ": " + why);
    }
    case httplib::Error::SSLLoadingCerts:
      return Status(Code::kUnavailable, "TLS: cannot load " + against);
    case httplib::Error::SSLConnection:
      return Status(Code::kUnavailable, "TLS: the handshake with " + url + " failed (is it an HTTPS server?)");
    default:
      return Status(Code::kUnavailable, "cannot reach " + url + " (" + httplib::to_string(err) + "); is `cnet serve` running?");
  }
}

}  // namespace cnet
