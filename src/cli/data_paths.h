// Locating shipped data files (data/accelerators.yaml ...) without globals: an explicit flag wins,
// then $CNET_DATA_DIR, ./data, the directory beside the executable's parent, the source tree.
#pragma once

#include <string>

namespace cnet {

std::string FindDataFile(const std::string& relative, const char* argv0);

}  // namespace cnet
