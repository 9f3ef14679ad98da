#!/usr/bin/env python3
"""PromQL expressions shipped in packaging/: the dashboard's panel targets and
the alert rules. Shared by check_packaging.sh (static checks) and
prometheus_e2e.sh (evaluation against a real Prometheus).

Subcommands:
  prom-config SHIPPED_YML ALERTS_YML TARGET OUT_YML
      write a test Prometheus config derived from the shipped one: job
      aster-exporter scrapes TARGET every 1s, rules evaluated every 1s.
  servicemonitor-config SERVICEMONITOR SERVICE_YML ALERTS_YML TARGET OUT_YML
      write a Prometheus config whose one job is the scrape job that
      prometheus-operator generates for the shipped ServiceMonitor: its
      honor_labels, its target relabelling (namespace, service, pod,
      container, endpoint, job) and the ServiceMonitor's own relabelings,
      with the endpoints role's discovery replaced by a static target that
      carries the __meta_kubernetes_* labels the exporter's pod would have.
  query PROM_URL SERVICE RATE_INTERVAL DASHBOARD ALERTS EXPECTED_EMPTY
      evaluate every expression through /api/v1/query; print one
      "PASS|FAIL|NOTE <id>: <detail>" line per check.
"""
import json
import re
import sys
import urllib.parse
import urllib.request

import yaml

COMPARISON = re.compile(r"^(?P<lhs>.*\S)\s*(>=|<=|==|!=|>|<)\s*(bool\s+)?[-+]?[0-9.]+(e[-+]?[0-9]+)?\s*$",
                        re.DOTALL | re.IGNORECASE)


def dashboard_exprs(path):
    """(id, expr) for every target of every panel, rows' nested panels included."""
    dash = json.load(open(path))
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                if "expr" in t:
                    out.append((f"dashboard:{p.get('title')}:{t.get('refId')}", t["expr"]))
    walk(dash.get("panels", []))
    return out


def alert_rules(path):
    rules = []
    for g in yaml.safe_load(open(path))["groups"]:
        rules += [r for r in g["rules"] if "alert" in r]
    return rules


def alert_exprs(path):
    """(id, expr): the full alert expression, and its left-hand side, which
    returns data even when nothing fires."""
    out = []
    for r in alert_rules(path):
        expr = r["expr"].strip()
        out.append((f"alert:{r['alert']}", expr))
        m = COMPARISON.match(expr)
        out.append((f"alert-lhs:{r['alert']}", m.group("lhs") if m else None))
    return out


def promql_regex_quote(s):
    """Quote a literal for a PromQL "..." regex matcher (RE2 inside a Go string)."""
    return "".join("\\\\" + c if c in ".+*?()|[]{}^$\\" else c for c in s).replace('"', '\\"')


def substitute(expr, service, rate_interval):
    """`service` may name several services separated by "|": like Grafana
    with a multi-value variable, each is quoted and the values are joined."""
    value = "|".join(promql_regex_quote(v) for v in service.split("|"))
    # $k8s_namespace_name as Grafana's "All" (".*", which also matches
    # series without the label: processes outside Kubernetes).
    return (expr.replace("${k8s_namespace_name}", ".*")
                .replace("$k8s_namespace_name", ".*")
                .replace("$__rate_interval", rate_interval)
                .replace("$__interval", rate_interval)
                .replace("${service}", value)
                .replace("$service", value))


def load_expected_empty(path):
    """Lines '<python regex>  # <reason>', matched against an expression's id
    or its text. Returns ([(regex, reason)], [errors])."""
    entries, errors = [], []
    for n, line in enumerate(open(path), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, sep, reason = line.partition(" # ")
        if not sep or not reason.strip():
            errors.append(f"{path}:{n}: no ' # reason' after the pattern")
            continue
        try:
            entries.append((re.compile(pattern.strip()), reason.strip()))
        except re.error as e:
            errors.append(f"{path}:{n}: bad regex: {e}")
    return entries, errors


def prom_config(shipped, alerts, target, out):
    cfg = yaml.safe_load(open(shipped))
    jobs = [j for j in cfg.get("scrape_configs", []) if j.get("job_name") == "aster-exporter"]
    if len(jobs) != 1:
        sys.exit(f"{shipped}: expected one scrape job named aster-exporter, found {len(jobs)}")
    cfg.setdefault("global", {}).update(scrape_interval="1s", evaluation_interval="1s")
    jobs[0]["scrape_interval"] = "1s"
    jobs[0]["static_configs"] = [{"targets": [target]}]
    cfg["rule_files"] = [alerts]
    yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)


