// cnet_load: a closed-loop HTTP load generator for job-submission endpoints.
//
// C client threads each hold ONE keep-alive connection and send their share of N POSTs back to
// back (the next request leaves when the previous answer has arrived). Latency is measured per
// request with steady_clock. Any status outside 200..299, a transport error, or (with
// --require-key, implied for /slurm/ paths) a body without that top-level JSON key counts as an
// error; the first error's body is printed.
//
//   cnet_load --url http://127.0.0.1:8080 --token T --clients 8 --requests 20000
//   cnet_load --url http://127.0.0.1:6820 --path /slurm/v0.0.38/job/submit
//       --header 'X-SLURM-USER-NAME: root' --header "X-SLURM-USER-TOKEN: $JWT"
//       --body-file job.json --clients 1 --requests 2000
#include <httplib.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultBody =
    R"({"name":"l","command":["true"],"accelerators_per_worker":0,"cpus_per_worker":1})";

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  std::string path = "/v1/jobs";
  std::string method = "POST";  // or GET (reads: --path /v1/sites)
  std::string body = kDefaultBody;
  std::string content_type = "application/json";
  std::string csv_out;
  std::string label;
  std::string require_key;  // top-level JSON key the body must have ("" = none)
  bool require_key_set = false;
  int clients = 1;
  long requests = 1000;
  int timeout_s = 30;
  httplib::Headers headers;
};

[[noreturn]] void Usage(const char* msg = nullptr) {
  if (msg) std::cerr << "cnet_load: " << msg << "\n";
  std::cerr <<
      "usage: cnet_load --url http://HOST:PORT [--token T] --clients C --requests N\n"
      "                 [--method POST|GET] [--path /v1/jobs] [--body-file F | --body JSON] [--content-type T]\n"
      "                 [--header 'K: V']... [--require-key KEY] [--timeout S]\n"
      "                 [--label NAME] [--csv-out F]\n"
      "  Each of C threads holds one keep-alive connection and sends its share of N POSTs\n"
      "  back to back. Non-2xx answers, transport errors and (with --require-key; default\n"
      "  'job_id' for paths under /slurm/) bodies lacking the key count as errors.\n"
      "  --csv-out appends one summary row (header written when the file is new).\n";
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  auto need = [&](int& i) -> std::string {
    if (i + 1 >= argc) Usage((std::string(argv[i]) + " needs a value").c_str());
    return argv[++i];
  };
  auto to_long = [](const std::string& flag, const std::string& v) {
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n <= 0) Usage((flag + ": a positive integer, got '" + v + "'").c_str());
    return n;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--url") o.url = need(i);
    else if (a == "--token") o.token = need(i);
    else if (a == "--path") o.path = need(i);
    else if (a == "--method") {
      o.method = need(i);
      if (o.method != "GET" && o.method != "POST") Usage("--method: GET or POST");
    }
    else if (a == "--clients") o.clients = static_cast<int>(to_long(a, need(i)));
    else if (a == "--requests") o.requests = to_long(a, need(i));
    else if (a == "--timeout") o.timeout_s = static_cast<int>(to_long(a, need(i)));
    else if (a == "--body") o.body = need(i);
    else if (a == "--body-file") {
      std::string f = need(i);
      std::ifstream in(f, std::ios::binary);
      if (!in) Usage(("--body-file: cannot read " + f).c_str());
      std::ostringstream ss;
      ss << in.rdbuf();
      o.body = ss.str();
    } else if (a == "--content-type") o.content_type = need(i);
    else if (a == "--header") {
      std::string h = need(i);
      size_t c = h.find(':');
      if (c == std::string::npos || c == 0) Usage(("--header: expected 'Key: Value', got '" + h + "'").c_str());
      std::string v = h.substr(c + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      o.headers.emplace(h.substr(0, c), v);
    } else if (a == "--require-key") {
      o.require_key = need(i);
      o.require_key_set = true;
    } else if (a == "--label") o.label = need(i);
    else if (a == "--csv-out") o.csv_out = need(i);
    else if (a == "-h" || a == "--help") Usage();
    else Usage(("unknown argument '" + a + "'").c_str());
  }
  if (o.clients > 4096) Usage("--clients: at most 4096");
  if (o.requests < o.clients) Usage("--requests must be >= --clients");
  if (!o.require_key_set && o.path.rfind("/slurm/", 0) == 0) o.require_key = "job_id";
  if (!o.token.empty()) o.headers.emplace("Authorization", "Bearer " + o.token);
  return o;
}

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  std::atomic<long> errors{0};
  std::atomic<bool> first_error_taken{false};
  std::string first_error;
};

struct PerThread {
  std::vector<double> lat_ms;
  long errors = 0;
};

