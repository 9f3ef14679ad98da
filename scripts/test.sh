#!/usr/bin/env bash
# Installs everything the tests need, builds, and runs the whole suite with
# ctest: unit tests, the fuzzers (short runs), the BPF integration tests
# in both attach modes against real nginx/Python/Node servers, the packaging
# checks, and the end-to-end test against a real Prometheus server.
# As root (or through sudo, which it asks for itself when there is one):
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as_root.sh
scripts/install-deps.sh test
scripts/build.sh --with-tests
rc=0
ctest --test-dir build --output-on-failure 2>&1 | tee build/ctest.log || rc=$?
# What each suite ran, from its own closing line, so a log shows that the
# BPF integration tests ran rather than passed by skipping; then ctest's
# own verdict again, last.
echo "what ran:"
grep -E "^[a-z_]*:? ?[0-9]+ passed, [0-9]+ failed|^fuzz( \([a-z0-9_]+\))?: |^layout: |^bench_smoke: |^soak \(|^\[  PASSED  \]" \
  build/Testing/Temporary/LastTest.log | sed 's/^/  /' || true
grep -E "tests passed, [0-9]+ tests failed out of" build/ctest.log || true
exit $rc
