#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <vector>

namespace cnet {

Result<spdlog::level::level_enum> ParseLogLevel(const std::string& level) {
  if (level == "debug") return spdlog::level::debug;
  if (level == "info") return spdlog::level::info;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return InvalidArgument("log level '" + level + "': must be debug, info, warn or error");
}

Result<std::shared_ptr<spdlog::logger>> MakeLogger(const LogOptions& options) {
  CNET_ASSIGN_OR_RETURN(spdlog::level::level_enum level, ParseLogLevel(options.level));
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (!options.file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file, /*truncate=*/false));
    } catch (const spdlog::spdlog_ex& e) {
      return InvalidArgument("log file '" + options.file + "': " + e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>(options.component, sinks.begin(), sinks.end());
  logger->set_pattern(kLogPattern);
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

std::shared_ptr<spdlog::logger> NullLogger(const std::string& component) {
  auto logger = std::make_shared<spdlog::logger>(component, std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::off);
  return logger;
}

std::shared_ptr<spdlog::logger> ForComponent(const std::shared_ptr<spdlog::logger>& parent,
                                             const std::string& component) {
  return parent->clone(component);
}

}  // namespace cnet
