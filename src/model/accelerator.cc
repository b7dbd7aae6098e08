#include "model/accelerator.h"

#include <algorithm>
#include <cctype>

#include "common/csv.h"
#include "model/yaml_util.h"

namespace cnet {

const char* AccelKindName(AccelKind k) {
  switch (k) {
    case AccelKind::kGpu: return "gpu";
    case AccelKind::kNpu: return "npu";
    case AccelKind::kCpu: return "cpu";
  }
  return "?";
}

namespace {
std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

Status Positive(const YamlCtx& c, const YAML::Node& n, const std::string& field, double v,
                bool allow_zero) {
  if (v < 0 || (!allow_zero && v == 0)) {
    // Point at the value's own line when it is given (`field` ends in its key).
    const YAML::Node at = n[field.substr(field.rfind('.') + 1)];
    return c.Error(at ? at : n, field, allow_zero ? "must be >= 0" : "must be > 0");
  }
  return Status::Ok();
}
}  // namespace

Status Catalogue::Add(AcceleratorSpec spec) {
  if (FindExact(spec.name)) return InvalidArgument("duplicate accelerator name '" + spec.name + "'");
  for (const auto& a : spec.aliases)
    if (FindExact(a)) return InvalidArgument("alias '" + a + "' of " + spec.name + " is already taken");
  specs_.push_back(std::move(spec));
  return Status::Ok();
}

std::optional<AccelId> Catalogue::FindExact(const std::string& name) const {
  std::string n = Lower(name);
  for (size_t i = 0; i < specs_.size(); ++i) {
    if (Lower(specs_[i].name) == n) return AccelId(static_cast<int32_t>(i));
    for (const auto& a : specs_[i].aliases)
      if (Lower(a) == n) return AccelId(static_cast<int32_t>(i));
  }
  return std::nullopt;
}

std::optional<AccelId> Catalogue::Find(const std::string& name) const {
  if (auto id = FindExact(name)) return id;
  std::string n = Lower(name);
  for (const auto& amb : ambiguous_) {
    if (Lower(amb.name) != n) continue;
    {
      std::lock_guard<std::mutex> lock(uses_->mu);
      auto& v = uses_->names;
      if (std::find(v.begin(), v.end(), amb.name) == v.end()) v.push_back(amb.name);
    }
    return FindExact(amb.means.front());
  }
  return std::nullopt;
}

std::vector<std::string> Catalogue::AmbiguousUses() const {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(uses_->mu);
    names = uses_->names;
  }
  std::vector<std::string> out;
  for (const auto& n : names)
    for (const auto& amb : ambiguous_) {
      if (amb.name != n) continue;
      std::string all;
      for (const auto& m : amb.means) all += (all.empty() ? "" : ", ") + m;
      out.push_back("accelerator name '" + n + "' is ambiguous (" + all + "): taken as " + amb.means.front() +
                    "; write the full name");
    }
  return out;
}

std::string Catalogue::NameList() const {
  std::string s;
  for (const auto& a : specs_) s += (s.empty() ? "" : ", ") + a.name;
  return s;
}

Result<Catalogue> Catalogue::LoadYaml(const std::string& path) {
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return ParseYaml(text, path);
}

Result<Catalogue> Catalogue::ParseYaml(const std::string& text, const std::string& file) {
  Catalogue cat;
  CNET_RETURN_IF_ERROR(cat.ParseInto(text, file, false));
  return cat;
}

Result<Catalogue> Catalogue::LoadWithExtensions(const std::string& base, const std::vector<std::string>& extensions) {
  CNET_ASSIGN_OR_RETURN(Catalogue cat, LoadYaml(base));
  for (const auto& e : extensions) CNET_RETURN_IF_ERROR(cat.ExtendFromFile(e));
  return cat;
}

Status Catalogue::Extend(const std::string& text, const std::string& file) {
  Catalogue copy = *this;
  copy.uses_ = std::make_shared<UseLog>();
  CNET_RETURN_IF_ERROR(copy.ParseInto(text, file, true));
  specs_ = std::move(copy.specs_);
  ambiguous_ = std::move(copy.ambiguous_);
  return Status::Ok();
}

