// Shared pieces of the core tests that drive the simulator: the built-in policies by name and the
// performance model over Gavel's matrix. Test-only; not thread-safe (function-local statics).
#pragma once

#include <memory>
#include <string>

#include "sched/policy_registry.h"
#include "testing/test_util.h"

namespace cnet::testing {

// A fresh built-in policy; fails the test (and dies) if `name` is not one.
inline std::unique_ptr<Policy> BuiltinPolicy(const std::string& name) {
  PolicyRegistry r;
  RegisterBuiltinPolicies(r);
  return std::move(r.Create(name)).value();
}

// The performance model over TestCatalogue() and GavelMatrix(), built once.
inline const PerfModel& GavelPerf() {
  static const PerfModel p(TestCatalogue(), GavelMatrix());
  return p;
}

}  // namespace cnet::testing
