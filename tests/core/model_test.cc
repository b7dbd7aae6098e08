#include <gtest/gtest.h>

#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::DataPath;
using testing::TestCatalogue;

TEST(Catalogue, ShipsRequiredTypesWithSources) {
  const Catalogue& c = TestCatalogue();
  for (const char* n : {"K80", "P100", "V100", "T4", "A100-80GB", "H100-SXM", "H200", "B200",
                        "Ascend-910B", "Ascend-910C", "Xeon-8480", "Kunpeng-920"}) {
    auto id = c.Find(n);
    ASSERT_TRUE(id) << n;
    EXPECT_FALSE(c.Get(*id).source.empty()) << n;
  }
  const auto& c910 = c.Get(*c.Find("910C"));
  EXPECT_EQ(c910.dies_per_package, 2);
  EXPECT_GT(c910.d2d_bw_gbs, 0);
  // Published: 910C near 80% of an H100.
  double ratio = c910.peak_tflops / c.Get(*c.Find("H100")).peak_tflops;
  EXPECT_GT(ratio, 0.7);
  EXPECT_LT(ratio, 0.9);
  EXPECT_EQ(c.Get(*c.Find("kunpeng")).kind, AccelKind::kCpu);
}

TEST(Cluster, Gavel36x3) {
  auto cl = Cluster::LoadYaml(DataPath("clusters/gavel-36x3.yaml"), TestCatalogue());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  EXPECT_EQ(cl->TotalAccels(), 108);
  for (const char* n : {"K80", "P100", "V100"}) EXPECT_EQ(cl->AccelCount(*TestCatalogue().Find(n)), 36);
  EXPECT_EQ(cl->MaxPerNode(*TestCatalogue().Find("V100")), 8);
}

}  // namespace
}  // namespace cnet
