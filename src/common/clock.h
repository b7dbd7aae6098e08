// Injected time. The scheduling core never reads the system clock: the Scheduler takes `now` as an
// argument; the service reads a SystemClock, tests a ManualClock, and the simulator its own event
// time. Now() is in seconds.
#pragma once

#include "common/units.h"

namespace cnet {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Seconds Now() const = 0;
};

// Wall-clock seconds since the Unix epoch. Thread-safe.
class SystemClock final : public Clock {
 public:
  Seconds Now() const override;
};

// A clock that moves only when told. Not thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Seconds start = 0) : now_(start) {}
  Seconds Now() const override { return now_; }
  void Set(Seconds t) { now_ = t; }
  void Advance(Seconds d) { now_ += d; }

 private:
  Seconds now_;
};

// Monotonic wall time for measuring durations (solve times), in seconds.
double MonotonicSeconds();

}  // namespace cnet
