// The service config's catalogue_extensions (issue 10 item 4): a site with a GPU the built-in
// catalogue lacks starts once an extension file declares it.
#include <gtest/gtest.h>

#include <fstream>

#include "service/config.h"
#include "service/loop_harness.h"

namespace cnet::testing {
namespace {

const char* kA6000 = R"(accelerators:
  - name: RTX-A6000
    aliases: [A6000]
    vendor: NVIDIA
    kind: gpu
    peak_tflops: 155
    memory_gib: 48
    mem_bw_gbs: 768
    board_power_w: 300
)";

TEST(CatalogueConfig, ExtensionFileAddsATypeToTheService) {
  const std::string ext = ::testing::TempDir() + "/cnet_a6000.yaml";
  { std::ofstream(ext) << kA6000; }
  {
    LoopHarness h;
    h.AddSite("a", {GpuNode("n0", "RTX-A6000", 2)});
    EXPECT_FALSE(h.Start().ok());  // the built-in catalogue does not know the type
  }
  LoopHarness h;
  h.AddSite("a", {GpuNode("n0", "RTX-A6000", 2)});
  h.config().catalogue_extensions = {ext};
  Status st = h.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto id = h.svc().catalogue().Find("a6000");
  ASSERT_TRUE(id);
  EXPECT_EQ(h.svc().catalogue().Get(*id).memory_gib, 48);
  EXPECT_TRUE(h.svc().catalogue().Find("V100"));
}

TEST(CatalogueConfig, ConfigListsExtensionsAndNamesBadEntries) {
  const std::string path = ::testing::TempDir() + "/cnet_cfg_ext.yaml";
  { std::ofstream(path) << "catalogue_extensions: [a.yaml, b.yaml]\n"; }
  auto cfg = service::LoadConfig(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_EQ(cfg->catalogue_extensions, (std::vector<std::string>{"a.yaml", "b.yaml"}));
  { std::ofstream(path) << "catalogue_extensions:\n  - {x: 1}\n"; }
  auto bad = service::LoadConfig(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":2"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace cnet::testing
