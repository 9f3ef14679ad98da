"""Requests as real clients and scanners send them, against nginx's access
log as the truth: a first request split into small reads, a method token
outside the standard set (and in lower case), and bytes that are no HTTP at
all (a TLS handshake, the HTTP/2 preface, an SSH banner), answered 400.
Every answer nginx logged is counted once, with the label values the
exporter's rules give it. And a server that answers in another protocol
(TLS) is not HTTP: skipped at its first answer, counted, nothing invented."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (Exporter, Nginx, curl, free_port, http_exchange, reads_per_connection, start_openssl_server,
                     tls_line_exchange, wait_for)
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
    pause between, so that nginx's reads return it in those pieces. The
    pause after the first piece is the longest: that the first read ends
    there is the case, even on a loaded machine."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(raw), piece):
            s.sendall(raw[i:i + piece])
            time.sleep(0.3 if i == 0 else 0.02)
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
        # The capture shows how nginx's reads really split what was sent.
        self.dir = tempfile.mkdtemp(prefix="aster-exactness-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.capture = os.path.join(self.dir, "capture.cap")
        self.exporter = Exporter(f"--target.port={self.port}", f"--capture.record={self.capture}")
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
        # 1-, 3- and 10-byte pieces, and empty lines before the request line
        # (RFC 9112 2.2; nginx skips them) in 5-byte pieces: "\r\n\r\nG", "ET /x"...
        cases = [(req, 1), (req, 3), (req, 10), (b"\r\n\r\n" + req, 5)]
        for raw, piece in cases:
            resp = send_in_pieces(self.port, raw, piece)
            self.assertTrue(resp.startswith(b"HTTP/1.1 200"), resp[:40])
        m = self.compare(len(cases))
        self.assertEqual(m.get("aster_http_requests_total", method="GET", path="/x.txt", status="2xx"), len(cases))
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/x.txt"), len(cases) * 17)
        # The case is real only if nginx's reads were split: its first read
        # of each connection ended inside the request line, and it read the
        # request in more than one piece (connections in the order sent).
        self.exporter.stop()
        reads = [r for _, r in sorted(reads_per_connection(self.capture).items())]
        self.assertEqual([sum(r) for r in reads], [len(raw) for raw, _ in cases], reads)
        for (raw, piece), r in zip(cases, reads):
            line_end = raw.index(b"\r\n", raw.index(b"GET"))
            self.assertLess(r[0], line_end, f"{piece}-byte pieces: nginx read {r}")
            self.assertGreater(len(r), 1, f"{piece}-byte pieces: nginx read {r}")

    def test_other_methods_and_junk_answered_400_are_counted(self):
        payloads = [
            b"get /x.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",        # lower case: another method
            b"BREW /x.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",       # unknown method (nginx: 405 or 400)
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(32)) + b"\r\n\r\n",  # TLS-like
            b"hello there, this is not http\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",               # a scanner's SSH banner
        ]
        for p in payloads:
            with socket.create_connection(("127.0.0.1", self.port)) as s:
                resp = http_exchange(s, p)
                self.assertTrue(resp.startswith(b"HTTP/1.1 4"), resp[:40])
        # Real clients: a TLS handshake to the plain port (nginx answers its
        # ClientHello 400 in plain text, which the client takes for a bad
        # record), and HTTP/2 with prior knowledge (nginx without http2 on
        # the port answers the preface 400).
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.port}"], input=b"",
                           capture_output=True, timeout=30)
        self.assertIn(b"wrong version number", r.stderr)
        r = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", f"http://127.0.0.1:{self.port}/x.txt"],
                           capture_output=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "nginx does not speak HTTP/2 on this port")
        m = self.compare(len(payloads) + 2)
        self.assertEqual(m.get("aster_http_requests_total", method="OTHER"), 2)
        self.assertEqual(m.get("aster_http_requests_total", method="UNKNOWN", path="_unknown_", status="4xx"),
                         len(payloads) - 2 + 2)
        self.assertEqual(m.get("aster_exporter_connections_total", event="not_http"), 0)

    def test_head_longer_than_the_capture_keeps_its_request_line(self):
        cookie = "Cookie: session=" + "c" * 12000
        self.assertEqual(curl("-H", cookie, *[f"http://127.0.0.1:{self.port}/x.txt"] * 2), [(200, 17)] * 2)
        # A request line longer than the capture: a 7 KB query string.
        self.assertEqual(curl(f"http://127.0.0.1:{self.port}/x.txt?q=" + "q" * 7000), [(200, 17)])
        m = self.compare(3)
        self.assertEqual(m.get("aster_http_requests_total", method="GET", path="/x.txt", status="2xx"), 3)
        self.assertEqual(m.get("aster_http_request_duration_seconds_count", path="/x.txt"), 3)
        # What the capture missed is said, not guessed: the heads' ends were
        # not seen and their body sizes are not sampled.
        self.assertGreaterEqual(m.get("aster_exporter_parse_errors_total", kind="head_not_captured"), 3)
        self.assertEqual(m.get("aster_http_request_size_bytes_count", path="/x.txt"), 0)
        self.assertEqual(m.get("aster_exporter_responses_unpaired_total"), 0)


class TlsServerTest(unittest.TestCase):
    """A watched TLS server (openssl s_server, echoing each line reversed)
    answers in TLS, not HTTP: every connection is skipped at the server's
    first answer and counted, whatever the client sent, and no request is
    invented. Not after 256 KiB: each connection here moves a few KiB."""

    def test_a_server_answering_in_another_protocol_is_not_http(self):
        port = free_port()
        d = tempfile.mkdtemp(prefix="aster-tls-")
        self.addCleanup(shutil.rmtree, d, True)
        server = start_openssl_server(port, d)
        self.addCleanup(server.stop)
        exporter = Exporter(f"--target.port={port}")
        self.addCleanup(exporter.stop)
        exporter.wait_watching("openssl")
        # The client's first bytes: a ClientHello, an HTTP request line by
        # chance on a fresh connection (the first read's bytes are the
        # ClientHello's), and plain text the server never answers in kind.
        for line in (b"ping\n", b"GET / HTTP/1.1\n", b"hello\n"):
            self.assertEqual(tls_line_exchange(port, line).strip(), line.strip()[::-1],
                             "the server's own answer: the line reversed")
        wait_for(lambda: exporter.scrape().get("aster_exporter_connections_total", event="not_http") == 3,
                 timeout=10, what="three connections skipped as not HTTP")
        m = exporter.scrape()
        self.assertEqual(m.get("aster_http_requests_total"), 0)
        self.assertEqual(m.get("aster_exporter_responses_unpaired_total"), 0)
        self.assertEqual(m.get("aster_exporter_connections_total", event="client_role"), 0)
        self.assertEqual(m.get("aster_exporter_connections_total", event="opened"), 3)
