#include "model/residency_expr.h"

#include <cctype>

#include "common/strings.h"

namespace cnet {

namespace {

// Binding strength: `|` loosest, then `&` and `\`, then `!`, then primaries.
constexpr int kPrecOr = 1, kPrecAnd = 2, kPrecNot = 3;

bool WordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == ':' || c == '/' ||
         c == '+';
}

bool IsNumeric(ResidencyExpr::Op op) {
  return op != ResidencyExpr::Op::kEq && op != ResidencyExpr::Op::kNe;
}

}  // namespace

const char* OpText(ResidencyExpr::Op op) {
  switch (op) {
    case ResidencyExpr::Op::kEq: return "=";
    case ResidencyExpr::Op::kNe: return "!=";
    case ResidencyExpr::Op::kGe: return ">=";
    case ResidencyExpr::Op::kLe: return "<=";
    case ResidencyExpr::Op::kGt: return ">";
    case ResidencyExpr::Op::kLt: return "<";
  }
  return "?";
}

// Recursive descent over the text; every error names the 1-based column.
class ResidencyParser {
 public:
  explicit ResidencyParser(std::string_view t) : t_(t) {}

  Result<ResidencyExpr> Run() {
    if (t_.size() > ResidencyExpr::kMaxLength)
      return InvalidArgument("longer than " + std::to_string(ResidencyExpr::kMaxLength) + " characters");
    CNET_ASSIGN_OR_RETURN(int root, Or(0));
    Skip();
    if (i_ < t_.size()) return Err("unexpected '" + std::string(1, t_[i_]) + "'");
    e_.root_ = root;
    return std::move(e_);
  }

 private:
  using Node = ResidencyExpr::Node;
  using Kind = ResidencyExpr::Kind;
  using Op = ResidencyExpr::Op;

  Status Err(const std::string& msg) const {
    return InvalidArgument("column " + std::to_string(i_ + 1) + ": " + msg);
  }
  void Skip() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  int Add(Node n) {
    e_.nodes_.push_back(std::move(n));
    return static_cast<int>(e_.nodes_.size()) - 1;
  }
  Result<int> Or(int depth) {
    CNET_ASSIGN_OR_RETURN(int l, And(depth));
    for (Skip(); i_ < t_.size() && t_[i_] == '|'; Skip()) {
      ++i_;
      CNET_ASSIGN_OR_RETURN(int r, And(depth));
      l = Add({Kind::kOr, Op::kEq, "", "", l, r});
    }
    return l;
  }
  Result<int> And(int depth) {
    CNET_ASSIGN_OR_RETURN(int l, Unary(depth));
    for (Skip(); i_ < t_.size() && (t_[i_] == '&' || t_[i_] == '\\'); Skip()) {
      Kind k = t_[i_++] == '&' ? Kind::kAnd : Kind::kDiff;
      CNET_ASSIGN_OR_RETURN(int r, Unary(depth));
      l = Add({k, Op::kEq, "", "", l, r});
    }
    return l;
  }
  Result<int> Unary(int depth) {
    Skip();
    if (depth >= ResidencyExpr::kMaxDepth) return Err("nested deeper than " + std::to_string(ResidencyExpr::kMaxDepth));
    if (i_ >= t_.size()) return Err("expected an attribute, a site name, '*', '!' or '('");
    if (t_[i_] == '!') {
      ++i_;
      CNET_ASSIGN_OR_RETURN(int a, Unary(depth + 1));
      return Add({Kind::kNot, Op::kEq, "", "", a, -1});
    }
    if (t_[i_] == '(') {
      ++i_;
      CNET_ASSIGN_OR_RETURN(int a, Or(depth + 1));
      Skip();
      if (i_ >= t_.size() || t_[i_] != ')') return Err("expected ')'");
      ++i_;
      return a;
    }
    if (t_[i_] == '*') {
      ++i_;
      return Add({Kind::kAll, Op::kEq, "", "", -1, -1});
    }
    return Atom();
  }
  std::string Word() {
    size_t b = i_;
    while (i_ < t_.size() && WordChar(t_[i_])) ++i_;
    return std::string(t_.substr(b, i_ - b));
  }
  std::optional<Op> ReadOp() {
    auto at = [&](std::string_view s) { return t_.substr(i_, s.size()) == s; };
    static const std::pair<std::string_view, Op> ops[] = {{"!=", Op::kNe}, {">=", Op::kGe}, {"<=", Op::kLe},
                                                          {"=", Op::kEq},  {">", Op::kGt},  {"<", Op::kLt}};
    for (const auto& [s, op] : ops)
      if (at(s)) {
        i_ += s.size();
        return op;
      }
    return std::nullopt;
  }
  Result<int> Atom() {
    std::string key = Word();
    if (key.empty()) return Err("expected an attribute, a site name, '*', '!' or '('");
    Skip();
    std::optional<Op> op = ReadOp();
    if (!op) return Add({Kind::kName, Op::kEq, key, "", -1, -1});
    Skip();
    size_t value_at = i_;
    std::string value = Word();
    if (value.empty()) return Err(std::string("expected a value after '") + OpText(*op) + "'");
    if (IsNumeric(*op) && !ParseDouble(value)) {
      i_ = value_at;
      return Err(std::string("'") + OpText(*op) + "' needs a number, got '" + value + "'");
    }
    return Add({Kind::kCmp, *op, key, value, -1, -1});
  }

