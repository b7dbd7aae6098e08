#include "sim/trace.h"

#include <algorithm>
#include <ctime>
#include <numeric>
#include <unordered_set>

#include "common/csv.h"
#include "sched/elastic_sizes.h"
#include "sched/placement/gpu_share.h"

namespace cnet {

bool Workload::HasShares() const {
  return std::any_of(share_milli.begin(), share_milli.end(), [](int m) { return m > 0; });
}

namespace {

void SortWorkload(Workload& w) {
  std::vector<size_t> idx(w.jobs.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    const auto& x = w.jobs[a];
    const auto& y = w.jobs[b];
    return x.submit_time_s != y.submit_time_s ? x.submit_time_s < y.submit_time_s : x.id < y.id;
  });
  Workload out;
  out.source = w.source;
  out.size_field = w.size_field;
  for (size_t i : idx) {
    out.jobs.push_back(std::move(w.jobs[i]));
    out.lines.push_back(w.lines[i]);
    if (!w.share_milli.empty()) out.share_milli.push_back(w.share_milli[i]);
  }
  w = std::move(out);
}

// Parses "2017-10-09 07:01:55" as UTC seconds.
bool ParseTimestamp(const std::string& s, double* out) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%d %H:%M:%S", &tm);
  if (!end || *end != '\0') return false;
  *out = static_cast<double>(timegm(&tm));
  return true;
}

// accelerators_per_worker: a worker's packages share one node (JobSpec::unit); the gang is
// workers x that many packages. A fraction in (0, 1) (at most 3 decimals, as ParseGpuDemand) is
// a share of one accelerator for a one-worker job: *milli gets its thousandths.
Status ReadPerWorker(const CsvTable& t, const CsvTable::Row& r, std::optional<size_t> c, const std::string& file,
                     JobSpec* j, int* milli) {
  *milli = 0;
  if (!c || r.cells[*c].empty()) return Status::Ok();
  CNET_ASSIGN_OR_RETURN(double per, t.Double(r, *c));
  if (per > 0 && per < 1) {
    auto d = ParseGpuDemand(r.cells[*c]);
    if (!d.ok() || r.cells[*c].find('x') != std::string::npos)
      return InputError(file, r.line, "accelerators_per_worker",
                        "a fraction of an accelerator must be in (0, 1) with at most 3 decimals, not " + r.cells[*c]);
    if (j->workers != 1)
      return InputError(file, r.line, "accelerators_per_worker",
                        "a fraction of an accelerator (" + r.cells[*c] + ") is for one-worker jobs; this one has " +
                            std::to_string(j->workers) + " workers");
    *milli = d->milli;
    return Status::Ok();
  }
  if (per < 1 || per > 1024 || per != static_cast<int>(per))
    return InputError(file, r.line, "accelerators_per_worker",
                      "must be a whole number from 1 to 1024, or a fraction in (0, 1) for a one-worker job, not " +
                          r.cells[*c]);
  const int64_t total = static_cast<int64_t>(j->workers) * static_cast<int>(per);
  if (total > 1000000) return InputError(file, r.line, "accelerators_per_worker", "workers x accelerators_per_worker exceeds 1000000");
  j->unit = static_cast<int>(per);
  j->workers = static_cast<int>(total);
  return Status::Ok();
}

