"""/metrics stays up for Prometheus while other clients misbehave: 100
clients that trickle a request head a byte at a time (and reconnect when
dropped) beside a scraper that must get every answer within a second; one
host opening hundreds of idle connections (the per-address cap); a head
larger than any limit; requests with other methods than GET (HEAD from a
load balancer's health check); and SIGTERM with those clients connected.

The scraper connects from 127.0.0.1, the misbehaving clients from other
loopback addresses (all of 127/8 reaches lo), since the cap is per
address."""
import selectors
import socket
import threading
import time
import unittest
import urllib.request

from harness import Exporter, wait_for

SLOW_CLIENTS = 100
SLOW_ADDRESSES = 10  # 10 slow clients per address: under the default cap of 16


class SlowClients:
    """Connections that send half a request head, then a header byte every
    half second, forever; a connection the server drops is opened again."""

    def __init__(self, port, n):
        self.port, self.n, self.stop_flag = port, n, threading.Event()
        self.dropped = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def connect(self, i):
        source = (f"127.0.0.{2 + i % SLOW_ADDRESSES}", 0)
        s = socket.create_connection(("127.0.0.1", self.port), timeout=2, source_address=source)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        return s

    def run(self):
        socks = []
        while len(socks) < self.n and not self.stop_flag.is_set():
            try:
                socks.append(self.connect(len(socks)))
            except OSError:
                time.sleep(0.05)
        while not self.stop_flag.wait(0.5):
            for i, s in enumerate(socks):
                try:
                    s.sendall(b"x")
                except OSError:
                    self.dropped += 1
                    s.close()
                    try:
                        socks[i] = self.connect(i)
                    except OSError:
                        pass
        for s in socks:
            s.close()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=30)


class Flood:
    """One address holding as many idle connections as it can: it opens
    `n` that send nothing and opens a new one for each the server closes."""

    def __init__(self, port, n, source="127.0.0.50"):
        self.port, self.n, self.source = port, n, source
        self.stop_flag, self.closed_by_server = threading.Event(), 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def connect(self, sel):
        s = socket.socket()
        s.bind((self.source, 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        sel.register(s, selectors.EVENT_READ)

    def run(self):
        sel = selectors.DefaultSelector()
        for _ in range(self.n):
            self.connect(sel)
        while not self.stop_flag.is_set():
            for key, _ in sel.select(timeout=0.1):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    continue
                sel.unregister(s)
                s.close()
                self.closed_by_server += 1
                if not self.stop_flag.is_set():
                    self.connect(sel)
        for key in list(sel.get_map().values()):
            key.fileobj.close()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=30)


class WebTest(unittest.TestCase):
    def setUp(self):
        # Nothing listens on port 1: the exporter watches nothing and serves.
        self.exporter = Exporter("--target.port=1")
        self.addCleanup(self.exporter.stop)
        self.url = f"http://127.0.0.1:{self.exporter.port}/metrics"

    def scrape_seconds(self):
        t0 = time.monotonic()
        with urllib.request.urlopen(self.url, timeout=5) as r:
            body = r.read()
        self.assertIn(b"aster_exporter_build_info", body)
        return time.monotonic() - t0

    def test_scrapes_answer_within_a_second_beside_slow_clients(self):
        slow = SlowClients(self.exporter.port, SLOW_CLIENTS)
        self.addCleanup(slow.stop)
        time.sleep(1)  # let them all connect and start trickling
        worst = 0.0
        deadline = time.monotonic() + 8  # past two header timeouts: drops and reconnects included
        scrapes = 0
        while time.monotonic() < deadline:
            worst = max(worst, self.scrape_seconds())
            scrapes += 1
            time.sleep(0.2)
        self.assertGreater(scrapes, 20)
        self.assertLess(worst, 1.0, f"slowest of {scrapes} scrapes beside {SLOW_CLIENTS} slow clients")
        self.assertGreater(slow.dropped, 0, "the header timeout drops clients that never finish their head")
        # SIGTERM with the slow clients still connected: out well within the
        # 10 s a DaemonSet grants.
        t0 = time.monotonic()
        self.exporter.proc.p.terminate()
        self.exporter.proc.p.wait(timeout=10)
        self.assertLess(time.monotonic() - t0, 8)

    def test_one_host_with_hundreds_of_connections_leaves_room_for_scrapers(self):
        # 400 idle connections from one address against 128 workers: without
        # the cap they hold every worker for a header timeout (3 s) each and
        # the scraper waits behind them; with it, one address holds 16 and
        # the rest are closed at once.
        flood = Flood(self.exporter.port, 400)
        self.addCleanup(flood.stop)
        wait_for(lambda: flood.closed_by_server > 400, timeout=30, what="the flood's connections refused")
        times = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline or len(times) < 10:
            try:
                times.append(self.scrape_seconds())
            except OSError:  # no answer within urlopen's 5 s
                times.append(float("inf"))
            time.sleep(0.2)
        # Not behind the flood: the median below the 3 s header timeout that
        # every scrape waited out without the cap (most got no answer within
        # 5 s), and every scrape answered. No tighter: on a loaded 2-core
        # CI machine the flood's reconnects compete for the same cores (a
        # median of 1.3 s was seen there).
        self.assertLess(sorted(times)[len(times) // 2], 3.0, times)
        self.assertNotIn(float("inf"), times)
        m = self.exporter.scrape()
        self.assertGreater(m.get("aster_exporter_web_connections_refused_total"), 400)
        # The flood's 16 plus at most the scrape in flight.
        self.assertLessEqual(m.get("aster_exporter_web_connections_open"), 16 + 1)
        self.assertGreaterEqual(m.get("aster_exporter_web_connections_open"), 1)
        flood.stop()
        wait_for(lambda: self.exporter.scrape().get("aster_exporter_web_connections_open") <= 1, timeout=15,
                 what="the flood's connections released")

    def test_a_huge_head_is_refused_and_scrapes_go_on(self):
        with socket.create_connection(("127.0.0.1", self.exporter.port), timeout=5) as s:
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n")
                answer = s.recv(200)
            except OSError:
                answer = b""  # dropped without an answer: also a refusal
        self.assertFalse(answer.startswith(b"HTTP/1.1 200"), answer[:60])
        self.assertLess(self.scrape_seconds(), 1.0)
        self.assertIsNone(self.exporter.proc.p.poll(), "exporter died")

    def test_other_methods_are_answered_and_the_exporter_lives(self):
        # civetweb answers what no handler takes (HEAD, POST...) on its own
        # 404 path, which needs more of its 100 KiB worker stack than a
        # 64 KiB thread_local log buffer left: one HEAD was a SIGSEGV.
        for method in ("HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            for path in ("/", "/metrics", "/nothing"):
                with socket.create_connection(("127.0.0.1", self.exporter.port), timeout=5) as s:
                    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                              f"Connection: close\r\n\r\n".encode())
                    try:
                        answer = s.recv(200)
                    except OSError:
                        answer = b""
                self.assertIsNone(self.exporter.proc.p.poll(), f"exporter died on {method} {path}")
                if method != "OPTIONS":  # civetweb closes an OPTIONS it does not serve
                    self.assertTrue(answer.startswith(b"HTTP/1.1 "), (method, path, answer[:60]))
        self.assertLess(self.scrape_seconds(), 1.0)
