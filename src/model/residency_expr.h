// Residency expressions: a dataset owner's rule for which sites its data may be computed on, a
// boolean expression over site attributes in the style of Rucio's RSE expressions
// (docs/data.md has the grammar), e.g. `country=CN & (region=east | region=north) & security_level>=3`.
// Pure: no I/O, no clock. Value type; immutable after Parse, so safe to share between threads.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cnet {

// What an expression is evaluated against: one site's name and its attributes (docs/formats.md,
// `attributes:` of a site). Values are strings; `>=` and friends compare them as numbers.
struct SiteAttributes {
  std::string site;
  std::map<std::string, std::string> values;
};

class ResidencyExpr {
 public:
  enum class Op { kEq, kNe, kGe, kLe, kGt, kLt };

  // Parses `text`. Errors are kInvalidArgument "column N: ..." (1-based column of the offending
  // character); callers prefix the field or file. Accepts at most kMaxLength characters and
  // kMaxDepth nested parentheses or negations, so hostile input cannot exhaust the stack.
  static constexpr size_t kMaxLength = 4096;
  static constexpr int kMaxDepth = 64;
  static Result<ResidencyExpr> Parse(std::string_view text);

  struct Verdict {
    bool allow = false;
    std::string clause;  // deny: the smallest sub-expression that made it fail, canonical text
    std::string why;     // deny: what the site has, e.g. "site 'b' has security_level=2"
  };
  Verdict Evaluate(const SiteAttributes& site) const;

  // Canonical text: single spaces around binary operators, parentheses only where needed.
  // Parse(e.ToString()) == e for every parsed e (tests/core/residency_expr_test.cc).
  std::string ToString() const;
  bool operator==(const ResidencyExpr& o) const;

 private:
  enum class Kind { kAll, kName, kCmp, kNot, kAnd, kOr, kDiff };
  struct Node {
    Kind kind = Kind::kAll;
    Op op = Op::kEq;
    std::string key, value;  // kName: key; kCmp: key op value
    int a = -1, b = -1;      // children (kNot: a)
  };
  friend class ResidencyParser;
  bool Eval(int n, const SiteAttributes& s, Verdict* v) const;
  std::string Text(int n, int parent_prec) const;
  bool Same(int n, const ResidencyExpr& o, int m) const;

  std::vector<Node> nodes_;
  int root_ = -1;
};

const char* OpText(ResidencyExpr::Op op);

}  // namespace cnet
