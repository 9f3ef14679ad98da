#!/usr/bin/env bash
# Quick start: installs the build dependencies, builds, and runs the exporter
# with its default configuration (watch every TCP listener on this node,
# serve metrics on :8497/metrics). Extra arguments go to the exporter.
# As root (or through sudo, which it asks for itself when there is one):
#   scripts/run.sh [--target.port=8080 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as_root.sh
scripts/install-deps.sh build
scripts/build.sh
exec build/aster-exporter "$@"
