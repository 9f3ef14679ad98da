#!/usr/bin/env python3
"""Static checks of the files in packaging/, run by check_packaging.sh.

    packaging_checks.py REPO_ROOT RENDERED_KUSTOMIZE_YAML

Prints one "PASS <what>" or "FAIL <what>: <why>" line per check.
The metric contract below is the exporter's interface as documented for
packaging; a dashboard or alert that uses a name outside it is a typo or
needs the contract (and the exporter) updated first.
"""
import configparser
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_exprs  # noqa: E402

HISTOGRAMS = ["aster_http_request_duration_seconds", "aster_http_request_size_bytes",
              "aster_http_response_size_bytes"]
METRICS = set(
    ["aster_http_requests_total",
     "process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
     "process_open_fds", "process_max_fds", "process_threads", "process_start_time_seconds",
     "aster_exporter_events_total", "aster_exporter_events_lost_total", "aster_exporter_attach_mode",
     "aster_exporter_build_info",
     # Go runtime metrics (watched Go programs) and the business gauges the
     # dashboard plots (present only when metrics.gauges configures them)
     "go_goroutines", "go_threads", "go_gc_duration_seconds", "go_gc_duration_seconds_sum",
     "go_gc_duration_seconds_count", "go_memstats_heap_inuse_bytes",
     "aster_agents_total", "aster_sessions_active", "aster_workflows_running",
     # gRPC servers (go-grpc-prometheus's families, with the default prefix)
     "aster_grpc_server_started_total", "aster_grpc_server_handled_total", "aster_grpc_server_msg_received_total",
     "aster_grpc_server_msg_sent_total"]
    + [h + s for h in HISTOGRAMS + ["aster_grpc_server_handling_seconds"] for s in ("_bucket", "_sum", "_count")])
CAPS = {"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RESOURCE"}
CONFIG_KEYS = {"observability": {"enabled", "metrics"}, "web": {"listen_address"}, "targets": None,
               "capture": {"bytes"}, "bpf": {"attach_mode"}}
SERVICE_MATCHER = 'service=~"$service"'
NAMESPACE_MATCHER = 'k8s_namespace_name=~"$k8s_namespace_name"'

results = []


def check(name, ok, why=""):
    why = " ".join(str(why).split())  # one line per check
    results.append((name, ok, why))
    print(f"PASS {name}" if ok else f"FAIL {name}: {why}")
    return ok


def metric_selectors(expr):
    """(metric name, matcher text or None) for each metric in a PromQL expr."""
    out = []
    # blank out strings (same length, so spans match expr), so that label
    # values are not taken for metric names
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: '"' + " " * (len(m.group()) - 2) + '"', expr)
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(\{[^}]*\})?", bare):
        name = m.group(1)
        if name.startswith(("aster_", "process_", "go_")):
            start, end = m.span(2) if m.group(2) else (None, None)
            out.append((name, expr[start:end] if start is not None else None))
    return out


