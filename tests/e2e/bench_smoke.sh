#!/usr/bin/env bash
# The benchmark, cut short, as part of the suite: bench/run.sh builds its
# servers and probes on this machine, runs one round of go-tiny against
# every variant (the exporter in both modes, the empty and copy floors, the
# in-process middleware) and the exactness phase, and must print a figure
# for each and an empty exactness diff. Its timings are not checked: they
# are the benchmark's business, not a test's.
#   usage: bench_smoke.sh EXPORTER
set -euo pipefail
exporter=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/aster-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
log=$out/bench.log

if ! PAIRS=1 DURATION=1 STATS_DURATION=1 SCENARIOS=go-tiny PHASES=load,exact,callgrind \
    EXPORTER="$exporter" OUT="$out" "$root/bench/run.sh" >"$log" 2>&1; then
  cat "$log"
  echo "bench_smoke: bench/run.sh failed (log above)" >&2
  exit 1
fi

fail=0
for variant in aster-socket aster-syscalls empty-socket empty-syscalls copy-socket in-process-mw; do
  # | go-tiny | VARIANT | req/s | ÷unw | p50 | p99 | p50÷ | p99÷ | BPF ns/req | ...
  row=$(grep -E "^\| go-tiny +\| $variant +\|" "$log" || true)
  rps=$(awk -F'|' '{gsub(/ /, "", $4); print $4}' <<<"$row")
  bpf=$(awk -F'|' '{gsub(/ /, "", $10); print $10}' <<<"$row")
  if ! [[ "$rps" =~ ^[0-9]+$ ]] || [ "$rps" -eq 0 ]; then
    echo "bench_smoke: no throughput for $variant: '$row'" >&2
    fail=1
  fi
  # Every probed variant reports its programs' kernel time.
  if [ "$variant" != in-process-mw ] && { ! [[ "$bpf" =~ ^[0-9]+$ ]] || [ "$bpf" -eq 0 ]; }; then
    echo "bench_smoke: no BPF ns/req for $variant: '$row'" >&2
    fail=1
  fi
done
for want in "exactness diff: EMPTY" "socket   events lost 0" "syscalls events lost 0"; do
  grep -qF "$want" "$log" || { echo "bench_smoke: '$want' not in the output" >&2; fail=1; }
done
# The replay under callgrind counts instructions for each committed capture.
n=$(grep -cE "^  [a-z_]+ +[0-9]+ requests +[0-9]+ instructions/request" "$log" || true)
[ "$n" -eq 3 ] || { echo "bench_smoke: $n of 3 callgrind figures printed" >&2; fail=1; }
if [ "$fail" -ne 0 ]; then
  cat "$log"
  exit 1
fi
sed -n '/^| scenario/,/^(medians/p;/exactness diff/p;/instructions\/request/p' "$log"
echo "bench_smoke: passed"
