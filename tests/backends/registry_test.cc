// BackendRegistry and the built-in backends' config blocks.
#include "backends/registry.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "backends/fake/fake_backend.h"

namespace cnet::backends {
namespace {

BackendEnv Env() {
  BackendEnv e;
  e.data_dir = ::testing::TempDir() + "/registry-test";
  std::filesystem::create_directories(e.data_dir);
  e.where = "config.yaml: sites[1]";
  e.shared_keys = {"name", "type", "region", "power_cap_kw", "device_env", "redispatch_after_s"};
  return e;
}

TEST(BackendRegistryTest, BuiltinTypesAndUnknownType) {
  BackendRegistry r;
  RegisterBuiltinBackends(r);
  EXPECT_EQ(r.Types(), (std::vector<std::string>{"fake", "local", "slurm"}));
  auto b = r.Create("k8s", "x", YAML::Load("{}"), Env());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
  EXPECT_NE(b.status().message().find("fake, local, slurm"), std::string::npos) << b.status().message();
  EXPECT_EQ(r.Register("fake", MakeFakeBackend).code(), Code::kAlreadyExists);
}

TEST(BackendRegistryTest, UnknownKeyIsNamedSharedKeysPass) {
  BackendRegistry r;
  RegisterBuiltinBackends(r);
  auto bad = r.Create("local", "l", YAML::Load("{name: l, type: local, cpus: 4, gpus: 2}"), Env());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("config.yaml: sites[1].gpus"), std::string::npos) << bad.status().message();
  auto ok = r.Create("local", "l", YAML::Load("{name: l, type: local, region: eu, cpus: 4, accelerator: H100-SXM, accelerators: 2}"), Env());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  SiteInventory inv = (*ok)->Inventory();
  ASSERT_EQ(inv.nodes.size(), 2u);
  EXPECT_EQ(inv.nodes[0].accelerators, 2);
  EXPECT_EQ(inv.nodes[1].cpus, 4);
  EXPECT_TRUE((*ok)->capabilities().starts_at_launch);
}

// Without cgroups the local site says so in its inventory (process groups only), unless told to
// require them; its options are checked like every other key.
TEST(BackendRegistryTest, LocalSiteWithoutCgroupsSaysSoOrRefusesWhenRequired) {
  BackendRegistry r;
  RegisterBuiltinBackends(r);
  auto fallback = r.Create("local", "l", YAML::Load("{name: l, type: local, cpus: 4, cgroups: false}"), Env());
  ASSERT_TRUE(fallback.ok()) << fallback.status().ToString();
  EXPECT_TRUE((*fallback)->Inventory().healthy);
  EXPECT_NE((*fallback)->Inventory().reason.find("tracked by process group only"), std::string::npos)
      << (*fallback)->Inventory().reason;
  auto required = r.Create("local", "l", YAML::Load("{name: l, type: local, cgroups: false, require_cgroups: true}"), Env());
  ASSERT_FALSE(required.ok());
  EXPECT_NE(required.status().message().find("require_cgroups"), std::string::npos) << required.status().message();
  auto parent = r.Create("local", "l", YAML::Load("{name: l, type: local, cgroup_parent: a/b}"), Env());
  ASSERT_FALSE(parent.ok());
  EXPECT_NE(parent.status().message().find("cgroup_parent"), std::string::npos);
  auto opts = r.Create("local", "l", YAML::Load("{name: l, type: local, run_root: /tmp/x-runs, allow_root_jobs: true, "
                                                "log_cap_mib: 16, pids_per_job: 100}"), Env());
  EXPECT_TRUE(opts.ok()) << opts.status().ToString();
}

TEST(BackendRegistryTest, SlurmFieldErrorsNameTheField) {
  BackendRegistry r;
  RegisterBuiltinBackends(r);
  auto no_url = r.Create("slurm", "s", YAML::Load("{token: t}"), Env());
  ASSERT_FALSE(no_url.ok());
  EXPECT_NE(no_url.status().message().find("sites[1].url"), std::string::npos) << no_url.status().message();
  auto both = r.Create("slurm", "s", YAML::Load("{url: 'http://127.0.0.1:1', token: t, jwt_key_file: k}"), Env());
  EXPECT_NE(both.status().message().find("jwt_key_file"), std::string::npos);
  auto poll = r.Create("slurm", "s", YAML::Load("{url: 'http://127.0.0.1:1', token: t, poll_interval_s: 0}"), Env());
  EXPECT_NE(poll.status().message().find("poll_interval_s"), std::string::npos);
  auto conns = r.Create("slurm", "s", YAML::Load("{url: 'http://127.0.0.1:1', token: t, submit_connections: x}"), Env());
  EXPECT_NE(conns.status().message().find("submit_connections"), std::string::npos);
  auto good = r.Create("slurm", "s", YAML::Load("{url: 'http://127.0.0.1:1', token: t, submit_connections: 3, "
                                                "gres_map: {'gpu:h100': H100-SXM}}"), Env());
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  Capabilities c = (*good)->capabilities();
  EXPECT_EQ(c.launch_concurrency, 3);
  EXPECT_TRUE(c.can_withdraw);
  EXPECT_FALSE(c.starts_at_launch);
  EXPECT_TRUE(c.dynamic_inventory);
}

TEST(BackendRegistryTest, FakeFromConfigRunsForRunSeconds) {
  BackendRegistry r;
  RegisterBuiltinBackends(r);
  auto bad = r.Create("fake", "f", YAML::Load("{nodes: [{name: n1, gpus: 1}]}"), Env());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("nodes[0].gpus"), std::string::npos) << bad.status().message();
  auto f = r.Create("fake", "f", YAML::Load("{nodes: [{name: n1, accelerator: H100-SXM, accelerators: 8, cpus: 64, "
                                            "memory_gib: 512}], starts_at_launch: false, run_seconds: 10}"), Env());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->Inventory().nodes.at(0).accelerators, 8);
  LaunchRequest req;
  req.job_id = 1;
  req.argv = {"true"};
  req.nodes = {{"n1", 1}};
  ASSERT_TRUE((*f)->Launch(req).ok());
  auto ev = (*f)->Poll(100);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, SiteEvent::kStarted);
  EXPECT_TRUE((*f)->Poll(105).empty());
  ev = (*f)->Poll(110);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, SiteEvent::kEnded);
  EXPECT_TRUE(ev[0].success);
}

}  // namespace
}  // namespace cnet::backends
