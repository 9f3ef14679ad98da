#!/usr/bin/env bash
# The aster-exporter benchmark: one command, as root, on an otherwise idle
# machine.
#
#   bench/run.sh   (as root)
#
# It builds what it needs (the exporter if build/aster-exporter is missing,
# the Go server, the empty-probe loader), turns kernel.bpf_stats_enabled on
# only for the windows that read the probes' kernel time (restored
# afterwards), mounts tracefs if needed, starts a gin server (plain,
# and a second one with the in-process metrics middleware), nginx and
# nghttpd (h2c), and
# prints figures: throughput, latency, BPF and CPU time per request, peak
# RSS, events lost (per scenario and variant); the exactness diff against
# the Go server's own /metrics and nginx's access log; memory per 1000
# series; the slowdown of an unwatched syscall-heavy process; and a perf
# profile of the exporter. It never passes or fails on time.
#
# Knobs (environment):
#   PAIRS=8          rounds per scenario (each: the unwatched run, then every variant)
#   DURATION=4       seconds of wrk per run (bpf_stats off)
#   STATS_DURATION=2 seconds of the same load with bpf_stats on, after each probed run
#   CONNS=32 THREADS=1   wrk -c / -t
#   SCENARIOS=go-tiny,go-work,nginx-small,nginx-large,h2c-tiny,go-tls-tiny   (h2c-tiny: nghttpd --no-tls under
#                    h2load, CONNS connections of H2_STREAMS=10 concurrent streams; go-tls-tiny: the Go
#                    server's /tiny over crypto/tls under wrk, read through the Go TLS uprobes)
#   PHASES=load,exact,memory,syscall,profile,attribution,callgrind
#   ATTRIBUTION_PAIRS=3   rounds of whole-machine perf recordings (attribution: unwatched, copy floor, watched)
#   ATTRIBUTION_SCENARIO=go-tiny   the scenario they load (any of SCENARIOS)
#   SYSCALLS_ALL=1   run the syscalls-mode exporter in every scenario (default: go-tiny only)
#   REF=HEAD         the commit to measure: exported with git archive and built
#                    in $OUT/src, so edits in the working tree cannot change
#                    (or break) the binary mid-run
#   EXPORTER=path    measure this binary instead (e.g. build/aster-exporter of
#                    the working tree); nothing is built then
#   VARIANTS=aster-socket,aster-socket+x   replace the measured variants (experiments);
#   VARIANT_ARGS='{"aster-socket+x": ["--bpf.poll-interval-ms=40"]}'   a named variant's flags;
#   VARIANT_EXPORTERS='{"aster-socket+x": "/tmp/x/build/aster-exporter"}'   its binary
#   OUT=/tmp/aster-bench   work directory (binaries, logs, perf data)
# Defaults take about 20 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: run as root (it loads BPF programs and reads other processes' /proc)" >&2
  exit 1
fi
# One command on a fresh machine: install what the benchmark needs first
# (Debian packages only; a no-op when everything is there).
"$(dirname "$0")/../scripts/install-deps.sh" bench
missing=()
for c in go wrk nginx nghttpd h2load perf clang bpftool cmake python3 dd openssl; do
  command -v "$c" >/dev/null || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/run.sh: missing ${missing[*]}; install them with: scripts/install-deps.sh bench" >&2
  exit 1
fi

export OUT=${OUT:-/tmp/aster-bench}
mkdir -p "$OUT"
chmod 755 "$OUT"

if [ -z "${EXPORTER:-}" ]; then
  ref=${REF:-HEAD}
  commit=$(git rev-parse "$ref")
  echo "building aster-exporter at $ref (${commit:0:7}) in $OUT/src"
  rm -rf "$OUT/src" && mkdir -p "$OUT/src"
  git archive "$commit" | tar -x -C "$OUT/src"
  { cmake -S "$OUT/src" -B "$OUT/src/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$OUT/src/build" -j"$(nproc)" --target aster-exporter; } >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log"; exit 1; }
  EXPORTER=$OUT/src/build/aster-exporter
  export EXPORTER_DESC="$ref (${commit:0:7})"
fi
export EXPORTER

echo "building bench/goserver and bench/goclient"
(cd bench/goserver && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
  go build -o "$OUT/goserver" .)
(cd bench/goclient && GO111MODULE=off GOFLAGS= go build -o "$OUT/goclient" .)

# The go-tls-tiny scenario's certificate (self-signed; wrk does not check it).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/bench-key.pem" -out "$OUT/bench-cert.pem" \
  -days 2 -subj /CN=localhost >/dev/null 2>&1

echo "building bench/empty_probes"
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$root/bpf/vmlinux/x86_64" \
  -c bench/empty_probes.bpf.c -o "$OUT/empty_probes.bpf.o"
bpftool gen skeleton "$OUT/empty_probes.bpf.o" name empty_probes_bpf >"$OUT/empty_probes.skel.h"
cc -O2 -Wall -I"$OUT" bench/empty_probes.c -o "$OUT/empty_probes" -lbpf

# Syscall tracepoints (syscalls mode and its empty floor) need tracefs.
if [ -z "$(ls -A /sys/kernel/tracing/events 2>/dev/null)" ]; then
  mount -t tracefs nodev /sys/kernel/tracing
fi

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
old_kallsyms=$(sysctl -n net.core.bpf_jit_kallsyms)
sysctl -qw kernel.bpf_stats_enabled=1
sysctl -qw net.core.bpf_jit_kallsyms=1 # perf names the JITed probes
# bench.py stops everything it starts; this restores the sysctls even if it
# is killed.
trap 'sysctl -qw kernel.bpf_stats_enabled="$old_stats" net.core.bpf_jit_kallsyms="$old_kallsyms"' EXIT
trap 'exit 130' INT TERM

echo "machine: $(uname -r), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
python3 bench/bench.py
