// What every client command shares: the server address, token and CA file (flags, else
// $CNET_ADDR / $CNET_TOKEN / $CNET_CA_FILE, else the client config file, client_config.h, else
// http://127.0.0.1:8080), one JSON request, and the table helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace cnet {

struct Conn {
  std::string addr, token, ca_file;
  bool json_out = false;
};

// Fills what the flags left empty; an address is kept as given (http:// or https://). A malformed
// config file is an error naming it, never a silent fallback.
Status Resolve(Conn& c);

struct Reply {
  int status = 0;
  std::string body;
  nlohmann::json doc;
};

// One request; HTTP 4xx/5xx become kInvalidArgument (400, 413, 415, 422), kNotFound (404) or
// kFailedPrecondition, with the server's message.
Result<Reply> Call(const Conn& c, const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& ctype = "application/json", httplib::Headers extra = {});

// Local clock time of an epoch-seconds value ("-" if null).
std::string Time(const nlohmann::json& t);
// A future time (an estimated start), local: "HH:MM:SS" within a day from now, else
// "MM-DD HH:MM"; "-" if not a number.
std::string EstimatedTime(const nlohmann::json& t);
// A JSON value as text: strings bare, null as "-".
std::string Str(const nlohmann::json& v);

// --addr, --ca-file, --token, --json.
void AddConn(CLI::App* s, Conn& c);

}  // namespace cnet
