// A test fixture with a fresh temp directory per test and a store file in it (real SQLite, never
// shared between tests or processes); removed afterwards. The store suites derive from it.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "store/store.h"

namespace cnet::testing {

class TempStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("cnet_store_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "state.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Opens (or reopens) the store at path_; nullptr (and a test failure) if it cannot.
  std::unique_ptr<store::Store> Open() {
    auto r = store::Store::Open(path_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  std::filesystem::path dir_;
  std::string path_;
};

}  // namespace cnet::testing
