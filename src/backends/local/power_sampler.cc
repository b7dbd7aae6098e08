#include "backends/local/power_sampler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>

#include "common/strings.h"

namespace cnet::backends::local {
namespace {

namespace fs = std::filesystem;

std::optional<int64_t> ReadInt(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return std::nullopt;
  return ParseInt(Trim(*text));
}

// A top-level zone is "intel-rapl:N" (one colon); "intel-rapl:N:M" is a part of zone N.
bool TopLevelZone(const std::string& name) {
  return name.rfind("intel-rapl:", 0) == 0 && std::count(name.begin(), name.end(), ':') == 1;
}

std::optional<std::string> RunCommand(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return ::pclose(p) == 0 ? std::optional<std::string>(out) : std::nullopt;
}

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::vector<RaplZone> FindRaplZones(const std::string& root, std::string* why) {
  std::vector<RaplZone> zones;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    *why = root + " does not exist (no powercap driver, or not exposed to this machine)";
    return zones;
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (TopLevelZone(e.path().filename().string())) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  if (names.empty()) *why = "no intel-rapl:N zone under " + root;
  for (const std::string& n : names) {
    const std::string dir = root + "/" + n;
    auto max = ReadInt(dir + "/max_energy_range_uj");
    if (!ReadInt(dir + "/energy_uj") || !max || *max <= 0) {
      *why = dir + "/energy_uj or max_energy_range_uj is not readable";
      return {};
    }
    zones.push_back({dir, *max});
  }
  return zones;
}

int64_t RaplDelta(int64_t prev, int64_t cur, int64_t max_range_uj) {
  return cur >= prev ? cur - prev : cur + (max_range_uj - prev);
}

Result<std::map<int, double>> ParseNvidiaSmiPower(const std::string& csv) {
  std::map<int, double> out;
  int line = 0;
  std::istringstream in(csv);
  for (std::string raw; std::getline(in, raw);) {
    ++line;
    const std::string l = Trim(raw);
    if (l.empty()) continue;
    const size_t comma = l.find(',');
    auto index = comma == std::string::npos ? std::nullopt : ParseInt(Trim(l.substr(0, comma)));
    if (!index) return InvalidArgument("nvidia-smi output line " + std::to_string(line) + ": expected 'index, power.draw', got '" + l + "'");
    if (auto w = ParseDouble(Trim(l.substr(comma + 1)))) out[static_cast<int>(*index)] = *w;
  }
  return out;
}

void EnergyMeter::Start(int64_t job_id, double cpu_share, std::vector<int> devices, double now) {
  std::lock_guard<std::mutex> l(mu_);
  Run r;
  r.cpu_share = std::clamp(cpu_share, 0.0, 1.0);
  r.devices = std::move(devices);
  r.start = now;
  runs_[job_id] = std::move(r);
}

JobEnergy EnergyMeter::Finish(int64_t job_id, double now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = runs_.find(job_id);
  if (it == runs_.end()) return {};
  it->second.end = now;
  const Run r = it->second;
  runs_.erase(it);
  JobEnergy e;
  if (r.rapl) {
    e.joules += r.rapl_j;
    e.source = "rapl";
  }
  if (r.board) {
    e.joules += r.board_j;
    e.source += e.source.empty() ? "nvidia-smi" : "+nvidia-smi";
  }
  return e;
}

void EnergyMeter::Add(const PowerSample& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (last_ && s.time_s <= last_->time_s) return;
  if (last_) {
    const double a = last_->time_s, b = s.time_s, dt = b - a;
    const bool rapl = last_->rapl_uj && s.rapl_uj;
    const double rapl_j = rapl ? static_cast<double>(*s.rapl_uj - *last_->rapl_uj) * 1e-6 : 0;
    for (auto& [id, r] : runs_) {
      const double to = r.end < 0 ? b : std::min(b, r.end);
      const double ran = to - std::max(a, r.start);
      if (ran <= 0) continue;
      if (rapl && r.cpu_share > 0) {
        r.rapl_j += rapl_j * r.cpu_share * ran / dt;
        r.rapl = true;
      }
      for (int d : r.devices) {
        const std::map<int, double>& before = last_->board_w;
        auto wa = before.find(d), wb = s.board_w.find(d);
        if (wa == before.end() || wb == s.board_w.end()) continue;
        r.board_j += (wa->second + wb->second) / 2 * ran;
        r.board = true;
      }
    }
  }
  last_ = s;
}

PowerSampler::PowerSampler(SamplerOptions o) : o_(std::move(o)) {
  o_.interval_s = std::clamp(o_.interval_s, kMinPowerSampleS, kMaxPowerSampleS);
  o_.machine_cpus = std::max(1, o_.machine_cpus);
  std::string why;
  zones_ = FindRaplZones(o_.powercap_root, &why);
  description_ = zones_.empty() ? "no RAPL: " + why : "rapl (" + std::to_string(zones_.size()) + " zone(s))";
  if (!o_.nvidia_smi.empty()) {
    auto out = RunCommand(o_.nvidia_smi + " --query-gpu=index,power.draw --format=csv,noheader,nounits");
    auto w = out ? ParseNvidiaSmiPower(*out) : Result<std::map<int, double>>(Unavailable("did not run"));
    board_ = w.ok() && !w->empty();
    description_ += board_ ? "; nvidia-smi (" + std::to_string(w->size()) + " device(s))"
                           : "; no board power from " + o_.nvidia_smi;
  }
}

PowerSampler::~PowerSampler() {
  {
    std::lock_guard<std::mutex> l(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PowerSampler::StartThread() {
  if (!active() || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void PowerSampler::Loop() {
  std::unique_lock<std::mutex> l(stop_mu_);
  while (!stop_) {
    l.unlock();
    SampleAt(WallNow());
    l.lock();
    stop_cv_.wait_for(l, std::chrono::duration<double>(o_.interval_s), [this] { return stop_; });
  }
}

void PowerSampler::JobStarted(int64_t job_id, int cpus, std::vector<int> devices, double now) {
  if (!active()) return;
  SampleAt(now);  // the interval before the start is not the job's
  meter_.Start(job_id, static_cast<double>(cpus) / o_.machine_cpus, board_ ? std::move(devices) : std::vector<int>{}, now);
}

JobEnergy PowerSampler::JobEnded(int64_t job_id, double now) {
  if (!active()) return {};
  SampleAt(now);
  return meter_.Finish(job_id, now);
}

void PowerSampler::SampleAt(double now) {
  std::lock_guard<std::mutex> l(read_mu_);
  meter_.Add(Read(now));
}

PowerSample PowerSampler::Read(double now) {
  PowerSample s;
  s.time_s = now;
  std::vector<int64_t> counters;
  for (const RaplZone& z : zones_) {
    auto v = ReadInt(z.dir + "/energy_uj");
    if (!v) break;
    counters.push_back(*v);
  }
  if (!zones_.empty() && counters.size() == zones_.size()) {
    if (last_counter_.size() == counters.size()) {
      for (size_t i = 0; i < counters.size(); ++i) rapl_total_uj_ += RaplDelta(last_counter_[i], counters[i], zones_[i].max_range_uj);
    }
    last_counter_ = counters;
    s.rapl_uj = rapl_total_uj_;
  }
  if (board_) {
    auto out = RunCommand(o_.nvidia_smi + " --query-gpu=index,power.draw --format=csv,noheader,nounits");
    if (out) {
      if (auto w = ParseNvidiaSmiPower(*out); w.ok()) s.board_w = std::move(*w);
    }
  }
  return s;
}

}  // namespace cnet::backends::local
