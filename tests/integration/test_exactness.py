"""Requests as real clients and scanners send them, against nginx's access
log as the truth: a first request split into small reads, a method token
outside the standard set (and in lower case), and bytes that are no HTTP at
all, answered 400. Every answer nginx logged is counted once, with the
label values the exporter's rules give it."""
import socket
import time
import unittest

from harness import Exporter, Nginx, curl, free_port, http_exchange
from test_pipeline import exporter_view

STANDARD = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}


def as_labels(truth):
    """nginx's (method, uri, class) -> [count, bytes] in the exporter's label
    values: a method outside the standard set is OTHER; a request nginx
    could not read at all (logged as '-' or with no URI) is UNKNOWN with
    path _unknown_, and has no body-size sample."""
    out = {}
    for (method, uri, status), (n, sent) in truth.items():
        if uri in ("-", "") or not uri.startswith("/"):
            key, sent = ("UNKNOWN", "_unknown_", status), 0
        else:
            key = (method if method in STANDARD else "OTHER", uri, status)
        rec = out.setdefault(key, [0, 0])
        rec[0] += n
        rec[1] += sent
    return out


def send_in_pieces(port, raw, piece):
    """One connection; the request written `piece` bytes at a time with a
    pause between, so that nginx's reads return it in those pieces."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(raw), piece):
            s.sendall(raw[i:i + piece])
            time.sleep(0.02)
        s.settimeout(5)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf


class NginxEdgeTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        # Large cookies and JWTs: heads up to 16 KB, as such sites configure.
        self.nginx = Nginx(self.port, workers=1, locations="large_client_header_buffers 4 16k;")
        self.addCleanup(self.nginx.stop)
        self.nginx.write_file("x.txt", 17)
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("nginx", processes=2)

    def compare(self, expected):
        m = self.exporter.wait_count(expected, service="nginx")
        logged, _ = self.nginx.logged()
        self.assertEqual(logged, expected, "nginx logged every answer")
        self.assertEqual(exporter_view(m, "nginx"), as_labels(self.nginx.truth()),
                         "exporter vs nginx access log: (method, path, class) -> [count, body bytes]")
        return m

    def test_first_request_split_into_small_reads(self):
        req = b"GET /x.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        for piece in (1, 3, 10):
            resp = send_in_pieces(self.port, req, piece)
            self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:40])
        m = self.compare(3)
        self.assertEqual(m.get("aster_http_requests_total", method="GET", path="/x.txt", status="2xx"), 3)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/x.txt"), 3 * 17)

    def test_other_methods_and_junk_answered_400_are_counted(self):
        payloads = [
            b"get /x.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",        # lower case: another method
            b"BREW /x.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",       # unknown method (nginx: 405 or 400)
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n",  # TLS-like
            b"hello there, this is not http\r\n\r\n",
        ]
        for p in payloads:
            with socket.create_connection(("127.0.0.1", self.port)) as s:
                resp = http_exchange(s, p)
                self.assertTrue(resp.startswith(b"HTTP/1.1 4"), resp[:40])
        m = self.compare(len(payloads))
        self.assertEqual(m.get("aster_http_requests_total", method="OTHER"), 2)
        self.assertEqual(m.get("aster_http_requests_total", method="UNKNOWN", path="_unknown_", status="4xx"), 2)

    def test_head_longer_than_the_capture_keeps_its_request_line(self):
        cookie = "Cookie: session=" + "c" * 12000
        self.assertEqual(curl("-H", cookie, *[f"http://127.0.0.1:{self.port}/x.txt"] * 2), [(200, 17)] * 2)
        m = self.compare(2)
        self.assertEqual(m.get("aster_http_requests_total", method="GET", path="/x.txt", status="2xx"), 2)
        self.assertEqual(m.get("aster_http_request_duration_seconds_count", path="/x.txt"), 2)
        # What the capture missed is said, not guessed: the heads' ends were
        # not seen and their body sizes are not sampled.
        self.assertGreaterEqual(m.get("aster_exporter_parse_errors_total", kind="head_not_captured"), 2)
        self.assertEqual(m.get("aster_http_request_size_bytes_count", path="/x.txt"), 0)
