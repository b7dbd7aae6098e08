#include "cli/submit_fields.h"

#include <nlohmann/json.hpp>

#include "api/job_request.h"

namespace cnet {

void AddSubmitFields(CLI::App* s, SubmitFields& f) {
  s->add_option("--array", f.array, "a job array: 0-99, 1,3,5-7, 0-20:2, with %N for at most N at once (e.g. 0-99%8)");
  s->add_option("--dependency,-d", f.dependency,
                "wait for other jobs: afterok:ID[:ID...], afterany:ID, afternotok:ID, comma-separated (an array id: all its tasks)");
}

Status ApplySubmitFields(const SubmitFields& f, std::string* text, bool* is_json) {
  if (f.array.empty() && f.dependency.empty()) return Status::Ok();
  nlohmann::json doc;
  if (*is_json) {
    doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded()) return InvalidArgument("not valid JSON");
  } else {
    CNET_ASSIGN_OR_RETURN(doc, api::YamlToJson(*text));
  }
  if (!doc.is_object()) return InvalidArgument("expected a mapping of fields");
  // Checked here too, so a typo is named as the flag, not as a field of the file.
  if (!f.array.empty()) {
    CNET_RETURN_IF_ERROR(api::ParseArraySpec(f.array, "--array", api::kMaxArrayIndex + 1).status());
    doc["array"] = f.array;
  }
  if (!f.dependency.empty()) {
    CNET_RETURN_IF_ERROR(api::ParseDependencies(f.dependency, "--dependency").status());
    doc["dependency"] = f.dependency;
  }
  *text = doc.dump();
  *is_json = true;
  return Status::Ok();
}

}  // namespace cnet
