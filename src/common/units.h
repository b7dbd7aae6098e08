// Units used across computenet. Quantities are doubles whose unit is fixed by these names;
// every field and parameter that carries one ends in its unit suffix (_s, _w, _kw, _gib, _usd...).
#pragma once

namespace cnet {

using Seconds = double;  // wall or simulated time, seconds since an epoch chosen by the Clock

constexpr double kSecondsPerHour = 3600.0;
constexpr double kJoulesPerKwh = 3.6e6;

inline double Hours(Seconds s) { return s / kSecondsPerHour; }

}  // namespace cnet
