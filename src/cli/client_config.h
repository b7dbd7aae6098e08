// The client configuration file: addr, token and ca_file for the client commands.
// Where it is: $CNET_CONFIG if set, else $XDG_CONFIG_HOME/cnet/config.yaml, else
// $HOME/.config/cnet/config.yaml. A missing file is an empty configuration; a malformed one is an
// error naming the file and line (never a silent fallback to the default address).
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace cnet {

// The keys a client configuration may hold.
inline const char* const kClientConfigKeys[] = {"addr", "token", "ca_file"};

// The file's path as described above; "" when neither XDG_CONFIG_HOME nor HOME is set.
std::string ClientConfigPath();

// key -> value of the file at `path` ({} if it does not exist). Strict YAML, a mapping of the
// keys above to strings; anything else is kInvalidArgument "path:line: ...".
Result<std::map<std::string, std::string>> LoadClientConfig(const std::string& path);

// Writes `values` to `path` (creating its directory), mode 0600 since it may hold a token.
Status SaveClientConfig(const std::string& path, const std::map<std::string, std::string>& values);

}  // namespace cnet
