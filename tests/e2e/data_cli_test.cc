// Datasets through the real `cnet serve` and CLI (issue 12 part A): two sites with different
// attributes (fake backends from the config, runs end by themselves), `cnet data register`, a job
// reading the dataset goes to the only site its policy allows although the other is larger, a
// refusal names the clause, another tenant sees nothing, and `cnet audit verify` passes on the
// stopped service's file and fails naming the record after one byte of it changes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/strings.h"
#include "testing/serve_process.h"

namespace {

namespace fs = std::filesystem;

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

std::string Slurp(const std::string& path) {
  auto r = cnet::ReadWholeFile(path);
  return r.ok() ? *r : std::string();
}

class DataCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cnet-data-cli-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "xdg");
    port_ = cnet::testing::FreePort();
    const std::string cfg = (dir_ / "cnet.yaml").string();
    out_ = (dir_ / "server.out").string();
    std::ofstream(cfg) << "addr: 127.0.0.1:" << port_ << "\ndata: " << (dir_ / "data").string()
                       << "\ncycle_interval_s: 0.02\npolicy: fifo-hetero\nsites:\n"
                       << "  - {name: cn, type: fake, run_seconds: 0.2, attributes: {country: CN, security_level: 3},\n"
                       << "     nodes: [{name: c0, accelerator: K80, accelerators: 4, cpus: 16}]}\n"
                       << "  - {name: us, type: fake, run_seconds: 0.2, attributes: {country: US, security_level: 4},\n"
                       << "     nodes: [{name: u0, accelerator: H100, accelerators: 8, cpus: 16}]}\n";
    server_ = cnet::testing::StartServer(cfg, out_, true);
    ASSERT_TRUE(cnet::testing::WaitHealthy(port_, 20)) << Slurp(out_);
    const std::string text = Slurp(out_);
    const size_t at = text.find("cnet_");
    ASSERT_NE(at, std::string::npos) << text;
    const std::string admin = text.substr(at, text.find_first_of(" \n", at) - at);
    for (const char* t : {"alice", "bob"}) {
      ASSERT_EQ(Cnet(std::string("admin tenant ") + t, admin).rc, 0);
      CmdResult tok = Cnet(std::string("admin token create --tenant ") + t, admin);
      ASSERT_EQ(tok.rc, 0) << tok.err;
      (std::string(t) == "alice" ? alice_ : bob_) = cnet::Trim(tok.out);
    }
  }
  void TearDown() override {
    if (server_ > 0 && kill(server_, SIGKILL) == 0) waitpid(server_, nullptr, 0);
    fs::remove_all(dir_);
  }
  CmdResult Cnet(const std::string& args, const std::string& token) {
    const std::string o = (dir_ / "cmd.out").string(), e = (dir_ / "cmd.err").string();
    std::string cmd = "env -u CNET_CONFIG -u CNET_ADDR -u CNET_TOKEN XDG_CONFIG_HOME=" + (dir_ / "xdg").string() + " ";
    if (!token.empty()) cmd += "CNET_ADDR=127.0.0.1:" + std::to_string(port_) + " CNET_TOKEN=" + token + " ";
    cmd += std::string(CNET_BINARY) + " " + args + " >" + o + " 2>" + e;
    const int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, Slurp(o), Slurp(e)};
  }
  std::string Spec(const std::string& name, int gpus) {
    const std::string p = (dir_ / (name + ".yaml")).string();
    std::ofstream(p) << "name: " << name << "\ncommand: 'true'\naccelerators_per_worker: " << gpus << "\ninputs: [genome]\n";
    return p;
  }

  fs::path dir_;
  std::string out_, alice_, bob_;
  int port_ = 0;
  pid_t server_ = -1;
};

TEST_F(DataCli, PolicyDecidesTheSiteOthersSeeNothingAndTheAuditChainHolds) {
  CmdResult reg = Cnet("data register genome --size 1000000 --policy 'country=CN & security_level>=3' --replica cn=/data/genome", alice_);
  ASSERT_EQ(reg.rc, 0) << reg.err;
  EXPECT_NE(reg.out.find("policy   country=CN & security_level>=3  (version 1)"), std::string::npos) << reg.out;

  CmdResult job = Cnet("submit --wait " + Spec("reads", 1), alice_);
  ASSERT_EQ(job.rc, 0) << job.out << job.err;
  CmdResult show = Cnet("show 1", alice_);
  EXPECT_NE(show.out.find("site     cn"), std::string::npos) << show.out;  // not the larger, faster us

  CmdResult big = Cnet("submit " + Spec("big", 8), alice_);  // only us has 8
  EXPECT_EQ(big.rc, 2);
  EXPECT_NE(big.err.find("clause 'country=CN' fails (site 'us' has country=US)"), std::string::npos) << big.err;

  CmdResult other = Cnet("data show genome", bob_);
  EXPECT_EQ(other.rc, 2);
  EXPECT_NE(other.err.find("no dataset 'genome'"), std::string::npos) << other.err;
  EXPECT_EQ(Cnet("data ls", bob_).out.find("genome"), std::string::npos);
  EXPECT_EQ(Cnet("submit " + Spec("snoop", 1), bob_).rc, 2);

  CmdResult log = Cnet("audit ls --dataset genome", alice_);
  ASSERT_EQ(log.rc, 0) << log.err;
  EXPECT_NE(log.out.find("residency"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find("site cn"), std::string::npos) << log.out;

  // Stop the service (SIGTERM: the database is closed and its WAL folded into the file).
  ASSERT_EQ(kill(server_, SIGTERM), 0);
  waitpid(server_, nullptr, 0);
  server_ = -1;
  const std::string db = (dir_ / "data" / "cnet.db").string();
  CmdResult ok = Cnet("audit verify " + db, "");
  EXPECT_EQ(ok.rc, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("audit log intact, 3 record(s)"), std::string::npos) << ok.out;  // register, allow, deny

  std::string bytes = Slurp(db);
  const size_t at = bytes.find("placed on cn");
  ASSERT_NE(at, std::string::npos) << "the record is not in the main file (WAL not checkpointed?)";
  bytes[at] = 'P';
  std::ofstream(db, std::ios::binary | std::ios::trunc) << bytes;
  CmdResult bad = Cnet("audit verify " + db, "");
  EXPECT_EQ(bad.rc, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("audit log broken: record 2: its content does not match its hash"), std::string::npos) << bad.out;
}

}  // namespace
