"""HTTPS served by Go's crypto/tls, read through the Go TLS uprobes
(crypto/tls.(*Conn).Write at entry, Read at entry and at each of its RET
instructions; no uretprobes on Go code), against the Go server's own record
of what it answered (servers/gotlsserver). The server is built in the test
with Debian's Go and speaks HTTP/1.1 only (TLSNextProto set to an empty
map). curl and wrk map libssl unwatched: nothing of theirs is counted."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Exporter, Proc, curl, curl_next, free_port, make_cert, wait_for, wait_port
from test_go_runtime import build_goserver
from test_pipeline import as_label_path, exporter_view
from test_tls import keepalive_https_get

GOTLS_SRC = os.path.join(harness.SERVERS, "gotlsserver")
TRUTH_GO = os.path.join(harness.SERVERS, "goserver", "truth.go")
SERVICE = "gotlsserver"


class GoTlsServer:
    """gotlsserver on a port of its own, with its certificate and record."""

    def __init__(self, binary, port=None):
        self.dir = tempfile.mkdtemp(prefix="aster-gotls-")
        self.cert, self.key = make_cert(self.dir)
        self.truth_file = os.path.join(self.dir, "truth.txt")
        self.port = port or free_port()
        self.proc = Proc([binary, str(self.port), self.cert, self.key, self.truth_file], log_name="gotlsserver")

    def lines(self):
        if not os.path.exists(self.truth_file):
            return []
        with open(self.truth_file) as f:
            return [line.split() for line in f if line.strip()]

    def truth(self):
        """(method, path, status class) -> [count, response body bytes]."""
        out = {}
        for method, path, status, _, sent in self.lines():
            rec = out.setdefault((method, as_label_path(path), status[0] + "xx"), [0, 0])
            rec[0] += 1
            rec[1] += int(sent)
        return out

    def received(self, method):
        return sum(int(got) for m, _, _, got, _ in self.lines() if m == method)

    def alive(self):
        return self.proc.p.poll() is None

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_probed(exporter):
    wait_for(lambda: exporter.scrape().get("aster_exporter_go_tls_binaries_probed") >= 1, timeout=20,
             what="the Go binary's crypto/tls to be probed")


def assert_clean(test, m, not_http=0, unbound=0):
    """`not_http`, `unbound`: what a connection older than the probes may leave."""
    test.assertLessEqual(m.get("aster_exporter_tls_plaintext_unbound_total"), unbound, "plaintext bound")
    test.assertLessEqual(m.get("aster_exporter_connections_total", event="not_http"), not_http,
                         "no Go TLS connection was taken for a non-HTTP one")
    test.assertEqual(m.get("aster_exporter_parse_errors_total"), 0, "the plaintext streams parse cleanly")
    test.assertEqual(m.get("aster_exporter_go_tls_calls_skipped_total"), 0, "every tls.Conn is a *net.TCPConn")
    test.assertEqual(m.get("aster_exporter_go_tls_binary_failures_total"), 0)


class GoTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aster-gotls-build-")
        cls.binary = build_goserver(cls.dir, src=GOTLS_SRC, name=SERVICE, shared=[TRUTH_GO])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def server(self, port=None):
        s = GoTlsServer(self.binary, port)
        self.addCleanup(s.stop)
        return s

    def exporter(self, port, *extra):
        e = Exporter(f"--target.port={port}", *extra)
        self.addCleanup(e.stop)
        return e

    def compare(self, exporter, srv):
        truth = srv.truth()
        try:
            m = exporter.wait_count(sum(n for n, _ in truth.values()), service=SERVICE, timeout=30)
        except AssertionError:
            m = exporter.scrape()
            print({k: m.get(k) for k in ("aster_exporter_responses_unpaired_total", "aster_exporter_records_late_total",
                                         "aster_exporter_tls_scratch_busy_total", "aster_exporter_parse_errors_total",
                                         "aster_exporter_tls_plaintext_unbound_total", "aster_exporter_requests_unanswered_total",
                                         "aster_exporter_records_reordered_total")})
            raise
        self.assertEqual(exporter_view(m, SERVICE), truth,
                         "exporter vs the Go server's own record: (method, path, class) -> [count, body bytes]")
        return m

    def test_curl_and_wrk_match_the_servers_record(self):
        srv = self.server()
        wait_port(srv.port)
        exporter = self.exporter(srv.port)
        exporter.wait_watching(SERVICE)
        wait_probed(exporter)
        base = f"https://127.0.0.1:{srv.port}"
        # One curl: one keep-alive connection for its URLs.
        self.assertEqual(curl(*[f"{base}/bytes/100"] * 4, f"{base}/nothing", f"{base}/bytes/20000", f"{base}/no/2"),
                         [(200, 100)] * 4 + [(404, 8), (200, 20000), (404, 8)])
        self.assertEqual(curl_next(["-d", "u" * 5000, f"{base}/echo"], ["-d", "v" * 70000, f"{base}/echo"]),
                         [(200, 5000), (200, 70000)])
        # A few thousand requests over keep-alive connections: counted
        # exactly, and the Go program survives the probes.
        out = subprocess.run(["wrk", "-t2", "-c8", "-d3s", f"{base}/bytes/64"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        m = self.compare(exporter, srv)
        self.assertGreater(m.get("aster_http_requests_total", path="/bytes/:id"), 1000, "wrk's load was counted")
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", method="POST", path="/echo"), 75000)
        self.assertEqual(srv.received("POST"), 75000)
        self.assertTrue(srv.alive(), "the Go server survived the probes")
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="tls"), 3)
        assert_clean(self, m)

    def test_outgoing_https_calls_are_not_counted_as_served(self):
        callee, caller = self.server(), self.server()
        wait_port(callee.port)
        wait_port(caller.port)
        exporter = self.exporter(caller.port)
        exporter.wait_watching(SERVICE)
        wait_probed(exporter)
        url = f"https://127.0.0.1:{caller.port}/call?url=https://127.0.0.1:{callee.port}/bytes/7"
        self.assertEqual(curl(url, url, url), [(200, 3)] * 3)
        self.assertEqual(callee.truth(), {("GET", "/bytes/:id", "2xx"): [3, 21]}, "the calls were made")
        m = self.compare(exporter, caller)
        self.assertEqual(m.get("aster_http_requests_total", path="/bytes/:id"), 0, "the caller's own requests")
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="client_role"), 1)
        assert_clean(self, m)

    def test_server_started_after_the_exporter(self):
        port = free_port()
        exporter = self.exporter(port, "--discovery.interval-ms=60000")
        srv = self.server(port)
        wait_port(port)
        first = time.monotonic()
        self.assertEqual(curl(f"https://127.0.0.1:{port}/first"), [(404, 8)])
        time.sleep(max(0.0, first + 1.0 - time.monotonic()))
        # The probes may land while the first connection is under way: its
        # handshake before them is not HTTP to the exporter (not_http), and
        # its request read (taken from the socket inside the handshake, with
        # the client's Finished) and its answer's write, both before any
        # transfer that binds it, are counted unbound. Only that connection.
        first_unbound = exporter.scrape().get("aster_exporter_tls_plaintext_unbound_total")
        self.assertLessEqual(first_unbound, 2, "the first connection's read and write at most")
        self.assertEqual(curl(*[f"https://127.0.0.1:{port}/after"] * 5), [(404, 8)] * 5)
        m = exporter.wait_count(5, service=SERVICE, path="/after")
        self.assertLessEqual(m.get("aster_http_requests_total", path="/first"), 1)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/after"), 40)
        assert_clean(self, m, not_http=1, unbound=first_unbound)

    def test_keepalive_connection_opened_before_the_exporter(self):
        srv = self.server()
        wait_port(srv.port)
        get = keepalive_https_get(self, srv.port)

        self.assertEqual(get("/bytes/5"), (200, 5))
        exporter = self.exporter(srv.port)
        exporter.wait_watching(SERVICE)
        wait_probed(exporter)
        # The server's goroutine entered Read for this request before the
        # probes were attached: its plaintext cannot be read (its response
        # is counted unbound, and its transfer binds the connection).
        self.assertEqual(get("/bytes/9"), (200, 9))
        for _ in range(3):
            self.assertEqual(get("/bytes/13"), (200, 13))
        m = exporter.wait_count(3, service=SERVICE)
        self.assertEqual(m.get("aster_http_requests_total", path="/bytes/:id", status="2xx"), 3)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/bytes/:id"), 39)
        self.assertEqual(m.get("aster_http_requests_total", method="UNKNOWN"), 0)
        assert_clean(self, m, not_http=1, unbound=1)


if __name__ == "__main__":
    unittest.main()


class GoTlsBuildsTest(unittest.TestCase):
    """How the binary was built: position-independent (go build
    -buildmode=pie) is read at the process's load bias; stripped (-ldflags
    "-s -w": no symbols, no DWARF) cannot be probed, which is counted and
    its HTTPS is not_http, never guessed."""

    def build(self, name, *flags):
        d = tempfile.mkdtemp(prefix="aster-gotls-build-")
        self.addCleanup(shutil.rmtree, d, True)
        return build_goserver(d, src=GOTLS_SRC, name=name, shared=[TRUTH_GO], flags=flags)

    def start(self, binary):
        s = GoTlsServer(binary)
        self.addCleanup(s.stop)
        wait_port(s.port)
        e = Exporter(f"--target.port={s.port}")
        self.addCleanup(e.stop)
        return s, e

    def test_position_independent_binary_is_read(self):
        binary = self.build("gotlspie", "-buildmode=pie")
        with open(binary, "rb") as f:
            self.assertEqual(f.read(18)[16], 3, "ET_DYN: the build is position-independent")
        srv, exporter = self.start(binary)
        wait_probed(exporter)
        base = f"https://127.0.0.1:{srv.port}"
        self.assertEqual(curl(f"{base}/bytes/100", f"{base}/bytes/7000", f"{base}/nothing"),
                         [(200, 100), (200, 7000), (404, 8)])
        self.assertEqual(curl("-d", "p" * 3000, f"{base}/echo"), [(200, 3000)])
        truth = srv.truth()
        m = exporter.wait_count(sum(n for n, _ in truth.values()), service="gotlspie", timeout=30)
        self.assertEqual(exporter_view(m, "gotlspie"), truth)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", method="POST"), 3000)
        assert_clean(self, m)

    def test_stripped_binary_is_skipped_and_counted(self):
        binary = self.build("gotlsstripped", "-ldflags=-s -w")
        srv, exporter = self.start(binary)
        wait_for(lambda: exporter.scrape().get("aster_exporter_go_tls_binary_failures_total") >= 1, timeout=20,
                 what="the stripped binary counted as not probed")
        base = f"https://127.0.0.1:{srv.port}"
        self.assertEqual(curl(f"{base}/bytes/10", f"{base}/nothing"), [(200, 10), (404, 8)])
        self.assertEqual(len(srv.lines()), 2, "the server answered both")
        m = exporter.wait_count(1, name="aster_exporter_connections_total", event="not_http")
        self.assertEqual(m.get("aster_exporter_go_tls_binary_failures_total"), 1, "counted once")
        self.assertEqual(m.get("aster_exporter_go_tls_binaries_probed"), 0)
        self.assertEqual(m.get("aster_http_requests_total", service="gotlsstripped"), 0, "nothing guessed")
        self.assertEqual(m.get("aster_exporter_parse_errors_total"), 0)

