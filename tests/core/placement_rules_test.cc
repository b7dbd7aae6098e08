// The placement seam (sched/placement/rules.h): a custom scorer changes the choice, a filter
// binds FindPlacement, type ranking, admission and the Scheduler's validation. That a filter
// binds every registered policy is in policy_contract_test.cc (RefusedNodeIsNeverUsed).
#include <gtest/gtest.h>

#include "sched/placement.h"
#include "sched/placement/builtin.h"
#include "sched/policy_registry.h"
#include "sched/scheduler.h"
#include "testing/test_util.h"

namespace cnet {
namespace {

using testing::Accel;
using testing::TestCatalogue;

Cluster Make(std::vector<Cluster::GroupSpec> g) {
  auto r = Cluster::Build("t", g, TestCatalogue());
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

JobSpec Gang(int w) {
  JobSpec j;
  j.id = JobId(1);
  j.workers = w;
  return j;
}

// The opposite of best fit: the node with the most free packages.
class WorstFitScorer final : public NodeScorer {
 public:
  std::string_view name() const override { return "worst-fit"; }
  double Score(const Capacity& cap, const JobSpec&, const Node& n) const override {
    return cap.Free(n.id);
  }
};

class RefuseNode final : public Filter {
 public:
  explicit RefuseNode(NodeId n) : n_(n) {}
  std::string_view name() const override { return "refuse-node"; }
  bool AllowsNode(const JobSpec&, const Node& n, std::string* why) const override {
    if (n.id != n_) return true;
    if (why) *why = "refuse-node: " + n.name + " is excluded";
    return false;
  }
  bool Restricts(const JobSpec&) const override { return true; }

 private:
  NodeId n_;
};

// Slowest first: the reverse of the default order for fifo-hetero and backfill.
class SlowestTypeScorer final : public TypeScorer {
 public:
  std::string_view name() const override { return "slowest"; }
  double Score(const JobRecord& j, AccelId a, const TypeContext&) const override {
    return -j.rate[a.value()];
  }
};

TEST(PlacementRules, CustomNodeScorerChangesTheChoice) {
  Cluster cl = Make({{"s", "r", "a", 1e9, "big", 1, Accel("V100"), 8},
                     {"s", "r", "a", 1e9, "small", 1, Accel("V100"), 4}});
  Capacity cap(cl, TestCatalogue());
  PlacementRules best_fit;
  auto p = FindPlacement(best_fit, cap, Gang(4), Accel("V100"));
  ASSERT_TRUE(p);
  EXPECT_EQ(cl.node(p->slots[0].node).accel_count, 4);
  PlacementRules worst_fit;
  worst_fit.SetNodeScorer(std::make_unique<WorstFitScorer>());
  auto q = FindPlacement(worst_fit, cap, Gang(4), Accel("V100"));
  ASSERT_TRUE(q);
  EXPECT_EQ(cl.node(q->slots[0].node).accel_count, 8) << "the scorer, not FindPlacement, chooses";
}

TEST(PlacementRules, FilterExcludesANodeFromEveryStrategy) {
  Cluster cl = Make({{"s", "r", "r1", 1e9, "n", 2, Accel("V100"), 4},
                     {"s", "r", "r2", 1e9, "n", 2, Accel("V100"), 4}});
  Capacity cap(cl, TestCatalogue());
  PlacementRules rules;
  rules.AddFilter(std::make_unique<RefuseNode>(NodeId(0)));
  for (int w : {1, 4, 8, 12}) {  // one node, one rack, one site
    auto p = FindPlacement(rules, cap, Gang(w), Accel("V100"));
    ASSERT_TRUE(p) << w;
    EXPECT_EQ(p->Workers(), w);
    for (const Slot& s : p->slots) EXPECT_NE(s.node, NodeId(0)) << "gang of " << w;
  }
  EXPECT_FALSE(FindPlacement(rules, cap, Gang(13), Accel("V100"))) << "only 12 packages allowed";
  Placement on_refused{Accel("V100"), {Slot{NodeId(0), 2}}};
  EXPECT_FALSE(FindPlacement(rules, cap, Gang(2), Accel("V100"), &on_refused) == on_refused);
  Status st = rules.Check(Gang(2), on_refused, cl);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("is excluded"), std::string::npos) << st.message();
  EXPECT_TRUE(rules.Restricts(Gang(1)));
  EXPECT_FALSE(PlacementRules().Restricts(Gang(1)));
}

TEST(PlacementRules, JobSpecFilterCarriesTheJobsOwnConstraints) {
  Cluster cl = Make({{"east", "r", "r1", 1e9, "n", 1, Accel("V100"), 4},
                     {"west", "r", "r2", 1e9, "n", 1, Accel("K80"), 4}});
  PlacementRules rules;
  JobSpec j = Gang(1);
  j.allowed_sites = {SiteId(0)};
  j.acceptable = {Accel("V100")};
  std::string why;
  EXPECT_TRUE(rules.AllowsNode(j, cl.node(NodeId(0))));
  EXPECT_FALSE(rules.AllowsNode(j, cl.node(NodeId(1)), &why));
  EXPECT_NE(why.find("site"), std::string::npos) << why;
  EXPECT_FALSE(rules.AllowsType(j, Accel("K80"), &why));
  EXPECT_TRUE(rules.Restricts(j));
}

// A scheduler whose rules refuse every node of one type admits a job only on the others, and
// rejects a decision that uses a refused node.
TEST(PlacementRules, SchedulerAdmitsAndValidatesThroughTheRules) {
  Cluster cl = Make({{"s", "r", "r1", 1e9, "v", 1, Accel("V100"), 4},
                     {"s", "r", "r2", 1e9, "k", 1, Accel("K80"), 4}});
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  PolicyRegistry reg;
  RegisterBuiltinPolicies(reg);
  SchedulerOptions so;
  auto rules = std::make_shared<PlacementRules>();
  rules->AddFilter(std::make_unique<RefuseNode>(NodeId(0)));
  so.rules = rules;
  Scheduler s(cl, perf, std::move(reg.Create("fifo-hetero")).value(), so);
  JobSpec j = Gang(2);
  j.job_type = "ResNet-18 (batch size 64)";
  j.total_steps = 100;
  j.acceptable = {Accel("V100")};
  EXPECT_EQ(s.Admit(j).code(), Code::kInvalidArgument) << "its only V100 node is refused";
  j.acceptable.clear();
  ASSERT_TRUE(s.Admit(j).ok());
  EXPECT_EQ(s.Find(JobId(1))->rate[Accel("V100").value()], 0) << "no allowed V100 node";
  Rng rng(1);
  CycleResult r = s.RunCycle(0, true, rng);
  ASSERT_EQ(r.applied.size(), 1u);
  EXPECT_EQ(r.applied[0].placement.accel, Accel("K80"));
}

TEST(PlacementRules, TypeScorerOverridesThePolicysOrder) {
  Cluster cl = Make({{"s", "r", "r1", 1e9, "v", 1, Accel("V100"), 4},
                     {"s", "r", "r2", 1e9, "k", 1, Accel("K80"), 4}});
  PerfModel perf(TestCatalogue(), testing::GavelMatrix());
  for (const char* policy : {"fifo-hetero", "backfill"}) {
    PolicyRegistry reg;
    RegisterBuiltinPolicies(reg);
    SchedulerOptions so;
    auto rules = std::make_shared<PlacementRules>();
    rules->SetTypeScorer(std::make_unique<SlowestTypeScorer>());
    so.rules = rules;
    Scheduler s(cl, perf, std::move(reg.Create(policy)).value(), so);
    JobSpec j = Gang(1);
    j.job_type = "ResNet-18 (batch size 64)";
    j.total_steps = 100;
    ASSERT_TRUE(s.Admit(j).ok());
    Rng rng(1);
    CycleResult r = s.RunCycle(0, true, rng);
    ASSERT_EQ(r.applied.size(), 1u) << policy;
    EXPECT_EQ(r.applied[0].placement.accel, Accel("K80")) << policy << ": slowest first";
  }
}

}  // namespace
}  // namespace cnet
