#!/usr/bin/env python3
"""Soak: mixed traffic with process churn and a scrape every second, for a
long time, against one exporter; then every count is compared with the
servers' own truth.

    bench/soak.py --exporter build/aster-exporter [--duration 3600] [--mode socket|syscalls]

What runs, in cycles of about ten seconds:
  - nginx (a master and two workers): wrk bursts of keep-alive requests
    (bench/lua/soak_mix.lua: small and 20 KB files, a 404, POSTs with a
    body); nginx is reloaded (SIGHUP: its workers are replaced) every 30 s.
    Truth: its access log.
  - Python's http.server (tests/integration/servers/py_server.py, HTTP/1.0,
    a connection per request, a thread each): a client thread's GETs, some
    close-delimited; the server is stopped and started again (a new
    process on the same port) every 40 s. Truth: the responses the client
    received (the server logs nothing).
  - nghttpd (HTTP/2 without TLS): h2load runs of many streams per
    connection. Truth: h2load's status counts.
  - A scrape of /metrics every second; the exporter's RSS and CPU time are
    sampled every 10 s with the requests it counted.

Reported (a table, and one JSON line with --json): requests per window,
the exporter's RSS (and its heap, RssAnon) over time and CPU µs per request per window (first and
last quarter compared), scrape failures and the slowest scrape. Checked
(exit status 1 when one fails): every count and body-byte sum equals the
truth; no ring-buffer record lost; no failed scrape; the connection state
is freed at the end; RSS after warm-up (the first quarter) grows by less
than --rss-growth-mib. CPU per request is reported, not checked: the
machine is shared (bench/RESULTS.md holds the figures of the long run).

CI runs a short version in both attach modes (ctest `soak`); the hour-long
run is for bench/RESULTS.md.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import harness  # noqa: E402
from harness import Exporter, Nginx, Proc, free_port, wait_for, wait_port  # noqa: E402

SMALL, MID, POST_BODY = 37, 20000, 1500
CYCLE_S = 10
NGINX_RELOAD_S = 30
PY_RESTART_S = 40


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PyServer:
    """py_server.py on a fixed port, restartable: each start is a new process."""

    def __init__(self, port, root):
        self.port, self.root = port, root
        self.proc = None
        self.starts = 0

    def start(self):
        self.proc = harness.start_python(self.port, self.root)
        self.starts += 1

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None


class PyClient(threading.Thread):
    """GETs to the Python server, one connection each; counts what it got.
    `gate` is held while the server restarts."""

    def __init__(self, port, gate, stop):
        super().__init__(daemon=True)
        self.port, self.gate, self.stop_ev = port, gate, stop
        self.truth = {}  # (path, status class) -> [count, body bytes]
        self.errors = 0

    def run(self):
        paths = ["/file.txt", "/close-delimited?size=3000", "/nothing-here"]
        i = 0
        while not self.stop_ev.is_set():
            path = paths[i % len(paths)]
            i += 1
            with self.gate:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                        status, body = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, body = e.code, e.read()
                except OSError:
                    self.errors += 1  # not answered: no truth to count
                    continue
            key = (path.split("?")[0], f"{status // 100}xx")
            rec = self.truth.setdefault(key, [0, 0])
            rec[0] += 1
            rec[1] += len(body)
            time.sleep(0.02)


class Scraper(threading.Thread):
    def __init__(self, exporter, stop):
        super().__init__(daemon=True)
        self.exporter, self.stop_ev = exporter, stop
        self.ok = self.failed = 0
        self.slowest = 0.0

    def run(self):
        while not self.stop_ev.wait(1.0):
            t = time.monotonic()
            try:
                self.exporter.raw()
                self.ok += 1
            except OSError:
                self.failed += 1
            self.slowest = max(self.slowest, time.monotonic() - t)


def h2load_run(port):
    urls = [f"http://127.0.0.1:{port}{p}" for p in ("/a.txt", "/b.bin", "/gone")]
    r = subprocess.run(["h2load", "-n", "300", "-c", "2", "-m", "4", *urls], capture_output=True, text=True,
                       timeout=120)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"h2load failed: {r.stdout}\n{r.stderr}")
    return {f"{i + 2}xx": int(n) for i, n in enumerate(m.groups()) if int(n)}


def exporter_view(m, service):
    """({(method, path, status): count}, {(method, path): [response body bytes, request body bytes]});
    the size histograms carry no status label."""
    counts, sizes = {}, {}
    for labels, v in m.select("aster_http_requests_total", service=service):
        key = (labels["method"], labels["path"], labels["status"])
        counts[key] = counts.get(key, 0) + int(v)
    for family, i in (("aster_http_response_size_bytes_sum", 0), ("aster_http_request_size_bytes_sum", 1)):
        for labels, v in m.select(family, service=service):
            sizes.setdefault((labels["method"], labels["path"]), [0, 0])[i] += int(v)
    return counts, sizes


def split_truth(truth):
    """The same two views of a truth keyed (method, path, status) -> [count, response bytes, request bytes]."""
    counts, sizes = {}, {}
    for (method, path, status), (n, resp, req) in truth.items():
        counts[(method, path, status)] = n
        rec = sizes.setdefault((method, path), [0, 0])
        rec[0] += resp
        rec[1] += req
    return counts, sizes


def nginx_truth(nginx):
    """(method, path, status class) -> [count, body bytes sent, request body bytes]."""
    out = {}
    with open(nginx.access_log) as f:
        for line in f:
            method, uri, status, sent, length, _ = line.rstrip("\n").split(" ", 5)
            if method == "GET" and status == "200" and sent == "0":
                continue  # wrk reset it at its deadline: no response left nginx
            rec = out.setdefault((method, uri.split("?")[0], status[0] + "xx"), [0, 0, 0])
            rec[0] += 1
            rec[1] += int(sent)
            rec[2] += 0 if length == "-" else int(length)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--duration", type=int, default=3600, help="seconds of traffic")
    ap.add_argument("--mode", default="socket", choices=["socket", "syscalls"])
    ap.add_argument("--rss-growth-mib", type=float, default=16.0,
                    help="allowed RSS growth from the end of the warm-up to the end")
    ap.add_argument("--json", help="append the result as one JSON line to this file")
    args = ap.parse_args()
    harness.EXPORTER = os.path.abspath(args.exporter)
    harness.ATTACH_MODE = args.mode

    cleanups = []
    failures = []

    def check(ok, what):
        print(("PASS " if ok else "FAIL ") + what, flush=True)
        if not ok:
            failures.append(what)

    try:
        ng_port, py_port, h2_port = free_port(), free_port(), free_port()
        nginx = Nginx(ng_port, workers=2)
        cleanups.append(nginx.stop)
        nginx.write_file("small.txt", SMALL)
        nginx.write_file("mid.bin", MID)
        py_root = nginx.dir  # any directory of ours
        with open(os.path.join(py_root, "file.txt"), "wb") as f:
            f.write(b"f" * 700)
        py = PyServer(py_port, py_root)
        py.start()
        cleanups.append(py.stop)
        h2_root = os.path.join(nginx.dir, "h2")
        os.makedirs(h2_root)
        for name, size in (("a.txt", 100), ("b.bin", 2000)):
            with open(os.path.join(h2_root, name), "wb") as f:
                f.write(os.urandom(size))
        h2 = Proc(["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", h2_root, str(h2_port)], log_name="nghttpd")
        cleanups.append(h2.stop)
        wait_port(h2_port)

        exporter = Exporter(f"--target.port={ng_port},{py_port},{h2_port}")
        cleanups.append(exporter.stop)
        exporter.wait_watching("nginx", processes=3)
        py_svc = os.path.basename(os.readlink(f"/proc/{py.proc.pid}/exe"))
        exporter.wait_watching(py_svc)
        exporter.wait_watching("nghttpd")
        epid = exporter.proc.pid

        stop = threading.Event()
        gate = threading.Lock()
        client = PyClient(py_port, gate, stop)
        scraper = Scraper(exporter, stop)
        client.start()
        scraper.start()
        cleanups.append(stop.set)  # runs first: the threads stop before the servers

        h2_truth = {}
        samples = []  # (t, rss KiB, cpu s, requests counted)
        start = time.monotonic()
        last_reload = last_restart = start
        reloads = 0
        while time.monotonic() - start < args.duration:
            cycle = time.monotonic()
            wrk = subprocess.Popen(["wrk", "-t1", "-c8", "-d3s", "-s", os.path.join(HERE, "lua", "soak_mix.lua"),
                                    f"http://127.0.0.1:{ng_port}/"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            for k, v in h2load_run(h2_port).items():
                h2_truth[k] = h2_truth.get(k, 0) + v
            wrk.wait(timeout=60)
            now = time.monotonic()
            if now - last_reload >= NGINX_RELOAD_S:
                os.kill(nginx.proc.pid, signal.SIGHUP)  # new workers; the old ones finish and exit
                reloads += 1
                last_reload = now
            if now - last_restart >= PY_RESTART_S:
                with gate:
                    py.stop()
                    wait_for(lambda: exporter.scrape().get("aster_service_processes", service=py_svc) == 0,
                             timeout=30, what="the stopped Python server's exit seen")
                    py.start()
                    # Requests a server answers between its listen() and the
                    # exporter's check of it were missed (7 in 600 over 15
                    # restarts, sent at once) until the kernel watched a
                    # selected port's listener at once; test_services covers
                    # that. The soak waits for the watch: it is about what follows.
                    exporter.wait_watching(py_svc)
                last_restart = now
            m = exporter.scrape()
            samples.append((now - start, rss_kib(epid), cpu_s(epid), m.get("aster_http_requests_total")))
            print(f"  t={samples[-1][0]:6.0f}s rss={samples[-1][1] / 1024:6.1f} MiB "
                  f"anon={rss_kib(epid, 'RssAnon') / 1024:6.1f} file={rss_kib(epid, 'RssFile') / 1024:6.1f} "
                  f"shmem={rss_kib(epid, 'RssShmem') / 1024:6.1f} "
                  f"requests={samples[-1][3]:.0f}", flush=True)
            time.sleep(max(0.0, CYCLE_S - (time.monotonic() - cycle)))
        stop.set()
        client.join(timeout=10)
        scraper.join(timeout=10)

        # The truth, once the exporter has caught up.
        ng_truth = nginx_truth(nginx)
        want_total = (sum(v[0] for v in ng_truth.values()) + sum(v[0] for v in client.truth.values())
                      + sum(h2_truth.values()))
        try:
            wait_for(lambda: exporter.scrape().get("aster_http_requests_total") >= want_total, timeout=30,
                     what=f"{want_total} requests counted")
        except AssertionError as e:
            print(f"  {e}")
        m = exporter.scrape()
        got, want = exporter_view(m, "nginx"), split_truth(ng_truth)
        check(got == want, f"nginx: counts per method, path, status and body bytes per method, path equal its "
                           f"access log ({sum(want[0].values())} requests)"
              + ("" if got == want else f": exporter {got} vs nginx {want}"))
        py_truth = {("GET", p, s): [n, rb, 0] for (p, s), (n, rb) in client.truth.items()}
        got, want = exporter_view(m, py_svc), split_truth(py_truth)
        check(got == want, f"python: counts and body bytes equal the responses received "
                           f"({sum(want[0].values())} requests, {py.starts} server processes)"
              + ("" if got == want else f": exporter {got} vs client {want}"))
        got_h2 = {}
        for (_, _, s), c in exporter_view(m, "nghttpd")[0].items():
            got_h2[s] = got_h2.get(s, 0) + c
        check(got_h2 == h2_truth, f"nghttpd: status counts equal h2load's ({sum(h2_truth.values())} streams)"
              + ("" if got_h2 == h2_truth else f": exporter {got_h2} vs h2load {h2_truth}"))
        lost = m.get("aster_exporter_events_lost_total")
        check(lost == 0, f"no ring-buffer record lost ({lost:.0f})")
        check(scraper.failed == 0, f"every scrape answered ({scraper.ok} ok, {scraper.failed} failed, "
                                   f"slowest {scraper.slowest * 1000:.0f} ms)")
        try:
            wait_for(lambda: exporter.scrape().get("aster_exporter_connections_tracked") <= 20, timeout=60,
                     what="connection state freed")
            freed = True
        except AssertionError:
            freed = False
        check(freed, f"connection state freed at the end "
                     f"({exporter.scrape().get('aster_exporter_connections_tracked'):.0f} tracked)")

        # Memory and CPU per request over time.
        # Warm-up: a quarter of a long run, half of a short one (the heap
        # grows for about two minutes, then stays flat: bench/RESULTS.md).
        q = max(1, len(samples) // 4)
        w = max(q, min(len(samples) // 2, int(150 / CYCLE_S)))
        warm, end = samples[w], samples[-1]
        growth_mib = (end[1] - warm[1]) / 1024

        def cpu_per_req(a, b):
            return (b[2] - a[2]) * 1e6 / max(1, b[3] - a[3])
        first = cpu_per_req(samples[0], samples[q]) if len(samples) > q else float("nan")
        last = cpu_per_req(samples[-q - 1], samples[-1]) if len(samples) > q else float("nan")
        check(growth_mib < args.rss_growth_mib,
              f"RSS after warm-up grew {growth_mib:.1f} MiB (< {args.rss_growth_mib}): "
              f"{warm[1] / 1024:.1f} MiB at {warm[0]:.0f} s, {end[1] / 1024:.1f} MiB at {end[0]:.0f} s")
        print(f"  CPU per request: first quarter {first:.2f} µs, last quarter {last:.2f} µs "
              f"(ratio {last / first if first else float('nan'):.2f}); nginx reloads {reloads}, "
              f"python server processes {py.starts}; series "
              f"{m.get('aster_exporter_series'):.0f}")
        result = {
            "mode": args.mode, "duration_s": args.duration, "requests": want_total,
            "rss_warm_mib": round(warm[1] / 1024, 1), "rss_end_mib": round(end[1] / 1024, 1),
            "rss_max_mib": round(max(s[1] for s in samples) / 1024, 1),
            "cpu_us_per_req_first": round(first, 2), "cpu_us_per_req_last": round(last, 2),
            "scrapes": scraper.ok, "scrape_failures": scraper.failed,
            "slowest_scrape_ms": round(scraper.slowest * 1000), "nginx_reloads": reloads,
            "python_processes": py.starts, "failures": failures,
        }
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(result) + "\n")
    finally:
        for c in reversed(cleanups):
            try:
                c()
            except Exception as e:  # a clean-up must not hide the result
                print(f"clean-up: {e}", file=sys.stderr)
    print(f"soak ({args.mode}, {args.duration} s): {'FAILED: ' + '; '.join(failures) if failures else 'passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
