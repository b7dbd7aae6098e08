// Regressions found by the job-spec fuzzer (fuzz/job_request_fuzz.cc, scripts/fuzz.sh): each
// input once crashed the parser, hung it, or broke one of the invariants the fuzzer checks (a
// parsed request round-trips through ToJson; every error message is valid UTF-8). The same inputs,
// where small, are in fuzz/corpus/ (regress_*).

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/job_request.h"

namespace cnet::api {
namespace {

void ExpectCleanError(const Result<JobRequest>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(IsValidUtf8(r.status().message())) << r.status().message();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
}

// nlohmann throws out_of_range (not parse_error) for a number beyond double: it escaped
// ParseJobRequest and terminated the process.
TEST(ApiFuzzRegression, JsonNumberOverflowIsAnError) {
  ExpectCleanError(ParseJobRequest(R"({"name": "n", "command": "x", "priority": 2e308})", BodyFormat::kJson),
                   "number overflow");
  ExpectCleanError(ParseJobRequest(R"({"name": "n", "command": "x", "env": {"A": -1e999}})", BodyFormat::kJson),
                   "body:");
}

// nlohmann's "last read: '...'" cuts the body inside a multi-byte character.
TEST(ApiFuzzRegression, JsonSyntaxErrorMessageIsValidUtf8) {
  ExpectCleanError(ParseJobRequest("{\"name\":\xE2\x9C\x93 \"x\"}", BodyFormat::kJson), "JSON syntax error at line 1");
  ExpectCleanError(ParseJobRequest("{\"a\": tr\xC3\xA9}", BodyFormat::kJson), "JSON syntax error");
}

// yaml-cpp quotes the byte after a backslash: the first byte of a multi-byte character.
TEST(ApiFuzzRegression, YamlErrorMessageIsValidUtf8) {
  ExpectCleanError(ParseJobRequest("name: \"\\\xC3\xA9\"\ncommand: x\n", BodyFormat::kYaml), "body: YAML syntax error at line 1, column 8: ");
}

// A NUL byte switches yaml-cpp's decoder: a valid UTF-8 body became a key with a lone 0x85 byte.
// And nlohmann stops at a NUL: "{...}\0garbage" was accepted as JSON. A body with a NUL is refused;
// YamlToJson, public on its own, refuses what would not be valid UTF-8.
TEST(ApiFuzzRegression, NulByteIsRefused) {
  std::string yaml = "{\"name\": \"x\", \"command\": \"y\", \"env\": {\"A\": 1, ";
  yaml += '\0';
  yaml += "NE\": 2}}";
  ExpectCleanError(ParseJobRequest(yaml, BodyFormat::kYaml), "body: contains a NUL byte");
  auto doc = YamlToJson(yaml);
  ASSERT_FALSE(doc.ok()) << doc->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  EXPECT_TRUE(IsValidUtf8(doc.status().message())) << doc.status().message();

  std::string json = R"({"name": "x", "command": "y"})";
  json += '\0';
  json += "trailing garbage";
  ExpectCleanError(ParseJobRequest(json, BodyFormat::kJson), "body: contains a NUL byte");
}

// A single name (not a list) skipped the name check, so the request did not round-trip:
// ToJson wrote it back as a list, which JobRequestFromJson then refused.
TEST(ApiFuzzRegression, SingleNameIsCheckedLikeAList) {
  ExpectCleanError(ParseJobRequest(R"({"name": "n", "command": "x", "sites": "not a name!"})", BodyFormat::kJson),
                   "sites: may contain only");
  ExpectCleanError(ParseJobRequest("name: n\ncommand: x\naccelerator_types: 'v100 x2'\n", BodyFormat::kYaml),
                   "accelerator_types: may contain only");
  auto ok = ParseJobRequest(R"({"name": "n", "command": "x", "sites": "site-a"})", BodyFormat::kJson);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto back = JobRequestFromJson(ToJson(*ok));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->sites, std::vector<std::string>{"site-a"});
}

// Copying a deeply nested env/labels value recursed once per level: a body under the 1 MiB limit
// overflowed the stack.
TEST(ApiFuzzRegression, DeeplyNestedValueDoesNotOverflowTheStack) {
  const size_t depth = 500000;
  for (const char* field : {"env", "labels"}) {
    std::string body = std::string(R"({"name": "n", "command": "x", ")") + field + R"(": {"A": )";
    body += std::string(depth, '[') + std::string(depth, ']') + "}}";
    ASSERT_LE(body.size(), Limits{}.max_body_bytes);
    ExpectCleanError(ParseJobRequest(body, BodyFormat::kJson), "expected a string, got a list");
  }
}

// Aliases share nodes in yaml-cpp; converting to JSON expanded them: 440 bytes of anchors made
// 9^9 strings (minutes and tens of GiB).
TEST(ApiFuzzRegression, YamlAliasBombIsRefused) {
  std::string body = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 9; ++i) {
    body += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) body += (k ? ", *a" : "*a") + std::to_string(i - 1);
    body += "]\n";
  }
  body += "name: x\ncommand: y\n";
  // Since issue 11 the strict check refuses anchors and aliases outright, at the first anchor.
  ExpectCleanError(ParseJobRequest(body, BodyFormat::kYaml), "body: line 1, column 5: YAML: anchors");
  ExpectCleanError(ParseJobRequest("name: x\ncommand: y\nlabels: {team: a}\nenv: {A: hello, B: *v}\n", BodyFormat::kYaml),
                   "body: line 4, column 20: YAML: aliases");
}

}  // namespace
}  // namespace cnet::api
