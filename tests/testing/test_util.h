// Shared builders for tests: the shipped catalogue, small clusters, jobs.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "model/accelerator.h"
#include "model/cluster.h"
#include "perf/perf_model.h"

namespace cnet::testing {

inline std::string DataPath(const std::string& rel) { return std::string(CNET_TEST_DATA_DIR) + "/" + rel; }
// The data the tests read ships in the repository (data/), so the tests are hermetic.
inline std::string SharedPath(const std::string& rel) { return DataPath(rel); }

inline const Catalogue& TestCatalogue() {
  static const Catalogue* c = [] {
    auto r = Catalogue::LoadYaml(DataPath("accelerators.yaml"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new Catalogue(std::move(r).value());
  }();
  return *c;
}

inline const ThroughputMatrix& GavelMatrix() {
  static const ThroughputMatrix* m = [] {
    auto r = ThroughputMatrix::LoadCsv(SharedPath("gavel/throughputs.csv"), TestCatalogue(),
                                       SharedPath("gavel/throughputs_unconsolidated.csv"));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new ThroughputMatrix(std::move(r).value());
  }();
  return *m;
}

inline AccelId Accel(const std::string& name) { return *TestCatalogue().Find(name); }

}  // namespace cnet::testing
