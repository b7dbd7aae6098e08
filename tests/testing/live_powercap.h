// A directory shaped like /sys/class/powercap with one package ("intel-rapl:0") drawing a known,
// constant power: its energy_uj is rewritten from the wall clock every 10 ms by a thread of its
// own (atomically, by rename), so a sampler reading it sees a real, steady load.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace cnet::testing {

class LivePowercap {
 public:
  explicit LivePowercap(double watts) : watts_(watts) {
    std::string t = (std::filesystem::temp_directory_path() / "cnet-live-rapl-XXXXXX").string();
    root_ = ::mkdtemp(t.data());
    std::filesystem::create_directories(root_ + "/intel-rapl:0");
    std::ofstream(root_ + "/intel-rapl:0/max_energy_range_uj") << "262143328850\n";
    t0_ = Wall();
    Write();
    writer_ = std::thread([this] {
      while (!stop_) {
        Write();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  ~LivePowercap() {
    stop_ = true;
    writer_.join();
    std::filesystem::remove_all(root_);
  }
  LivePowercap(const LivePowercap&) = delete;
  LivePowercap& operator=(const LivePowercap&) = delete;
  const std::string& root() const { return root_; }
  static double Wall() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

 private:
  void Write() {
    const auto uj = static_cast<long long>((Wall() - t0_) * watts_ * 1e6);
    const std::string tmp = root_ + "/intel-rapl:0/.energy_uj";
    std::ofstream(tmp) << uj << "\n";
    std::filesystem::rename(tmp, root_ + "/intel-rapl:0/energy_uj");
  }
  double watts_, t0_ = 0;
  std::string root_;
  std::atomic<bool> stop_{false};
  std::thread writer_;
};

}  // namespace cnet::testing
