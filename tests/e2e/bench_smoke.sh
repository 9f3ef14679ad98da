#!/usr/bin/env bash
# The benchmark, cut short, as part of the suite: bench/run.sh builds its
# servers and probes on this machine, runs one round of go-tiny against
# every variant (the exporter in both modes, the empty and copy floors, the
# in-process middleware) and of h2c-tiny (HTTP/2: nghttpd under h2load;
# the exporter in socket mode and the floors, ~15 s more), and the
# exactness phase, and must print a figure for each, no event lost, and an
# empty exactness diff. Its timings are not checked: they
# are the benchmark's business, not a test's.
#   usage: bench_smoke.sh EXPORTER
set -euo pipefail
exporter=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/aster-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
log=$out/bench.log

if ! PAIRS=1 DURATION=1 STATS_DURATION=1 SCENARIOS=go-tiny,h2c-tiny PHASES=load,exact,callgrind \
    EXPORTER="$exporter" OUT="$out" "$root/bench/run.sh" >"$log" 2>&1; then
  cat "$log"
  echo "bench_smoke: bench/run.sh failed (log above)" >&2
  exit 1
fi

fail=0
for run in go-tiny/aster-socket go-tiny/aster-syscalls go-tiny/empty-socket go-tiny/empty-syscalls \
  go-tiny/copy-socket go-tiny/in-process-mw h2c-tiny/aster-socket h2c-tiny/empty-socket \
  h2c-tiny/empty-syscalls h2c-tiny/copy-socket; do
  scenario=${run%%/*} variant=${run#*/}
  # | SCENARIO | VARIANT | req/s | ÷unw | p50 | p99 | p50÷ | p99÷ | BPF ns/req | ... | lost |
  row=$(grep -E "^\| $scenario +\| $variant +\|" "$log" || true)
  rps=$(awk -F'|' '{gsub(/ /, "", $4); print $4}' <<<"$row")
  bpf=$(awk -F'|' '{gsub(/ /, "", $10); print $10}' <<<"$row")
  lost=$(awk -F'|' '{gsub(/ /, "", $15); print $15}' <<<"$row")
  if ! [[ "$rps" =~ ^[0-9]+$ ]] || [ "$rps" -eq 0 ]; then
    echo "bench_smoke: no throughput for $run: '$row'" >&2
    fail=1
  fi
  # Every probed variant reports its programs' kernel time.
  if [ "$variant" != in-process-mw ] && { ! [[ "$bpf" =~ ^[0-9]+$ ]] || [ "$bpf" -eq 0 ]; }; then
    echo "bench_smoke: no BPF ns/req for $run: '$row'" >&2
    fail=1
  fi
  if [[ $variant == aster-* && $lost != 0 ]]; then
    echo "bench_smoke: events lost for $run: '$row'" >&2
    fail=1
  fi
done
for want in "exactness diff: EMPTY" "socket   events lost 0" "syscalls events lost 0"; do
  grep -qF "$want" "$log" || { echo "bench_smoke: '$want' not in the output" >&2; fail=1; }
done
# The replay under callgrind counts instructions for each capture the bench
# names (CALLGRIND_CAPTURES in bench.py): one figure per name, none missing.
captures=$(python3 -c 'import ast,sys
for n in ast.parse(open(sys.argv[1]).read()).body:
    if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "CALLGRIND_CAPTURES":
        print(" ".join(ast.literal_eval(n.value)))' "$root/bench/bench.py")
[ -n "$captures" ] || { echo "bench_smoke: no CALLGRIND_CAPTURES found in bench/bench.py" >&2; fail=1; }
for name in $captures; do
  grep -qE "^  $name +[0-9]+ requests +[0-9]+ instructions/request" "$log" ||
    { echo "bench_smoke: no callgrind figure for capture $name" >&2; fail=1; }
done
if [ "$fail" -ne 0 ]; then
  cat "$log"
  exit 1
fi
sed -n '/^| scenario/,/^(medians/p;/exactness diff/p;/instructions\/request/p' "$log"
echo "bench_smoke: passed"
