#!/usr/bin/env bash
# Builds the Debian package with CPack from BUILD_DIR, installs it with
# dpkg -i, checks the installed files and that the installed binary runs
# --version and serves /metrics over TLS, then purges it. Services are not started during the test (a
# policy-rc.d denies it), so a machine with systemd is left as it was.
#   tests/e2e/deb_install.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed+1)); echo "PASS $1"; else failed=$((failed+1)); echo "FAIL $1"; fi; }

policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1 && cp -p "$policy" "$build/policy-rc.d.saved"
cleanup() {
  dpkg --purge aster-exporter >/dev/null 2>&1 || true
  if [ "$had_policy" = 1 ]; then mv -f "$build/policy-rc.d.saved" "$policy"; else rm -f "$policy"; fi
}
trap cleanup EXIT
printf '#!/bin/sh\nexit 101\n' > "$policy"
chmod +x "$policy"

(cd "$build" && cpack -G DEB >/dev/null)
deb=$(ls -t "$build"/aster-exporter_*.deb | head -n1)
check "package built" "[ -f '$deb' ]"
check "package depends on libbpf1" "dpkg-deb -f '$deb' Depends | grep -q libbpf1"
check "dpkg -i succeeds" "dpkg -i '$deb' >/dev/null"
check "binary installed" "[ -x /usr/bin/aster-exporter ]"
check "unit installed" "[ -f /lib/systemd/system/aster-exporter.service ]"
check "config installed as conffile" "dpkg-query -W -f='\${Conffiles}' aster-exporter | grep -q /etc/aster-exporter/config.yaml"
check "installed binary runs --version" "/usr/bin/aster-exporter --version | grep -q '^aster-exporter [0-9]'"
check "default config is valid" "/usr/bin/aster-exporter --config.file=/etc/aster-exporter/config.yaml --help >/dev/null"
check "OpenSSL 3 shims for civetweb installed" "[ -f /usr/lib/aster-exporter/libaster-civetweb-ssl.so ] && [ -f /usr/lib/aster-exporter/libaster-civetweb-crypto.so ]"
# TLS on /metrics from the installed files: a web config with a certificate,
# the installed binary (watching port 1, where nothing listens), curl over
# https verifying the certificate, with and without the password.
tls=$build/deb-tls
rm -rf "$tls" && mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/key.pem" -out "$tls/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
hash=$(htpasswd -nbBC 5 u s3cret | cut -d: -f2)
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  prometheus: %s\n' "$hash" > "$tls/web.yml"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/aster-exporter --target.port=1 --web.listen-address="127.0.0.1:$port" --web.config.file="$tls/web.yml" \
  >"$tls/exporter.log" 2>&1 &
exporter=$!
# Up to 2 minutes: loading and attaching the probes took over 20 s on a
# loaded CI machine (the check then ran before the exporter served).
for _ in $(seq 600); do
  curl -s -o /dev/null --cacert "$tls/cert.pem" "https://127.0.0.1:$port/" && break
  kill -0 "$exporter" 2>/dev/null || break
  sleep 0.2
done
# Into a file, then grep: with pipefail, grep -q's early exit made curl fail
# on a broken pipe (exit 23) whenever the scrape was still being written.
check "installed binary serves /metrics over TLS with basic auth" \
  "curl -sf --cacert '$tls/cert.pem' -u prometheus:s3cret -o '$tls/scrape.txt' 'https://127.0.0.1:$port/metrics' && grep -q '^aster_exporter_build_info' '$tls/scrape.txt'"
check "TLS: a wrong password is refused" \
  "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --cacert '$tls/cert.pem' -u prometheus:x 'https://127.0.0.1:$port/metrics')\" = 401 ]"
check "TLS: the exporter is still running" "kill -0 $exporter"
kill "$exporter" 2>/dev/null; wait "$exporter" 2>/dev/null || true
[ "$failed" = 0 ] || cat "$tls/exporter.log"
check "purge removes the binary and the shims" "dpkg --purge aster-exporter >/dev/null && [ ! -e /usr/bin/aster-exporter ] && [ ! -e /usr/lib/aster-exporter ]"
echo "deb: $passed passed, $failed failed"
[ "$failed" = 0 ]