// Success: a 2xx answer, and the required key when one is asked for.
bool Judge(const Options& o, const httplib::Result& r, std::string* why) {
  if (!r) {
    *why = "transport error: " + httplib::to_string(r.error());
    return false;
  }
  if (r->status < 200 || r->status > 299) {
    *why = "HTTP " + std::to_string(r->status) + ": " + r->body;
    return false;
  }
  if (!o.require_key.empty()) {
    auto j = nlohmann::json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains(o.require_key) || j[o.require_key].is_null()) {
      *why = "HTTP " + std::to_string(r->status) + " without \"" + o.require_key + "\": " + r->body;
      return false;
    }
  }
  return true;
}

void Worker(const Options& o, long n, Shared& sh, PerThread& out) {
  httplib::Client cli(o.url);
  cli.set_keep_alive(true);
  // Send each request at once: with Nagle on, httplib's separate header and body writes wait for
  // the server's delayed ACK (~40 ms on Linux), which would measure the client, not the server.
  cli.set_tcp_nodelay(true);
  cli.set_connection_timeout(o.timeout_s, 0);
  cli.set_read_timeout(o.timeout_s, 0);
  cli.set_write_timeout(o.timeout_s, 0);
  out.lat_ms.reserve(static_cast<size_t>(n));
  {
    std::unique_lock l(sh.mu);
    ++sh.ready;
    sh.cv.notify_all();
    sh.cv.wait(l, [&] { return sh.go; });
  }
  std::string why;
  for (long i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto r = o.method == "GET" ? cli.Get(o.path.c_str(), o.headers)
                               : cli.Post(o.path.c_str(), o.headers, o.body, o.content_type.c_str());
    auto t1 = Clock::now();
    out.lat_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (!Judge(o, r, &why)) {
      ++out.errors;
      if (!sh.first_error_taken.exchange(true)) {
        std::lock_guard l(sh.mu);
        sh.first_error = why.size() > 2000 ? why.substr(0, 2000) + "..." : why;
      }
    }
  }
}

// CPU seconds (user + system) this process has used so far.
double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// Nearest-rank percentile of a sorted vector.
double Pct(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size(), std::max<size_t>(k, 1)) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  Shared sh;
  std::vector<PerThread> per(static_cast<size_t>(o.clients));
  std::vector<std::thread> threads;
  threads.reserve(per.size());
  for (int c = 0; c < o.clients; ++c) {
    long n = o.requests / o.clients + (c < o.requests % o.clients ? 1 : 0);
    threads.emplace_back(Worker, std::cref(o), n, std::ref(sh), std::ref(per[static_cast<size_t>(c)]));
  }
  {
    std::unique_lock l(sh.mu);
    sh.cv.wait(l, [&] { return sh.ready == o.clients; });
    sh.go = true;
  }
  double cpu0 = CpuSeconds();
  auto t0 = Clock::now();
  sh.cv.notify_all();
  for (auto& t : threads) t.join();
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double client_cpu = CpuSeconds() - cpu0;

  std::vector<double> all;
  all.reserve(static_cast<size_t>(o.requests));
  long errors = 0;
  for (auto& p : per) {
    all.insert(all.end(), p.lat_ms.begin(), p.lat_ms.end());
    errors += p.errors;
  }
  std::sort(all.begin(), all.end());
  double rps = wall > 0 ? static_cast<double>(all.size()) / wall : 0;
  double p50 = Pct(all, 50), p90 = Pct(all, 90), p99 = Pct(all, 99), mx = all.empty() ? 0 : all.back();

  if (!sh.first_error.empty()) std::cout << "first error: " << sh.first_error << "\n";
  std::printf("url:        %s%s\n", o.url.c_str(), o.path.c_str());
  std::printf("clients:    %d\n", o.clients);
  std::printf("requests:   %zu\n", all.size());
  std::printf("errors:     %ld\n", errors);
  std::printf("wall_s:     %.3f\n", wall);
  std::printf("req_per_s:  %.1f\n", rps);
  std::printf("latency_ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", p50, p90, p99, mx);
  std::printf("client_cpu: %.3f s (%.1f us per request; this load generator's own share of the machine)\n",
              client_cpu, all.empty() ? 0.0 : client_cpu * 1e6 / static_cast<double>(all.size()));
  std::fflush(stdout);

  if (!o.csv_out.empty()) {
    bool fresh = !std::ifstream(o.csv_out).good();
    std::ofstream f(o.csv_out, std::ios::app);
    if (!f) {
      std::cerr << "cnet_load: --csv-out: cannot write " << o.csv_out << "\n";
      return 1;
    }
    if (fresh) f << "label,clients,requests,errors,wall_s,req_per_s,p50_ms,p90_ms,p99_ms,max_ms,client_cpu_s\n";
    char line[512];
    std::snprintf(line, sizeof line, "%s,%d,%zu,%ld,%.3f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f\n", o.label.c_str(), o.clients,
                  all.size(), errors, wall, rps, p50, p90, p99, mx, client_cpu);
    f << line;
  }
  return errors == 0 ? 0 : 1;
}
