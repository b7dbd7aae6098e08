#!/usr/bin/env bash
# CI's entry (.ci/run) and the README's test command. Stages, each printing its time:
#   deps    scripts/install-deps.sh
#   build   scripts/build.sh (build/, RelWithDebInfo, assertions on)
#   tests   every ctest entry of build/ (unit, contract, bad-input, CLI, simulator, crash, Slurm)
#   fuzz    the job-spec parser for FUZZ_SECONDS (scripts/fuzz.sh)
#   asan    build-asan/ (ASan + UBSan) and tsan: build-tsan/ (TSan), both RelWithDebInfo (-O1 -g1)
#           with assertions on: only the per-layer test binaries (asan_tests, tsan_tests below:
#           those that exist) and the cnet binary they depend on, run through ctest by label,
#           without the slurm and crash entries.
# Environment:
#   FUZZ_SECONDS     how long to fuzz (default 60; 0: only replay fuzz/corpus)
#   CNET_SANITIZERS  1 (default): run the asan and tsan stages; 0: skip them (quick local runs)
#   CNET_JOBS        build parallelism (default 2)
#   ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS  replace the defaults set below
set -euo pipefail
cd "$(dirname "$0")/.."
export CNET_JOBS=${CNET_JOBS:-2}
sanitizers=${CNET_SANITIZERS:-1}

t0=$(date +%s)
# stage NAME COMMAND...: runs COMMAND, then prints how long it took (also when it fails).
stage() {
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  echo "=== stage $name: start"
  "$@" || rc=$?
  echo "=== stage $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $(( $(date +%s) - start ))s" \
       "(CI total so far $(( $(date +%s) - t0 ))s)"
  return $rc
}

# The test binaries the sanitizer stages build and run (see tests/CMakeLists.txt), by ctest label.
# TSan leaves out cnet_core_tests: model, perf, sched and sim start no thread (no std::thread or
# std::async under src/{common,model,perf,sched,sim}), so TSan has nothing to find there; ASan
# and UBSan run them all.
asan_tests=(cnet_core_tests cnet_store_tests cnet_api_tests cnet_backend_tests cnet_service_tests)
tsan_tests=(cnet_store_tests cnet_api_tests cnet_backend_tests cnet_service_tests)

# sanitizer_build DIR KIND TEST...: configures DIR with CNET_SANITIZE=KIND and builds cnet and
# those of the test binaries TEST... that this tree defines.
sanitizer_build() {
  local dir=$1 kind=$2 t targets=(cnet)
  shift 2
  # (Called from stage's `||`, where set -e does not apply: each step returns on failure.)
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNET_SANITIZE="$kind" -DCNET_ASSERTS=ON \
    -DCNET_BUILD_BENCH=OFF >/dev/null || return
  local defined
  defined=$(cmake --build "$dir" --target help) || return
  for t in "$@"; do
    grep -q "^$t:" <<<"$defined" && targets+=("$t")
  done
  echo "$dir: building ${targets[*]}"
  cmake --build "$dir" -j "$CNET_JOBS" --target "${targets[@]}"
}

# sanitizer_tests DIR TEST...: runs the ctest entries of the test binaries TEST... (a sanitizer
# report fails the test: halt_on_error).
sanitizer_tests() {
  local dir=$1 labels
  shift
  labels=$(IFS='|'; echo "^($*)\$")
  ctest --test-dir "$dir" --output-on-failure -j2 -L "$labels" -LE "^(slurm|crash)\$"
}

stage deps scripts/install-deps.sh
stage build scripts/build.sh
stage tests ctest --test-dir build --output-on-failure -j2
export FUZZ_SECONDS=${FUZZ_SECONDS:-60}
stage fuzz scripts/fuzz.sh

if [ "$sanitizers" = 0 ]; then
  echo "=== sanitizer stages skipped (CNET_SANITIZERS=0)"
else
  # Stop at the first report; leaks count (LeakSanitizer is part of ASan on Linux).
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_init_order=1:detect_stack_use_after_return=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitizers/lsan.supp}
  stage asan-build sanitizer_build build-asan address "${asan_tests[@]}"
  stage asan-tests sanitizer_tests build-asan "${asan_tests[@]}"
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
  export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp}
  stage tsan-build sanitizer_build build-tsan thread "${tsan_tests[@]}"
  stage tsan-tests sanitizer_tests build-tsan "${tsan_tests[@]}"
fi
echo "=== CI done in $(( $(date +%s) - t0 ))s"
