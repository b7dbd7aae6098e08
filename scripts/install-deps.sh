#!/usr/bin/env bash
# Installs computenet's build and test dependencies from Debian 12's packages (see docs/DEPENDENCIES.md).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config python3
      libyaml-cpp-dev libfyaml-dev nlohmann-json3-dev libcli11-dev coinor-libclp-dev
      libcpp-httplib-dev libsqlite3-dev libsodium-dev
      libspdlog-dev  # src/common/log.h: structured logging (stderr and file sinks)
      libjwt-dev  # src/sites/slurm_client.cc: HS256 tokens for slurmrestd
      libssl-dev zlib1g-dev openssl  # TLS (src/api/tls_context.cc); tests: gzip bodies, a test CA made with openssl
      libgtest-dev libgmock-dev libbenchmark-dev time
      groff-base  # tests: the generated man page (build/cnet.1) renders without warnings
      zsh  # tests: scripts/completion/_cnet loads in zsh's compinit and offers the program's words
      python3-jsonschema openapi-specification  # tests/tools/validate_openapi.py: docs/openapi.json against OpenAPI's own 3.0 schema
      clang-14 libclang-rt-14-dev  # scripts/fuzz.sh: clang's libFuzzer, ASan and UBSan runtimes
      slurm-wlm slurmrestd slurm-wlm-jwt-plugin munge curl)  # scripts/slurm, bench/submit_bench.sh: a real Slurm on loopback
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all ${#pkgs[@]} packages present"; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
