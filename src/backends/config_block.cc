#include "backends/config_block.h"

#include <cmath>
#include <cstdio>

#include "common/csv.h"
#include "common/suggest.h"

namespace cnet::backends {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Status ConfigBlock::Error(const std::string& key, const std::string& msg) const {
  YAML::Node at = Has(key) ? block_[key] : block_;
  return ErrorAt(key, at.Mark(), msg);
}

Status ConfigBlock::ErrorAt(const std::string& key, const YAML::Mark& mark, const std::string& msg) const {
  const int line0 = mark.line;
  if (!env_.file.empty() && line0 >= 0)
    return InvalidArgument(env_.file + ":" + std::to_string(line0 + 1) + ":" + std::to_string(mark.column + 1) + ": field '" +
                           env_.path + (key.empty() ? "" : "." + key) + "': " + msg);
  std::string where = env_.where.empty() ? key : env_.where + "." + key;
  if (line0 >= 0) where += " (line " + std::to_string(line0 + 1) + ")";
  return InvalidArgument(where + ": " + msg);
}

Status ConfigBlock::OnlyKeys(const std::set<std::string>& known) const {
  if (!block_.IsDefined() || block_.IsNull()) return Status::Ok();
  if (!block_.IsMap()) return Error("", "expected a mapping");
  for (auto it = block_.begin(); it != block_.end(); ++it) {
    const std::string k = it->first.Scalar();
    if (!known.count(k) && !env_.shared_keys.count(k)) {
      std::vector<std::string> names(known.begin(), known.end());
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      names.insert(names.end(), env_.shared_keys.begin(), env_.shared_keys.end());
      return ErrorAt(k, it->first.Mark(), "unknown field" + DidYouMean(k, names) + " (allowed: " + list + ", and the service's own site keys)");
    }
  }
  return Status::Ok();
}

Status ConfigBlock::String(const std::string& key, std::string* out) const {
  if (!Has(key)) return Status::Ok();
  if (!block_[key].IsScalar()) return Error(key, "expected a string");
  *out = block_[key].Scalar();
  return Status::Ok();
}

Status ConfigBlock::Int(const std::string& key, int64_t lo, int64_t hi, int* out) const {
  if (!Has(key)) return Status::Ok();
  auto v = block_[key].IsScalar() ? ParseInt(block_[key].Scalar()) : std::nullopt;
  if (!v) return Error(key, "expected an integer");
  if (*v < lo || *v > hi) return Error(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  *out = static_cast<int>(*v);
  return Status::Ok();
}

Status ConfigBlock::Double(const std::string& key, double lo, double hi, double* out) const {
  if (!Has(key)) return Status::Ok();
  auto v = block_[key].IsScalar() ? ParseDouble(block_[key].Scalar()) : std::nullopt;
  if (!v) return Error(key, "expected a number");
  if (!std::isfinite(*v) || *v < lo || *v > hi) return Error(key, "must be between " + Num(lo) + " and " + Num(hi));
  *out = *v;
  return Status::Ok();
}

Status ConfigBlock::Bool(const std::string& key, bool* out) const {
  if (!Has(key)) return Status::Ok();
  try {
    *out = block_[key].as<bool>();
  } catch (const YAML::Exception&) {
    return Error(key, "expected true or false");
  }
  return Status::Ok();
}

Status ConfigBlock::StringMap(const std::string& key, std::map<std::string, std::string>* out) const {
  if (!Has(key)) return Status::Ok();
  if (!block_[key].IsMap()) return Error(key, "expected a mapping of strings");
  for (auto it = block_[key].begin(); it != block_[key].end(); ++it) {
    if (!it->second.IsScalar()) return Error(key, "value of '" + it->first.Scalar() + "' must be a string");
    (*out)[it->first.Scalar()] = it->second.Scalar();
  }
  return Status::Ok();
}

}  // namespace cnet::backends
