// libFuzzer target for the residency expression parser (src/model/residency_expr.h).
// Besides crashes and sanitizer reports, a violated invariant aborts:
//  - a parsed expression's canonical text parses back to the same expression, and prints the same;
//  - evaluating it on a few sites answers, and a deny always names a clause;
//  - a failure is an InvalidArgument whose message starts "column N: " with N inside the text + 1,
//    or names the length limit.
// Built by scripts/fuzz.sh (FUZZ_TARGET=residency_expr_fuzz); see fuzz/CMakeLists.txt.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/residency_expr.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

const cnet::SiteAttributes kSites[] = {
    {"sh", {{"country", "CN"}, {"security_level", "3"}, {"tier1", "true"}}},
    {"va", {{"country", "US"}, {"security_level", "x"}}},
    {"bare", {}},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = cnet::ResidencyExpr::Parse(text);
  if (!e.ok()) {
    Check(e.status().code() == cnet::Code::kInvalidArgument, "a parse error is InvalidArgument");
    const std::string& m = e.status().message();
    if (m.rfind("column ", 0) == 0) {
      const long col = std::strtol(m.c_str() + 7, nullptr, 10);
      Check(col >= 1 && static_cast<size_t>(col) <= size + 1, "the column is inside the text");
    } else {
      Check(size > cnet::ResidencyExpr::kMaxLength, "an error without a column is the length limit");
    }
    return 0;
  }
  const std::string canon = e->ToString();
  auto back = cnet::ResidencyExpr::Parse(canon);
  Check(back.ok(), "the canonical text parses");
  Check(*back == *e, "the canonical text parses to the same expression");
  Check(back->ToString() == canon, "printing is stable");
  for (const auto& s : kSites) {
    auto v = e->Evaluate(s);
    Check(v.allow || !v.clause.empty(), "a deny names a clause");
  }
  return 0;
}
