// The program's version, printed by `cnet --version` and served at /v1/version.
#pragma once

namespace cnet {

inline constexpr const char* kVersion = "0.9.0";

}  // namespace cnet
