"""Route labels, the series cap and business gauges against real servers and
the real kernel:

- 100 000 requests with distinct IDs in the path keep the series count under
  metrics.max_series_per_family and the exporter's memory bounded, while the
  total count stays exact across the regular and the path="_other_" series
  (nginx's access log is the truth);
- the business gauges of packaging/examples/business-gauges.yaml follow a
  server whose true object count is known.
"""
import http.client
import json
import os
import random
import socket
import tempfile
import threading
import time
import unittest

import yaml

import harness
from harness import Exporter, Proc, free_port, wait_for, wait_port

REPO = os.path.abspath(os.path.join(harness.HERE, "..", ".."))
EXAMPLE_GAUGES = os.path.join(REPO, "packaging", "examples", "business-gauges.yaml")

REQUESTS = 100_000
CAP = 200
RSS_LIMIT_BYTES = 60 << 20


def write_config(doc):
    f = tempfile.NamedTemporaryFile("w", prefix="aster-routes-", suffix=".yaml", delete=False)
    yaml.safe_dump(doc, f)
    f.close()
    return f.name


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def base36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def pipelined_get(port, paths, batch=16):
    """Sends GETs for `paths` on one keep-alive connection, `batch` at a time
    (small batches: each read the server makes stays within the capture
    size); returns how many responses came back."""
    answered = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(10)
        for i in range(0, len(paths), batch):
            chunk = paths[i:i + batch]
            s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p.encode() for p in chunk))
            buf = b""
            while buf.count(b"HTTP/1.1 ") < len(chunk) or not buf.endswith(b"\r\n\r\n"):
                data = s.recv(65536)
                if not data:
                    raise AssertionError("nginx closed the connection")
                buf += data
            answered += buf.count(b"HTTP/1.1 ")
    return answered


class SeriesCapTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.nginx = harness.Nginx(self.port, locations="location / { return 200; }")
        self.config = write_config({
            "targets": [{"name": "edge", "ports": [self.port]}],
            "metrics": {
                "max_series_per_family": CAP,
                "learn_threshold": 50,
                "routes": [{"template": "/v1/known/{id}", "service": "edge"}],
            },
        })
        self.exporter = Exporter(f"--config.file={self.config}")
        self.exporter.wait_watching("edge", processes=3)

    def tearDown(self):
        self.exporter.stop()
        self.nginx.stop()
        os.unlink(self.config)

    def test_distinct_ids_stay_under_the_cap_with_exact_totals(self):
        # Real routes first, as in a service that has been up a while: a
        # templated one, and one whose third segment learning collapses.
        known = [f"/v1/known/k{base36(i * 7919)}" for i in range(1000)]
        learned = [f"/v1/items/n{base36(i)}x" for i in range(9000)]
        # Then a flood of distinct first segments, which only the cap stops.
        flood = [f"/p{base36(i)}q/detail?session={i}" for i in range(REQUESTS - len(known) - len(learned))]
        self.assertEqual(pipelined_get(self.port, known + learned), 10000)

        started = time.monotonic()
        parts = [flood[i::4] for i in range(4)]
        answered = [0] * 4

        def run(i):
            answered[i] = pipelined_get(self.port, parts[i])
        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sum(answered), len(flood))
        self.assertLess(time.monotonic() - started, 60, "the load itself took too long")

        logged, ok = wait_for(lambda: (lambda n: n if n[0] >= REQUESTS else None)(self.nginx.logged()),
                              what="nginx to log every request")
        self.assertEqual((logged, ok), (REQUESTS, REQUESTS))
        m = self.exporter.wait_count(REQUESTS, timeout=30, service="edge")

        # Exact across the regular and the overflow series.
        other = m.get("aster_http_requests_total", service="edge", path="_other_")
        regular = m.get("aster_http_requests_total", service="edge") - other
        self.assertEqual(regular + other, REQUESTS)
        self.assertGreater(other, 80000)
        self.assertEqual(m.get("aster_http_requests_total", service="edge", status="2xx"), REQUESTS)
        self.assertEqual(m.get("aster_http_request_duration_seconds_count", service="edge"), REQUESTS)
        self.assertEqual(m.get("aster_exporter_series_overflow_total", service="edge",
                               family="aster_http_requests_total"), other)

        # The routes seen before the flood keep their own series.
        self.assertEqual(m.get("aster_http_requests_total", service="edge", path="/v1/known/{id}"), 1000)
        self.assertEqual(m.get("aster_http_requests_total", service="edge", path="/v1/items/:param"), 9000 - 50)
        self.assertGreaterEqual(m.get("aster_exporter_route_positions_collapsed_total"), 1)

        # Bounded: the cap plus one overflow series (GET, 2xx) per family.
        for family in ("aster_http_requests_total", "aster_http_request_duration_seconds_count",
                       "aster_http_request_size_bytes_count", "aster_http_response_size_bytes_count"):
            n = len(m.series(family, service="edge"))
            self.assertLessEqual(n, CAP + 1, family)
        self.assertFalse([l for l in m.series("aster_http_requests_total") if "session" in l["path"]],
                         "query strings never become labels")
        rss = rss_bytes(self.exporter.proc.pid)
        self.assertLess(rss, RSS_LIMIT_BYTES, f"exporter RSS {rss / 2**20:.1f} MiB")
        self.assertEqual(m.get("aster_exporter_events_lost_total"), 0)


