#!/usr/bin/env bash
# Installs, builds and runs every test (unit, contract, bad-input, CLI and simulator checks).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j2