// min_workers / max_workers: an elastic job's range, in workers (times accelerators_per_worker,
// like `workers`); either alone leaves the other bound at `workers`.
Status ReadElastic(const CsvTable& t, const CsvTable::Row& r, std::optional<size_t> lo,
                   std::optional<size_t> hi, const std::string& file, JobSpec* j) {
  for (auto [c, field] : {std::pair{lo, "min_workers"}, std::pair{hi, "max_workers"}}) {
    if (!c || r.cells[*c].empty()) continue;
    CNET_ASSIGN_OR_RETURN(int64_t v, t.Int(r, *c));
    if (v < 1 || v > 1000000) return InputError(file, r.line, field, "must be between 1 and 1000000, not " + r.cells[*c]);
    (c == lo ? j->min_workers : j->max_workers) = static_cast<int>(v) * j->unit;
  }
  if (!j->Elastic()) return Status::Ok();
  if (j->min_workers == 0) j->min_workers = j->workers;
  if (j->max_workers == 0) j->max_workers = j->workers;
  if (Status st = CheckElastic(*j); !st.ok()) {
    const std::string& m = st.message();
    const size_t colon = m.find(": ");
    return InputError(file, r.line, m.substr(0, colon), m.substr(colon + 2));
  }
  return Status::Ok();
}

// restore_s: cost of each restart from a checkpoint; first_start_cost_s: of the first start.
Status ReadRestore(const CsvTable& t, const CsvTable::Row& r, std::optional<size_t> restore,
                   std::optional<size_t> first, const std::string& file, JobSpec* j) {
  if (restore && !r.cells[*restore].empty()) {
    CNET_ASSIGN_OR_RETURN(double v, t.Double(r, *restore));
    if (v < 0 || v > 1e7) return InputError(file, r.line, "restore_s", "must be between 0 and 1e7 seconds");
    j->restore_s = v;
  }
  if (first && !r.cells[*first].empty()) {
    CNET_ASSIGN_OR_RETURN(double v, t.Double(r, *first));
    if (v < 0 || v > 1e7) return InputError(file, r.line, "first_start_cost_s", "must be between 0 and 1e7 seconds");
    j->first_start_cost_s = v;
  }
  return Status::Ok();
}

}  // namespace

