#!/usr/bin/env bash
# prometheus_e2e.sh — aster-exporter scraped by a real Prometheus, with the
# shipped dashboard and alert expressions evaluated against what it collected.
#
# Usage:  tests/e2e/prometheus_e2e.sh [EXPORTER]     (run as root)
#   EXPORTER  the exporter to test; default build/aster-exporter (relative to
#             the current directory, else to the repository root). The script
#             runs exactly this file and never falls back to anything else.
#
# What it does:
#   1. starts a real HTTP server (python3 -m http.server on a free port), and
#      where go is installed a Go HTTP server and a grpc-go server whose
#      client runs every 2 s during the traffic (the gRPC panels' data),
#   2. starts EXPORTER --target.port=<that port> --web.listen-address=127.0.0.1:<free port>,
#   3. starts prometheus with the scrape job prometheus-operator renders for
#      packaging/kubernetes/servicemonitor.yaml (its honor_labels and target
#      labels; a static target in place of Kubernetes discovery) scraping that
#      exporter every 1s (rules from packaging/prometheus/alerts.yml,
#      evaluated every 1s, storage in a temp dir); the shipped
#      packaging/prometheus/prometheus.yml is checked with promtool,
#   4. sends E2E_TRAFFIC_SECONDS of curl traffic: 200s, 404s and ~2% 501s,
#   5. waits for >= 5 scrapes, then checks: the target is up, the alert rules
#      load and evaluate without error, the service saw 2xx/4xx/5xx, the
#      counted requests match what was sent (real exporter only), every
#      dashboard and alert expression (see promql_exprs.py) parses and returns
#      data unless tests/e2e/expected_empty.txt says why it may be empty, and
#      a scrape of /metrics passes `promtool check metrics` without complaint.
# Prints PASS/FAIL lines and "N passed, N failed" last; exits 1 on any failure.
#
# Assumptions: Linux, root (the exporter loads BPF), prometheus, promtool,
# curl and python3 with PyYAML on PATH, loopback only (no network access).
# The exporter names the watched service itself; the script takes the
# service(s) it finds in aster_http_requests_total (or E2E_SERVICE if set).
#
# Environment:
#   E2E_TRAFFIC_SECONDS  traffic duration (default 60)
#   E2E_RATE_INTERVAL    value for $__rate_interval / $__interval (default 30s)
#   E2E_SERVICE          service label to use for $service (default: discovered)
#   E2E_CAPS_ONLY=1      run the exporter with only the capabilities the
#                        DaemonSet and the systemd unit grant (BPF, PERFMON,
#                        SYS_PTRACE, DAC_READ_SEARCH, SYS_RESOURCE; via setpriv),
#                        which checks that this list is enough
#   E2E_KEEP=1           keep the temp dir (logs, Prometheus data) for debugging
# shellcheck disable=SC2001 # sed indents multi-line output
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E="$REPO/tests/e2e"
SHIPPED_PROM="$REPO/packaging/prometheus/prometheus.yml"
SERVICE_MONITOR="$REPO/packaging/kubernetes/servicemonitor.yaml"
K8S_SERVICE="$REPO/packaging/kubernetes/service.yaml"
ALERTS="$REPO/packaging/prometheus/alerts.yml"
DASHBOARD="$REPO/packaging/grafana/aster-dashboard.json"
EXPECTED_EMPTY="$E2E/expected_empty.txt"
TRAFFIC_SECONDS=${E2E_TRAFFIC_SECONDS:-60}
RATE_INTERVAL=${E2E_RATE_INTERVAL:-30s}

passed=0
failed=0
pids=()
WORK=$(mktemp -d /tmp/aster-e2e.XXXXXX)

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
note() { echo "NOTE: $*"; }

cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [[ ${E2E_KEEP:-0} == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
	echo "$passed passed, $failed failed"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fatal: a failure after which nothing else can be checked.
fatal() {
	fail "$*"
	exit 1
}

show_log() {
	echo "---- last lines of $1 ----"
	tail -n 30 "$1" 2>/dev/null | sed 's/^/    /'
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until SECONDS CMD...: poll CMD every 0.2s until it succeeds; give up
# early if the process $watch_pid (when set) has exited.
watch_pid=
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		if [[ -n $watch_pid ]] && ! kill -0 "$watch_pid" 2>/dev/null; then return 1; fi
		sleep 0.2
	done
}

# prom_value EXPR: first sample's value of an instant query, empty if none.
prom_value() {
	curl -sf --data-urlencode "query=$1" "$PROM/api/v1/query" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}

# ---- preconditions -----------------------------------------------------
for tool in prometheus promtool curl python3; do
	command -v "$tool" >/dev/null || fatal "$tool not found: apt-get install ${tool/promtool/prometheus}"
done
python3 -c 'import yaml' 2>/dev/null || fatal "python3 has no yaml module: apt-get install python3-yaml"

EXPORTER=${1:-build/aster-exporter}
if [[ $EXPORTER != /* && ! -e $EXPORTER && -e $REPO/$EXPORTER ]]; then
	EXPORTER=$REPO/$EXPORTER
fi
[[ -x $EXPORTER ]] || fatal "exporter '$EXPORTER' is not an executable file: build it (cmake -S . -B build && cmake --build build) or pass its path as \$1"
EXPORTER=$(cd "$(dirname "$EXPORTER")" && pwd)/$(basename "$EXPORTER")
echo "exporter under test: $EXPORTER"
[[ $EUID -eq 0 ]] || fatal "run as root: the exporter loads BPF programs"

# ---- 1. the HTTP server the exporter watches ---------------------------
HTTP_PORT=$(free_port)
mkdir -p "$WORK/www"
head -c 3000 /dev/zero | tr '\0' 'a' >"$WORK/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$HTTP_PORT" >"$WORK/http.log" 2>&1 &
pids+=($!)
wait_until 15 curl -sf "http://127.0.0.1:$HTTP_PORT/" || { show_log "$WORK/http.log"; fatal "HTTP server did not start on port $HTTP_PORT"; }
pass "HTTP server (python3 -m http.server) listening on 127.0.0.1:$HTTP_PORT"

# A Go server too (the integration tests' goserver), so that the dashboard's
# Go runtime panels (go_goroutines, go_threads, go_gc_duration_seconds,
# go_memstats_heap_inuse_bytes) are
# evaluated against real data. Needs golang-go (scripts/install-deps.sh).
GO_PORT=
if command -v go >/dev/null; then
	GO_PORT=$(free_port)
	# Every file of the package by name (GOPATH mode builds no package
	# from an absolute directory; main.go alone misses its handlers).
	GOCACHE="$WORK/gocache" GO111MODULE=off go build -o "$WORK/goserver" "$REPO"/tests/integration/servers/goserver/*.go ||
		fatal "cannot build the Go test server"
	"$WORK/goserver" "$GO_PORT" "$WORK/gostats" >"$WORK/goserver.log" 2>&1 &
	pids+=($!)
	wait_until 15 curl -sf "http://127.0.0.1:$GO_PORT/hello" || fatal "Go server did not start on port $GO_PORT"
	pass "Go HTTP server listening on 127.0.0.1:$GO_PORT"
fi

# And a gRPC server (the integration tests' grpcserver on Debian's grpc-go),
# so that the dashboard's gRPC panels (aster_grpc_server_*) are evaluated
# against real calls: its client plan answers OK and every error code.
# Needs golang-google-grpc-dev (scripts/install-deps.sh).
GRPC_PORT=
if command -v go >/dev/null && [[ -d /usr/share/gocode/src/google.golang.org/grpc ]]; then
	GRPC_PORT=$(free_port)
	GOCACHE="$WORK/gocache" GO111MODULE=off GOPATH="$WORK/gopath:/usr/share/gocode" \
		go build -o "$WORK/grpcserver" "$REPO/tests/integration/servers/grpcserver/main.go" ||
		fatal "cannot build the gRPC test server"
	"$WORK/grpcserver" serve "$GRPC_PORT" "$WORK/grpcstats.json" >"$WORK/grpcserver.log" 2>&1 &
	pids+=($!)
	wait_until 15 bash -c "exec 3<>/dev/tcp/127.0.0.1/$GRPC_PORT" || fatal "gRPC server did not start on port $GRPC_PORT"
	pass "gRPC server (grpc-go) listening on 127.0.0.1:$GRPC_PORT"
else
	note "no go or golang-google-grpc-dev: the dashboard's gRPC panels are evaluated without a gRPC server"
fi

# ---- 2. the exporter ---------------------------------------------------
EXP_PORT=$(free_port)
EXP="http://127.0.0.1:$EXP_PORT"
wrapper=()
if [[ ${E2E_CAPS_ONLY:-0} == 1 ]]; then
	command -v setpriv >/dev/null || fatal "E2E_CAPS_ONLY=1 needs setpriv (util-linux)"
	wrapper=(setpriv "--bounding-set=-all,+bpf,+perfmon,+sys_ptrace,+dac_read_search,+sys_resource" --inh-caps=-all --)
fi
"${wrapper[@]}" "$EXPORTER" --target.port="$HTTP_PORT${GO_PORT:+,$GO_PORT}${GRPC_PORT:+,$GRPC_PORT}" --web.listen-address="127.0.0.1:$EXP_PORT" >"$WORK/exporter.log" 2>&1 &
exporter_pid=$!
pids+=("$exporter_pid")
watch_pid=$exporter_pid
if ! wait_until 30 curl -sf "$EXP/metrics"; then
	kill -0 "$exporter_pid" 2>/dev/null || note "the exporter exited: $(wait "$exporter_pid"; echo "status $?")"
	show_log "$WORK/exporter.log"
	fatal "exporter did not serve $EXP/metrics within 30s"
fi
watch_pid=
pass "exporter serves $EXP/metrics"
if [[ ${E2E_CAPS_ONLY:-0} == 1 ]]; then
	capeff=$(awk '/^CapEff/ {print $2}' "/proc/$exporter_pid/status")
	note "exporter effective capabilities: $(capsh --decode="$capeff" 2>/dev/null || echo "$capeff")"
fi

# ---- 3. Prometheus -----------------------------------------------------
PROM_PORT=$(free_port)
PROM="http://127.0.0.1:$PROM_PORT"
python3 "$E2E/promql_exprs.py" prom-config "$SHIPPED_PROM" "$ALERTS" "127.0.0.1:$EXP_PORT" "$WORK/prometheus-host.yml" ||
	fatal "cannot derive a test config from $SHIPPED_PROM"
if out=$(promtool check config "$WORK/prometheus-host.yml" 2>&1); then
	pass "config derived from $SHIPPED_PROM passes promtool check config"
else
	echo "$out"
	fail "config derived from $SHIPPED_PROM is invalid"
fi
# The scrape that runs is the one prometheus-operator renders for the shipped
# ServiceMonitor (its target labels service/namespace/pod/container/endpoint
# and honor_labels), so that the dashboards and alerts are checked against
# the labels kube-prometheus users get (issue 20: without honorLabels every
# `service` became `exported_service`).
python3 "$E2E/promql_exprs.py" servicemonitor-config "$SERVICE_MONITOR" "$K8S_SERVICE" "$ALERTS" \
	"127.0.0.1:$EXP_PORT" "$WORK/prometheus.yml" || fatal "cannot render a scrape config from $SERVICE_MONITOR"
if out=$(promtool check config "$WORK/prometheus.yml" 2>&1); then
	pass "config rendered from the ServiceMonitor passes promtool check config"
else
	echo "$out"
	fatal "config rendered from the ServiceMonitor is invalid"
fi
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
pids+=($!)
wait_until 30 curl -sf "$PROM/-/ready" || { show_log "$WORK/prometheus.log"; fatal "prometheus not ready on $PROM"; }
pass "prometheus ready on $PROM"

# ---- 4. traffic --------------------------------------------------------
# Per round: 1 GET / (200); every 4th round a GET of a missing path (404);
# every 50th round a POST (python's http.server answers 501), i.e. ~1.6 % 5xx,
# under the 5 % of AsterHighErrorRate so that its full expression stays empty.
declare -A sent=([2xx]=0 [4xx]=0 [5xx]=0)
request() { # request CLASS CURL-ARGS...
	local class=$1 code
	shift
	code=$(curl -s -o /dev/null -w '%{http_code}' "$@")
	[[ ${code:0:1}xx == "$class" ]] || {
		fail "request $* returned $code, expected $class"
		return
	}
	sent[$class]=$((sent[$class] + 1))
}
echo "sending traffic for ${TRAFFIC_SECONDS}s..."
end=$((SECONDS + TRAFFIC_SECONDS))
if [[ -n $GRPC_PORT ]]; then
	# The client's plan (one connection, every code, streams) every 2 s.
	(while ((SECONDS < end)); do
		"$WORK/grpcserver" client "127.0.0.1:$GRPC_PORT" >>"$WORK/grpcclient.log" 2>&1 || echo "client failed" >>"$WORK/grpcclient.log"
		sleep 2
	done) &
	grpc_client=$!
fi
round=0
while ((SECONDS < end)); do
	round=$((round + 1))
	request 2xx "http://127.0.0.1:$HTTP_PORT/"
	((round % 4 == 0)) && request 4xx "http://127.0.0.1:$HTTP_PORT/missing/$round"
	((round % 50 == 0)) && request 5xx -X POST --data-binary "@$WORK/www/index.html" "http://127.0.0.1:$HTTP_PORT/upload"
	sleep 0.02
done
echo "sent: 2xx=${sent[2xx]} 4xx=${sent[4xx]} 5xx=${sent[5xx]}"
if [[ -n $GRPC_PORT ]]; then
	wait "$grpc_client"
	if grep -q "client failed" "$WORK/grpcclient.log"; then
		show_log "$WORK/grpcclient.log"
		fail "the gRPC client failed"
	fi
fi
((sent[5xx] > 0)) || note "traffic too short for a 5xx request (E2E_TRAFFIC_SECONDS=$TRAFFIC_SECONDS)"

# ---- 5. checks ---------------------------------------------------------
scrapes() { [[ $(prom_value 'count_over_time(up{job="aster-exporter"}[1h])') -ge 5 ]] 2>/dev/null; }
if wait_until 60 scrapes; then
	pass "prometheus scraped the exporter >= 5 times ($(prom_value 'count_over_time(up{job="aster-exporter"}[1h])'))"
else
	show_log "$WORK/prometheus.log"
	fatal "prometheus did not scrape the exporter 5 times within 60s"
fi
# Let the last requests reach a scrape.
sleep 3
if [[ $(prom_value 'min_over_time(up{job="aster-exporter"}[1h])') == 1 ]]; then
	pass "target up in every scrape"
else
	fail "target was down in some scrape: see $PROM/targets"
fi

rules_ok() {
	curl -sf "$PROM/api/v1/rules?type=alert" | python3 -c '
import json, sys, yaml
want = sum(1 for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r)
rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
bad = ["%s: %s" % (r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
print("\n".join(bad))
sys.exit(0 if len(rules) == want and not bad else 1)' "$ALERTS"
}
if wait_until 15 rules_ok; then
	pass "prometheus loaded the alert rules of alerts.yml and evaluates them without error"
else
	rules_ok
	fail "alert rules missing or failing in prometheus (see $PROM/api/v1/rules)"
fi

if [[ -n ${E2E_SERVICE:-} ]]; then
	services=$E2E_SERVICE
else
	services=$(curl -sf --data-urlencode 'query=sum by (service) (aster_http_requests_total)' "$PROM/api/v1/query" |
		python3 -c 'import json,sys; print(" ".join(sorted(r["metric"].get("service", "") for r in json.load(sys.stdin)["data"]["result"])))')
fi
# The HTTP server's service: the one the counts below are checked for (the
# Go and gRPC servers get their own traffic).
service=
for s in $services; do
	[[ $s == goserver || $s == grpcserver ]] || { service=$s; break; }
done
if [[ -z $service ]]; then
	show_log "$WORK/exporter.log"
	fatal "no aster_http_requests_total series with a service label: the exporter saw none of the traffic to port $HTTP_PORT"
fi
pass "exporter reports HTTP requests for service(s): $services (using '$service')"

for class in 2xx 4xx 5xx; do
	got=$(prom_value "sum(aster_http_requests_total{service=\"$service\",status=\"$class\"})")
	if [[ -z $got ]]; then
		if ((sent[$class] == 0)); then note "no $class sent, none counted"; else fail "no $class requests counted for $service (sent ${sent[$class]})"; fi
	# Every answered request is counted once: exactly what curl was answered.
	elif python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) == int(sys.argv[2]) else 1)" "$got" "${sent[$class]}"; then
		pass "$class requests counted: $got of ${sent[$class]} sent"
	else
		fail "$class requests counted: $got, but ${sent[$class]} were sent"
	fi
done

# honor_labels: the exporter's `service` is what Prometheus stores; the
# operator's target labels stay on every other label name.
renamed=$(prom_value 'count(aster_http_requests_total{exported_service!=""})')
if [[ -z $renamed ]]; then
	pass "no exported_service: the exporter's service label survives the ServiceMonitor's target labels"
else
	fail "$renamed series carry exported_service: the ServiceMonitor's target label 'service' won (honorLabels not set?)"
fi
target_labels=$(prom_value 'count(aster_http_requests_total{namespace="aster-exporter",endpoint="metrics",pod!="",container="aster-exporter",node!="",job="aster-exporter"})')
if [[ -n $target_labels && $target_labels -gt 0 ]]; then
	pass "the operator's target labels (namespace, pod, container, endpoint, node, job) are on the series"
else
	fail "the operator's target labels are missing from aster_http_requests_total"
fi
if [[ $service == aster-exporter ]]; then
	fail "service=\"aster-exporter\" is the exporter's Kubernetes Service, not the watched server"
fi

# The dashboard's $service matches with =~: cover the Go and gRPC servers too.
dash_service=$service
if [[ -n $GO_PORT && -z ${E2E_SERVICE:-} ]]; then dash_service="$dash_service|goserver"; fi
if [[ -n $GRPC_PORT && -z ${E2E_SERVICE:-} ]]; then dash_service="$dash_service|grpcserver"; fi
while read -r verdict rest; do
	case $verdict in
	PASS) pass "$rest" ;;
	FAIL) fail "$rest" ;;
	*) note "$rest" ;;
	esac
done < <(python3 "$E2E/promql_exprs.py" query "$PROM" "$dash_service" "$RATE_INTERVAL" "$DASHBOARD" "$ALERTS" "$EXPECTED_EMPTY" ||
	echo "FAIL promql_exprs.py query crashed")

curl -sf "$EXP/metrics" >"$WORK/metrics.txt" || fail "cannot scrape $EXP/metrics"
if lint=$(promtool check metrics <"$WORK/metrics.txt" 2>&1) && [[ -z $lint ]]; then
	pass "promtool check metrics: no complaint ($(grep -vc '^#' "$WORK/metrics.txt") samples)"
else
	fail "promtool check metrics complains:"
	echo "$lint" | sed 's/^/    /'
fi

((failed == 0))
