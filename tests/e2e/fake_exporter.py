#!/usr/bin/env python3
"""Stand-in for aster-exporter, to test prometheus_e2e.sh before (or without)
the real binary:   tests/e2e/prometheus_e2e.sh tests/e2e/fake_exporter.py

It takes the exporter's flags (--web.listen-address, --web.telemetry-path;
the others are accepted and ignored), observes nothing, and serves a made-up
/metrics with the series the real exporter exports today, for one service
named "python-http". Counters grow with every scrape so that rate() and
histogram_quantile() return numbers. Series that are planned but not yet
exported (go_* runtime metrics, business gauges) are deliberately absent, as
they are from the real binary; see expected_empty.txt.
"""
import argparse
import http.server
import os
import resource
import threading
import time

SERVICE = "python-http"
START = time.time()
# (method, path, status class, seconds per request, requests per scrape):
# about 1 % 5xx, below the 5 % of the AsterHighErrorRate alert.
ROUTES = [("GET", "/", "2xx", 0.004, 100), ("GET", "/missing/:id", "4xx", 0.002, 25),
          ("POST", "/upload", "5xx", 0.003, 1)]
DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
SIZE_BUCKETS = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576]

lock = threading.Lock()
scrapes = 0


def histogram(lines, name, labels, value, buckets, count):
    for le in buckets:
        n = count if value <= le else 0
        lines.append(f'{name}_bucket{{{labels},le="{le}"}} {n}')
    lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {count}')
    lines.append(f"{name}_sum{{{labels}}} {value * count}")
    lines.append(f"{name}_count{{{labels}}} {count}")


def render():
    global scrapes
    with lock:
        scrapes += 1
        n = scrapes
    out = []
    svc = f'service="{SERVICE}"'
    out += ["# HELP aster_http_requests_total HTTP requests observed, by response status class.",
            "# TYPE aster_http_requests_total counter"]
    for method, path, status, _, per_scrape in ROUTES:
        out.append(f'aster_http_requests_total{{{svc},method="{method}",path="{path}",status="{status}"}} {n * per_scrape}')
    for name, help_text, buckets, value in [
            ("aster_http_request_duration_seconds", "HTTP request duration.", DURATION_BUCKETS, None),
            ("aster_http_request_size_bytes", "HTTP request size.", SIZE_BUCKETS, 120),
            ("aster_http_response_size_bytes", "HTTP response size.", SIZE_BUCKETS, 900)]:
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for method, path, _, seconds, per_scrape in ROUTES:
            histogram(out, name, f'{svc},method="{method}",path="{path}"',
                      seconds if value is None else value, buckets, n * per_scrape)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    own = {"cpu": ru.ru_utime + ru.ru_stime, "rss": ru.ru_maxrss * 1024}
    watched = {"cpu": 0.01 * n, "rss": 20 << 20}
    gauges = [
        ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", "cpu"),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "rss"),
        ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", None, 200 << 20),
        ("process_open_fds", "gauge", "Number of open file descriptors.", None, 12),
        ("process_max_fds", "gauge", "Maximum number of open file descriptors.", None, 1024),
        ("process_threads", "gauge", "Number of OS threads.", None, 2),
        ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", None, START),
    ]
    # One family per name: the watched services' series and the exporter's
    # own (no service label) must share one HELP/TYPE block.
    for name, kind, help_text, key, *const in gauges:
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        out.append(f"{name}{{{svc}}} {watched[key] if key else const[0]}")
        out.append(f"{name} {own[key] if key else const[0]}")
    out += ["# HELP aster_exporter_events_total Events read from the ring buffer.",
            "# TYPE aster_exporter_events_total counter",
            f"aster_exporter_events_total {n * 100}",
            "# HELP aster_exporter_events_lost_total Events the kernel dropped because the ring buffer was full.",
            "# TYPE aster_exporter_events_lost_total counter",
            "aster_exporter_events_lost_total 0",
            "# HELP aster_exporter_attach_mode Probe attach mode in use (1 for the active mode).",
            "# TYPE aster_exporter_attach_mode gauge",
            'aster_exporter_attach_mode{mode="socket"} 1',
            "# HELP aster_exporter_build_info Build information.",
            "# TYPE aster_exporter_build_info gauge",
            'aster_exporter_build_info{version="0.0.0-standin"} 1']
    return ("\n".join(out) + "\n").encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web.listen-address", dest="listen", default=":8497")
    parser.add_argument("--web.telemetry-path", dest="path", default="/metrics")
    args, _ignored = parser.parse_known_args()
    host, _, port = args.listen.rpartition(":")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != args.path:
                self.send_error(404)
                return
            body = render()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    print(f"fake aster-exporter (pid {os.getpid()}) on {args.listen}{args.path}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
