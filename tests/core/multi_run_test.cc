// One policy's failure in a multi-policy run leaves the others' results intact (issue 10 item 1).
#include <gtest/gtest.h>

#include "sched/policy_registry.h"
#include "sim/generator.h"
#include "sim/multi_run.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::GavelMatrix;
using testing::TestCatalogue;

// Places every waiting job on a gang of the wrong size: the scheduler rejects it, and the
// simulator fails that policy's run.
class BrokenPolicy final : public Policy {
 public:
  std::string_view name() const override { return "broken"; }
  bool time_sharing() const override { return false; }
  std::vector<Decision> Decide(const Snapshot& s, Rng&) override {
    std::vector<Decision> out;
    for (const JobRecord* j : s.pending) out.push_back({Action::kPlace, j->spec.id, Placement{}, "broken"});
    return out;
  }
};

TEST(SimulatePolicies, OnePolicysFailureLeavesTheOthersResultsIntact) {
  const PerfModel perf(TestCatalogue(), GavelMatrix());
  auto cl = Cluster::LoadYaml(std::string(CNET_TEST_FIXTURES_DIR) + "/gavel-12x3.yaml", TestCatalogue());
  ASSERT_TRUE(cl.ok()) << cl.status().ToString();
  Rng rng(3);
  auto w = GenerateGavel(GavelWorkload::kMulti, 3, 60, perf, Accel("V100"), rng);
  ASSERT_TRUE(w.ok());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  ASSERT_TRUE(reg.Register("broken", "fails its run", [] { return std::make_unique<BrokenPolicy>(); }).ok());
  SimOptions o;
  o.seed = 1;

  MultiRunResult alone = SimulatePolicies(*cl, perf, reg, {"fifo", "las-hetero"}, *w, o);
  ASSERT_TRUE(alone.failures.empty());
  MultiRunResult mixed = SimulatePolicies(*cl, perf, reg, {"broken", "fifo", "nope", "las-hetero", "broken"}, *w, o);

  ASSERT_EQ(mixed.failures.size(), 3u);
  EXPECT_EQ(mixed.failures[0].first, "broken");
  EXPECT_NE(mixed.failures[0].second.message().find("invalid decision"), std::string::npos)
      << mixed.failures[0].second.ToString();
  EXPECT_EQ(mixed.failures[1].first, "nope");
  ASSERT_EQ(mixed.results.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(alone.results[i].policy);
    EXPECT_EQ(mixed.results[i].policy, alone.results[i].policy);
    EXPECT_EQ(mixed.results[i].jct_hours, alone.results[i].jct_hours);
    EXPECT_EQ(mixed.results[i].preemptions, alone.results[i].preemptions);
    EXPECT_EQ(mixed.results[i].jobs_completed, w->jobs.size());
  }
}

}  // namespace
}  // namespace cnet
