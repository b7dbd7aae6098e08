// The backend types built into computenet. A new type: its folder under src/backends/ and one
// line here.
#include <cassert>

#include "backends/fake/fake_backend.h"
#include "backends/local/local_backend.h"
#include "backends/registry.h"
#include "backends/slurm/slurm_backend.h"

namespace cnet::backends {

void RegisterBuiltinBackends(BackendRegistry& registry) {
  // Only fails on a duplicate type, which would be a bug here.
  [[maybe_unused]] Status a = registry.Register("local", local::MakeLocalBackend);
  [[maybe_unused]] Status b = registry.Register("slurm", slurm::MakeSlurmBackend);
  [[maybe_unused]] Status c = registry.Register("fake", MakeFakeBackend);
  assert(a.ok() && b.ok() && c.ok());
}

}  // namespace cnet::backends
