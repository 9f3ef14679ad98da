"""HTTPS through the TLS uprobes (OpenSSL's libssl), against each server's
own truth: nginx with ssl (SSL_read/SSL_write) and its access log, Python's
http.server wrapped in ssl (SSL_read_ex/SSL_write_ex) and its own record of
what it answered. The clients (curl, this test's own Python) map the same
libssl unwatched: nothing of theirs may be counted."""
import http.client
import os
import shutil
import socket
import ssl
import tempfile
import time
import unittest

import harness
from harness import Exporter, Nginx, Proc, curl, free_port, make_cert, wait_for, wait_port
from test_pipeline import as_label_path, exporter_view

# Debian's Python (what a fresh machine runs), not whichever python3 is first on PATH.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
PY_TLS_SERVER = os.path.join(harness.SERVERS, "py_tls_server.py")


def wait_probed(exporter, libraries=1):
    wait_for(lambda: exporter.scrape().get("aster_exporter_tls_libraries_probed") >= libraries, timeout=20,
             what="the TLS library to be probed")


def services(m):
    return {l["service"] for l in m.series("aster_http_requests_total")}


class PyTlsServer:
    """py_tls_server.py with its certificate and truth file in a directory of its own."""

    def __init__(self, tls_port, *extra):
        self.dir = tempfile.mkdtemp(prefix="aster-pytls-")
        self.cert, self.key = make_cert(self.dir)
        self.truth_file = os.path.join(self.dir, "truth.txt")
        self.tls_port = tls_port
        self.proc = Proc([PYTHON, PY_TLS_SERVER, "--cert", self.cert, "--key", self.key, "--truth", self.truth_file,
                          "--tls-port", str(tls_port), *extra], log_name="pytls")
        self.service = os.path.basename(os.path.realpath(PYTHON))

    def truth(self):
        """(method, path, status class) -> [count, body bytes], as the server recorded them."""
        out = {}
        if not os.path.exists(self.truth_file):
            return out
        with open(self.truth_file) as f:
            for line in f:
                method, path, status, size = line.split()
                rec = out.setdefault((method, as_label_path(path), status[0] + "xx"), [0, 0])
                rec[0] += 1
                rec[1] += int(size)
        return out

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def unverified():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def keepalive_https_get(test, port):
    """One keep-alive HTTPS connection to 127.0.0.1:port (closed at the
    test's end); returns get(path) -> (status, body bytes) over it."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=unverified(), timeout=10)
    test.addCleanup(conn.close)

    def get(path):
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, len(r.read())
    return get


def assert_clean_tls(test, m, not_http=0):
    """`not_http`: connections allowed to count as not HTTP (their ciphertext
    moved before the library was probed)."""
    test.assertEqual(m.get("aster_exporter_tls_plaintext_unbound_total"), 0, "every plaintext record was bound")
    test.assertLessEqual(m.get("aster_exporter_connections_total", event="not_http"), not_http,
                         "no TLS connection was taken for a non-HTTP one")
    # A failed SSL_read (-1, WANT_READ) once read as 4 GiB of plaintext: the
    # streams then saw gaps where there were none.
    test.assertEqual(m.get("aster_exporter_parse_errors_total"), 0, "the plaintext streams parse cleanly")


class NginxTlsTest(unittest.TestCase):
    def setUp(self):
        self.port, self.tls_port = free_port(), free_port()
        self.nginx = Nginx(self.port, ssl_port=self.tls_port)
        self.addCleanup(self.nginx.stop)
        self.nginx.write_file("small.txt", 13)
        self.nginx.write_file("big.bin", 1 << 20)
        self.nginx.write_file("first.txt", 5)

    def start_exporter(self):
        exporter = Exporter(f"--target.port={self.tls_port}")
        self.addCleanup(exporter.stop)
        exporter.wait_watching("nginx", processes=3)
        wait_probed(exporter)
        return exporter

    def compare(self, exporter, expected):
        m = exporter.wait_count(expected, service="nginx")
        truth = {}
        for (method, path, status), (n, sent) in self.nginx.truth().items():
            rec = truth.setdefault((method, as_label_path(path), status), [0, 0])
            rec[0] += n
            rec[1] += sent
        self.assertEqual(exporter_view(m, "nginx"), truth,
                         "exporter vs nginx access log: (method, path, class) -> [count, body bytes]")
        self.assertEqual(services(m), {"nginx"}, "curl and this test map libssl unwatched: not counted")
        assert_clean_tls(self, m)
        return m

    def test_https_and_http_on_one_server_match_the_access_log(self):
        exporter = self.start_exporter()
        tls = f"https://127.0.0.1:{self.tls_port}"
        plain = f"http://127.0.0.1:{self.port}"
        got = curl(*[f"{tls}/small.txt"] * 5, *[f"{tls}/big.bin"] * 2, *[f"{tls}/missing/{i}" for i in range(3)])
        self.assertEqual(got, [(200, 13)] * 5 + [(200, 1 << 20)] * 2 + [(404, got[-1][1])] * 3)
        self.assertEqual(curl("-d", "p" * 3000, f"{tls}/post", f"{tls}/post"), [(204, 0)] * 2)
        self.assertEqual(curl(*[f"{plain}/small.txt"] * 3, f"{plain}/missing/9"), [(200, 13)] * 3 + [(404, got[-1][1])])
        m = self.compare(exporter, 16)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", method="POST", service="nginx"), 6000)
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="tls"), 2)
        self.assertGreaterEqual(m.get("aster_exporter_tls_sessions_bound_total"), 2)

    def test_keepalive_tls_connection_opened_before_the_exporter(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.tls_port, context=unverified(), timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/first.txt")
        self.assertEqual(conn.getresponse().read(), bytes((i * 7) % 251 for i in range(5)))
        exporter = self.start_exporter()
        for _ in range(3):
            conn.request("GET", "/small.txt")
            r = conn.getresponse()
            self.assertEqual((r.status, len(r.read())), (200, 13))
        m = exporter.wait_count(3, service="nginx")
        self.assertEqual(m.get("aster_http_requests_total", path="/small.txt", status="2xx"), 3)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/small.txt"), 39)
        self.assertEqual(m.get("aster_http_requests_total", path="/first.txt"), 0, "answered before the start")
        assert_clean_tls(self, m)


class PythonTlsTest(unittest.TestCase):
    def server(self, *extra, tls_port=None):
        s = PyTlsServer(tls_port or free_port(), *extra)
        self.addCleanup(s.stop)
        return s

    def compare(self, exporter, server, expected):
        m = exporter.wait_count(expected, service=server.service)
        self.assertEqual(exporter_view(m, server.service), server.truth(),
                         "exporter vs the server's own record: (method, path, class) -> [count, body bytes]")
        assert_clean_tls(self, m)
        return m

    def test_http_server_in_ssl_matches_its_own_record(self):
        srv = self.server()
        wait_port(srv.tls_port)
        exporter = Exporter(f"--target.port={srv.tls_port}")
        self.addCleanup(exporter.stop)
        exporter.wait_watching(srv.service)
        wait_probed(exporter)
        base = f"https://127.0.0.1:{srv.tls_port}"
        self.assertEqual(curl(*[f"{base}/bytes/100"] * 4, f"{base}/nothing", f"{base}/bytes/20000"),
                         [(200, 100)] * 4 + [(404, 8), (200, 20000)])
        self.assertEqual(curl("-d", "u" * 5000, f"{base}/echo", f"{base}/echo"), [(200, 5000)] * 2)
        m = self.compare(exporter, srv, 8)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", method="POST", path="/echo"), 10000)

    def test_outgoing_https_calls_are_not_counted_as_served(self):
        callee = self.server()
        caller = self.server()
        wait_port(callee.tls_port)
        wait_port(caller.tls_port)
        exporter = Exporter(f"--target.port={caller.tls_port}")
        self.addCleanup(exporter.stop)
        exporter.wait_watching(caller.service)
        wait_probed(exporter)
        url = f"https://127.0.0.1:{caller.tls_port}/call?url=https://127.0.0.1:{callee.tls_port}/bytes/7"
        self.assertEqual(curl(url, url, url), [(200, 6)] * 3)
        self.assertEqual(callee.truth(), {("GET", "/bytes/:id", "2xx"): [3, 21]}, "the calls were made")
        m = self.compare(exporter, caller, 3)
        self.assertEqual(m.get("aster_http_requests_total", path="/bytes/:id"), 0, "the caller's own requests")
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="client_role"), 3)

    def cover_within_a_second(self, exporter, srv, not_http=1):
        """The first request, then after a second: every request from then on counted."""
        first = time.monotonic()
        self.assertEqual(curl(f"https://127.0.0.1:{srv.tls_port}/first"), [(404, 8)])
        time.sleep(max(0.0, first + 1.0 - time.monotonic()))
        self.assertEqual(curl(*[f"https://127.0.0.1:{srv.tls_port}/after"] * 5), [(404, 8)] * 5)
        m = exporter.wait_count(5, service=srv.service, path="/after")
        self.assertLessEqual(m.get("aster_http_requests_total", path="/first"), 1)
        # The first connection may have moved its handshake before the
        # library was probed: then it is not HTTP to the exporter.
        assert_clean_tls(self, m, not_http=not_http)

    def test_ssl_loaded_after_the_exporter_started(self):
        late = free_port()
        srv = self.server("--late-ssl", str(late))
        wait_port(late)
        exporter = Exporter(f"--target.port={late}")
        self.addCleanup(exporter.stop)
        exporter.wait_watching(srv.service)
        with open(f"/proc/{srv.proc.pid}/maps") as f:
            self.assertNotIn("libssl", f.read(), "the server has not loaded ssl yet")
        self.assertEqual(exporter.scrape().get("aster_exporter_tls_libraries_probed"), 0)
        with socket.create_connection(("127.0.0.1", late)) as s:
            s.sendall(b"load\n")
            self.assertEqual(s.makefile("rb").readline(), b"loaded\n")
        # The "load" line on the watched plain port is no HTTP either.
        self.cover_within_a_second(exporter, srv, not_http=2)
        self.assertGreaterEqual(exporter.scrape().get("aster_exporter_events_total", kind="libraries_changed"), 1)

    def test_server_started_after_the_exporter(self):
        port = free_port()
        exporter = Exporter(f"--target.port={port}", "--discovery.interval-ms=60000")
        self.addCleanup(exporter.stop)
        srv = self.server(tls_port=port)
        wait_port(port)
        self.cover_within_a_second(exporter, srv)


class TlsDisabledTest(unittest.TestCase):
    def test_tls_disabled_probes_nothing_and_counts_no_https(self):
        port, tls_port = free_port(), free_port()
        nginx = Nginx(port, ssl_port=tls_port)
        self.addCleanup(nginx.stop)
        nginx.write_file("small.txt", 13)
        exporter = Exporter(f"--target.port={tls_port}", "--tls.enabled=false")
        self.addCleanup(exporter.stop)
        exporter.wait_watching("nginx", processes=3)
        curl(*[f"https://127.0.0.1:{tls_port}/small.txt"] * 2)
        curl(f"http://127.0.0.1:{port}/small.txt")
        m = exporter.wait_count(1, service="nginx")
        self.assertEqual(m.get("aster_exporter_tls_libraries_probed"), 0)
        self.assertEqual(m.get("aster_exporter_connections_total", event="tls"), 0)


if __name__ == "__main__":
    unittest.main()