Status Catalogue::ExtendFromFile(const std::string& path) {
  CNET_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(path));
  return Extend(text, path);
}

namespace {

Result<AcceleratorSpec> ParseSpec(const YamlCtx& c, const YAML::Node& n, const std::string& p) {
  const double zero = 0, one = 1, net = 12.5;
  const std::string empty_src;
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(
      c, n,
      {"name", "aliases", "vendor", "kind", "peak_tflops", "memory_gib", "mem_bw_gbs",
       "dies_per_package", "d2d_bw_gbs", "link_bw_gbs", "network_bw_gbs", "board_power_w",
       "idle_power_w", "price_per_hour_usd", "source"},
      p));
  AcceleratorSpec s;
  CNET_ASSIGN_OR_RETURN(s.name, YamlString(c, n, "name", p));
  CNET_ASSIGN_OR_RETURN(s.vendor, YamlString(c, n, "vendor", p));
  CNET_ASSIGN_OR_RETURN(std::string kind, YamlString(c, n, "kind", p));
  if (kind == "gpu") s.kind = AccelKind::kGpu;
  else if (kind == "npu") s.kind = AccelKind::kNpu;
  else if (kind == "cpu") s.kind = AccelKind::kCpu;
  else return c.Error(n["kind"], p + ".kind", "must be gpu, npu or cpu, not '" + kind + "'");
  if (n["aliases"]) {
    if (!n["aliases"].IsSequence()) return c.Error(n["aliases"], p + ".aliases", "expected a list");
    for (const auto& a : n["aliases"]) {
      if (!a.IsScalar()) return c.Error(a, p + ".aliases", "expected a list of names");
      s.aliases.push_back(a.Scalar());
    }
  }
  CNET_ASSIGN_OR_RETURN(s.peak_tflops, YamlDouble(c, n, "peak_tflops", p));
  CNET_ASSIGN_OR_RETURN(s.memory_gib, YamlDouble(c, n, "memory_gib", p));
  CNET_ASSIGN_OR_RETURN(s.mem_bw_gbs, YamlDouble(c, n, "mem_bw_gbs", p));
  CNET_ASSIGN_OR_RETURN(double dies, YamlDouble(c, n, "dies_per_package", p, &one));
  CNET_ASSIGN_OR_RETURN(s.d2d_bw_gbs, YamlDouble(c, n, "d2d_bw_gbs", p, &zero));
  CNET_ASSIGN_OR_RETURN(s.link_bw_gbs, YamlDouble(c, n, "link_bw_gbs", p, &zero));
  CNET_ASSIGN_OR_RETURN(s.network_bw_gbs, YamlDouble(c, n, "network_bw_gbs", p, &net));
  CNET_ASSIGN_OR_RETURN(s.board_power_w, YamlDouble(c, n, "board_power_w", p));
  CNET_ASSIGN_OR_RETURN(s.idle_power_w, YamlDouble(c, n, "idle_power_w", p, &zero));
  CNET_ASSIGN_OR_RETURN(s.price_per_hour_usd, YamlDouble(c, n, "price_per_hour_usd", p, &zero));
  CNET_ASSIGN_OR_RETURN(s.source, YamlString(c, n, "source", p, &empty_src));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".peak_tflops", s.peak_tflops, false));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".memory_gib", s.memory_gib, false));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".mem_bw_gbs", s.mem_bw_gbs, false));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".board_power_w", s.board_power_w, false));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".idle_power_w", s.idle_power_w, true));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".price_per_hour_usd", s.price_per_hour_usd, true));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".network_bw_gbs", s.network_bw_gbs, false));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".link_bw_gbs", s.link_bw_gbs, true));
  CNET_RETURN_IF_ERROR(Positive(c, n, p + ".d2d_bw_gbs", s.d2d_bw_gbs, true));
  if (dies < 1 || dies > 64 || dies != static_cast<int>(dies))
    return c.Error(n["dies_per_package"], p + ".dies_per_package", "must be an integer from 1 to 64");
  s.dies_per_package = static_cast<int>(dies);
  if (s.dies_per_package > 1 && s.d2d_bw_gbs <= 0)
    return c.Error(n, p + ".d2d_bw_gbs", "required (> 0) when dies_per_package > 1");
  if (s.idle_power_w > s.board_power_w)
    return c.Error(n["idle_power_w"], p + ".idle_power_w", "exceeds board_power_w");
  return s;
}

}  // namespace

