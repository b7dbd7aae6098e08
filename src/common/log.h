// Structured logging on spdlog. There is no process-wide logger: a program makes one with
// MakeLogger and passes it down (a library never reads spdlog's default or registered loggers).
// Tests pass NullLogger(). Every line reads
//   2026-11-30T14:20:01.123+00:00 info    [serve] listening on http://127.0.0.1:8080
// (local time with its UTC offset, level as spdlog writes it: debug, info, warning, error;
// component; message). A component's own logger is
// ForComponent(parent, "loop"): same sinks and level, its own name.
// spdlog loggers are thread-safe (the sinks made here are the _mt kind).
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace cnet {

struct LogOptions {
  std::string level = "info";      // "debug", "info", "warn" or "error"
  std::string file;                // empty: stderr only; else also appended to this file
  std::string component = "cnet";  // the logger's name, shown in brackets on every line
};

// The line pattern MakeLogger uses (spdlog syntax).
inline constexpr const char* kLogPattern = "%Y-%m-%dT%H:%M:%S.%e%z %-7l [%n] %v";

// Parses "debug", "info", "warn" or "error"; anything else is InvalidArgument naming the choices.
Result<spdlog::level::level_enum> ParseLogLevel(const std::string& level);

// A logger writing to stderr and, if options.file is set, appending to that file (created if
// missing; InvalidArgument naming the path if it cannot be opened). Flushes after every line: the
// service logs few lines, and a crash must not lose the last ones. Not registered with spdlog.
Result<std::shared_ptr<spdlog::logger>> MakeLogger(const LogOptions& options);

// A logger that discards everything (for tests and callers that want no output).
std::shared_ptr<spdlog::logger> NullLogger(const std::string& component = "null");

// A logger for a sub-component: shares `parent`'s sinks and level, named `component`.
std::shared_ptr<spdlog::logger> ForComponent(const std::shared_ptr<spdlog::logger>& parent,
                                             const std::string& component);

}  // namespace cnet
