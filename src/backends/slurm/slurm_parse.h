// Reading slurmrestd's JSON (OpenAPI v0.0.38, Slurm 22.05; the response shapes are described at the
// top of slurm_client.cc): nodes, partitions, jobs, GRES strings, exit codes, output-path patterns
// and the errors[] array. Tolerant: null or a wrong type reads as the default. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/slurm/slurm_client.h"

namespace cnet::backends::slurm {

// o[key] as a string, integer or list of strings; "" / 0 / {} when absent or of another type
// (Int also reads a string of digits and truncates a float).
std::string JsonStr(const nlohmann::json& o, const char* key);
int64_t JsonInt(const nlohmann::json& o, const char* key);
std::vector<std::string> JsonStrList(const nlohmann::json& o, const char* key);

// "gpu:h100:8(S:0-1),gpu:a100:2,shard:4" -> {"gpu:h100": 8, "gpu:a100": 2, "shard": 4}; counts may
// carry K/M/G multipliers; "(null)", "N/A" and "" give nothing.
std::map<std::string, int> ParseGres(const std::string& s);
// The batch script's exit code from a job's exit_code: a raw wait(2) status in v0.0.38 (768 -> 3,
// 15 -> 143), or an object {return_code, signal: {signal_id}} in later API versions; 128+signal
// when signalled.
int ExitCode(const nlohmann::json& job);
// Expands the patterns Slurm applies to standard_output/standard_error (the API reports them
// unexpanded): %j %J %A %a %x %u %N %% with optional zero-padding width (%4j); others kept as given.
std::string ExpandOutputPath(const std::string& path, const nlohmann::json& job);

SlurmNode ParseNode(const nlohmann::json& n);
SlurmPartition ParsePartition(const nlohmann::json& p);
// Output paths defaulted as Slurm does (<cwd>/slurm-%j.out; stderr to stdout) and expanded.
SlurmJob ParseJob(const nlohmann::json& j);

// One entry of errors[], and what it says.
struct SlurmError {
  int64_t number = 0;  // 0 when the entry has none
  bool has_number = false;
  std::string text;
};

// The entries of body["errors"] (the number's key differs by endpoint: error_code, error_number or
// errno), and all their texts joined with "; ".
std::vector<SlurmError> Errors(const nlohmann::json& body);
std::string JoinErrors(const std::vector<SlurmError>& errs);

// Slurm errno ranges (slurm_errno.h): 1000s communication, 2000s ESLURM_*, 5000s socket/protocol,
// 9000s REST (data parsing). -1: "Unspecified error", which slurmrestd reports when slurmctld
// refused (authentication) or could not be reached.
// Slurm's communication errors (1000s: slurm_comm, 5000s: socket), and the system errno values
// Slurm passes through when a connection to slurmctld breaks (slurmrestd answers a submit during a
// controller restart with "Connection reset by peer"): the request may or may not have been taken,
// so it is "unavailable", never a rejection of the job.
bool CommunicationError(int64_t n);

}  // namespace cnet::backends::slurm
