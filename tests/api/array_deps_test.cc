// Job-array and dependency syntax (api/array_deps.h) and their fields in a job spec (issue 11).
#include "api/array_deps.h"

#include <gtest/gtest.h>

#include "api/job_request.h"

namespace cnet::api {
namespace {

std::vector<int> Indices(const std::string& text) {
  auto a = ParseArraySpec(text, "array", 10000);
  EXPECT_TRUE(a.ok()) << text << ": " << a.status().ToString();
  return a.ok() ? a->indices : std::vector<int>{};
}

TEST(ArraySpec, RangesListsStepsAndLimit) {
  EXPECT_EQ(Indices("0-3"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(Indices("1,3,5-7"), (std::vector<int>{1, 3, 5, 6, 7}));
  EXPECT_EQ(Indices("0-10:5"), (std::vector<int>{0, 5, 10}));
  EXPECT_EQ(Indices("7"), (std::vector<int>{7}));
  EXPECT_EQ(Indices("3,1,3"), (std::vector<int>{1, 3}));  // sorted, each once
  auto a = ParseArraySpec("0-99%8", "array", 10000);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->indices.size(), 100u);
  EXPECT_EQ(a->max_running, 8);
  EXPECT_EQ(a->Canonical(), "0-99%8");
  EXPECT_EQ(ArrayLimit(a->Canonical()), 8);
  EXPECT_EQ(ArrayLimit("0-9"), 0);
  EXPECT_EQ(ParseArraySpec("1,3,5-7", "array", 10).value().Canonical(), "1,3,5-7");
}

TEST(ArraySpec, BadTextNamesTheFieldAndTheSizeBoundIs422) {
  for (const char* bad : {"", "%4", "5-1", "a-b", "1,,2", "0-9%0", "3:2", "0-9:0", "-1"}) {
    auto a = ParseArraySpec(bad, "--array", 10000);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(a.status().message().rfind("--array: ", 0), 0u) << a.status().message();
  }
  auto big = ParseArraySpec("0-10000", "array", 10000);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Code::kInfeasible);
  EXPECT_EQ(big.status().message(), "array: more than 10000 tasks (the service's max_array_size)");
  // Counted before expanding: a huge range is refused without building it.
  EXPECT_EQ(ParseArraySpec("0-9999999", "array", 10000).status().code(), Code::kInfeasible);
}

TEST(Dependencies, ParseAndNormalise) {
  auto d = ParseDependencies("afterok:3:4,afterany:7,afternotok:9", "dependency");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->size(), 4u);
  EXPECT_EQ((*d)[1], (Dependency{DepKind::kAfterOk, 4}));
  EXPECT_EQ((*d)[2], (Dependency{DepKind::kAfterAny, 7}));
  EXPECT_EQ(DependenciesText(*d), "afterok:3:4,afterany:7,afternotok:9");
  EXPECT_TRUE(ParseDependencies("", "dependency")->empty());
  for (const char* bad : {"after:3", "afterok", "afterok:x", "afterok:0", "afterok:3,"}) {
    auto b = ParseDependencies(bad, "dependency");
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.status().message().rfind("dependency: ", 0), 0u) << b.status().message();
  }
}

TEST(Dependencies, JobSpecFieldsRoundTripAndEnvNamesAreReserved) {
  auto r = ParseJobRequest("name: a\ncommand: x\narray: 0-9%2\ndependency: [afterok:4, afterany:5]\n", BodyFormat::kYaml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->array, "0-9%2");
  EXPECT_EQ(r->dependency.size(), 2u);
  auto back = JobRequestFromJson(ToJson(*r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->array, r->array);
  EXPECT_EQ(back->dependency, r->dependency);
  auto bad = ParseJobRequest("name: a\ncommand: x\narray: 9-0\n", BodyFormat::kYaml);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("array: "), std::string::npos) << bad.status().message();
  auto env = ParseJobRequest(R"({"name":"a","command":"x","env":{"CNET_ARRAY_TASK_ID":"1"}})", BodyFormat::kJson);
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("CNET_ARRAY_TASK_ID"), std::string::npos);
  Limits small;
  small.max_array_size = 5;
  EXPECT_EQ(ParseJobRequest(R"({"name":"a","command":"x","array":"0-5"})", BodyFormat::kJson, small).status().code(),
            Code::kInfeasible);
}

}  // namespace
}  // namespace cnet::api
