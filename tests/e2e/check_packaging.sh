#!/usr/bin/env bash
# check_packaging.sh — static checks of everything in packaging/; no exporter,
# no network, no container engine needed.
#
# Usage:  tests/e2e/check_packaging.sh        (from anywhere; ~10 s)
#
# Checks:
#   - promtool check rules / test rules (packaging/prometheus/alerts*.yml)
#   - promtool check config on a temp copy of prometheus.yml + alerts.yml
#   - kubectl kustomize packaging/kubernetes renders offline; the rendered
#     objects are checked by packaging_checks.py (kinds, namespace, DaemonSet
#     hostPID, not privileged, capabilities, readOnlyRootFilesystem, probes,
#     mounts, Service/ServiceMonitor wiring)
#   - config.yaml of systemd and the ConfigMap, dashboard JSON, alert rules,
#     compose.yaml, Grafana provisioning, systemd unit directives, Dockerfile
#     (packaging_checks.py)
#   - systemd-analyze verify of the unit (binary path swapped for /bin/true)
#   - cpack.cmake: a throwaway CMake project with a dummy aster-exporter
#     target includes it; `cpack -G DEB` must produce a package with the
#     binary, unit, conffile and maintainer scripts
#   - shell syntax of the maintainer scripts
# Tools missing from the machine make their check SKIP (listed), not pass.
# Assumptions: promtool (prometheus), kubectl (with kustomize), python3 with
# PyYAML; optional: systemd-analyze (systemd), cmake + cpack + cc + dpkg-deb +
# dpkg-shlibdeps (dpkg-dev).
# Prints PASS/FAIL/SKIP lines and "N passed, N failed" last; exits 1 on any failure.
# shellcheck disable=SC2001 # sed indents multi-line output
# shellcheck disable=SC2016 # bash -c scripts take their arguments as $1
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
P=$REPO/packaging
WORK=$(mktemp -d /tmp/aster-packaging.XXXXXX)
passed=0
failed=0
skipped=()

cleanup() {
	rm -rf "$WORK"
	((${#skipped[@]} == 0)) || echo "skipped (tool missing): ${skipped[*]}"
	echo "$passed passed, $failed failed"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() {
	# In CI every tool is installed by scripts/install-deps.sh: a missing one is a failure there.
	if [ -n "${CI:-}" ]; then fail "$1: $2 not found (CI installs it; see scripts/install-deps.sh)"; return; fi
	skipped+=("$1"); echo "SKIP $1: $2 not found"
}

# run NAME CMD...: pass if CMD succeeds, else fail and show its output.
run() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name"
		echo "$out" | sed 's/^/    /'
	fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# ---- Prometheus --------------------------------------------------------
if have promtool; then
	run "promtool check rules alerts.yml" promtool check rules "$P/prometheus/alerts.yml"
	run "promtool test rules alerts_test.yml" bash -c 'cd "$1" && promtool test rules alerts_test.yml' _ "$P/prometheus"
	mkdir -p "$WORK/prom"
	cp "$P/prometheus/prometheus.yml" "$P/prometheus/alerts.yml" "$WORK/prom/"
	run "promtool check config prometheus.yml (with alerts.yml beside it)" promtool check config "$WORK/prom/prometheus.yml"
else
	skip "promtool checks" promtool
fi

# ---- Kubernetes --------------------------------------------------------
: >"$WORK/rendered.yaml"
if have kubectl; then
	if out=$(kubectl kustomize "$P/kubernetes" 2>&1 >"$WORK/rendered.yaml"); then
		pass "kubectl kustomize packaging/kubernetes renders"
	else
		fail "kubectl kustomize packaging/kubernetes: $out"
		: >"$WORK/rendered.yaml"
	fi
else
	skip "kustomize render" kubectl
fi

# ---- structural checks (Kubernetes objects, configs, dashboard, alerts,
#      compose, provisioning, unit, Dockerfile) ------------------------------
if python3 -c 'import yaml' 2>/dev/null; then
	while read -r verdict rest; do
		case $verdict in
		PASS) pass "$rest" ;;
		*) fail "$rest" ;;
		esac
	done < <(python3 "$REPO/tests/e2e/packaging_checks.py" "$REPO" "$WORK/rendered.yaml" 2>&1 ||
		echo "FAIL packaging_checks.py crashed")
else
	fail "python3 with PyYAML is required (apt-get install python3-yaml)"
fi

# ---- systemd -----------------------------------------------------------
if have systemd-analyze; then
	# verify refuses a non-existent ExecStart binary; the unit is what is checked.
	mkdir -p "$WORK/unit"
	sed 's#^ExecStart=/usr/bin/aster-exporter#ExecStart=/bin/true#' "$P/systemd/aster-exporter.service" >"$WORK/unit/aster-exporter.service"
	run "systemd-analyze verify aster-exporter.service" systemd-analyze verify --man=no "$WORK/unit/aster-exporter.service"
else
	skip "systemd-analyze verify" systemd-analyze
fi

# ---- Debian package (cpack.cmake) --------------------------------------
for s in postinst prerm postrm; do
	run "debian/$s: sh syntax, executable" bash -c '[ -x "$1" ] && sh -n "$1"' _ "$P/debian/$s"
done
missing=
for tool in cmake cpack cc dpkg-deb dpkg-shlibdeps; do have $tool || missing+="$tool "; done
if [[ -n $missing ]]; then
	skip "cpack -G DEB" "${missing% }"
else
	mkdir -p "$WORK/cpack/src"
	ln -s "$P" "$WORK/cpack/src/packaging"
	echo 'int main(void) { return 0; }' >"$WORK/cpack/src/main.c"
	cat >"$WORK/cpack/src/CMakeLists.txt" <<-'CMAKE'
		cmake_minimum_required(VERSION 3.16)
		project(aster-exporter VERSION 0.0.1 LANGUAGES C)
		add_executable(aster-exporter main.c)
		# The civetweb TLS shims the package installs (web/civetweb_openssl.h).
		add_library(aster_civetweb_ssl SHARED main.c)
		add_library(aster_civetweb_crypto SHARED main.c)
		include(packaging/cpack.cmake)
	CMAKE
	if out=$(cd "$WORK/cpack" && cmake -S src -B build 2>&1 && cmake --build build 2>&1 &&
		cd build && cpack -G DEB 2>&1); then
		debs=("$WORK"/cpack/build/*.deb)
		deb=${debs[0]}
		contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
		dpkg-deb -e "$deb" "$WORK/cpack/control"
		problems=
		for f in ./usr/bin/aster-exporter ./lib/systemd/system/aster-exporter.service ./etc/aster-exporter/config.yaml; do
			grep -qx "$f" <<<"$contents" || problems+="missing $f; "
		done
		grep -qx /etc/aster-exporter/config.yaml "$WORK/cpack/control/conffiles" 2>/dev/null || problems+="config.yaml not a conffile; "
		for s in postinst prerm postrm; do [[ -x $WORK/cpack/control/$s ]] || problems+="no executable $s; "; done
		grep -q '^Depends:.*libc6' "$WORK/cpack/control/control" || problems+="no shlibdeps Depends; "
		if [[ -z $problems ]]; then
			pass "cpack -G DEB: $(basename "$deb") has the binary, unit, conffile, maintainer scripts, shlibdeps"
		else
			fail "cpack -G DEB: $problems"
		fi
	else
		fail "cmake/cpack with packaging/cpack.cmake"
		echo "$out" | tail -20 | sed 's/^/    /'
	fi
fi

((failed == 0))
