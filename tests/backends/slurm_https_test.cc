// SlurmClient over https against a local TLS stand-in for slurmrestd (httplib's SSLServer with a
// certificate from a test CA made with openssl at test time): the JWT arrives over TLS when the
// CA verifies the server; a wrong CA, a missing CA file and a plain-HTTP server are refused with
// errors that say so. And a Slurm site's config accepts https:// urls with ca_file.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "backends/registry.h"
#include "backends/slurm/slurm_client.h"
#include "testing/test_ca.h"

namespace cnet::backends::slurm {
namespace {

namespace fs = std::filesystem;

class SlurmHttps : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "cnet_slurm_https_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ca_ = testing::MakeTestCa(dir_);
    ASSERT_EQ(ca_.error, "");
    server_ = std::make_unique<httplib::SSLServer>(ca_.cert.c_str(), ca_.key.c_str());
    ASSERT_TRUE(server_->is_valid());
    server_->Get("/slurm/v0.0.38/ping", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard l(mu_);
        tokens_.push_back(req.get_header_value("X-SLURM-USER-TOKEN"));
      }
      res.set_content(R"({"meta":{},"errors":[],"pings":[{"hostname":"vm","ping":"UP","status":0,"mode":"primary"}]})",
                      "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  SlurmConfig Config(const std::string& ca_file) const {
    SlurmConfig c;
    c.url = "https://127.0.0.1:" + std::to_string(port_);
    c.ca_file = ca_file;
    c.token = "secret-jwt";
    c.timeout_s = 5;
    return c;
  }
  std::vector<std::string> tokens() {
    std::lock_guard l(mu_);
    return tokens_;
  }

  std::string dir_;
  testing::TestCa ca_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<std::string> tokens_;
};

TEST_F(SlurmHttps, TokenTravelsOverVerifiedTls) {
  SlurmClient client(Config(ca_.ca));
  Status st = client.Ping();
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(tokens(), std::vector<std::string>{"secret-jwt"});
}

TEST_F(SlurmHttps, WrongCaIsRefusedAndNothingIsSent) {
  SlurmClient client(Config(ca_.other_ca));
  Status st = client.Ping();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("TLS: slurmrestd's certificate failed verification against ca_file '" + ca_.other_ca + "'"),
            std::string::npos)
      << st.message();
  SlurmClient missing(Config(dir_ + "/no-such-ca.pem"));
  st = missing.Ping();
  EXPECT_NE(st.message().find("TLS: cannot load ca_file"), std::string::npos) << st.message();
  EXPECT_TRUE(tokens().empty()) << "the token must not reach an unverified server";
}

TEST_F(SlurmHttps, PlainHttpServerIsNotTakenForTls) {
  httplib::Server plain;
  plain.Get(".*", [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); });
  int port = plain.bind_to_any_port("127.0.0.1");
  std::thread t([&] { plain.listen_after_bind(); });
  while (!plain.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  SlurmConfig c = Config(ca_.ca);
  c.url = "https://127.0.0.1:" + std::to_string(port);
  c.timeout_s = 2;
  Status st = SlurmClient(c).Ping();
  plain.stop();
  t.join();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("TLS"), std::string::npos) << st.message();
}

TEST(SlurmSiteConfig, HttpsUrlWithCaFile) {
  BackendRegistry r;
  RegisterBuiltinBackends(r);
  BackendEnv env;
  env.data_dir = ::testing::TempDir() + "/slurm-https-test";
  fs::create_directories(env.data_dir);
  auto good = r.Create("slurm", "s", YAML::Load("{url: 'https://127.0.0.1:1', ca_file: /etc/ssl/ca.pem, token: t}"), env);
  EXPECT_TRUE(good.ok()) << good.status().ToString();
  auto plain_ca = r.Create("slurm", "s", YAML::Load("{url: 'http://127.0.0.1:1', ca_file: /etc/ssl/ca.pem, token: t}"), env);
  ASSERT_FALSE(plain_ca.ok());
  EXPECT_NE(plain_ca.status().message().find("ca_file"), std::string::npos) << plain_ca.status().message();
}

}  // namespace
}  // namespace cnet::backends::slurm
