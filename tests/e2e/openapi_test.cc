// docs/openapi.json is valid OpenAPI 3.0.3 (issue 11: it used 3.1's numeric exclusiveMinimum and had
// no operationIds, so no client could be generated from it), and the served copy is the file.
// A small checker of the rules that generators depend on: the version, schema keywords of 3.0 only,
// unique operationIds, responses on every operation, declared path parameters, and $refs that resolve.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "common/strings.h"

namespace {

using nlohmann::json;

const std::set<std::string> kSchemaKeys = {
    "type", "format", "description", "title", "properties", "items", "required", "enum", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems",
    "uniqueItems", "additionalProperties", "nullable", "default", "example", "$ref", "allOf", "oneOf", "anyOf",
    "not", "readOnly", "writeOnly", "deprecated", "multipleOf", "minProperties", "maxProperties", "discriminator"};
const std::set<std::string> kMethods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

struct Checker {
  const json& doc;
  std::vector<std::string> problems;

  void Problem(const std::string& where, const std::string& what) { problems.push_back(where + ": " + what); }

  void Ref(const std::string& where, const json& ref) {
    if (!ref.is_string() || ref.get<std::string>().rfind("#/", 0) != 0) return Problem(where, "$ref must be a local '#/...' pointer");
    try {
      (void)doc.at(json::json_pointer(ref.get<std::string>().substr(1)));
    } catch (const json::exception&) {
      Problem(where, "$ref " + ref.get<std::string>() + " does not resolve");
    }
  }

  void Schema(const std::string& where, const json& s) {
    if (!s.is_object()) return Problem(where, "a schema must be an object");
    if (s.contains("$ref")) {
      Ref(where, s["$ref"]);
      if (s.size() > 1) Problem(where, "in 3.0 the siblings of $ref are ignored");
      return;
    }
    for (auto it = s.begin(); it != s.end(); ++it)
      if (!kSchemaKeys.count(it.key())) Problem(where, "'" + it.key() + "' is not a 3.0 schema keyword");
    if (s.contains("type") && !s["type"].is_string()) Problem(where, "type must be one string in 3.0 (use nullable)");
    for (const char* k : {"exclusiveMinimum", "exclusiveMaximum"})
      if (s.contains(k) && !s[k].is_boolean()) Problem(where, std::string(k) + " must be a boolean in 3.0 (a number is 3.1)");
    if (s.contains("properties"))
      for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) Schema(where + ".properties." + it.key(), it.value());
    if (s.contains("items")) Schema(where + ".items", s["items"]);
    if (s.contains("additionalProperties") && s["additionalProperties"].is_object())
      Schema(where + ".additionalProperties", s["additionalProperties"]);
    for (const char* k : {"allOf", "oneOf", "anyOf"})
      if (s.contains(k))
        for (size_t i = 0; i < s[k].size(); ++i) Schema(where + "." + k + "[" + std::to_string(i) + "]", s[k][i]);
  }

  void Content(const std::string& where, const json& content) {
    for (auto it = content.begin(); it != content.end(); ++it)
      if (it.value().contains("schema")) Schema(where + "." + it.key(), it.value()["schema"]);
  }

  void Run() {
    if (doc.value("openapi", "") != "3.0.3") Problem("openapi", "expected \"3.0.3\"");
    if (!doc.contains("info") || !doc["info"].contains("title") || !doc["info"].contains("version")) Problem("info", "title and version required");
    if (doc.contains("components") && doc["components"].contains("schemas"))
      for (auto it = doc["components"]["schemas"].begin(); it != doc["components"]["schemas"].end(); ++it)
        Schema("components.schemas." + it.key(), it.value());
    std::set<std::string> ids;
    for (auto p = doc["paths"].begin(); p != doc["paths"].end(); ++p) {
      std::set<std::string> templated;
      static const std::regex param(R"(\{([^}]+)\})");
      for (auto m = std::sregex_iterator(p.key().begin(), p.key().end(), param); m != std::sregex_iterator(); ++m)
        templated.insert((*m)[1]);
      for (auto op = p.value().begin(); op != p.value().end(); ++op) {
        if (!kMethods.count(op.key())) continue;
        const std::string where = op.key() + " " + p.key();
        const json& o = op.value();
        if (!o.contains("operationId") || !o["operationId"].is_string()) Problem(where, "no operationId");
        else if (!ids.insert(o["operationId"].get<std::string>()).second) Problem(where, "operationId is not unique");
        if (!o.contains("responses") || o["responses"].empty()) Problem(where, "no responses");
        std::set<std::string> declared;
        for (const json* params : {&p.value(), &o})
          if (params->contains("parameters"))
            for (const json& pa : (*params)["parameters"]) {
              if (pa.contains("$ref")) { Ref(where, pa["$ref"]); continue; }
              if (!pa.contains("name") || !pa.contains("in")) { Problem(where, "a parameter needs name and in"); continue; }
              if (pa["in"] == "path") {
                declared.insert(pa["name"].get<std::string>());
                if (!pa.value("required", false)) Problem(where, "path parameter " + pa["name"].get<std::string>() + " must be required");
              }
              if (pa.contains("schema")) Schema(where + " parameter " + pa["name"].get<std::string>(), pa["schema"]);
            }
        for (const auto& t : templated)
          if (!declared.count(t)) Problem(where, "path parameter {" + t + "} is not declared");
        if (o.contains("requestBody") && o["requestBody"].contains("content")) Content(where + " requestBody", o["requestBody"]["content"]);
        if (o.contains("responses"))
          for (auto r = o["responses"].begin(); r != o["responses"].end(); ++r) {
            if (r.value().contains("$ref")) Ref(where + " " + r.key(), r.value()["$ref"]);
            else if (!r.value().contains("description")) Problem(where + " " + r.key(), "a response needs a description");
            if (r.value().contains("content")) Content(where + " " + r.key(), r.value()["content"]);
          }
      }
    }
  }
};

json File() {
  auto text = cnet::ReadWholeFile(std::string(CNET_SOURCE_DIR) + "/docs/openapi.json");
  EXPECT_TRUE(text.ok());
  return json::parse(text.ok() ? *text : "{}", nullptr, false);
}

TEST(OpenApi, DocumentIsValidOpenApi303WithOperationIds) {
  const json doc = File();
  ASSERT_TRUE(doc.is_object());
  Checker c{doc, {}};
  c.Run();
  std::string all;
  for (const auto& p : c.problems) all += p + "\n";
  EXPECT_TRUE(c.problems.empty()) << all;
}

TEST(OpenApi, CheckerCatchesWhatIssue11Found) {
  json doc = File();
  doc["components"]["schemas"]["Bad"] = {{"type", "number"}, {"exclusiveMinimum", 0}};
  doc["paths"]["/v1/jobs"]["get"].erase("operationId");
  Checker c{doc, {}};
  c.Run();
  ASSERT_EQ(c.problems.size(), 2u);
  EXPECT_NE(c.problems[0].find("exclusiveMinimum must be a boolean"), std::string::npos) << c.problems[0];
  EXPECT_NE(c.problems[1].find("no operationId"), std::string::npos) << c.problems[1];
}

// (A second, packaged validator runs as the ctest entry openapi_schema: tests/tools/openapi_check.sh.)
TEST(OpenApi, ServedCopyIsTheFile) { EXPECT_EQ(json::parse(cnet::api::OpenApiDocument(), nullptr, false), File()); }

}  // namespace