Result<Workload> ParseCsvTrace(const std::string& text, const std::string& file, const PerfModel& perf) {
  CNET_ASSIGN_OR_RETURN(CsvTable t, CsvTable::Parse(text, file));
  CNET_RETURN_IF_ERROR(t.RequireColumns({"job_id", "submit_time_s", "job_type", "workers", "total_steps"}));
  for (const auto& h : t.header()) {
    static const std::vector<std::string> known = {"job_id", "submit_time_s", "job_type", "workers",
                                                   "total_steps", "tenant", "priority",
                                                   "deadline_s", "accelerators", "accelerators_per_worker",
                                                   "restore_s", "first_start_cost_s", "min_workers",
                                                   "max_workers"};
    if (std::find(known.begin(), known.end(), h) == known.end())
      return InputError(file, 1, h, "unknown column (known: job_id, submit_time_s, job_type, "
                                    "workers, total_steps, tenant, priority, deadline_s, accelerators, "
                                    "accelerators_per_worker, restore_s, first_start_cost_s, "
                                    "min_workers, max_workers)");
  }
  auto col = [&](const char* n) { return t.Column(n); };
  Workload w;
  w.source = file;
  std::unordered_set<int64_t> seen;
  const Catalogue& cat = perf.catalogue();
  for (const auto& r : t.rows()) {
    JobSpec j;
    CNET_ASSIGN_OR_RETURN(int64_t id, t.Int(r, *col("job_id")));
    if (id < 0) return InputError(file, r.line, "job_id", "must be >= 0");
    if (!seen.insert(id).second) return InputError(file, r.line, "job_id", "duplicate id " + std::to_string(id));
    j.id = JobId(id);
    j.name = "job-" + std::to_string(id);
    CNET_ASSIGN_OR_RETURN(j.submit_time_s, t.Double(r, *col("submit_time_s")));
    if (j.submit_time_s < 0) return InputError(file, r.line, "submit_time_s", "must be >= 0");
    CNET_ASSIGN_OR_RETURN(j.job_type, t.Str(r, *col("job_type")));
    auto type = perf.matrix().FindJobType(j.job_type);
    if (!type)
      return InputError(file, r.line, "job_type", "unknown job type '" + j.job_type +
                                                      "' (not in the throughput matrix)");
    j.type_id = *type;
    CNET_ASSIGN_OR_RETURN(int64_t workers, t.Int(r, *col("workers")));
    if (workers <= 0 || workers > 1000000)
      return InputError(file, r.line, "workers", "must be between 1 and 1000000, not " + std::to_string(workers));
    j.workers = static_cast<int>(workers);
    int milli = 0;
    CNET_RETURN_IF_ERROR(ReadPerWorker(t, r, col("accelerators_per_worker"), file, &j, &milli));
    CNET_RETURN_IF_ERROR(ReadElastic(t, r, col("min_workers"), col("max_workers"), file, &j));
    if (milli > 0 && j.Elastic())
      return InputError(file, r.line, j.min_workers != j.workers ? "min_workers" : "max_workers",
                        "a job with a fraction of an accelerator cannot be elastic");
    CNET_RETURN_IF_ERROR(ReadRestore(t, r, col("restore_s"), col("first_start_cost_s"), file, &j));
    CNET_ASSIGN_OR_RETURN(j.total_steps, t.Double(r, *col("total_steps")));
    if (j.total_steps <= 0 || j.total_steps > 1e15)
      return InputError(file, r.line, "total_steps", "must be > 0 and at most 1e15");
    if (auto c = col("tenant"); c && !r.cells[*c].empty()) j.tenant = r.cells[*c];
    if (auto c = col("priority"); c && !r.cells[*c].empty()) {
      CNET_ASSIGN_OR_RETURN(j.priority, t.Double(r, *c));
      if (j.priority <= 0) return InputError(file, r.line, "priority", "must be > 0");
    }
    if (auto c = col("deadline_s"); c && !r.cells[*c].empty()) {
      CNET_ASSIGN_OR_RETURN(double d, t.Double(r, *c));
      if (d <= j.submit_time_s) return InputError(file, r.line, "deadline_s", "must be after submit_time_s");
      j.deadline_s = d;
    }
    if (auto c = col("accelerators"); c && !r.cells[*c].empty()) {
      std::string list = r.cells[*c];
      size_t pos = 0;
      while (pos <= list.size()) {
        size_t bar = list.find('|', pos);
        std::string name = Trim(list.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos));
        auto a = cat.Find(name);
        if (!a || cat.Get(*a).kind == AccelKind::kCpu)
          return InputError(file, r.line, "accelerators", "unknown accelerator type '" + name + "'");
        j.acceptable.push_back(*a);
        if (bar == std::string::npos) break;
        pos = bar + 1;
      }
    }
    w.jobs.push_back(std::move(j));
    w.lines.push_back(r.line);
    w.share_milli.push_back(milli);
  }
  if (w.jobs.empty()) return InputError(file, 0, "", "trace has no jobs");
  if (!w.HasShares()) w.share_milli.clear();
  SortWorkload(w);
  return w;
}

Result<Workload> ReadCsvTrace(const std::string& path, const PerfModel& perf) {
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return ParseCsvTrace(text, path, perf);
}

