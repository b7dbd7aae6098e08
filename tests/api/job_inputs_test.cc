// A job spec's `inputs` and `output` (docs/data.md): names checked like `sites`, written back by
// ToJson only when given (so older stored specs read the same), and round-tripped.
#include <gtest/gtest.h>

#include "api/job_request.h"

namespace cnet::api {
namespace {

TEST(JobInputs, ParsedCheckedAndRoundTripped) {
  auto r = ParseJobRequest("name: n\ncommand: x\ninputs: [genome, labels.v2]\noutput: joined\n", BodyFormat::kYaml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs, (std::vector<std::string>{"genome", "labels.v2"}));
  EXPECT_EQ(r->output, "joined");
  auto back = JobRequestFromJson(ToJson(*r), Limits{});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->inputs, r->inputs);
  EXPECT_EQ(back->output, "joined");
  auto plain = ParseJobRequest(R"({"name": "n", "command": "x"})", BodyFormat::kJson);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(ToJson(*plain).contains("inputs"));
  EXPECT_FALSE(ToJson(*plain).contains("output"));
  auto bad = ParseJobRequest(R"({"name": "n", "command": "x", "inputs": ["a b"]})", BodyFormat::kJson);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("inputs[0]"), std::string::npos) << bad.status().message();
  auto bad_out = ParseJobRequest(R"({"name": "n", "command": "x", "output": 3})", BodyFormat::kJson);
  ASSERT_FALSE(bad_out.ok());
  EXPECT_NE(bad_out.status().message().find("output"), std::string::npos) << bad_out.status().message();
}

}  // namespace
}  // namespace cnet::api
