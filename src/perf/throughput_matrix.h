// Measured throughputs: CSV rows `job_type,accelerator,workers,steps_per_second` (Gavel's format).
// `workers` is any gang size from 1 to 4096 (not only powers of two).
// A figure of 0 means the gang cannot run there (e.g. out of memory).
// A second file of the same format may hold gangs spread over several nodes ("unconsolidated").
// Immutable after load; thread-safe to read.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ids.h"
#include "common/status.h"
#include "model/accelerator.h"

namespace cnet {

class ThroughputMatrix {
 public:
  // Loads the consolidated matrix. Accelerator names must be in the catalogue; errors name the
  // file, line and field. `spread_path` (may be empty) adds the unconsolidated measurements.
  static Result<ThroughputMatrix> LoadCsv(const std::string& path, const Catalogue& cat,
                                          const std::string& spread_path = "");
  static Result<ThroughputMatrix> ParseCsv(const std::string& text, const std::string& file,
                                           const Catalogue& cat);
  Status AddSpreadCsv(const std::string& text, const std::string& file, const Catalogue& cat);

  std::optional<JobTypeId> FindJobType(const std::string& name) const;
  const std::string& JobTypeName(JobTypeId id) const { return names_.at(id.value()); }
  size_t num_job_types() const { return names_.size(); }
  const std::vector<std::string>& job_type_names() const { return names_; }

  // steps/s measured for a gang of `workers` on one node (spread=false) or several (spread=true).
  std::optional<double> Get(JobTypeId t, AccelId a, int workers, bool spread) const;
  // Accelerator types with a positive single-worker measurement for t.
  std::vector<AccelId> MeasuredAccels(JobTypeId t) const;
  // Worker counts with a positive measurement for (t, a, spread), ascending.
  std::vector<int> MeasuredWorkers(JobTypeId t, AccelId a, bool spread) const;

  // One measurement of the matrix (leave-one-out evaluation iterates over them).
  struct Point {
    JobTypeId job_type;
    AccelId accel;
    int workers = 0;
    bool spread = false;
    double steps_per_s = 0;
  };
  // Every measurement, ordered by job type, accelerator, spread, workers.
  std::vector<Point> Points() const;
  // A copy without one measurement (absent: an unchanged copy).
  ThroughputMatrix Without(JobTypeId t, AccelId a, int workers, bool spread) const;

 private:
  Status AddRows(const std::string& text, const std::string& file, const Catalogue& cat, bool spread,
                 bool new_types_allowed);
  static uint64_t Key(JobTypeId t, AccelId a, int workers, bool spread);
  // Key of (t, a, spread) with workers 0: the index of positive measurements by gang size.
  void IndexWorkers();

  std::vector<std::string> names_;
  std::unordered_map<std::string, JobTypeId> by_name_;
  std::unordered_map<uint64_t, double> values_;
  std::unordered_map<uint64_t, std::vector<int>> workers_;  // positive sizes, ascending
};

}  // namespace cnet