Status ApplyRestoreCosts(const std::string& path, const PerfModel& perf, Workload* w, double restore_gbs) {
  CNET_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile(path));
  CNET_RETURN_IF_ERROR(t.RequireColumns({"job_type"}));
  auto cs = t.Column("restore_s"), cg = t.Column("checkpoint_gib");
  if (!cs == !cg) return InputError(path, 1, "", "give exactly one of the columns restore_s and checkpoint_gib");
  if (cg && !(restore_gbs > 0))
    return InputError(path, 1, "checkpoint_gib", "needs --restore-bandwidth (GB/s) to turn sizes into seconds");
  std::vector<std::optional<double>> by_type(perf.matrix().num_job_types());
  for (const auto& r : t.rows()) {
    CNET_ASSIGN_OR_RETURN(std::string name, t.Str(r, *t.Column("job_type")));
    auto type = perf.matrix().FindJobType(name);
    if (!type) return InputError(path, r.line, "job_type", "unknown job type '" + name + "' (not in the throughput matrix)");
    const char* field = cs ? "restore_s" : "checkpoint_gib";
    CNET_ASSIGN_OR_RETURN(double v, t.Double(r, cs ? *cs : *cg));
    if (v < 0 || v > 1e7) return InputError(path, r.line, field, "must be between 0 and 1e7");
    if (by_type[type->value()]) return InputError(path, r.line, "job_type", "job type '" + name + "' listed twice");
    by_type[type->value()] = cs ? v : v * 1.073741824 / restore_gbs;  // GiB -> GB, over GB/s
  }
  for (auto& j : w->jobs)
    if (!j.restore_s && j.type_id.value() >= 0 && static_cast<size_t>(j.type_id.value()) < by_type.size())
      j.restore_s = by_type[j.type_id.value()];
  return Status::Ok();
}

Result<Workload> ReadPhillyTrace(const std::string& path, const PerfModel& perf, AccelId reference,
                                 Rng& rng, size_t limit) {
  CNET_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile(path));
  CNET_RETURN_IF_ERROR(t.RequireColumns({"timestamp", "duration", "num_gpus"}));
  size_t cts = *t.Column("timestamp"), cdur = *t.Column("duration"), cg = *t.Column("num_gpus");
  struct Raw {
    double submit, duration;
    int gpus, line;
  };
  std::vector<Raw> raw;
  raw.reserve(t.rows().size());
  for (const auto& r : t.rows()) {
    double ts;
    if (!ParseTimestamp(r.cells[cts], &ts))
      return InputError(path, r.line, "timestamp", "expected 'YYYY-MM-DD HH:MM:SS', got '" + r.cells[cts] + "'");
    CNET_ASSIGN_OR_RETURN(double dur, t.Double(r, cdur));
    CNET_ASSIGN_OR_RETURN(int64_t g, t.Int(r, cg));
    if (dur < 0 || dur > 1e10) return InputError(path, r.line, "duration", "must be between 0 and 1e10 seconds");
    if (g <= 0 || g > 1000000) return InputError(path, r.line, "num_gpus", "must be between 1 and 1000000");
    raw.push_back({ts, std::max(1.0, dur), static_cast<int>(g), r.line});
  }
  if (raw.empty()) return InputError(path, 0, "", "trace has no jobs");
  std::stable_sort(raw.begin(), raw.end(), [](const Raw& a, const Raw& b) { return a.submit < b.submit; });
  if (limit > 0 && raw.size() > limit) raw.resize(limit);
  const ThroughputMatrix& m = perf.matrix();
  std::vector<JobTypeId> all, multi;
  for (size_t i = 0; i < m.num_job_types(); ++i) {
    JobTypeId id(static_cast<int32_t>(i));
    all.push_back(id);
    if (m.MeasuredWorkers(id, reference, false).size() > 1) multi.push_back(id);
  }
  if (multi.empty()) multi = all;
  Workload w;
  w.source = path;
  w.size_field = "num_gpus";
  double t0 = raw.front().submit;
  for (size_t i = 0; i < raw.size(); ++i) {
    const Raw& r = raw[i];
    const auto& pool = r.gpus > 1 ? multi : all;
    JobSpec j;
    j.id = JobId(static_cast<int64_t>(i));
    j.name = "philly-" + std::to_string(i);
    j.type_id = pool[static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 1))];
    j.job_type = m.JobTypeName(j.type_id);
    j.workers = r.gpus;
    j.submit_time_s = r.submit - t0;
    j.total_steps = r.duration * perf.Throughput(j.type_id, reference, r.gpus, 1).steps_per_s;
    w.jobs.push_back(std::move(j));
    w.lines.push_back(r.line);
  }
  return w;
}

}  // namespace cnet
