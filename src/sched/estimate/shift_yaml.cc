#include "sched/estimate/shift_yaml.h"

namespace cnet {

Result<ShiftOptions> ParseShiftOptions(const YamlCtx& c, const YAML::Node& n, const std::string& path) {
  if (n.IsNull()) return ShiftOptions{};  // `shift:` alone: the defaults
  if (!n.IsMap()) return c.Error(n, path, "expected a mapping (step_min, horizon_h, min_gain, margin, margin_min)");
  CNET_RETURN_IF_ERROR(YamlOnlyKeys(c, n, {"step_min", "horizon_h", "min_gain", "margin", "margin_min"}, path));
  ShiftOptions o;
  CNET_ASSIGN_OR_RETURN(double step, YamlNumberIn(c, n, "step_min", path, o.step_s / 60, 1, 1440));
  CNET_ASSIGN_OR_RETURN(double horizon, YamlNumberIn(c, n, "horizon_h", path, o.horizon_s / 3600, 0, 24 * 14));
  CNET_ASSIGN_OR_RETURN(o.min_gain, YamlNumberIn(c, n, "min_gain", path, o.min_gain, 0, 1));
  CNET_ASSIGN_OR_RETURN(o.margin, YamlNumberIn(c, n, "margin", path, o.margin, 0, 10));
  CNET_ASSIGN_OR_RETURN(double margin_min, YamlNumberIn(c, n, "margin_min", path, o.margin_s / 60, 0, 1440));
  o.step_s = step * 60;
  o.horizon_s = horizon * 3600;
  o.margin_s = margin_min * 60;
  return o;
}

}  // namespace cnet
