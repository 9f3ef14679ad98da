#!/usr/bin/env bash
# Installs everything the tests need, builds, and runs the whole suite with
# ctest: unit tests, the parser fuzzer (short run), the BPF integration tests
# in both attach modes against real nginx/Python/Node servers, the packaging
# checks, and the end-to-end test against a real Prometheus server.
#   sudo scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh
ctest --test-dir build --output-on-failure
