#include "cli/client_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common/strings.h"
#include "common/suggest.h"
#include "common/yaml_strict.h"

namespace cnet {

std::string ClientConfigPath() {
  if (const char* p = std::getenv("CNET_CONFIG"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/cnet/config.yaml";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.config/cnet/config.yaml";
  return "";
}

Result<std::map<std::string, std::string>> LoadClientConfig(const std::string& path) {
  std::map<std::string, std::string> out;
  if (path.empty()) return out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  CNET_RETURN_IF_ERROR(CheckStrictYaml(text, path));
  const std::vector<std::string> keys(std::begin(kClientConfigKeys), std::end(kClientConfigKeys));
  try {
    YAML::Node n = YAML::Load(text);
    if (!n || n.IsNull()) return out;
    if (!n.IsMap()) return InvalidArgument(path + ":" + std::to_string(n.Mark().line + 1) + ": expected a mapping of addr, token, ca_file");
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string k = it->first.Scalar();
      const std::string at = path + ":" + std::to_string(it->first.Mark().line + 1) + ": ";
      bool known = false;
      for (const auto& a : keys) known = known || a == k;
      if (!known) return InvalidArgument(at + "field '" + k + "': unknown field" + DidYouMean(k, keys) + " (allowed: addr, token, ca_file)");
      if (!it->second.IsScalar()) return InvalidArgument(at + "field '" + k + "': expected a string");
      out[k] = it->second.Scalar();
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return out;
}

Status SaveClientConfig(const std::string& path, const std::map<std::string, std::string>& values) {
  if (path.empty()) return InvalidArgument("config: set XDG_CONFIG_HOME, HOME or CNET_CONFIG to say where the file goes");
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return InvalidArgument(path + ": cannot create its directory: " + ec.message());
  YAML::Emitter e;
  e << YAML::BeginMap;
  for (const auto& [k, v] : values) e << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
  e << YAML::EndMap;
  const std::string text = std::string(e.c_str()) + "\n";
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return InvalidArgument(tmp + ": " + std::strerror(errno));
  const bool wrote = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool closed = ::close(fd) == 0;
  if (!wrote || !closed || ::rename(tmp.c_str(), path.c_str()) != 0) return InvalidArgument(path + ": cannot write: " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace cnet
