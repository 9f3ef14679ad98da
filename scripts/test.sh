#!/usr/bin/env bash
# Installs everything the tests need, builds, and runs the whole suite with
# ctest: unit tests, the parser fuzzer (short run), the BPF integration tests
# in both attach modes against real nginx/Python/Node servers, the packaging
# checks, and the end-to-end test against a real Prometheus server.
# As root (or through sudo, which it asks for itself when there is one):
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as_root.sh
scripts/install-deps.sh test
scripts/build.sh --with-tests
ctest --test-dir build --output-on-failure
