#!/usr/bin/env bash
# Installs what building, testing and benchmarking aster-exporter need, from
# Debian's packages only. Safe to run again; needs root.
#   scripts/install-deps.sh [build|test|bench]   (default: test)
set -euo pipefail
what=${1:-test}
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

build=(cmake g++ make pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
       prometheus-cpp-dev libcivetweb-dev libyaml-cpp-dev libdw-dev libcapstone-dev
       # basic_auth_users: bcrypt through libcrypt, SHA-256 from libcrypto
       libcrypt-dev libssl-dev)
# Real servers and clients, the fuzzer runtime, promtool and a Prometheus
# server, dpkg-dev for the .deb, setpriv (util-linux) and capsh (libcap2-bin)
# for the privilege checks, systemd-analyze to verify the unit, unshare,
# nsenter (util-linux) and ip (iproute2) for a server in a network namespace
# of its own, as in a container; file, which CPack's DEB generator runs;
# openssl: a TLS server and client on watched ports (test_exactness) and
# the TLS tests' self-signed certificates (nginx-light has the ssl module;
# Python's ssl and curl use the system libssl3).
test=(libgtest-dev googletest libclang-rt-14-dev nginx-light curl wrk python3 python3-yaml file openssl
      prometheus dpkg-dev util-linux procps systemd libcap2-bin golang-go iproute2
      # the other servers users run, each against its own truth (test_servers.py)
      apache2 python3-aiohttp
      # htpasswd makes the bcrypt hashes of the web config tests (test_web_config.py)
      apache2-utils
      # the Go servers and perf of the benchmark, which the suite runs cut short (bench_smoke)
      golang-github-gin-gonic-gin-dev golang-github-prometheus-client-golang-dev linux-perf
      # callgrind counts the pipeline's instructions per request (bench)
      valgrind
      # HTTP/2: nghttp2's HPACK codec is the unit tests' oracle; nghttpd
      # and h2load are the integration tests' server and load
      libnghttp2-dev nghttp2-server nghttp2-client
      # a Go h2c server (golang.org/x/net/http2/h2c), by prior knowledge and Upgrade
      golang-golang-x-net-dev
      # workload identity: real containers (test_identity.py) from a private
      # containerd with runc, on a busybox-static root filesystem (no image)
      containerd runc busybox-static
      # gRPC: grpc-go's server and client (test_grpc.py, GOPATH mode, no protoc)
      golang-google-grpc-dev)

pkgs=("${build[@]}")
case "$what" in
  build) ;;
  # bench_smoke runs the benchmark in the suite: one list serves both.
  test|bench) pkgs+=("${test[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac
# Node.js and kubectl may already come from elsewhere on the machine (a
# newer Node, a kubectl package that owns /usr/bin/kubectl): take Debian's
# only when the command is missing, since the packages would conflict.
if [ "$what" != build ]; then
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v kubectl >/dev/null || pkgs+=(kubernetes-client)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  # A mirror that drops a connection is retried, not a failed install.
  apt-get -o Acquire::Retries=5 update -q
  apt-get -o Acquire::Retries=5 install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's nginx and apache2 packages start a server on port 80 when
# installed; the tests start their own and need nothing listening there.
for unit in nginx apache2; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl stop "$unit" || true
  fi
done
