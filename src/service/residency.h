// The control loop's side of data residency (docs/data.md): re-checking the jobs that read a
// dataset whose policy or grants changed, and auditing where jobs with inputs were placed.
// Loop thread only.
#pragma once

#include <map>
#include <string>

#include "service/loop_state.h"
#include "store/dataset_store.h"

namespace cnet::service {

// For every job not yet ended that reads one of `changed` (dataset -> the owner's
// enforce_running): resolves its inputs again. A job that waits gets the new allowed-site set at
// once, or FAILS with the reason when no site may hold it any more; a dispatched or running job
// is reported (logged, audited) and carries the new set, so a requeue or re-dispatch never takes
// it where its data may not go now. Where the owner asked (enforce_running) and the job's site is
// now denied, its run is stopped: the job is queued again under the new set, or CANCELLED when
// no site is allowed; the stop is recorded before it is asked (a restart still carries it out).
void RecheckResidency(LoopState& st, const std::map<std::string, bool>& changed);

// One `allow` audit record per input of job `a`, placed on site `site` (index into st.sites).
void AuditPlacement(const LoopState& st, const Active& a, int site, std::vector<store::AuditRecord>* out);
// Writes the records; a store failure is logged (the placement stands: the core enforced it).
void WriteAudit(const LoopState& st, std::vector<store::AuditRecord> records);

}  // namespace cnet::service