  std::string_view t_;
  size_t i_ = 0;
  ResidencyExpr e_;
};

Result<ResidencyExpr> ResidencyExpr::Parse(std::string_view text) { return ResidencyParser(text).Run(); }

namespace {

bool Truthy(const std::string& v) { return v == "true" || v == "yes" || v == "1"; }

bool Compare(ResidencyExpr::Op op, const std::string& have, const std::string& want, bool* numeric_ok) {
  auto h = ParseDouble(have), w = ParseDouble(want);
  *numeric_ok = h.has_value();
  using Op = ResidencyExpr::Op;
  if (op == Op::kEq || op == Op::kNe) {
    bool eq = (h && w) ? *h == *w : have == want;
    return op == Op::kEq ? eq : !eq;
  }
  if (!h || !w) return false;
  switch (op) {
    case Op::kGe: return *h >= *w;
    case Op::kLe: return *h <= *w;
    case Op::kGt: return *h > *w;
    case Op::kLt: return *h < *w;
    default: return false;
  }
}

}  // namespace

bool ResidencyExpr::Eval(int n, const SiteAttributes& s, Verdict* v) const {
  const Node& x = nodes_[n];
  auto deny = [&](std::string why) {
    v->clause = Text(n, 0);
    v->why = std::move(why);
    return false;
  };
  switch (x.kind) {
    case Kind::kAll: return true;
    case Kind::kName: {
      if (s.site == x.key) return true;
      auto it = s.values.find(x.key);
      if (it != s.values.end() && Truthy(it->second)) return true;
      return deny("site '" + s.site + "' is not named " + x.key + " and has no attribute " + x.key + "=true");
    }
    case Kind::kCmp: {
      auto it = s.values.find(x.key);
      if (it == s.values.end()) return deny("site '" + s.site + "' has no attribute " + x.key);
      bool numeric = false;
      if (Compare(x.op, it->second, x.value, &numeric)) return true;
      if (IsNumeric(x.op) && !numeric)
        return deny("site '" + s.site + "' has " + x.key + "=" + it->second + ", not a number");
      return deny("site '" + s.site + "' has " + x.key + "=" + it->second);
    }
    case Kind::kNot: {
      Verdict inner;
      if (!Eval(x.a, s, &inner)) return true;
      return deny("site '" + s.site + "' matches " + Text(x.a, 0));
    }
    case Kind::kAnd: return Eval(x.a, s, v) && Eval(x.b, s, v);
    case Kind::kDiff: {
      if (!Eval(x.a, s, v)) return false;
      Verdict inner;
      if (!Eval(x.b, s, &inner)) return true;
      return deny("site '" + s.site + "' matches the excluded " + Text(x.b, 0));
    }
    case Kind::kOr: {
      Verdict l, r;
      if (Eval(x.a, s, &l) || Eval(x.b, s, &r)) return true;
      return deny(l.why + "; " + r.why);
    }
  }
  return false;
}

ResidencyExpr::Verdict ResidencyExpr::Evaluate(const SiteAttributes& site) const {
  Verdict v;
  v.allow = root_ >= 0 && Eval(root_, site, &v);
  if (v.allow) v.clause.clear(), v.why.clear();
  return v;
}

std::string ResidencyExpr::Text(int n, int parent_prec) const {
  const Node& x = nodes_[n];
  auto wrap = [&](int prec, std::string s) { return prec < parent_prec ? "(" + s + ")" : s; };
  switch (x.kind) {
    case Kind::kAll: return "*";
    case Kind::kName: return x.key;
    case Kind::kCmp: return x.key + OpText(x.op) + x.value;
    case Kind::kNot: return "!" + Text(x.a, kPrecNot);
    case Kind::kAnd: return wrap(kPrecAnd, Text(x.a, kPrecAnd) + " & " + Text(x.b, kPrecAnd + 1));
    case Kind::kDiff: return wrap(kPrecAnd, Text(x.a, kPrecAnd) + " \\ " + Text(x.b, kPrecAnd + 1));
    case Kind::kOr: return wrap(kPrecOr, Text(x.a, kPrecOr) + " | " + Text(x.b, kPrecOr + 1));
  }
  return "";
}

std::string ResidencyExpr::ToString() const { return root_ < 0 ? "" : Text(root_, 0); }

bool ResidencyExpr::Same(int n, const ResidencyExpr& o, int m) const {
  const Node &x = nodes_[n], &y = o.nodes_[m];
  if (x.kind != y.kind || x.op != y.op || x.key != y.key || x.value != y.value) return false;
  if ((x.a < 0) != (y.a < 0) || (x.b < 0) != (y.b < 0)) return false;
  return (x.a < 0 || Same(x.a, o, y.a)) && (x.b < 0 || Same(x.b, o, y.b));
}

bool ResidencyExpr::operator==(const ResidencyExpr& o) const {
  if (root_ < 0 || o.root_ < 0) return root_ == o.root_;
  return Same(root_, o, o.root_);
}

}  // namespace cnet
