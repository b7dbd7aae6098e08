// The job spec's dispatch fields (issue 12 part B): objective, budget_usd, deadline_s.
#include <gtest/gtest.h>

#include "api/job_request.h"

namespace cnet::api {
namespace {

TEST(JobObjective, ParsesValidatesAndRoundTrips) {
  struct Case {
    const char* body;
    const char* error;  // "" = accepted
  };
  const Case cases[] = {
      {R"({"name":"a","command":"true","objective":"cheapest","deadline_s":3600})", ""},
      {R"({"name":"a","command":"true","objective":"budget","budget_usd":12.5})", ""},
      {R"({"name":"a","command":"true","objective":""})", ""},
      {R"({"name":"a","command":"true","objective":"greenest","deadline_s":7200})", ""},
      {R"({"name":"a","command":"true","objective":"quickest"})", "objective: expected fastest, cheapest, budget or greenest"},
      {R"({"name":"a","command":"true","objective":"budget"})", "budget_usd: required (> 0) with objective budget"},
      {R"({"name":"a","command":"true","budget_usd":-1})", "budget_usd"},
      {R"({"name":"a","command":"true","deadline_s":"soon"})", "deadline_s"},
  };
  for (const Case& c : cases) {
    auto r = ParseJobRequest(c.body, BodyFormat::kJson);
    if (std::string(c.error).empty()) {
      ASSERT_TRUE(r.ok()) << c.body << ": " << r.status().ToString();
      auto back = JobRequestFromJson(ToJson(*r));
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(back->objective, r->objective);
      EXPECT_EQ(back->budget_usd, r->budget_usd);
      EXPECT_EQ(back->deadline_s, r->deadline_s);
    } else {
      ASSERT_FALSE(r.ok()) << c.body;
      EXPECT_NE(r.status().message().find(c.error), std::string::npos) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace cnet::api
