// The catalogue: extension files, ambiguous names, and the types added for issue 10 item 4.
#include <gtest/gtest.h>

#include <fstream>

#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::DataPath;

Catalogue Base() {
  auto c = Catalogue::LoadYaml(DataPath("accelerators.yaml"));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

const char* kOneGpu = R"(accelerators:
  - name: RTX-A6000
    aliases: [A6000]
    vendor: NVIDIA
    kind: gpu
    peak_tflops: 155
    memory_gib: 48
    mem_bw_gbs: 768
    board_power_w: 300
)";

TEST(CatalogueExtension, AddsATypeAndKeepsTheBuiltInOnes) {
  Catalogue c = Base();
  const size_t before = c.size();
  ASSERT_TRUE(c.Extend(kOneGpu, "mine.yaml").ok());
  EXPECT_EQ(c.size(), before + 1);
  ASSERT_TRUE(c.Find("a6000"));
  EXPECT_EQ(c.Get(*c.Find("A6000")).memory_gib, 48);
  EXPECT_TRUE(c.Find("V100"));  // the built-in types are still there
  EXPECT_EQ(*c.Find("V100"), *Base().Find("V100"));  // ids unchanged
}

TEST(CatalogueExtension, SameNameReplacesInPlace) {
  Catalogue c = Base();
  AccelId t4 = *c.Find("T4");
  ASSERT_TRUE(c.Extend(R"(accelerators:
  - name: T4
    vendor: NVIDIA
    kind: gpu
    peak_tflops: 65
    memory_gib: 16
    mem_bw_gbs: 320
    board_power_w: 70
    price_per_hour_usd: 0.30
)", "price.yaml").ok());
  EXPECT_EQ(*c.Find("T4"), t4);
  EXPECT_DOUBLE_EQ(c.Get(t4).price_per_hour_usd, 0.30);
  EXPECT_EQ(c.size(), Base().size());
}

TEST(CatalogueExtension, ErrorsNameTheFileAndLeaveTheCatalogueUnchanged) {
  Catalogue c = Base();
  const size_t before = c.size();
  Status st = c.Extend(R"(accelerators:
  - name: X1
    aliases: [V100M32]
    vendor: NVIDIA
    kind: gpu
    peak_tflops: 1
    memory_gib: 1
    mem_bw_gbs: 1
    board_power_w: 1
)", "bad.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad.yaml:2"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("V100M32"), std::string::npos) << st.message();
  EXPECT_EQ(c.size(), before);
  EXPECT_FALSE(c.Find("X1"));
}

TEST(CatalogueExtension, LoadWithExtensionsReadsFilesInOrder) {
  std::string path = ::testing::TempDir() + "/cnet_cat_ext.yaml";
  { std::ofstream(path) << kOneGpu; }
  auto c = Catalogue::LoadWithExtensions(DataPath("accelerators.yaml"), {path});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->Find("RTX-A6000"));
  auto missing = Catalogue::LoadWithExtensions(DataPath("accelerators.yaml"), {path + ".nope"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(".nope"), std::string::npos);
}

TEST(CatalogueAmbiguity, A100ResolvesToTheDefaultAndIsReported) {
  Catalogue c = Base();
  EXPECT_TRUE(c.AmbiguousUses().empty());
  ASSERT_TRUE(c.Find("A100-40GB"));
  EXPECT_TRUE(c.AmbiguousUses().empty());  // a full name is not ambiguous
  auto a = c.Find("a100");
  ASSERT_TRUE(a);
  EXPECT_EQ(c.Get(*a).name, "A100-80GB");
  auto w = c.AmbiguousUses();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("A100-40GB"), std::string::npos) << w[0];
  c.Find("A100");
  EXPECT_EQ(c.AmbiguousUses().size(), 1u);  // once per name
  Catalogue copy = c;                       // copies share the record
  copy.Find("910B");
  EXPECT_EQ(c.AmbiguousUses().size(), 2u);
}

TEST(CatalogueAmbiguity, DeclarationsAreChecked) {
  Catalogue c = Base();
  Status st = c.Extend("ambiguous:\n  - name: V100\n    means: [V100, V100-32GB]\n", "amb.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("amb.yaml:2"), std::string::npos) << st.message();
  st = c.Extend("ambiguous:\n  - name: V100x\n    means: [V100, Nope]\n", "amb.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("Nope"), std::string::npos) << st.message();
  ASSERT_TRUE(c.Extend("ambiguous:\n  - name: V100x\n    means: [V100-32GB, V100]\n", "amb.yaml").ok());
  EXPECT_EQ(c.Get(*c.Find("V100x")).name, "V100-32GB");
  // A type may not take an ambiguous name as an alias.
  st = c.Extend(std::string(kOneGpu).replace(std::string(kOneGpu).find("A6000]"), 6, "A100]"), "x.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("ambiguous"), std::string::npos) << st.message();
}

TEST(CatalogueAmbiguity, AMisspelledTopLevelKeyIsAnError) {
  Catalogue c = Base();
  Status st = c.Extend("ambigous:\n  - name: V100x\n    means: [V100, V100-32GB]\n", "typo.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("typo.yaml:1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("ambigous"), std::string::npos) << st.message();
}

TEST(Catalogue, AliasGapsAndNewTypesWithSources) {
  Catalogue c = Base();
  EXPECT_EQ(c.Get(*c.Find("V100M16")).name, "V100");
  EXPECT_EQ(c.Get(*c.Find("V100M32")).name, "V100-32GB");
  EXPECT_EQ(c.Get(*c.Find("A100M40")).memory_gib, 40);
  for (const char* n : {"A100-40GB", "A10", "L4", "L40S", "RTX-4090", "MI300X", "Ascend-910B1",
                        "Ascend-910B2", "Ascend-910B3", "Ascend-910B4"}) {
    auto id = c.Find(n);
    ASSERT_TRUE(id) << n;
    EXPECT_FALSE(c.Get(*id).source.empty()) << n;
  }
  // Datasheet figures (dense BF16/FP16): L40S ~3x L4; MI300X above H100 SXM.
  EXPECT_GT(c.Get(*c.Find("L40S")).peak_tflops, 2.9 * c.Get(*c.Find("L4")).peak_tflops);
  EXPECT_GT(c.Get(*c.Find("MI300X")).peak_tflops, c.Get(*c.Find("H100")).peak_tflops);
  EXPECT_TRUE(c.AmbiguousUses().empty());
}

}  // namespace
}  // namespace cnet
