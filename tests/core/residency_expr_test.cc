// Residency expressions (model/residency_expr.h): the grammar of docs/data.md, errors with their
// column, allow/deny with the failing clause, and two properties over random input: the parser
// never crashes (it answers a value or an error), and every parsed expression prints to a text
// that parses back to the same expression.
#include <gtest/gtest.h>

#include "common/rng.h"
#include "model/residency_expr.h"

namespace cnet {
namespace {

SiteAttributes Site(std::string name, std::map<std::string, std::string> v) { return {std::move(name), std::move(v)}; }

const SiteAttributes kEast = Site("shanghai", {{"country", "CN"}, {"region", "east"}, {"security_level", "3"}});
const SiteAttributes kNorth = Site("beijing", {{"country", "CN"}, {"region", "north"}, {"security_level", "2"}});
const SiteAttributes kUs = Site("virginia", {{"country", "US"}, {"region", "east"}, {"tier1", "true"}});

ResidencyExpr P(std::string_view t) {
  auto r = ResidencyExpr::Parse(t);
  EXPECT_TRUE(r.ok()) << t << ": " << r.status().ToString();
  return r.ok() ? *r : ResidencyExpr();
}

TEST(ResidencyExpr, IssueExampleAllowsOnlyTheSitesItNames) {
  ResidencyExpr e = P("country=CN & (region=east | region=north) & security_level>=3");
  EXPECT_TRUE(e.Evaluate(kEast).allow);
  auto north = e.Evaluate(kNorth);
  EXPECT_FALSE(north.allow);
  EXPECT_EQ(north.clause, "security_level>=3");
  EXPECT_EQ(north.why, "site 'beijing' has security_level=2");
  auto us = e.Evaluate(kUs);
  EXPECT_FALSE(us.allow);
  EXPECT_EQ(us.clause, "country=CN");
}

TEST(ResidencyExpr, OperatorsAndBareNames) {
  EXPECT_TRUE(P("*").Evaluate(kUs).allow);
  EXPECT_TRUE(P("virginia").Evaluate(kUs).allow);      // a site's name
  EXPECT_TRUE(P("tier1").Evaluate(kUs).allow);         // attribute tier1=true
  EXPECT_FALSE(P("tier1").Evaluate(kEast).allow);
  EXPECT_TRUE(P("* \\ country=US").Evaluate(kEast).allow);
  auto d = P("* \\ country=US").Evaluate(kUs);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.clause, "* \\ country=US");
  EXPECT_TRUE(P("!country=US").Evaluate(kEast).allow);
  EXPECT_FALSE(P("!country=US").Evaluate(kUs).allow);
  EXPECT_TRUE(P("country!=US").Evaluate(kEast).allow);
  EXPECT_TRUE(P("security_level<3").Evaluate(kNorth).allow);
  EXPECT_TRUE(P("security_level>2.5").Evaluate(kEast).allow);
  EXPECT_TRUE(P("security_level<=2").Evaluate(kNorth).allow);
  EXPECT_TRUE(P("security_level=3.0").Evaluate(kEast).allow);  // numbers compare as numbers
}

TEST(ResidencyExpr, MissingAttributeDeniesEveryComparison) {
  // Unknown is not allowed: a site without `country` satisfies neither country=US nor country!=US.
  SiteAttributes bare = Site("x", {});
  for (const char* t : {"country=US", "country!=US", "security_level>=0"}) {
    auto v = P(t).Evaluate(bare);
    EXPECT_FALSE(v.allow) << t;
    EXPECT_EQ(v.why, "site 'x' has no attribute " + std::string(t).substr(0, std::string(t).find_first_of("!=<>")));
  }
  auto v = P("security_level>=3").Evaluate(Site("y", {{"security_level", "high"}}));
  EXPECT_EQ(v.why, "site 'y' has security_level=high, not a number");
}

TEST(ResidencyExpr, PrecedenceAndIsTighterThanOr) {
  EXPECT_EQ(P("a | b & c"), P("a | (b & c)"));
  EXPECT_FALSE(P("a | b & c") == P("(a | b) & c"));
  EXPECT_EQ(P("a & b \\ c"), P("(a & b) \\ c"));
  EXPECT_EQ(P("(a | b) & c").ToString(), "(a | b) & c");
  EXPECT_EQ(P("a & (b & c)").ToString(), "a & (b & c)");
  EXPECT_EQ(P(" ( ( a ) ) ").ToString(), "a");
  EXPECT_EQ(P("!(a|b)").ToString(), "!(a | b)");
}

TEST(ResidencyExpr, ErrorsNameTheColumn) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"", "column 1: expected an attribute, a site name, '*', '!' or '('"},
      {"country=", "column 9: expected a value after '='"},
      {"country=CN &", "column 13: expected an attribute, a site name, '*', '!' or '('"},
      {"security_level>=high", "column 17: '>=' needs a number, got 'high'"},
      {"(a | b", "column 7: expected ')'"},
      {"a b", "column 3: unexpected 'b'"},
      {"a ) b", "column 3: unexpected ')'"},
      {"country=CN; rm", "column 11: unexpected ';'"},
  };
  for (const auto& c : cases) {
    auto r = ResidencyExpr::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.message) << c.text;
  }
  EXPECT_FALSE(ResidencyExpr::Parse(std::string(ResidencyExpr::kMaxLength + 1, 'a')).ok());
  auto deep = ResidencyExpr::Parse(std::string(ResidencyExpr::kMaxDepth + 1, '(') + "a" +
                                   std::string(ResidencyExpr::kMaxDepth + 1, ')'));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nested deeper than 64"), std::string::npos);
}

