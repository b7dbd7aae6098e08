#!/usr/bin/env bash
# Configures and builds into build/ (the program lands at build/cnet); CNET_JOBS jobs (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build build -j "${CNET_JOBS:-2}"
