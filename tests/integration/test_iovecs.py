"""Every iovec of a writev: a Node.js `http` server whose handler calls
res.write() one to seven times per response sends the head and every chunk
as ONE writev, four iovecs per chunk (size line, CRLF, data, CRLF), most of
them far past the capture budget. The probes describe each iovec past the
budget by its length and first bytes (iovec hints), so every chunk
boundary is known: counts and response body sums equal the server's own
counters, and no body size is estimated. Both attach modes.
"""
import http.client
import json
import os
import random
import tempfile
import threading
import unittest

import harness
from harness import Exporter, Proc, free_port, wait_for, wait_port

NAMES = ["one", "two", "three", "four", "five", "six", "seven"]
# Chunk sizes: framing-sized, around the 16 hint bytes, around the capture
# budget (4096) and much larger than it.
SIZES = [1, 2, 15, 16, 17, 100, 1000, 4000, 4096, 5000, 20000, 70000, 300000]


def start_node_with_counters(port, counters_file):
    p = Proc(["node", os.path.join(harness.SERVERS, "node_server.js"), str(port), counters_file], log_name="node")
    wait_port(port)
    return p


def server_counters(server, counters_file):
    """The Node server's own counters, written by it on SIGUSR2."""
    before = server.output().count("counters written")
    os.kill(server.pid, 12)  # SIGUSR2
    wait_for(lambda: server.output().count("counters written") > before, what="the server's counters")
    with open(counters_file) as f:
        return json.load(f)


def drive(port, plan):
    """Sends `plan` ([(path, query)]) over keep-alive connections, one per
    thread; returns the body bytes received, checking every response."""
    received = [0]
    lock = threading.Lock()
    errors = []

    def worker(items):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for path, query in items:
                conn.request("GET", f"{path}?{query}")
                r = conn.getresponse()
                body = r.read()
                with lock:
                    received[0] += len(body)
                if r.getheader("Transfer-Encoding") != "chunked":
                    errors.append(f"{path}: not chunked")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            conn.close()
    threads = [threading.Thread(target=worker, args=(plan[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise AssertionError(f"client errors: {errors[:5]}")
    return received[0]


def make_plan(n, seed):
    rng = random.Random(seed)
    plan = []
    for i in range(n):
        writes = rng.randint(1, 7)
        sizes = [rng.choice(SIZES) for _ in range(writes)]
        status = rng.choice([200] * 8 + [404, 500])
        query = f"sizes={','.join(map(str, sizes))}&status={status}"
        if i % 5 == 4:
            query += "&spread=1"  # each res.write() its own writev
        plan.append((f"/parts/{NAMES[writes - 1]}", query))
    return plan


class NodeWritevTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aster-iovec-")
        self.counters = os.path.join(self.dir, "counters.json")
        self.port = free_port()
        self.node = start_node_with_counters(self.port, self.counters)
        self.addCleanup(self.node.stop)
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("node")

    def test_res_write_one_to_seven_times_is_exact(self):
        plan = make_plan(1000, seed=17)
        received = drive(self.port, plan)
        truth = server_counters(self.node, self.counters)
        self.assertEqual(sum(truth["body"].values()), received, "the server's counters are its truth")
        total = sum(truth["requests"].values())
        self.assertEqual(total, len(plan))
        m = self.exporter.wait_count(total, service="node", timeout=30)
        for key, n in truth["requests"].items():
            path, status = key.split(" ")
            got = m.get("aster_http_requests_total", service="node", path=path, status=status[0] + "xx")
            self.assertEqual(got, n, key)
        for path, body in truth["body"].items():
            self.assertEqual(m.get("aster_http_response_size_bytes_sum", service="node", path=path), body, path)
        self.assertEqual(m.get("aster_exporter_body_size_estimated_total"), 0)
        self.assertEqual(m.get("aster_exporter_parse_errors_total", kind="chunk_framing_lost"), 0)
        self.assertEqual(m.get("aster_exporter_parse_errors_total", kind="chunk_hint_rejected"), 0)
        self.assertEqual(m.get("aster_exporter_iov_hints_capped_total"), 0)
        self.assertGreater(m.get("aster_exporter_iov_hint_bytes_total"), 0, "the hints were used")
        self.assertEqual(m.get("aster_http_requests_total", method="UNKNOWN"), 0)

    def test_more_iovecs_than_the_hints_describe_are_exact_through_the_walker(self):
        # 40 res.write()s in one tick: 160 iovecs past the budget, more than
        # the 64 hints a record carries. The boundary walker, armed by the
        # head's "chunked", copies a window at every chunk boundary past
        # them, so the body stays exact; the hints' cap is still counted.
        query = "sizes=" + ",".join(["5000"] * 40)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for _ in range(3):
            c.request("GET", f"/parts/many?{query}")
            self.assertEqual(len(c.getresponse().read()), 200000)
        c.request("GET", "/fixed/1")
        self.assertEqual(len(c.getresponse().read()), 100)
        c.close()
        m = self.exporter.wait_count(3, service="node", path="/parts/many", timeout=30)
        self.exporter.wait_count(1, service="node", path="/fixed/:id")
        self.assertGreaterEqual(m.get("aster_exporter_iov_hints_capped_total"), 1)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", service="node", path="/parts/many"), 600000)
        self.assertEqual(m.get("aster_exporter_body_size_estimated_total"), 0)
        self.assertGreater(m.get("aster_exporter_boundary_windows_total", result="used"), 0)

    def test_more_chunks_than_hints_and_windows_describe_are_counted(self):
        # 200 res.write()s of 100 bytes in one tick: some 160 chunks past the
        # head, more than a record's 64 windows (and 16 chunks of hints). The
        # body is then an estimate, and the caps and the estimate are
        # counted; the count stays exact.
        query = "sizes=" + ",".join(["100"] * 200)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", f"/parts/many?{query}")
        self.assertEqual(len(c.getresponse().read()), 20000)
        c.request("GET", "/fixed/1")
        self.assertEqual(len(c.getresponse().read()), 100)
        c.close()
        m = self.exporter.wait_count(1, service="node", path="/parts/many", timeout=30)
        m = self.exporter.wait_count(1, service="node", path="/fixed/:id")
        self.assertGreaterEqual(m.get("aster_exporter_iov_hints_capped_total"), 1)
        self.assertGreaterEqual(m.get("aster_exporter_boundary_walker_total", event="capped"), 1)
        self.assertGreaterEqual(m.get("aster_exporter_body_size_estimated_total"), 1)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", service="node", path="/fixed/:id"), 100)

if __name__ == "__main__":
    unittest.main()