class AgentsServer:
    def __init__(self, port):
        self.port = port
        self.proc = Proc(["node", os.path.join(harness.SERVERS, "agents_server.js"), str(port)], log_name="agents")
        wait_port(port)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(self, method, path):
        self.conn.request(method, path)
        r = self.conn.getresponse()
        body = r.read()
        return r.status, json.loads(body) if body else None

    def count(self, kind):
        return self.call("GET", f"/v1/{kind}")[1]["count"]

    def stop(self):
        self.conn.close()
        self.proc.stop()


class BusinessGaugesTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.server = AgentsServer(self.port)
        with open(EXAMPLE_GAUGES) as f:
            doc = yaml.safe_load(f)
        doc["targets"] = [{"name": "agents", "ports": [self.port]}]
        self.config = write_config(doc)
        self.exporter = None

    def start_exporter(self):
        self.exporter = Exporter(f"--config.file={self.config}")
        self.exporter.wait_watching("agents")
        # A first request makes the service's gauges appear (at 0).
        self.server.call("GET", "/v1/agents")
        self.wait_gauge("aster_agents_total", lambda v: v is not None)

    def tearDown(self):
        if self.exporter:
            self.exporter.stop()
        self.server.stop()
        os.unlink(self.config)

    def gauge(self, name):
        found = self.exporter.scrape().select(name, service="agents")
        return found[0][1] if found else None

    def wait_gauge(self, name, ok, timeout=10):
        return wait_for(lambda: (lambda v: (v,) if ok(v) else None)(self.gauge(name)), timeout,
                        what=f"{name}{{service=agents}}")[0]

    def test_counting_gauges_follow_the_true_count(self):
        self.start_exporter()
        rng = random.Random(4)
        live = {"agents": [], "sessions": []}
        for _ in range(600):
            kind = rng.choice(["agents", "sessions"])
            roll = rng.random()
            if roll < 0.55 or not live[kind]:
                status, body = self.server.call("POST", f"/v1/{kind}")
                self.assertEqual(status, 201)
                live[kind].append(body["id"])
            elif roll < 0.85:
                victim = live[kind].pop(rng.randrange(len(live[kind])))
                self.assertEqual(self.server.call("DELETE", f"/v1/{kind}/{victim}")[0], 204)
            elif roll < 0.95:
                # Not there: 404, and the gauge must not move.
                self.assertEqual(self.server.call("DELETE", f"/v1/{kind}/999999")[0], 404)
            else:
                self.server.call("GET", f"/v1/{kind}")
        for name, kind in (("aster_agents_total", "agents"), ("aster_sessions_active", "sessions")):
            truth = self.server.count(kind)
            self.assertEqual(truth, len(live[kind]))
            self.assertGreater(truth, 0)
            self.wait_gauge(name, lambda v, t=truth: v == t)
        m = self.exporter.scrape()
        self.assertEqual(m.get("aster_http_requests_total", service="agents", method="DELETE",
                               path="/v1/agents/:id", status="4xx") > 0, True)

    def test_objects_from_before_the_exporter_make_a_lower_bound(self):
        ids = [self.server.call("POST", "/v1/agents")[1]["id"] for _ in range(5)]
        self.start_exporter()
        for victim in ids[:3]:
            self.assertEqual(self.server.call("DELETE", f"/v1/agents/{victim}")[0], 204)
        self.wait_gauge("aster_agents_total", lambda v: v == 0)  # true count: 2; never below zero
        for _ in range(4):
            self.server.call("POST", "/v1/agents")
        self.wait_gauge("aster_agents_total", lambda v: v == 4)
        self.assertEqual(self.server.count("agents"), 6)

    def test_inflight_gauge_counts_runs_not_yet_answered(self):
        self.start_exporter()
        self.assertEqual(self.gauge("aster_workflows_running"), 0)
        results = []

        def run(i):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            c.request("POST", f"/v1/workflows/w{i}/run")
            results.append(c.getresponse().status)
            c.close()
        threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        wait_for(lambda: self.server.count("workflows/held") == 5, what="5 runs held by the server")
        self.wait_gauge("aster_workflows_running", lambda v: v == 5)

        # A client that gives up: its connection closes unanswered; the run ends there.
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(b"POST /v1/workflows/gone/run HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        wait_for(lambda: self.server.count("workflows/held") == 6, what="6 runs held")
        self.wait_gauge("aster_workflows_running", lambda v: v == 6)
        s.close()
        self.wait_gauge("aster_workflows_running", lambda v: v == 5)

        self.assertEqual(self.server.call("POST", "/v1/workflows/release")[1]["released"], 6)
        for t in threads:
            t.join()
        self.assertEqual(results, [200] * 5)
        self.wait_gauge("aster_workflows_running", lambda v: v == 0)


if __name__ == "__main__":
    unittest.main()