def check_k8s(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {d["kind"]: d for d in docs}
    want = {"Namespace", "ConfigMap", "Service", "DaemonSet", "ServiceMonitor"}
    check("kustomize: renders Namespace, ConfigMap, Service, DaemonSet, ServiceMonitor",
          want <= set(kinds), f"missing {sorted(want - set(kinds))}")
    ns = kinds.get("Namespace", {}).get("metadata", {}).get("name")
    check("kustomize: every namespaced object is in the aster-exporter namespace",
          all(d["metadata"].get("namespace") == ns for d in docs if d["kind"] != "Namespace"),
          f"namespace {ns!r} vs {[d['metadata'].get('namespace') for d in docs]}")
    sm = kinds.get("ServiceMonitor", {})
    check("kustomize: ServiceMonitor is monitoring.coreos.com/v1",
          sm.get("apiVersion") == "monitoring.coreos.com/v1", sm.get("apiVersion", "absent"))
    ds = kinds.get("DaemonSet")
    if not ds:
        return
    pod = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    c = pod["containers"][0]
    sc = c.get("securityContext", {})
    check("DaemonSet: hostPID", pod.get("hostPID") is True)
    check("DaemonSet: not privileged", not sc.get("privileged") and
          all(not x.get("securityContext", {}).get("privileged")
              for x in pod["containers"] + pod.get("initContainers", [])))
    caps = sc.get("capabilities", {})
    check("DaemonSet: capabilities add exactly " + ",".join(sorted(CAPS)),
          set(caps.get("add", [])) == CAPS, f"add={caps.get('add')}")
    check("DaemonSet: capabilities drop ALL", caps.get("drop") == ["ALL"], f"drop={caps.get('drop')}")
    check("DaemonSet: readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True)
    check("DaemonSet: allowPrivilegeEscalation false", sc.get("allowPrivilegeEscalation") is False)
    check("DaemonSet: runAsUser 0", sc.get("runAsUser") == 0)
    res = c.get("resources", {})
    check("DaemonSet: resources requests and limits (cpu, memory)",
          all(k in res.get(s, {}) for s in ("requests", "limits") for k in ("cpu", "memory")), str(res))
    for probe in ("livenessProbe", "readinessProbe"):
        get = c.get(probe, {}).get("httpGet", {})
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        check(f"DaemonSet: {probe} GET /metrics on the metrics port",
              get.get("path") == "/metrics" and get.get("port") in ("metrics", 8497) and
              ports.get("metrics") == 8497, str(get))
    check("DaemonSet: tolerates every taint",
          {"operator": "Exists"} in pod.get("tolerations", []), str(pod.get("tolerations")))
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = c.get("volumeMounts", [])
    host_mounts = {m["mountPath"]: m for m in mounts if "hostPath" in vols.get(m["name"], {})}
    check("DaemonSet: hostPath mounts /sys/kernel/btf and /sys/kernel/tracing",
          {"/sys/kernel/btf", "/sys/kernel/tracing"} <= set(host_mounts), str(sorted(host_mounts)))
    check("DaemonSet: every mount is read-only", all(m.get("readOnly") for m in mounts),
          str([m["mountPath"] for m in mounts if not m.get("readOnly")]))
    check("DaemonSet: no /sys/fs/bpf mount (nothing is pinned)",
          all(v.get("hostPath", {}).get("path") != "/sys/fs/bpf" for v in vols.values()))
    args = " ".join(c.get("args", []))
    cm_name = vols.get("config", {}).get("configMap", {}).get("name")
    check("DaemonSet: --config.file points into the mounted ConfigMap",
          "--config.file=/etc/aster-exporter/config.yaml" in args and
          any(m["mountPath"] == "/etc/aster-exporter" and m["name"] == "config" for m in mounts) and
          cm_name == kinds.get("ConfigMap", {}).get("metadata", {}).get("name"), f"{args} / {cm_name}")
    svc = kinds.get("Service", {})
    check("Service: selects the DaemonSet pods",
          svc and all(labels.get(k) == v for k, v in svc["spec"]["selector"].items()))
    svc_ports = [p.get("name") for p in svc.get("spec", {}).get("ports", [])]
    check("ServiceMonitor: selects the Service and scrapes its metrics port on /metrics",
          sm and all(svc["metadata"]["labels"].get(k) == v
                     for k, v in sm["spec"]["selector"]["matchLabels"].items()) and
          all(e.get("port") in svc_ports and e.get("path", "/metrics") == "/metrics"
              for e in sm["spec"]["endpoints"]))
    cm = kinds.get("ConfigMap", {}).get("data", {}).get("config.yaml")
    return cm


def check_config(name, text):
    try:
        cfg = yaml.safe_load(text)
    except yaml.YAMLError as e:
        return check(f"{name}: parses", False, str(e))
    bad = [k for k in cfg if k not in CONFIG_KEYS] + [
        f"{k}.{s}" for k, subs in CONFIG_KEYS.items() if subs and isinstance(cfg.get(k), dict)
        for s in cfg[k] if s not in subs]
    check(f"{name}: only known keys ({', '.join(CONFIG_KEYS)})", not bad, f"unknown {bad}")
    check(f"{name}: listens on :8497, metrics on /metrics, default discovery (targets empty)",
          cfg.get("web", {}).get("listen_address") == ":8497" and
          cfg.get("observability", {}).get("metrics", {}).get("endpoint") == "/metrics" and
          cfg.get("targets") in ([], None), str(cfg))
    return cfg


def check_dashboard(path):
    try:
        dash = json.load(open(path))
    except ValueError as e:
        return check("dashboard: parses as JSON", False, str(e))
    check("dashboard: parses as JSON", True)
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    svc = variables.get("service", {})
    q = svc.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    check("dashboard: has a `service` variable from label_values(aster_http_requests_total{<namespace>}, service)",
          q == 'label_values(aster_http_requests_total{%s}, service)' % NAMESPACE_MATCHER, f"query={q!r}")
    ns = variables.get("k8s_namespace_name", {})
    nq = ns.get("query")
    nq = nq.get("query") if isinstance(nq, dict) else nq
    names = [v["name"] for v in dash.get("templating", {}).get("list", [])]
    check("dashboard: a `k8s_namespace_name` variable before `service`, whose All (.*) keeps host processes",
          nq == "label_values(aster_http_requests_total, k8s_namespace_name)" and ns.get("allValue") == ".*"
          and names.index("k8s_namespace_name") < names.index("service"), f"query={nq!r} order={names}")
    check("dashboard: `All` of $service excludes the exporter's own series (allValue .+)",
          not svc.get("includeAll") or svc.get("allValue") == ".+", f"allValue={svc.get('allValue')!r}")
    panels = dash.get("panels", [])
    rows = [p["title"] for p in panels if p.get("type") == "row"]
    check("dashboard: rows HTTP performance, gRPC, Business metrics, System resources",
          rows == ["HTTP performance", "gRPC", "Business metrics", "System resources"], str(rows))
    leaves = [p for p in panels if p.get("type") != "row"] + [
        c for p in panels if p.get("type") == "row" for c in p.get("panels", [])]
    no_targets = [p.get("title") for p in leaves if not [t for t in p.get("targets", []) if t.get("expr")]]
    check("dashboard: every panel has PromQL targets", not no_targets, f"without: {no_targets}")
    ids = [p.get("id") for p in panels] + [
        c.get("id") for p in panels if p.get("type") == "row" for c in p.get("panels", [])]
    check("dashboard: panel ids unique", len(ids) == len(set(ids)), str(ids))
    wrong = []
    for ident, expr in promql_exprs.dashboard_exprs(path):
        sels = metric_selectors(expr)
        if not sels:
            wrong.append(f"{ident}: no metric")
        for name, matchers in sels:
            if name not in METRICS:
                wrong.append(f"{ident}: unknown metric {name}")
            if not matchers or SERVICE_MATCHER not in matchers or NAMESPACE_MATCHER not in matchers:
                wrong.append(f"{ident}: {name} without {SERVICE_MATCHER} and {NAMESPACE_MATCHER}")
    check(f"dashboard: every selector uses a known metric, {SERVICE_MATCHER} and {NAMESPACE_MATCHER}",
          not wrong, "; ".join(wrong))


def check_alerts(path):
    rules = promql_exprs.alert_rules(path)
    names = [r["alert"] for r in rules]
    check("alerts: AsterHighErrorRate, AsterHighLatencyP99, AsterHighMemory",
          names == ["AsterHighErrorRate", "AsterHighLatencyP99", "AsterHighMemory"], str(names))
    for r in rules:
        expr = r["expr"]
        problems = []
        if "by (service" not in expr:
            problems.append("not aggregated by (service)")
        if not r.get("for"):
            problems.append("no for:")
        if r.get("labels", {}).get("severity") not in ("warning", "critical"):
            problems.append("severity not warning|critical")
        if not {"summary", "description"} <= set(r.get("annotations", {})):
            problems.append("summary/description missing")
        if not promql_exprs.COMPARISON.match(expr.strip()):
            problems.append("does not end in '<comparison> <number>'")
        problems += [f"unknown metric {n}" for n, _ in metric_selectors(expr) if n not in METRICS]
        check(f"alert {r['alert']}: per service, for:, severity, annotations, known metrics",
              not problems, "; ".join(problems))


def check_compose(root):
    path = os.path.join(root, "packaging/compose/compose.yaml")
    base = os.path.dirname(path)
    try:
        c = yaml.safe_load(open(path))
    except yaml.YAMLError as e:
        return check("compose: parses as YAML", False, str(e))
    s = c.get("services", {})
    check("compose: parses, services exporter, prometheus, grafana",
          {"exporter", "prometheus", "grafana"} <= set(s), str(list(s)))
    ex = s.get("exporter", {})
    check("compose: exporter privileged with pid: host",
          ex.get("privileged") is True and ex.get("pid") == "host")
    missing = []
    for name, svc in s.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                if not os.path.exists(os.path.normpath(os.path.join(base, src))):
                    missing.append(f"{name}: {src}")
    build = ex.get("build", {})
    if not os.path.exists(os.path.join(base, build.get("context", "."), build.get("dockerfile", "Dockerfile"))):
        missing.append("exporter: build dockerfile")
    check("compose: every relative bind mount and the Dockerfile exist", not missing, str(missing))
    prov = yaml.safe_load(open(os.path.join(root, "packaging/grafana/provisioning/dashboards/aster.yaml")))
    dash_dir = prov["providers"][0]["options"]["path"]
    graf_targets = [v.split(":")[1] for v in s.get("grafana", {}).get("volumes", [])]
    check("compose: dashboard mounted where the provisioning provider looks",
          any(t.startswith(dash_dir + "/") and t.endswith(".json") for t in graf_targets),
          f"{dash_dir} vs {graf_targets}")
    ds = yaml.safe_load(open(os.path.join(root, "packaging/grafana/provisioning/datasources/prometheus.yaml")))
    check("grafana provisioning: one default Prometheus data source",
          [d["type"] for d in ds["datasources"]] == ["prometheus"] and ds["datasources"][0].get("isDefault"))


def check_systemd(root):
    path = os.path.join(root, "packaging/systemd/aster-exporter.service")
    p = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    p.optionxform = str
    p.read(path)
    svc = p["Service"]
    check("systemd: ExecStart and Restart=on-failure",
          svc.get("ExecStart") == "/usr/bin/aster-exporter --config.file=/etc/aster-exporter/config.yaml"
          and svc.get("Restart") == "on-failure", svc.get("ExecStart", ""))
    want = {"CAP_" + c for c in CAPS}
    for key in ("CapabilityBoundingSet", "AmbientCapabilities"):
        check(f"systemd: {key} is exactly the DaemonSet's capabilities",
              set(svc.get(key, "").split()) == want, svc.get(key, ""))
    hard = {"ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
            "SystemCallArchitectures": "native", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
            "ProtectKernelModules": "yes"}
    check("systemd: hardening directives", all(svc.get(k) == v for k, v in hard.items()) and
          set(svc.get("RestrictAddressFamilies", "").split()) == {"AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}
          and svc.get("ProtectHome") in ("yes", "read-only"),
          str({k: svc.get(k) for k in hard}))


def check_dockerfile(root):
    text = open(os.path.join(root, "packaging/container/Dockerfile")).read()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    check("Dockerfile: build from debian:bookworm, run on debian:bookworm-slim",
          froms == ["debian:bookworm", "debian:bookworm-slim"], str(froms))
    check("Dockerfile: builds build/aster-exporter with the release CMake command",
          "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release" in text and "cmake --build build -j" in text
          and "/src/build/aster-exporter" in text)
    build_deps = "cmake g++ clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev prometheus-cpp-dev libyaml-cpp-dev libdw-dev".split()
    runtime = "libbpf1 libelf1 libprometheus-cpp-pull1.0 libprometheus-cpp-core1.0 libyaml-cpp0.7 libdw1 zlib1g".split()
    stages = re.split(r"^FROM\s", text, flags=re.M)
    check("Dockerfile: build stage installs the build dependencies",
          all(re.search(rf"\s{re.escape(d)}(\s|$)", stages[1]) for d in build_deps),
          str([d for d in build_deps if not re.search(rf"\s{re.escape(d)}(\s|$)", stages[1])]))
    check("Dockerfile: runtime stage installs the runtime libraries",
          all(re.search(rf"\s{re.escape(d)}(\s|$)", stages[2]) for d in runtime),
          str([d for d in runtime if not re.search(rf"\s{re.escape(d)}(\s|$)", stages[2])]))


def main():
    root, rendered = sys.argv[1], sys.argv[2]
    cm = check_k8s(rendered) if os.path.getsize(rendered) else None
    sysd = check_config("systemd/config.yaml", open(os.path.join(root, "packaging/systemd/config.yaml")).read())
    if cm is not None:
        k8s = check_config("kubernetes ConfigMap config.yaml", cm)
        check("kubernetes ConfigMap config.yaml has the same settings as systemd/config.yaml", k8s == sysd)
    check_dashboard(os.path.join(root, "packaging/grafana/aster-dashboard.json"))
    check_alerts(os.path.join(root, "packaging/prometheus/alerts.yml"))
    check_compose(root)
    check_systemd(root)
    check_dockerfile(root)


if __name__ == "__main__":
    main()
