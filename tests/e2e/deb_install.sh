#!/usr/bin/env bash
# Builds the Debian package with CPack from BUILD_DIR, installs it with
# dpkg -i, checks the installed files and that the installed binary runs
# --version, then purges it. Services are not started during the test (a
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
check "purge removes the binary" "dpkg --purge aster-exporter >/dev/null && [ ! -e /usr/bin/aster-exporter ]"
echo "deb: $passed passed, $failed failed"
[ "$failed" = 0 ]
