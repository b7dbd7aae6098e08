// `cnet config show | set KEY VALUE | path`: the client configuration file (client_config.h).
#include <iostream>
#include <vector>

#include "cli/client_config.h"
#include "cli/client_conn.h"
#include "cli/commands.h"
#include "common/suggest.h"

namespace cnet {

namespace {

// A token shown by `config show`: enough to recognise it, not enough to use it.
std::string Masked(const std::string& token) {
  return token.size() <= 12 ? std::string(token.empty() ? "" : "(set)") : token.substr(0, 8) + "...";
}

void Show(int* rc) {
  const std::string path = ClientConfigPath();
  auto file = LoadClientConfig(path);
  if (!file.ok()) { *rc = ReportError(file.status()); return; }
  std::cout << "file     " << (path.empty() ? "(none: set XDG_CONFIG_HOME or HOME)" : path) << "\n";
  Conn c;
  if (Status st = Resolve(c); !st.ok()) { *rc = ReportError(st); return; }
  auto from = [&](const char* env, const char* key) {
    return std::getenv(env) && *std::getenv(env) ? std::string("$") + env : file->count(key) ? "file" : "default";
  };
  std::cout << "addr     " << c.addr << "  (" << from("CNET_ADDR", "addr") << ")\n"
            << "token    " << (c.token.empty() ? "-" : Masked(c.token)) << "  (" << from("CNET_TOKEN", "token") << ")\n"
            << "ca_file  " << (c.ca_file.empty() ? "-" : c.ca_file) << "  (" << from("CNET_CA_FILE", "ca_file") << ")\n";
  *rc = 0;
}

void Set(const std::string& key, const std::string& value, int* rc) {
  const std::vector<std::string> keys(std::begin(kClientConfigKeys), std::end(kClientConfigKeys));
  bool known = false;
  for (const auto& k : keys) known = known || k == key;
  if (!known) { *rc = ReportError(InvalidArgument("config: unknown key '" + key + "'" + DidYouMean(key, keys) + " (keys: addr, token, ca_file)")); return; }
  const std::string path = ClientConfigPath();
  auto file = LoadClientConfig(path);
  if (!file.ok()) { *rc = ReportError(file.status()); return; }
  if (value.empty()) file->erase(key);
  else (*file)[key] = value;
  if (Status st = SaveClientConfig(path, *file); !st.ok()) { *rc = ReportError(st); return; }
  std::cout << (value.empty() ? "removed " : "set ") << key << " in " << path << "\n";
  *rc = 0;
}

}  // namespace

void AddConfigCommand(CLI::App& app, int* rc) {
  CLI::App* cfg = app.add_subcommand("config", "the client configuration file (addr, token, ca_file)");
  cfg->require_subcommand(1);
  cfg->add_subcommand("show", "the file's path and the effective addr, token and CA file, with where each came from")
      ->callback([rc] { Show(rc); });
  auto key = std::make_shared<std::string>(), value = std::make_shared<std::string>();
  CLI::App* set = cfg->add_subcommand("set", "set KEY (addr, token, ca_file) to VALUE in the file; an empty VALUE removes it");
  set->add_option("key", *key, "addr, token or ca_file")->required();
  set->add_option("value", *value, "the value")->required();
  set->callback([key, value, rc] { Set(*key, *value, rc); });
  cfg->add_subcommand("path", "print the file's path")->callback([rc] {
    std::cout << ClientConfigPath() << "\n";
    *rc = 0;
  });
}

}  // namespace cnet
