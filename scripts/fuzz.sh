#!/usr/bin/env bash
# Builds the libFuzzer target for the job-spec parser (fuzz/) with clang into build-fuzz/ and runs
# it for a bounded time on a copy of fuzz/corpus/ (the checked-in corpus is never modified).
#   FUZZ_SECONDS  how long to fuzz (default 60); 0: only replay the corpus (regression inputs)
#   FUZZ_CXX      the compiler (default clang++-14, from scripts/install-deps.sh)
#   FUZZ_JOBS     build parallelism (default 2)
#   FUZZ_TARGET   job_request_fuzz (default) or residency_expr_fuzz
# Exits non-zero on any crash, sanitizer report, invariant violation, timeout or OOM; the input
# that did it is kept under build-fuzz/artifacts/. The last line gives the number of executions.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
cxx=${FUZZ_CXX:-clang++-14}
jobs=${FUZZ_JOBS:-2}
build=build-fuzz
fuzzer=${FUZZ_TARGET:-job_request_fuzz}   # or residency_expr_fuzz (fuzz/residency_corpus)
corpus=fuzz/corpus
dict=(-dict=fuzz/job_request.dict)
if [ "$fuzzer" = residency_expr_fuzz ]; then corpus=fuzz/residency_corpus; dict=(); fi

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz: $cxx not found (scripts/install-deps.sh installs clang-14 and libclang-rt-14-dev)" >&2
  exit 1
fi

start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DCNET_FUZZ=ON -DCNET_BUILD_TESTS=OFF -DCNET_BUILD_BENCH=OFF >/dev/null
if ! cmake --build "$build" -j "$jobs" --target "$fuzzer" >"$build/build.log" 2>&1; then
  cat "$build/build.log" >&2
  echo "fuzz: build FAILED" >&2
  exit 1
fi
built=$(date +%s)

work=$(mktemp -d "${TMPDIR:-/tmp}/cnet-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
rm -rf "$build/artifacts"
mkdir -p "$work/corpus" "$build/artifacts"
cp "$corpus"/* "$work/corpus/"
seeds=$(ls "$work/corpus" | wc -l)
log="$build/$fuzzer.log"

args=(-max_len=8192 -timeout=5 -rss_limit_mb=2048 "${dict[@]}"
      -artifact_prefix="$build/artifacts/" -print_final_stats=1)
if [ "$seconds" -gt 0 ]; then
  args+=(-max_total_time="$seconds")
else
  args+=(-runs=0)
fi
echo "fuzz: running $fuzzer $([ "$seconds" -gt 0 ] && echo "for ${seconds}s" || echo "once over the corpus")" \
     "on $seeds seed inputs (log: $log)"
rc=0
# Leaks inside libfyaml itself are suppressed (tests/sanitizers/lsan.supp says which and why).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/sanitizers/lsan.supp}
"$build/$fuzzer" "${args[@]}" "$work/corpus" >"$log" 2>&1 || rc=$?
end=$(date +%s)

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
if [ "$rc" -ne 0 ]; then
  grep -a -v '^    #[0-9]' "$log" | tail -n 60 >&2
  for a in "$build"/artifacts/*; do
    [ -e "$a" ] && echo "fuzz: reproduce with: $build/$fuzzer $a" >&2
  done
  echo "fuzz: FAILED (exit $rc) after ${execs:-?} executions" >&2
  exit 1
fi
echo "fuzz: $fuzzer OK: ${execs:-?} executions (${rate:-?}/s), corpus $seeds -> $(ls "$work/corpus" | wc -l) inputs;" \
     "build $((built - start))s, run $((end - built))s"
