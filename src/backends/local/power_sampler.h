// Measured energy per job on the local site (docs/energy.md, "Measured energy").
//
// Sources, each read only where it is readable:
//   - RAPL: the top-level powercap zones <root>/intel-rapl:N/energy_uj (one per CPU package; the
//     subzones intel-rapl:N:M are inside their package and are not added again). The counter wraps
//     at max_energy_range_uj; a reading below the previous one is taken as one wrap.
//   - Board power: `nvidia-smi --query-gpu=index,power.draw --format=csv,noheader,nounits`, in
//     watts per device index (npu-smi is not read yet).
// Attribution (the job's share), per interval between two samples:
//   - RAPL energy of the interval x the job's CPUs / the machine's CPUs x the fraction of the
//     interval the job ran; package idle power is thus shared by CPU share too.
//   - board energy: the trapezoid of each of the job's devices' power over the interval it ran.
// A job that no sample pair covered, or one taken back after a restart (Adopt; its earlier energy
// is unknown), has no measurement: the service then uses the model's estimate, flagged so.
//
// Rate: one sample per `interval_s` (default 1 s, at least 0.2 s, at most 60 s), plus one at each
// run's end, so a sampler costs at most 5 sysfs reads and 5 nvidia-smi runs a second.
// Thread-safe: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace cnet::backends::local {

inline constexpr double kMinPowerSampleS = 0.2;
inline constexpr double kMaxPowerSampleS = 60;

// A RAPL zone's counter: microjoules since an arbitrary origin, wrapping at max_range_uj.
struct RaplZone {
  std::string dir;          // <root>/intel-rapl:N
  int64_t max_range_uj = 0;
};

// The top-level zones under `root` whose energy_uj can be read now; empty with *why set when none
// (no such directory, not readable: since Linux 5.10 energy_uj is readable by root only).
std::vector<RaplZone> FindRaplZones(const std::string& root, std::string* why);

// Microjoules from `prev` to `cur` on a counter that wraps at max_range_uj.
int64_t RaplDelta(int64_t prev, int64_t cur, int64_t max_range_uj);

// nvidia-smi's CSV (index, power.draw in W, no header, no units) -> watts by device index; rows
// whose power is not a number ("[N/A]") are left out. Malformed text: kInvalidArgument naming the
// line.
Result<std::map<int, double>> ParseNvidiaSmiPower(const std::string& csv);

// One reading of every source at one time.
struct PowerSample {
  double time_s = 0;                    // the caller's clock, seconds
  std::optional<int64_t> rapl_uj;       // the sum over zones of their counters' progress, unwrapped
  std::map<int, double> board_w;        // device index -> watts now
};

struct JobEnergy {
  double joules = 0;
  std::string source;  // "rapl", "nvidia-smi" or "rapl+nvidia-smi"; "" = nothing measured
};

// Integrates samples into per-job energy. Pure (no I/O); the PowerSampler feeds it.
class EnergyMeter {
 public:
  // A run that started at `now` on cpu_share of the machine's CPUs (0..1) and these board devices.
  void Start(int64_t job_id, double cpu_share, std::vector<int> devices, double now);
  // Its end at `now`: its energy so far (samples after `now` no longer count).
  JobEnergy Finish(int64_t job_id, double now);
  // A sample; samples must come in time order (an older one is ignored).
  void Add(const PowerSample& s);

 private:
  struct Run {
    double cpu_share = 0;
    std::vector<int> devices;
    double start = 0, end = -1;  // end < 0: still running
    double rapl_j = 0, board_j = 0;
    bool rapl = false, board = false;
  };
  std::mutex mu_;
  std::optional<PowerSample> last_;  // guarded by mu_
  std::map<int64_t, Run> runs_;      // guarded by mu_
};

struct SamplerOptions {
  std::string powercap_root = "/sys/class/powercap";
  std::string nvidia_smi;  // command; "" = do not read board power
  double interval_s = 1;   // clamped to [kMinPowerSampleS, kMaxPowerSampleS]
  int machine_cpus = 1;    // the denominator of a job's CPU share
};

// Reads the sources every interval in a thread of its own and feeds an EnergyMeter.
class PowerSampler {
 public:
  explicit PowerSampler(SamplerOptions o);
  ~PowerSampler();  // stops the thread
  PowerSampler(const PowerSampler&) = delete;
  PowerSampler& operator=(const PowerSampler&) = delete;

  // Starts the sampling thread (no-op when no source is readable).
  void StartThread();
  // Whether any source is readable, and what (e.g. "rapl (2 zones)", or why none).
  bool active() const { return !zones_.empty() || board_; }
  const std::string& description() const { return description_; }

  // `now`: the caller's clock in seconds (monotonic or epoch, the same for every call).
  void JobStarted(int64_t job_id, int cpus, std::vector<int> devices, double now);
  JobEnergy JobEnded(int64_t job_id, double now);  // samples once more first
  // One sample now (the thread calls this; tests call it with their own times).
  void SampleAt(double now);

 private:
  PowerSample Read(double now);
  void Loop();

  SamplerOptions o_;
  std::vector<RaplZone> zones_;
  bool board_ = false;
  std::string description_;
  EnergyMeter meter_;
  std::mutex read_mu_;                       // one Read at a time
  std::vector<int64_t> last_counter_;        // guarded by read_mu_
  int64_t rapl_total_uj_ = 0;                // guarded by read_mu_
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;                        // guarded by stop_mu_
  std::thread thread_;
};

}  // namespace cnet::backends::local