Status Catalogue::ParseInto(const std::string& text, const std::string& file, bool extension) {
  CNET_ASSIGN_OR_RETURN(YAML::Node root, ParseYamlText(text, file));
  YamlCtx c{file};
  if (!root.IsMap()) return c.Error(root, "", "expected a mapping with key 'accelerators'");
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, root, {"accelerators", "ambiguous"}, ""));
  YAML::Node list;
  if (!extension || root["accelerators"]) {
    CNET_ASSIGN_OR_RETURN(list, YamlSeq(c, root, "accelerators", ""));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& n = list[i];
    std::string p = "accelerators[" + std::to_string(i) + "]";
    CNET_ASSIGN_OR_RETURN(AcceleratorSpec s, ParseSpec(c, n, p));
    // An extension's entry with a known canonical name replaces that entry in place (ids stay).
    std::optional<size_t> replace;
    for (size_t k = 0; extension && k < specs_.size(); ++k)
      if (Lower(specs_[k].name) == Lower(s.name)) replace = k;
    AcceleratorSpec old;
    if (replace) {
      old = std::move(specs_[*replace]);
      specs_[*replace].name.clear();
      specs_[*replace].aliases.clear();
    }
    Status st = Status::Ok();
    std::vector<std::string> names = s.aliases;
    names.push_back(s.name);
    for (const auto& a : ambiguous_)
      for (const auto& x : names)
        if (Lower(a.name) == Lower(x)) st = InvalidArgument("'" + x + "' is declared ambiguous");
    if (st.ok() && !replace) st = Add(std::move(s));
    else if (st.ok()) {
      for (const auto& a : s.aliases)
        if (FindExact(a)) st = InvalidArgument("alias '" + a + "' of " + s.name + " is already taken");
      if (st.ok()) specs_[*replace] = std::move(s);
    }
    if (!st.ok()) return c.Error(n, p + ".name", st.message());
  }
  if (specs_.empty()) return c.Error(root, "accelerators", "empty list");
  if (!root["ambiguous"]) return Status::Ok();
  CNET_ASSIGN_OR_RETURN(YAML::Node amb, YamlSeq(c, root, "ambiguous", ""));
  for (size_t i = 0; i < amb.size(); ++i) {
    const YAML::Node& n = amb[i];
    std::string p = "ambiguous[" + std::to_string(i) + "]";
    CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, n, {"name", "means"}, p));
    AmbiguousName a;
    CNET_ASSIGN_OR_RETURN(a.name, YamlString(c, n, "name", p));
    if (FindExact(a.name))
      return c.Error(n["name"], p + ".name", "'" + a.name + "' is already a type's name or alias");
    CNET_ASSIGN_OR_RETURN(YAML::Node means, YamlSeq(c, n, "means", p));
    for (const auto& m : means) {
      auto id = m.IsScalar() ? FindExact(m.Scalar()) : std::nullopt;
      if (!id) return c.Error(m, p + ".means", "unknown accelerator type '" + (m.IsScalar() ? m.Scalar() : "") + "'");
      a.means.push_back(Get(*id).name);
    }
    if (a.means.size() < 2) return c.Error(n, p + ".means", "list at least two types");
    std::erase_if(ambiguous_, [&](const AmbiguousName& x) { return Lower(x.name) == Lower(a.name); });
    ambiguous_.push_back(std::move(a));
  }
  return Status::Ok();
}

}  // namespace cnet
