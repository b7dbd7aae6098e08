// common/log.h: level parsing, the file sink and its line format, the null logger.
#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cnet {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(LogTest, ParsesTheFourLevelsAndRejectsOthers) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  auto bad = ParseLogLevel("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("verbose"), std::string::npos);
  LogOptions upper;
  upper.level = "INFO";
  EXPECT_FALSE(MakeLogger(upper).ok());
}

TEST(LogTest, FileSinkGetsLevelComponentAndMessageAndHonoursTheLevel) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / ("cnet-log-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "serve.log").string();
  {
    auto log = MakeLogger({.level = "info", .file = path, .component = "serve"});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    (*log)->debug("not shown");
    (*log)->info("listening on {}", 8080);
    ForComponent(*log, "loop")->warn("slow tick");
  }
  std::string text = ReadAll(path);
  EXPECT_EQ(text.find("not shown"), std::string::npos) << text;
  EXPECT_NE(text.find("info    [serve] listening on 8080"), std::string::npos) << text;
  EXPECT_NE(text.find("warning [loop] slow tick"), std::string::npos) << text;
  // Appends, never truncates.
  {
    auto log = MakeLogger({.level = "debug", .file = path});
    ASSERT_TRUE(log.ok());
    (*log)->debug("second run");
  }
  text = ReadAll(path);
  EXPECT_NE(text.find("listening on 8080"), std::string::npos) << text;
  EXPECT_NE(text.find("debug   [cnet] second run"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

TEST(LogTest, UnopenableFileIsAnErrorNamingThePath) {
  // Under a regular file: no directory can be made there, not even by root.
  std::string blocker = (std::filesystem::temp_directory_path() / ("cnet-log-file-" + std::to_string(getpid()))).string();
  std::ofstream(blocker) << "x";
  std::string path = blocker + "/sub/serve.log";
  auto log = MakeLogger({.file = path});
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find(path), std::string::npos) << log.status().message();
  std::filesystem::remove(blocker);
}

TEST(LogTest, NullLoggerDiscards) {
  auto log = NullLogger();
  ASSERT_NE(log, nullptr);
  log->error("dropped");
  EXPECT_FALSE(log->should_log(spdlog::level::err));
}

}  // namespace
}  // namespace cnet
