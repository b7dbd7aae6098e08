#include "perf/throughput_matrix.h"

#include <algorithm>
#include <tuple>

#include "common/csv.h"

namespace cnet {

uint64_t ThroughputMatrix::Key(JobTypeId t, AccelId a, int workers, bool spread) {
  return (static_cast<uint64_t>(t.value()) << 40) | (static_cast<uint64_t>(a.value()) << 24) |
         (static_cast<uint64_t>(workers) << 1) | (spread ? 1u : 0u);
}

std::optional<JobTypeId> ThroughputMatrix::FindJobType(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<double> ThroughputMatrix::Get(JobTypeId t, AccelId a, int workers, bool spread) const {
  auto it = values_.find(Key(t, a, workers, spread));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<AccelId> ThroughputMatrix::MeasuredAccels(JobTypeId t) const {
  std::vector<AccelId> out;
  for (int a = 0; a < 256; ++a)
    if (Get(t, AccelId(a), 1, false).value_or(0) > 0) out.push_back(AccelId(a));
  return out;
}

std::vector<int> ThroughputMatrix::MeasuredWorkers(JobTypeId t, AccelId a, bool spread) const {
  auto it = workers_.find(Key(t, a, 0, spread));
  return it == workers_.end() ? std::vector<int>{} : it->second;
}

void ThroughputMatrix::IndexWorkers() {
  workers_.clear();
  for (const Point& p : Points())
    if (p.steps_per_s > 0) workers_[Key(p.job_type, p.accel, 0, p.spread)].push_back(p.workers);
}

std::vector<ThroughputMatrix::Point> ThroughputMatrix::Points() const {
  std::vector<Point> out;
  out.reserve(values_.size());
  for (const auto& [k, v] : values_)
    out.push_back({JobTypeId(static_cast<int32_t>(k >> 40)), AccelId(static_cast<int32_t>((k >> 24) & 0xffff)),
                   static_cast<int>((k >> 1) & 0x7fffff), (k & 1) != 0, v});
  std::sort(out.begin(), out.end(), [](const Point& x, const Point& y) {
    return std::tuple(x.job_type.value(), x.accel.value(), x.spread, x.workers) <
           std::tuple(y.job_type.value(), y.accel.value(), y.spread, y.workers);
  });
  return out;
}

ThroughputMatrix ThroughputMatrix::Without(JobTypeId t, AccelId a, int workers, bool spread) const {
  ThroughputMatrix m = *this;
  m.values_.erase(Key(t, a, workers, spread));
  m.IndexWorkers();
  return m;
}

Status ThroughputMatrix::AddRows(const std::string& text, const std::string& file,
                                 const Catalogue& cat, bool spread, bool new_types_allowed) {
  CNET_ASSIGN_OR_RETURN(CsvTable t, CsvTable::Parse(text, file));
  CNET_RETURN_IF_ERROR(t.RequireColumns({"job_type", "accelerator", "workers", "steps_per_second"}));
  size_t cj = *t.Column("job_type"), ca = *t.Column("accelerator"), cw = *t.Column("workers"),
         cs = *t.Column("steps_per_second");
  for (const auto& r : t.rows()) {
    CNET_ASSIGN_OR_RETURN(std::string jt, t.Str(r, cj));
    CNET_ASSIGN_OR_RETURN(std::string an, t.Str(r, ca));
    CNET_ASSIGN_OR_RETURN(int64_t w, t.Int(r, cw));
    CNET_ASSIGN_OR_RETURN(double sps, t.Double(r, cs));
    auto a = cat.Find(an);
    if (!a)
      return InputError(file, r.line, "accelerator",
                        "unknown accelerator type '" + an + "' (known: " + cat.NameList() + ")");
    if (w <= 0 || w > 4096)
      return InputError(file, r.line, "workers", "must be between 1 and 4096, not " + std::to_string(w));
    if (sps < 0) return InputError(file, r.line, "steps_per_second", "must be >= 0 (0: cannot run)");
    auto id = FindJobType(jt);
    if (!id) {
      if (!new_types_allowed)
        return InputError(file, r.line, "job_type", "unknown job type '" + jt + "'");
      id = JobTypeId(static_cast<int32_t>(names_.size()));
      names_.push_back(jt);
      by_name_[jt] = *id;
    }
    auto [it, inserted] = values_.emplace(Key(*id, *a, static_cast<int>(w), spread), sps);
    if (!inserted)
      return InputError(file, r.line, "job_type",
                        "duplicate row for (" + jt + ", " + an + ", " + std::to_string(w) + ")");
  }
  IndexWorkers();
  return Status::Ok();
}

Result<ThroughputMatrix> ThroughputMatrix::ParseCsv(const std::string& text, const std::string& file,
                                                    const Catalogue& cat) {
  ThroughputMatrix m;
  CNET_RETURN_IF_ERROR(m.AddRows(text, file, cat, false, true));
  if (m.names_.empty()) return InputError(file, 0, "", "no throughput rows");
  for (size_t t = 0; t < m.names_.size(); ++t)
    if (m.MeasuredAccels(JobTypeId(static_cast<int32_t>(t))).empty())
      return InputError(file, 0, "workers",
                        "job type '" + m.names_[t] + "' has no single-worker measurement");
  return m;
}

Status ThroughputMatrix::AddSpreadCsv(const std::string& text, const std::string& file,
                                      const Catalogue& cat) {
  return AddRows(text, file, cat, true, false);
}

Result<ThroughputMatrix> ThroughputMatrix::LoadCsv(const std::string& path, const Catalogue& cat,
                                                   const std::string& spread_path) {
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  CNET_ASSIGN_OR_RETURN(ThroughputMatrix m, ParseCsv(text, path, cat));
  if (!spread_path.empty()) {
    CNET_ASSIGN_OR_RETURN(std::string st, ReadWholeFile(spread_path));
    CNET_RETURN_IF_ERROR(m.AddSpreadCsv(st, spread_path, cat));
  }
  return m;
}

}  // namespace cnet
