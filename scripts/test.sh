#!/usr/bin/env bash
# Installs, builds and runs every test (unit, contract, bad-input, CLI and simulator checks), then
# fuzzes the job-spec parser for FUZZ_SECONDS (default 60; 0: replay fuzz/corpus only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j2
FUZZ_SECONDS=${FUZZ_SECONDS:-60} scripts/fuzz.sh
