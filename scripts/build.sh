#!/usr/bin/env bash
# Configures and builds into build/ (RelWithDebInfo).
#   scripts/build.sh [--with-tests]
# Without --with-tests only the exporter is built, so the quick start needs
# none of the test packages (GoogleTest among them).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=OFF
[ "${1:-}" = --with-tests ] && tests=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASTER_BUILD_TESTS=$tests
cmake --build build -j"$(nproc)"