def servicemonitor_config(monitor_path, service_path, alerts, target, out):
    """The scrape job prometheus-operator renders for a ServiceMonitor endpoint
    (pkg/prometheus/promcfg.go: generateServiceMonitorConfig, as of v0.6x),
    fed by a static target instead of kubernetes_sd_configs (role: endpoints).
    What matters for us is honor_labels: without it the operator's target
    label `service` (the exporter's own Kubernetes Service) wins over the
    exporter's `service` label, which Prometheus renames exported_service."""
    monitor = yaml.safe_load(open(monitor_path))
    svc = yaml.safe_load(open(service_path))
    ns = monitor["metadata"]["namespace"]
    spec = monitor["spec"]
    endpoints = spec["endpoints"]
    if len(endpoints) != 1:
        sys.exit(f"{monitor_path}: expected one endpoint, found {len(endpoints)}")
    ep = endpoints[0]
    port = next(p for p in svc["spec"]["ports"] if p["name"] == ep["port"])
    pod = "aster-exporter-x7k2q"
    meta = {
        "__meta_kubernetes_namespace": svc["metadata"]["namespace"],
        "__meta_kubernetes_service_name": svc["metadata"]["name"],
        "__meta_kubernetes_endpoint_port_name": port["name"],
        "__meta_kubernetes_endpoint_address_target_kind": "Pod",
        "__meta_kubernetes_endpoint_address_target_name": pod,
        "__meta_kubernetes_pod_name": pod,
        "__meta_kubernetes_pod_container_name": "aster-exporter",
        "__meta_kubernetes_pod_node_name": "node-1",
        "__meta_kubernetes_pod_phase": "Running",
    }
    relabel = [{"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}]
    for k, v in spec["selector"].get("matchLabels", {}).items():
        meta[f"__meta_kubernetes_service_label_{sanitize(k)}"] = svc["metadata"]["labels"].get(k, "")
        meta[f"__meta_kubernetes_service_labelpresent_{sanitize(k)}"] = \
            "true" if k in svc["metadata"]["labels"] else "false"
        relabel.append({"action": "keep",
                        "source_labels": [f"__meta_kubernetes_service_label_{sanitize(k)}",
                                          f"__meta_kubernetes_service_labelpresent_{sanitize(k)}"],
                        "regex": f"({v});true"})
    relabel += [
        {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": ep["port"]},
        {"source_labels": ["__meta_kubernetes_endpoint_address_target_kind",
                           "__meta_kubernetes_endpoint_address_target_name"],
         "separator": ";", "regex": "Node;(.*)", "replacement": "${1}", "target_label": "node"},
        {"source_labels": ["__meta_kubernetes_endpoint_address_target_kind",
                           "__meta_kubernetes_endpoint_address_target_name"],
         "separator": ";", "regex": "Pod;(.*)", "replacement": "${1}", "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"},
        {"target_label": "endpoint", "replacement": ep["port"]},
    ]
    for r in ep.get("relabelings", []):
        relabel.append({camel_to_snake(k): v for k, v in r.items()})
    job = {
        "job_name": f"serviceMonitor/{ns}/{monitor['metadata']['name']}/0",
        "honor_labels": bool(ep.get("honorLabels", False)),
        "honor_timestamps": True,
        "scrape_interval": "1s",
        "metrics_path": ep.get("path", "/metrics"),
        "scheme": ep.get("scheme", "http"),
        "static_configs": [{"targets": [target], "labels": meta}],
        "relabel_configs": relabel,
    }
    cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
           "rule_files": [alerts], "scrape_configs": [job]}
    yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)


def sanitize(name):
    """Kubernetes SD's label-name sanitising (strutil.SanitizeLabelName)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def camel_to_snake(key):
    """ServiceMonitor relabelings use the CRD's camelCase keys."""
    return {"sourceLabels": "source_labels", "targetLabel": "target_label"}.get(
        key, re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key))


def query(url, expr):
    data = urllib.parse.urlencode({"query": expr}).encode()
    try:
        with urllib.request.urlopen(url + "/api/v1/query", data, timeout=30) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400 on a parse error, with a JSON body
        return json.load(e)


def run_queries(url, service, rate_interval, dashboard, alerts, expected_empty_path):
    entries, errors = load_expected_empty(expected_empty_path)
    for e in errors:
        print(f"FAIL expected_empty.txt: {e}")
    used = set()
    for ident, expr in dashboard_exprs(dashboard) + alert_exprs(alerts):
        if expr is None:
            print(f"FAIL {ident}: the alert expression does not end in '<comparison> <number>'")
            continue
        q = substitute(expr, service, rate_interval)
        if "$" in q:
            print(f"FAIL {ident}: unknown Grafana variable left in {q!r}")
            continue
        res = query(url, q)
        if res.get("status") != "success":
            print(f"FAIL {ident}: {res.get('errorType')}: {res.get('error')} in {q!r}")
            continue
        n = len(res["data"]["result"]) if isinstance(res["data"]["result"], list) else 1
        allowed = [(p, why) for p, why in entries if p.search(ident) or p.search(expr)]
        used.update(p.pattern for p, _ in allowed)
        if n:
            print(f"PASS {ident}: {n} series")
            if allowed:
                print(f"NOTE {ident}: returns data now although expected_empty.txt allows empty "
                      f"({allowed[0][1]}); remove the entry once that is for good")
        elif allowed:
            print(f"PASS {ident}: empty, as expected ({allowed[0][1]})")
        else:
            print(f"FAIL {ident}: no data for {q!r} (add it to expected_empty.txt with a reason "
                  f"if that is legitimate)")
    for p, why in entries:
        if p.pattern not in used:
            print(f"NOTE expected_empty.txt: '{p.pattern}' ({why}) matches no expression; stale?")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "prom-config":
        prom_config(*args)
    elif cmd == "servicemonitor-config":
        servicemonitor_config(*args)
    elif cmd == "query":
        run_queries(*args)
    else:
        sys.exit(f"unknown subcommand {cmd}")