// A random expression text from the grammar, with random spacing and redundant parentheses.
std::string RandomExpr(Rng& rng, int depth) {
  static const char* keys[] = {"country", "region", "security_level", "tier1", "shanghai"};
  static const char* values[] = {"CN", "US", "east", "3", "2.5", "-1"};
  static const char* ops[] = {"=", "!=", ">=", "<=", ">", "<"};
  auto sp = [&] { return rng.Bernoulli(0.3) ? std::string(" ") : std::string(); };
  int pick = depth <= 0 ? rng.UniformInt(0, 2) : rng.UniformInt(0, 7);
  switch (pick) {
    case 0: return "*";
    case 1: return keys[rng.UniformInt(0, 4)];
    case 2: {
      int op = rng.UniformInt(0, 5);
      std::string v = op >= 2 ? values[rng.UniformInt(3, 5)] : values[rng.UniformInt(0, 5)];
      return std::string(keys[rng.UniformInt(0, 4)]) + sp() + ops[op] + sp() + v;
    }
    case 3: return "!" + sp() + RandomExpr(rng, depth - 1);
    case 4: return "(" + sp() + RandomExpr(rng, depth - 1) + sp() + ")";
    default: {
      static const char* bin[] = {"&", "|", "\\"};
      return RandomExpr(rng, depth - 1) + sp() + bin[rng.UniformInt(0, 2)] + sp() + RandomExpr(rng, depth - 1);
    }
  }
}

TEST(ResidencyExpr, RandomExpressionsRoundTripAndAgreeOnEverySite) {
  Rng rng(20261201);
  for (int i = 0; i < 5000; ++i) {
    std::string text = RandomExpr(rng, 5);
    auto e = ResidencyExpr::Parse(text);
    ASSERT_TRUE(e.ok()) << text << ": " << e.status().ToString();
    std::string canon = e->ToString();
    auto back = ResidencyExpr::Parse(canon);
    ASSERT_TRUE(back.ok()) << canon;
    EXPECT_TRUE(*back == *e) << text << " -> " << canon;
    EXPECT_EQ(back->ToString(), canon);
    for (const auto& s : {kEast, kNorth, kUs}) {
      auto a = e->Evaluate(s), b = back->Evaluate(s);
      EXPECT_EQ(a.allow, b.allow) << text;
      EXPECT_EQ(a.clause, b.clause) << text;
      if (!a.allow) {
        EXPECT_FALSE(a.clause.empty()) << text;
      }
    }
  }
}

TEST(ResidencyExpr, RandomBytesNeverCrashTheParser) {
  Rng rng(7);
  const std::string alphabet = "ab=!<>&|\\()* 3.-\t\"';";
  for (int i = 0; i < 20000; ++i) {
    std::string t;
    int n = rng.UniformInt(0, 40);
    for (int k = 0; k < n; ++k)
      t += rng.Bernoulli(0.9) ? alphabet[rng.UniformInt(0, static_cast<int>(alphabet.size()) - 1)]
                              : static_cast<char>(rng.UniformInt(0, 255));
    auto e = ResidencyExpr::Parse(t);
    if (e.ok()) {
      EXPECT_TRUE(*ResidencyExpr::Parse(e->ToString()) == *e) << t;
      (void)e->Evaluate(kEast);
    } else {
      EXPECT_EQ(e.status().message().rfind("column ", 0), 0u) << t << ": " << e.status().message();
    }
  }
}

}  // namespace
}  // namespace cnet
