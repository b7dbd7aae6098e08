// The log endpoint's file reading: only a regular file, never through a symbolic link.
#include "api/log_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace cnet::api {
namespace {

namespace fs = std::filesystem;

class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/log-file-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ + "/secret") << "root:$y$hash:19000:0:99999:7:::\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(LogFileTest, ReadsARegularFileFromAnOffset) {
  std::ofstream(dir_ + "/stdout.log") << "hello world\n";
  auto all = ReadLogChunk(dir_ + "/stdout.log", 0, 65536);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, "hello world\n");
  EXPECT_EQ(*ReadLogChunk(dir_ + "/stdout.log", 6, 3), "wor");
  EXPECT_EQ(*ReadLogChunk(dir_ + "/stdout.log", 12, 10), "");
  EXPECT_EQ(ReadLogChunk(dir_ + "/missing.log", 0, 10).status().code(), Code::kNotFound);
}

// A job swapped its stdout.log for a link to a file it cannot read (/etc/shadow in the attack).
TEST_F(LogFileTest, ASymbolicLinkIsNotFollowed) {
  fs::create_symlink(dir_ + "/secret", dir_ + "/stdout.log");
  auto r = ReadLogChunk(dir_ + "/stdout.log", 0, 65536);
  ASSERT_FALSE(r.ok()) << "served: " << *r;
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
  fs::create_symlink("/etc/shadow", dir_ + "/stderr.log");
  EXPECT_EQ(ReadLogChunk(dir_ + "/stderr.log", 0, 65536).status().code(), Code::kPermissionDenied);
}

TEST_F(LogFileTest, AFifoOrDirectoryIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((dir_ + "/stdout.log").c_str(), 0600), 0);
  EXPECT_EQ(ReadLogChunk(dir_ + "/stdout.log", 0, 10).status().code(), Code::kPermissionDenied);
  fs::create_directories(dir_ + "/stderr.log");
  EXPECT_FALSE(ReadLogChunk(dir_ + "/stderr.log", 0, 10).ok());
}

}  // namespace
}  // namespace cnet::api
