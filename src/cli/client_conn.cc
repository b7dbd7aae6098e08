#include "cli/client_conn.h"

#include <cstdlib>
#include <ctime>

#include "cli/client_config.h"
#include "cli/client_transport.h"

namespace cnet {

using nlohmann::json;

Status Resolve(Conn& c) {
  auto env = [](const char* name) { const char* v = std::getenv(name); return std::string(v ? v : ""); };
  if (c.addr.empty()) c.addr = env("CNET_ADDR");
  if (c.token.empty()) c.token = env("CNET_TOKEN");
  if (c.ca_file.empty()) c.ca_file = env("CNET_CA_FILE");
  if (c.addr.empty() || c.token.empty() || c.ca_file.empty()) {
    CNET_ASSIGN_OR_RETURN(auto file, LoadClientConfig(ClientConfigPath()));
    if (c.addr.empty()) c.addr = file["addr"];
    if (c.token.empty()) c.token = file["token"];
    if (c.ca_file.empty()) c.ca_file = file["ca_file"];
  }
  if (c.addr.empty()) c.addr = "127.0.0.1:8080";
  CNET_ASSIGN_OR_RETURN(c.addr, NormalizeAddr(c.addr));
  return Status::Ok();
}

Result<Reply> Call(const Conn& c, const std::string& method, const std::string& path, const std::string& body,
                   const std::string& ctype, httplib::Headers extra) {
  CNET_ASSIGN_OR_RETURN(auto cli, MakeClient(c.addr, c.ca_file));
  cli->set_connection_timeout(5, 0);
  cli->set_read_timeout(60, 0);
  httplib::Headers h = std::move(extra);
  if (!c.token.empty()) h.emplace("Authorization", "Bearer " + c.token);
  httplib::Result r = method == "GET"    ? cli->Get(path, h)
                      : method == "POST" ? cli->Post(path, h, body, ctype)
                      : method == "PUT"  ? cli->Put(path, h, body, ctype)
                      : method == "PATCH" ? cli->Patch(path, h, body, ctype)
                                         : cli->Delete(path, h);
  if (!r) return TransportError(*cli, r.error(), c.addr, c.ca_file);
  Reply out{r->status, r->body, json::parse(r->body, nullptr, false)};
  if (r->status >= 400) {
    std::string m = out.doc.is_object() && out.doc.contains("error") ? out.doc["error"].value("message", r->body) : r->body;
    return Status(r->status == 400 || r->status == 413 || r->status == 415 || r->status == 422 ? Code::kInvalidArgument
                  : r->status == 404 ? Code::kNotFound : Code::kFailedPrecondition,
                  "HTTP " + std::to_string(r->status) + ": " + m);
  }
  return out;
}

std::string Time(const json& t) {
  if (!t.is_number()) return "-";
  std::time_t s = static_cast<std::time_t>(t.get<double>());
  char b[32];
  std::strftime(b, sizeof b, "%H:%M:%S", std::localtime(&s));
  return b;
}

std::string EstimatedTime(const json& t) {
  if (!t.is_number()) return "-";
  const double at = t.get<double>();
  std::time_t s = static_cast<std::time_t>(at);
  const bool soon = at - static_cast<double>(std::time(nullptr)) < 86400;
  char b[32];
  std::strftime(b, sizeof b, soon ? "%H:%M:%S" : "%m-%d %H:%M", std::localtime(&s));
  return b;
}

std::string Str(const json& v) { return v.is_string() ? v.get<std::string>() : v.is_null() ? "-" : v.dump(); }

void AddConn(CLI::App* s, Conn& c) {
  s->add_option("--addr", c.addr, "server HOST:PORT, http://HOST:PORT or https://HOST:PORT (or $CNET_ADDR)");
  s->add_option("--ca-file", c.ca_file, "PEM CA certificate(s) to verify an https server (or $CNET_CA_FILE)");
  s->add_option("--token", c.token, "API token (or $CNET_TOKEN)");
  s->add_flag("--json", c.json_out, "print the server's JSON");
}

}  // namespace cnet
