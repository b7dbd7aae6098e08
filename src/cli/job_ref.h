// A job as users name it on the command line: "40" (a job, or a whole array when 40 is an array's
// id) or "40_7" (task 7 of array 40, as Slurm writes it), resolved to the API path that acts on it.
#pragma once

#include <string>

#include "cli/client_conn.h"

namespace cnet {

struct JobRef {
  int64_t id = 0;          // the job (the task's own id for "A_I")
  bool task_only = false;  // "A_I": that task alone, even when it is the array's first task
};

// kInvalidArgument for text that is neither form; kNotFound when array A has no task I.
Result<JobRef> ResolveJobRef(const Conn& c, const std::string& text);
// "/v1/jobs/ID/<action>" (+ "?task_only=true" for one task).
std::string ActionPath(const JobRef& r, const std::string& action);

}  // namespace cnet
