"""Many connections against one watched nginx, each compared with nginx's
own access log and the exporter's own counts: 10 000 concurrent keep-alive
connections, and a burst of 10 000 half-open connections (half a request
head each, then the client vanishes without a FIN) beside complete
requests. Counts stay exact, the exporter's state and memory stay bounded,
and every connection's state is freed once the server closes it."""
import resource
import unittest

import harness

from harness import Exporter, Nginx, free_port, wait_for
from test_connection_faults import SMALL, connect, get, read_responses, vanish

N = 10000


def raise_fd_limit(test, want):
    """This process holds the client ends (nginx sets its own limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return
    if hard != resource.RLIM_INFINITY and hard < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))  # needs CAP_SYS_RESOURCE
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    test.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class ManyConnectionsTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.nginx = Nginx(self.port, workers=1, worker_connections=N + 1000,
                           locations="client_header_timeout 3s; keepalive_timeout 300s;")
        self.addCleanup(self.nginx.stop)
        self.nginx.write_file("small.txt", SMALL)
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("nginx", processes=2)

    def stat(self, name, **labels):
        return self.exporter.scrape().get(name, **labels)

    def log_lines(self):
        with open(self.nginx.access_log) as f:
            return [l.split(" ") for l in f.read().splitlines()]

    def test_ten_thousand_keep_alive_connections(self):
        n = N
        raise_fd_limit(self, n + 1024)
        rss_before = rss_kib(self.exporter.proc.pid)
        closed = self.stat("aster_exporter_connections_total", event="closed")
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        # Each sends its first request as it connects: nginx's 3 s header
        # timeout (for the half-open test) closes a connection whose first
        # request waits longer, and opening 10 000 takes longer than that on
        # a loaded machine (CI saw "the server closed the connection").
        for _ in range(n):
            s = connect(self.port)
            s.sendall(get("/small.txt"))
            socks.append(s)
        for round_ in (1, 2):
            for s in socks if round_ == 2 else ():
                s.sendall(get("/small.txt"))
            for s in socks:
                read_responses(s, 1, SMALL)
            self.exporter.wait_count(round_ * n, service="nginx", path="/small.txt", timeout=60)
        m = self.exporter.scrape()
        self.assertGreaterEqual(m.get("aster_exporter_connections_tracked"), n)
        self.assertEqual(len(self.log_lines()), 2 * n, "nginx's own count")
        grown = rss_kib(self.exporter.proc.pid) - rss_before
        # Bounded: well under 16 KiB per live connection (parser state and buffers).
        self.assertLess(grown, 16 * n, f"exporter RSS grew {grown} KiB for {n} connections")
        for s in socks:
            s.close()
        socks.clear()
        wait_for(lambda: self.stat("aster_exporter_connections_total", event="closed") - closed >= n, timeout=60,
                 what=f"{n} closes")
        self.assertLess(self.stat("aster_exporter_connections_tracked"), 50, "state left after the closes")
        self.assertEqual(self.stat("aster_exporter_requests_unanswered_total"), 0)

    def test_burst_of_half_open_connections(self):
        n = N
        tracked = self.stat("aster_exporter_connections_tracked")
        opened = self.stat("aster_exporter_connections_total", event="opened")
        rss_before = rss_kib(self.exporter.proc.pid)
        complete = 0
        for i in range(n):
            s = connect(self.port)
            s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: t\r\nAccept: */")
            vanish(s)
            if i % 1000 == 999:  # complete requests beside the burst
                with connect(self.port) as c:
                    c.sendall(get("/small.txt") * 3)
                    read_responses(c, 3, SMALL)
                complete += 3
        self.exporter.wait_count(complete, service="nginx", path="/small.txt", status="2xx", timeout=60)
        # nginx's header timeout closes them; then nothing of them is left.
        # A client port is soon reused, and a SYN on a 4-tuple whose server
        # socket still waits resets that socket: if nginx had not read its
        # half head yet, it reads it after the close (found by this test:
        # 1 to 36 in 10 000 stayed tracked until the 15-minute expiry).
        allowed = tracked
        try:
            wait_for(lambda: self.stat("aster_exporter_connections_tracked") <= allowed, timeout=60,
                     what="the half-open connections' state freed")
        except AssertionError as e:
            m = self.exporter.scrape()
            raise AssertionError(f"{e}; tracked {m.get('aster_exporter_connections_tracked')} (before {tracked}), "
                                 f"lost {m.get('aster_exporter_events_lost_total')}, "
                                 f"closes {m.get('aster_exporter_connections_total', event='closed')}, "
                                 f"opened {m.get('aster_exporter_connections_total', event='opened') - opened}, "
                                 f"closed at a transfer "
                                 f"{m.get('aster_exporter_connections_total', event='closed_at_transfer')}")
        m = self.exporter.scrape()
        # Each was tracked once its half head was read (a few may have been
        # closed by nginx before it read them).
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="opened") - opened, n * 0.9)
        self.assertEqual(m.get("aster_exporter_conn_map_full_total"), 0)
        self.assertEqual(m.get("aster_http_requests_total", service="nginx"), complete,
                         "a half head counted as a request")
        self.assertEqual(m.get("aster_exporter_requests_unanswered_total"), 0)
        logged = self.log_lines()
        self.assertEqual(sum(1 for l in logged if l[2] == "200"), complete, "nginx's own count")
        self.assertEqual({l[2] for l in logged if l[2] != "200"} - {"400", "408"}, set(),
                         "nginx answered a half head")
        grown = rss_kib(self.exporter.proc.pid) - rss_before
        self.assertLess(grown, 16 * n, f"exporter RSS grew {grown} KiB for {n} half-open connections")
