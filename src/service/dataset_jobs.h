// The submit-time parts of jobs that name datasets (docs/data.md): the audit record of a job
// refused because its data may go nowhere that could run it, and the registration of a job's
// `output` dataset, which inherits the strictest policy of its inputs. Thread-safe (Datasets is).
#pragma once

#include <string>

#include "api/job_request.h"
#include "service/datasets.h"

namespace cnet::service {

// One `deny` record per input (job 0: the job was never created); a store failure is ignored
// beyond the log's own refusal, since the submit is refused anyway.
void AuditRefusal(const Datasets& ds, const std::string& tenant, const api::JobRequest& req, const std::string& why);
// Registers `req.output` for the caller with the strictest policy of `req.inputs` ("*" without
// inputs), size 0 and no replicas. kAlreadyExists when the name is taken.
Status RegisterOutput(Datasets& ds, const Caller& c, const api::JobRequest& req);

}  // namespace cnet::service
