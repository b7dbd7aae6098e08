// Per-job results and the utilisation time series of `cnet simulate` as CSV files (formats in
// docs/formats.md). Each file is written to PATH.tmp and renamed, so a reader never sees half.
#pragma once

#include <string>
#include <vector>

#include "sim/simulator.h"

namespace cnet {

// policy,job_id,submit_s,start_s,end_s,jct_s,types,nodes,preemptions,predicted
// (types: '|'-separated; predicted: 1 when any of its throughputs was a model estimate).
std::string JobsCsv(const std::vector<SimResult>& runs);
// policy,time_s,type,total,allocated,idle,fragmented (counts of accelerators; with fractional
// jobs, shares with 3 decimals)
std::string UtilCsv(const std::vector<SimResult>& runs);
// Writes `text` to `path` atomically; `flag` names the option in errors.
Status WriteFileAtomically(const std::string& path, const std::string& text, const std::string& flag);

}  // namespace cnet
