// Strict job specs (issue 11): YAML that yaml-cpp 0.7 accepted but YAML 1.2 rejects, and the
// constructs refused so that a file means what it looks like, are each refused with the line and
// column; unknown fields get a suggestion and the list of fields, with the line in a YAML body.

#include <gtest/gtest.h>

#include <string>

#include "api/job_request.h"
#include "common/suggest.h"
#include "common/yaml_strict.h"

namespace cnet::api {
namespace {

std::string YamlError(const std::string& body) {
  auto r = ParseJobRequest(body, BodyFormat::kYaml);
  EXPECT_FALSE(r.ok()) << "accepted:\n" << body;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

// The report of issue 11: the unclosed quote swallowed the next line, and the job ran
// `echo hi labels: {a: b}`.
TEST(StrictYaml, UnclosedQuoteIsRefusedWithLineAndColumn) {
  const std::string m = YamlError("name: t\ncommand: \"echo hi\nlabels: {a: b}\n");
  // libfyaml points at the opening quote.
  EXPECT_NE(m.find("body: YAML syntax error at line 2, column 10: "), std::string::npos) << m;
}

TEST(StrictYaml, TabIndentationIsRefused) {
  const std::string m = YamlError("name: t\ncommand: echo\nlabels:\n\ta: b\n");
  EXPECT_NE(m.find("body: YAML syntax error at line 4, column 1: tab"), std::string::npos) << m;
}

TEST(StrictYaml, DuplicateKeysAreRefusedAtTheSecond) {
  const std::string m = YamlError("name: t\ncommand: echo one\nworkers: 1\ncommand: echo two\n");
  EXPECT_NE(m.find("body: line 4, column 1: YAML: duplicate key 'command'"), std::string::npos) << m;
  const std::string nested = YamlError("name: t\ncommand: echo\nenv:\n  A: '1'\n  A: '2'\n");
  EXPECT_NE(nested.find("body: line 5, column 3: YAML: duplicate key 'A'"), std::string::npos) << nested;
}

TEST(StrictYaml, AnchorsAndAliasesAreRefused) {
  EXPECT_NE(YamlError("name: &n t\ncommand: echo\n").find("body: line 1, column 7: YAML: anchors"), std::string::npos);
  EXPECT_NE(YamlError("name: t\ncommand: echo\nlabels: {a: b}\nenv: *x\n").find("body: line 4, column 6: YAML: aliases"), std::string::npos);
}

TEST(StrictYaml, MultiDocumentStreamsAreRefused) {
  const std::string m = YamlError("name: t\ncommand: echo\n---\nname: u\ncommand: echo\n");
  EXPECT_NE(m.find("body: line 3, column 1: YAML: a second document"), std::string::npos) << m;
}

TEST(StrictYaml, WellFormedSpecsStillParse) {
  auto r = ParseJobRequest("# a comment\nname: t\ncommand: \"echo hi\"\nlabels: {a: b}\nenv:\n  A: '1'\n  B: \"x: y\"\n",
                           BodyFormat::kYaml);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->command.back(), "echo hi");
  // One explicit document is fine.
  EXPECT_TRUE(ParseJobRequest("---\nname: t\ncommand: echo\n...\n", BodyFormat::kYaml).ok());
  // The same keys in different mappings are not duplicates.
  EXPECT_TRUE(ParseJobRequest("name: t\ncommand: echo\nlabels: {name: a}\nenv: {name: b}\n", BodyFormat::kYaml).ok());
}

TEST(StrictYaml, UnknownFieldSuggestsAndListsWithTheLine) {
  const std::string m = YamlError("name: t\ncommand: echo\nworkres: 2\n");
  EXPECT_NE(m.find("line 3, column 1: workres: unknown field (did you mean 'workers'?)"), std::string::npos) << m;
  EXPECT_NE(m.find("accelerators_per_worker"), std::string::npos) << m;  // the list of fields
  auto j = ParseJobRequest(R"({"name": "t", "command": "echo", "cpus_per_workr": 1})", BodyFormat::kJson);
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("did you mean 'cpus_per_worker'?"), std::string::npos) << j.status().message();
}

// A field error points at the field itself, nested ones included: its line and column in the
// body (the key of a mapping entry, the start of a list item), else its nearest enclosing field.
TEST(StrictYaml, FieldErrorsNameTheLineAndColumnOfTheField) {
  EXPECT_EQ(YamlError("name: t\ncommand: echo\nenv:\n  OK: 1\n  1BAD: x\n"),
            "line 5, column 3: env.1BAD: not a valid environment variable name");
  EXPECT_EQ(YamlError("name: t\ncommand: echo\naccelerators_per_worker: 1\naccelerator_types:\n  - H100-SXM\n  -   'b@d'\n"),
            "line 6, column 7: accelerator_types[1]: may contain only letters, digits, '-', '_' and '.'");
  EXPECT_EQ(YamlError("name: t\ncommand: echo\n  # indented comment\nworkers: -3\n"),
            "line 4, column 1: workers: must be between 1 and " + std::to_string(Limits{}.max_workers) + ", not -3");
  // A flow mapping: the key's own column.
  EXPECT_EQ(YamlError("name: t\ncommand: echo\nlabels: {a: b, 'x y': c}\n").rfind("line 3, column 16: labels.x y: ", 0), 0u);
  // Nothing to point at: a required field left out.
  EXPECT_EQ(YamlError("command: echo\n"), "name: required");
}

TEST(StrictYaml, CheckerNamesTheFileForConfigFiles) {
  Status st = CheckStrictYaml("a: 1\nb: [1, 2\n", "cluster.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("cluster.yaml:3:1: YAML syntax error: ", 0), 0u) << st.message();
  Status dup = CheckStrictYaml("a: 1\nb: 2\na: 3\n", "cnet.yaml");
  EXPECT_EQ(dup.message(), "cnet.yaml:3:1: YAML: duplicate key 'a'");
  // Complex keys are valid YAML, left to the readers (which name the field); the value after
  // one is not taken for a key.
  EXPECT_TRUE(CheckStrictYaml("? [a, b]\n: 1\nc: 2\n", "f").ok());
  EXPECT_TRUE(CheckStrictYaml("{[a]: 1, c: {d: 1}, e: 1}\n", "f").ok());
}

TEST(Suggest, ClosestNameWithinAThirdOfTheLength) {
  EXPECT_EQ(ClosestName("sumbit", {"submit", "show", "sites"}), "submit");
  EXPECT_EQ(ClosestName("LS", {"ls", "logs"}), "ls");
  EXPECT_EQ(ClosestName("frobnicate", {"submit", "show"}), "");
  EXPECT_EQ(DidYouMean("xyz", {"submit"}), "");
}

}  // namespace
}  // namespace cnet::api
