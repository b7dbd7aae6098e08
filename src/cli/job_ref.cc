#include "cli/job_ref.h"

#include "common/strings.h"

namespace cnet {

Result<JobRef> ResolveJobRef(const Conn& c, const std::string& text) {
  const size_t us = text.find('_');
  auto id = ParseInt(text.substr(0, us));
  if (!id || *id < 1 || text.substr(0, us).find_first_not_of("0123456789") != std::string::npos)
    return InvalidArgument("'" + text + "': not a job id (write ID, or ARRAY_INDEX for one task of an array)");
  if (us == std::string::npos) return JobRef{*id, false};
  auto index = ParseInt(text.substr(us + 1));
  if (!index || *index < 0 || text.substr(us + 1).find_first_not_of("0123456789") != std::string::npos)
    return InvalidArgument("'" + text + "': the task index after '_' is not a number");
  std::string path = "/v1/jobs?array=" + std::to_string(*id) + "&limit=1000";
  while (!path.empty()) {  // an array's tasks, in pages
    CNET_ASSIGN_OR_RETURN(Reply r, Call(c, "GET", path));
    for (const auto& j : r.doc["jobs"])
      if (j.contains("array_index") && j["array_index"].is_number_integer() && j["array_index"].get<int64_t>() == *index)
        return JobRef{j["id"].get<int64_t>(), true};
    path = r.doc.contains("next") && r.doc["next"].is_string() ? r.doc["next"].get<std::string>() : "";
  }
  return NotFound("array " + std::to_string(*id) + " has no task " + std::to_string(*index) + " (or no such array of yours)");
}

std::string ActionPath(const JobRef& r, const std::string& action) {
  return "/v1/jobs/" + std::to_string(r.id) + "/" + action + (r.task_only ? "?task_only=true" : "");
}

}  // namespace cnet
