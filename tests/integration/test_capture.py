"""Record and replay against real servers: the exporter records what its
pipeline consumes (--capture.record) while real clients drive real
servers, and the replay of that file (--capture.replay) must give exactly
the HTTP and pipeline metrics the live exporter served.

With ASTER_UPDATE_CAPTURES=DIR (socket mode), each capture and its replayed
exposition are kept in DIR as NAME.cap and NAME.prom: that is how the
goldens in tests/captures/ were made, which tests/unit/replay_test.cc
replays against on every build.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import (Exporter, Metrics, Nginx, Proc, curl, free_port, http_exchange, start_node,
                     start_python_stock, wait_for, wait_port)
from test_go_runtime import build_goserver
from test_http2 import Nghttpd, h2load


def replay(capture):
    r = subprocess.run([harness.EXPORTER, f"--capture.replay={capture}"], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"replay of {capture} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def samples(text, names=None):
    """{(name, sorted labels): value} of an exposition, optionally only the
    sample names in `names`."""
    return {(n, tuple(sorted(l.items()))): v for n, l, v in Metrics(text).samples
            if names is None or n in names}


# The pipeline's own series (userspace/pipeline_self_metrics.cc): what a
# capture gives besides the HTTP families.
PIPELINE_FAMILIES = {
    "aster_exporter_events_total", "aster_exporter_captured_bytes_total", "aster_exporter_gap_bytes_total",
    "aster_exporter_parse_errors_total", "aster_exporter_connections_tracked", "aster_exporter_connections_total",
    "aster_exporter_requests_recorded_total", "aster_exporter_responses_unpaired_total",
    "aster_exporter_requests_unanswered_total", "aster_exporter_body_size_estimated_total",
    "aster_exporter_records_reordered_total", "aster_exporter_records_late_total",
    "aster_exporter_pipeline_overflow_total", "aster_exporter_held_bytes_capped_total", "aster_exporter_http_series",
    "aster_exporter_path_overflow_total", "aster_exporter_iov_hint_bytes_total",
    "aster_exporter_boundary_windows_total",
    "aster_exporter_series_overflow_total", "aster_exporter_route_positions_collapsed_total",
    "aster_exporter_http2_connections_total", "aster_exporter_http2_streams_total",
    "aster_exporter_http2_fields_unresolved_total", "aster_exporter_http2_table_epochs_total",
    "aster_exporter_http2_resyncs_total", "aster_exporter_http2_frames_invalid_total",
}


# Records that keep arriving after the scenario's traffic is over, and are in
# the capture but not in the last live scrape: a LISTEN anywhere on the node,
# and CLOSE records of sockets whose connections have long been finished
# (the kernel moves a socket to TCP_CLOSE more than once; a Go server's
# 3 213 connections gave 7 639, still rising 30 s later). They touch no
# other series (a close of an unknown connection is only counted), so the
# replay must have at least as many as the live run, not exactly as many.
TRICKLING = {("aster_exporter_events_total", (("kind", "listen"),)),
             ("aster_exporter_events_total", (("kind", "close"),))}


class CaptureCase(unittest.TestCase):
    """Records one scenario; the subclass's drive() makes the traffic and
    returns how many answered requests the exporter must count."""

    name = None
    exporter_args = ()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aster-capture-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.capture = os.path.join(self.dir, "capture.cap")

    def watched_nginx(self, files, workers=1, **nginx_args):
        """nginx with these {name: size} files, watched by a recording
        exporter; returns its port."""
        port = free_port()
        nginx = Nginx(port, workers=workers, **nginx_args)
        self.addCleanup(nginx.stop)
        for name, size in files.items():
            nginx.write_file(name, size)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("nginx", processes=workers + 1)
        return port

    def watched_node(self):
        """The Node.js test server, watched by a recording exporter; returns
        its port."""
        port = free_port()
        server = start_node(port)
        self.addCleanup(server.stop)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("node")
        return port

    def start_exporter(self, *selector):
        self.exporter = Exporter(*selector, *self.exporter_args, f"--capture.record={self.capture}")
        self.addCleanup(self.exporter.stop)

    def settled_scrape(self):
        """The live exposition once every connection of the scenario has
        closed and four scrapes over a second agree on the pipeline's
        series: a socket's close can reach the exporter well after its last
        bytes (nginx's lingering close), and a closed connection finishes a
        few drains after that. Only then is nothing left that the exporter's
        shutdown could still add to the capture."""
        seen = []

        def same():
            text = self.exporter.raw()
            now = {k: v for k, v in samples(text).items()
                   if k[0].startswith("aster_http_") or k[0] in PIPELINE_FAMILIES}
            now = {k: v for k, v in now.items() if k not in TRICKLING}
            seen.append(now)
            if (len(seen) >= 4 and all(x == seen[-1] for x in seen[-4:]) and
                    now.get(("aster_exporter_connections_tracked", ()), 0) == 0):
                return text
            time.sleep(0.3)
            return None
        try:
            return wait_for(same, timeout=30, interval=0, what="every connection closed and the metrics settled")
        except AssertionError:
            raise AssertionError(f"not settled; last two scrapes: {seen[-2:]}") from None

    def check_replay(self, service, expected):
        self.exporter.wait_count(expected, service=service)
        live = self.settled_scrape()
        self.exporter.stop()  # SIGTERM: the capture gets its end marker
        self.assertEqual(os.stat(self.capture).st_mode & 0o777, 0o600, "a capture holds payload: mode 0600")
        replayed = replay(self.capture)
        rep = samples(replayed)
        names = {k[0] for k in rep}
        for family in ("aster_http_requests_total", "aster_http_request_duration_seconds_bucket",
                       "aster_exporter_requests_recorded_total", "aster_exporter_events_total"):
            self.assertIn(family, names, "the replay gives the HTTP and pipeline families")
        self.assertEqual(Metrics(replayed).get("aster_http_requests_total", service=service), expected)
        live_view = {k: v for k, v in samples(live).items() if k[0] in names}
        missing = sorted(set(live_view) ^ set(rep))
        self.assertEqual(missing, [], "series in one of live and replay only")
        for k in TRICKLING:
            self.assertGreaterEqual(rep[k], live_view[k], k)
        diff = {k: (live_view[k], rep[k]) for k in rep if k not in TRICKLING and live_view[k] != rep[k]}
        self.assertEqual(diff, {}, "live vs replayed value")
        keep = os.environ.get("ASTER_UPDATE_CAPTURES")
        if keep and harness.ATTACH_MODE == "socket":
            shutil.copyfile(self.capture, os.path.join(keep, self.name + ".cap"))
            with open(os.path.join(keep, self.name + ".prom"), "w") as f:
                f.write(replayed)


class NginxCaptureTest(CaptureCase):
    """nginx master + 2 workers: keep-alive, sendfile (no payload in the
    capture, exact sizes), 404, HEAD, POST, and three pipelined requests."""
    name = "nginx_keepalive_pipelined"

    def test_replay_equals_live(self):
        port = self.watched_nginx({"small.txt": 13, "big.bin": 256 << 10}, workers=2)
        base = f"http://127.0.0.1:{port}"
        curl(*[f"{base}/small.txt"] * 4, *[f"{base}/big.bin"] * 2, f"{base}/missing/1", f"{base}/missing/2")
        curl("-I", f"{base}/small.txt")
        curl("-X", "POST", "--data-binary", "x" * 300, f"{base}/post")
        with socket.create_connection(("127.0.0.1", port)) as s:
            req = b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"
            http_exchange(s, req * 3, expect_responses=3)
        self.check_replay("nginx", 8 + 1 + 1 + 3)


class PythonCaptureTest(CaptureCase):
    """python3 -m http.server: HTTP/1.0, a connection per request."""
    name = "python_http10"

    def test_replay_equals_live(self):
        port = free_port()
        root = tempfile.mkdtemp(prefix="aster-pyroot-", dir=self.dir)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("hello\n" * 20)
        server = start_python_stock(port, root)
        self.addCleanup(server.stop)
        self.start_exporter(f"--target.port={port}")
        wait_for(lambda: self.exporter.scrape().get("aster_exporter_watched_processes") >= 1, timeout=20,
                 what="the Python server to be watched")
        for i in range(4):
            curl(f"http://127.0.0.1:{port}/index.html")
        curl(f"http://127.0.0.1:{port}/nothing-here")
        service = self.exporter.scrape().series("aster_service_processes")[0]["service"]
        self.check_replay(service, 5)


class NodeCaptureTest(CaptureCase):
    """Node.js: chunked responses, uploads with Content-Length and chunked,
    and a keep-alive connection opened before the exporter started (its
    first request is not seen, its next one is counted)."""
    name = "node_chunked_preopened"

    def test_replay_equals_live(self):
        port = free_port()
        server = start_node(port)
        self.addCleanup(server.stop)
        early = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(early.close)
        get = b"GET /fixed/1 HTTP/1.1\r\nHost: x\r\n\r\n"
        http_exchange(early, get)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("node")
        http_exchange(early, get)  # on the connection opened before the exporter
        base = f"http://127.0.0.1:{port}"
        curl(f"{base}/chunked?n=3&size=10", f"{base}/chunked?n=5&size=100", f"{base}/status/503")
        curl("-X", "POST", "--data-binary", "z" * 1000, f"{base}/echo-size")
        curl("-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary", "w" * 5000, f"{base}/echo-size")
        early.close()
        self.check_replay("node", 1 + 3 + 2)


class Http2CaptureTest(CaptureCase):
    """nghttpd (h2c) driven by h2load: two connections of ten concurrent
    streams each, answers completing out of order, 404s, and uploads."""
    name = "nghttpd_h2load"

    def test_replay_equals_live(self):
        port = free_port()
        server = Nghttpd(port)
        self.addCleanup(server.stop)
        server.write_file("a.txt", 100)
        server.write_file("b.bin", 300)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("nghttpd")
        base = f"http://127.0.0.1:{port}"
        h2load("-n", "60", "-c", "2", "-m", "10", f"{base}/a.txt", f"{base}/b.bin", f"{base}/missing")
        upload = os.path.join(self.dir, "upload")
        with open(upload, "wb") as f:
            f.write(b"u" * 200)
        h2load("-n", "20", "-c", "1", "-m", "5", "-d", upload, f"{base}/a.txt")
        self.check_replay("nghttpd", 80)


class GoH2cCaptureTest(CaptureCase):
    """Go's h2c server (x/net/http2/h2c) reached by curl's HTTP/1.1 Upgrade
    (a GET, and an upload that Go reads whole before its 101) and by prior
    knowledge: the handover from HTTP/1.1 to HTTP/2 at the 101."""
    name = "go_h2c_upgrade"

    def test_replay_equals_live(self):
        from test_h2c_go import build_h2cserver, curl_h2
        port = free_port()
        server = Proc([build_h2cserver(self.dir), str(port), os.path.join(self.dir, "stats")], log_name="h2cserver")
        self.addCleanup(server.stop)
        wait_port(port)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("h2cserver")
        base = f"http://127.0.0.1:{port}"
        curl_h2("--http2", [[f"{base}/blob?size=700"], [f"{base}/small"], [f"{base}/status?code=503"]])
        curl_h2("--http2", [["--data-binary", "u" * 2000, f"{base}/upload"], [f"{base}/nothing"]])
        curl_h2("--http2-prior-knowledge", [[f"{base}/stream?n=3&size=100"]])
        curl_h2("--http2-prior-knowledge", [[f"{base}/small"]])
        self.check_replay("h2cserver", 3 + 2 + 2)


class NodeWritevCaptureTest(CaptureCase):
    """Node.js res.write() one to seven times per response, each response
    one writev of four iovecs per chunk, past a 256-byte budget: the iovec
    hints in the capture give every chunk boundary (test_iovecs.py)."""
    name = "node_writev_hints"
    exporter_args = ("--capture.bytes=256",)

    def test_replay_equals_live(self):
        from test_iovecs import drive, make_plan
        port = self.watched_node()
        plan = make_plan(120, seed=5)
        drive(port, plan)
        self.check_replay("node", len(plan))
        m = Metrics(replay(self.capture))
        self.assertEqual(m.get("aster_exporter_body_size_estimated_total"), 0)
        self.assertGreater(m.get("aster_exporter_iov_hint_bytes_total"), 0)


class GoCaptureTest(CaptureCase):
    """A Go net/http server under a short wrk load on both CPUs: records
    from two CPUs, put back in order by the pipeline."""
    name = "go_wrk"

    def test_replay_equals_live(self):
        port = free_port()
        binary = build_goserver(self.dir)
        server = Proc([binary, str(port), os.path.join(self.dir, "stats")], log_name="goserver")
        self.addCleanup(server.stop)
        wait_port(port)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("goserver")
        subprocess.run(["wrk", "-t2", "-c8", "-d1s", f"http://127.0.0.1:{port}/hello"], capture_output=True,
                       check=True, timeout=60)
        # wrk's count is not exact (it stops with requests in flight): the
        # exporter's own total, once settled, is what the replay must give.
        live = Metrics(self.settled_scrape()).get("aster_http_requests_total", service="goserver")
        self.assertGreater(live, 100)
        self.check_replay("goserver", live)


class GoKeepAliveCaptureTest(CaptureCase):
    """The benchmark's go-tiny shape for callgrind (bench/bench.py's
    callgrind phase): a Go net/http server with keep-alive on, 2000 tiny
    GETs over 32 connections (h2load --h1, so the count is exact), so the
    figure is the per-request cost, not the per-connection one."""
    name = "go_keepalive_tiny"

    def test_replay_equals_live(self):
        port = free_port()
        binary = build_goserver(self.dir)
        server = Proc([binary, str(port), os.path.join(self.dir, "stats"), "keepalive"], log_name="goserver")
        self.addCleanup(server.stop)
        wait_port(port)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("goserver")
        codes, _ = h2load("--h1", "-n", "2000", "-c", "32", f"http://127.0.0.1:{port}/hello")
        self.assertEqual(codes, {"2xx": 2000})
        self.check_replay("goserver", 2000)


class H2cTinyCaptureTest(CaptureCase):
    """The benchmark's h2c-tiny shape for callgrind: nghttpd by prior
    knowledge, 2000 GETs of a 13-byte file over 32 connections of ten
    concurrent streams (answers sharing writes)."""
    name = "nghttpd_h2c_tiny"

    def test_replay_equals_live(self):
        port = free_port()
        server = Nghttpd(port)
        self.addCleanup(server.stop)
        server.write_file("tiny", 13)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("nghttpd")
        codes, _ = h2load("-n", "2000", "-c", "32", "-m", "10", f"http://127.0.0.1:{port}/tiny")
        self.assertEqual(codes, {"2xx": 2000})
        self.check_replay("nghttpd", 2000)


class GapCaptureTest(CaptureCase):
    """--capture.bytes=512: request heads longer than the capture (their
    request lines were captured, so they keep method and path; the loss
    counts as head_not_captured), and the uncopied parts of bodies."""
    name = "nginx_gaps"
    exporter_args = ("--capture.bytes=512",)

    def test_replay_equals_live(self):
        port = self.watched_nginx({"a.txt": 3000})
        long_header = "X-Padding: " + "p" * 600
        curl("-H", long_header, *[f"http://127.0.0.1:{port}/a.txt"] * 3)
        curl(f"http://127.0.0.1:{port}/a.txt")
        self.check_replay("nginx", 4)
        m = Metrics(replay(self.capture))
        self.assertGreater(m.get("aster_exporter_gap_bytes_total", reason="not_captured"), 0)
        self.assertEqual(m.get("aster_http_requests_total", method="GET", path="/a.txt"), 4)
        self.assertEqual(m.get("aster_http_requests_total", method="UNKNOWN"), 0)
        # The three whose heads were cut have no request-size sample: unknown.
        self.assertEqual(m.get("aster_http_request_size_bytes_count", path="/a.txt"), 1)
        self.assertGreater(m.get("aster_exporter_parse_errors_total", kind="head_not_captured"), 0)


class FirstBytesCaptureTest(CaptureCase):
    """nginx: first requests split into 1-, 3- and 10-byte reads (and one
    after empty lines, in 5-byte reads), two GETs with a 12 KB cookie and
    one with a 7 KB query (longer than the capture), a lower-case method, and
    bytes that are no HTTP (text, an SSH banner, a real TLS ClientHello,
    the HTTP/2 preface), each answered 400."""
    name = "nginx_first_bytes"

    def test_replay_equals_live(self):
        from test_exactness import send_in_pieces
        port = self.watched_nginx({"x.txt": 17}, locations="large_client_header_buffers 4 16k;")
        req = b"GET /x.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        for piece in (1, 3, 10):
            send_in_pieces(port, req, piece)
        send_in_pieces(port, b"\r\n\r\n" + req, 5)  # empty lines first: "\r\n\r\nG", "ET /x"...
        self.assertEqual(curl("-H", "Cookie: session=" + "c" * 12000, *[f"http://127.0.0.1:{port}/x.txt"] * 2),
                         [(200, 17)] * 2)
        self.assertEqual(curl(f"http://127.0.0.1:{port}/x.txt?q=" + "q" * 7000), [(200, 17)])  # a long request line
        for raw in (b"get /x.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", b"hello, not http\r\n\r\n",
                    b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"):
            with socket.create_connection(("127.0.0.1", port)) as s:
                http_exchange(s, raw)
        subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}"], input=b"", capture_output=True,
                       timeout=30)
        subprocess.run(["curl", "-sS", "--http2-prior-knowledge", f"http://127.0.0.1:{port}/x.txt"],
                       capture_output=True, timeout=30)
        self.check_replay("nginx", 4 + 3 + 3 + 2)
        # What the replay must reproduce is the case itself: nginx's reads
        # split the first requests inside their request lines, and the
        # cookie heads were longer than what was copied.
        reads = [r for _, r in sorted(harness.reads_per_connection(self.capture).items())]
        for r in reads[:4]:
            self.assertLess(r[0], len(b"GET /x.txt HTTP/1.1"), reads[:4])
        m = Metrics(replay(self.capture))
        self.assertEqual(m.get("aster_http_requests_total", method="GET", path="/x.txt", status="2xx"), 7)
        self.assertEqual(m.get("aster_http_requests_total", method="OTHER", path="/x.txt", status="4xx"), 1)
        self.assertEqual(m.get("aster_http_requests_total", method="UNKNOWN", path="_unknown_", status="4xx"), 4)
        self.assertGreaterEqual(m.get("aster_exporter_parse_errors_total", kind="head_not_captured"), 3)
        self.assertEqual(m.get("aster_exporter_connections_total", event="not_http"), 0)


class NotHttpCaptureTest(CaptureCase):
    """One exporter watching nginx and a TLS server (openssl s_server): the
    TLS connections are not HTTP at the server's first answer (counted),
    nginx's requests beside them are counted as usual."""
    name = "tls_server_not_http"

    def test_replay_equals_live(self):
        web, tls = free_port(), free_port()
        nginx = Nginx(web, workers=1)
        self.addCleanup(nginx.stop)
        nginx.write_file("x.txt", 17)
        server = harness.start_openssl_server(tls, self.dir)
        self.addCleanup(server.stop)
        self.start_exporter(f"--target.port={web},{tls}")
        self.exporter.wait_watching("nginx", processes=2)
        self.exporter.wait_watching("openssl")
        for line in (b"ping\n", b"GET / HTTP/1.1\n", b"hello\n"):
            self.assertEqual(harness.tls_line_exchange(tls, line).strip(), line.strip()[::-1])
        self.assertEqual(curl(*[f"http://127.0.0.1:{web}/x.txt"] * 2), [(200, 17)] * 2)
        self.check_replay("nginx", 2)
        m = Metrics(replay(self.capture))
        self.assertEqual(m.get("aster_exporter_connections_total", event="not_http"), 3)
        self.assertEqual(m.get("aster_http_requests_total"), 2)


class NodeTlsCaptureTest(CaptureCase):
    """Node.js https (memory BIOs: sessions bound by their records): the
    capture holds the TLS plaintext records, keep-alive GETs, chunked
    responses of several res.write() calls, an upload and a 404."""
    name = "node_tls_chunked_upload"

    def test_replay_equals_live(self):
        from test_tls_node import NodeTlsServer
        srv = NodeTlsServer(os.environ.get("ASTER_TEST_NODE", "node"))
        self.addCleanup(srv.stop)
        self.start_exporter(f"--target.port={srv.port}")
        self.exporter.wait_watching("node")
        wait_for(lambda: self.exporter.scrape().get("aster_exporter_tls_libraries_probed") >= 1, timeout=20,
                 what="the TLS library to be probed")
        u = srv.url
        self.assertEqual(curl(f"{u}/bytes/300", f"{u}/chunked/4/2500", f"{u}/nothing"),
                         [(200, 300), (200, 10000), (404, 8)])
        self.assertEqual(curl("-d", "x" * 5000, f"{u}/upload"), [(200, 4)])
        self.check_replay("node", 4)
        m = Metrics(replay(self.capture))
        self.assertEqual(m.get("aster_exporter_connections_total", event="tls"), 2)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", method="POST"), 5000)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/chunked/:id/:id"), 10000)


class ApacheCaptureTest(CaptureCase):
    """Apache httpd (mpm_event, a worker process and the CGI daemon):
    static files on keep-alive (one beyond the capture), a 404, and CGI
    uploads, one behind "Expect: 100-continue", one chunked; the CGI's
    answers are chunked by Apache."""
    name = "apache_static_cgi"

    def test_replay_equals_live(self):
        from test_servers import Apache, payload_file
        port = free_port()
        apache = Apache(port)
        self.addCleanup(apache.stop)
        for name, size in (("s.txt", 13), ("m.bin", 3000), ("l.bin", 100 << 10)):
            apache.write_file(name, size)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("apache2", processes=2)
        base = f"http://127.0.0.1:{port}"
        curl(f"{base}/s.txt", f"{base}/m.bin", f"{base}/l.bin", f"{base}/s.txt", f"{base}/missing.html")
        body = payload_file(self.dir, "body", 20000)
        curl("-H", "Expect: 100-continue", "--data-binary", f"@{body}", f"{base}/cgi-bin/count")
        curl("-H", "Transfer-Encoding: chunked", "--data-binary", "x" * 300, f"{base}/cgi-bin/count")
        self.check_replay("apache2", 5 + 2)


class ContainerdPodCaptureTest(CaptureCase):
    """Two pods of one Deployment that a real containerd runs (busybox
    httpd, test_identity's Containerd): the replay labels each pod's series
    with its k8s_* labels, as the live exporter did, from the workload
    facts the capture records with each service id."""
    name = "containerd_pods"

    def test_replay_equals_live(self):
        from test_identity import Containerd, container_tools_missing
        if container_tools_missing():
            self.skipTest(f"needs {container_tools_missing()} (scripts/install-deps.sh test)")
        ctd = Containerd()
        self.addCleanup(ctd.stop)
        ports = [free_port(), free_port()]
        for pod, layout, port in (("checkout-7d9f8b6c5d-x2k4p", "cgroupfs", ports[0]),
                                  ("checkout-7d9f8b6c5d-q8w9z", "systemd", ports[1])):
            ctd.run_pod(pod, "shop", "app", layout, port)
        config = ctd.exporter_config()
        self.start_exporter(f"--config.file={config}", "--target.port=" + ",".join(map(str, ports)))
        self.exporter.wait_watching("checkout", processes=2)
        curl(*[f"http://127.0.0.1:{ports[0]}/index.html"] * 3, f"http://127.0.0.1:{ports[0]}/missing")
        curl(*[f"http://127.0.0.1:{ports[1]}/index.html"] * 2)
        self.check_replay("checkout", 4 + 2)
        replayed = Metrics(replay(self.capture))
        for pod, n in (("checkout-7d9f8b6c5d-x2k4p", 4), ("checkout-7d9f8b6c5d-q8w9z", 2)):
            self.assertEqual(replayed.get("aster_http_requests_total", service="checkout", k8s_pod_name=pod,
                                          k8s_namespace_name="shop", k8s_owner_kind="Deployment"), n, pod)


class GoStreamingCaptureTest(CaptureCase):
    """Go net/http on keep-alive: handlers that flush between writes
    (chunked bodies in as many pieces, one beyond the capture, one empty),
    a 404, and uploads with Content-Length and chunked."""
    name = "go_streaming"

    def test_replay_equals_live(self):
        port = free_port()
        binary = build_goserver(self.dir)
        server = Proc([binary, str(port), os.path.join(self.dir, "stats"), "keepalive"], log_name="goserver")
        self.addCleanup(server.stop)
        wait_port(port)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching("goserver")
        base = f"http://127.0.0.1:{port}"
        curl(f"{base}/stream?n=5&size=1000", f"{base}/stream?n=3&size=20000", f"{base}/stream?n=0&size=0",
             f"{base}/stream/missing")
        curl("--data-binary", "u" * 300, f"{base}/upload")
        curl("-H", "Transfer-Encoding: chunked", "--data-binary", "c" * 2000, f"{base}/upload")
        self.check_replay("goserver", 4 + 2)


class GoTlsCaptureTest(CaptureCase):
    """Go crypto/tls (uprobes on the executable: Write at entry past its
    stack check, Read at its RETs): the capture holds the plaintext records
    of a keep-alive connection (GETs of one record and of several, a 404)
    and two uploads, one larger than a TLS record."""
    name = "go_tls_keepalive_upload"

    def test_replay_equals_live(self):
        from test_go_tls import SERVICE, TRUTH_GO, GOTLS_SRC, GoTlsServer, wait_probed
        srv = GoTlsServer(build_goserver(self.dir, src=GOTLS_SRC, name=SERVICE, shared=[TRUTH_GO]))
        self.addCleanup(srv.stop)
        wait_port(srv.port)
        self.start_exporter(f"--target.port={srv.port}")
        self.exporter.wait_watching(SERVICE)
        wait_probed(self.exporter)
        base = f"https://127.0.0.1:{srv.port}"
        self.assertEqual(curl(f"{base}/bytes/300", f"{base}/bytes/40000", f"{base}/nothing"),
                         [(200, 300), (200, 40000), (404, 8)])
        self.assertEqual(curl("-d", "u" * 5000, f"{base}/echo"), [(200, 5000)])
        self.assertEqual(curl("-d", "v" * 30000, f"{base}/echo"), [(200, 30000)])
        live = self.exporter.wait_count(5, service=SERVICE)
        self.assertEqual(live.get("aster_exporter_tls_plaintext_unbound_total"), 0, "every record in the capture")
        self.check_replay(SERVICE, 5)
        m = Metrics(replay(self.capture))
        self.assertEqual(m.get("aster_exporter_connections_total", event="tls"), 3)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", method="POST"), 35000)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/bytes/:id"), 40300)


class WalkerUploadCaptureTest(CaptureCase):
    """Node.js: chunked uploads whose chunk-size lines lie past the copied
    head of its 64 KiB reads, found by the kernel's boundary walker (armed
    by itself, and once by the exporter for a slow client): the windows are
    in the capture, and the replay gives the same exact sizes."""
    name = "node_chunked_uploads_walker"

    def test_replay_equals_live(self):
        import random
        from test_boundary_walker import chunked_upload, slow_client_upload, varied_chunks
        port = self.watched_node()
        rng = random.Random(23)
        counted = chunked_upload(port, varied_chunks(rng, 300_000)) + chunked_upload(port, varied_chunks(rng, 1_000_000))
        counted += slow_client_upload(port, [3000] * 5 + [30000])
        self.check_replay("node", 3)
        m = Metrics(replay(self.capture))
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", path="/echo-size"), counted)
        self.assertEqual(m.get("aster_exporter_body_size_estimated_total"), 0)
        self.assertGreater(m.get("aster_exporter_boundary_windows_total", result="used"), 0)


class WalkerOneWriteCaptureTest(CaptureCase):
    """Chunked responses written in one write each, most chunks past the
    copied head (tests/integration/servers/chunked_writer.py)."""
    name = "python_chunked_one_write"

    def test_replay_equals_live(self):
        import http.client
        from test_pipeline import harness_service
        port = free_port()
        server = Proc(["python3", os.path.join(harness.SERVERS, "chunked_writer.py"), str(port)],
                      log_name="chunked-writer")
        self.addCleanup(server.stop)
        wait_port(port)
        service = harness_service(server.pid)
        self.start_exporter(f"--target.port={port}")
        self.exporter.wait_watching(service)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        shapes = [[9000] * 20, [1, 2, 3, 40000, 5, 30000], [100] * 300]  # the last is capped: an estimate
        for sizes in shapes:
            conn.request("GET", "/one-write?sizes=" + ",".join(map(str, sizes)))
            self.assertEqual(len(conn.getresponse().read()), sum(sizes))
        conn.close()
        self.check_replay(service, len(shapes))
        m = Metrics(replay(self.capture))
        self.assertEqual(m.get("aster_exporter_body_size_estimated_total"), 1)


class CaptureReaderTest(unittest.TestCase):
    """harness.capture_events reads the checked-in captures record by
    record, trailers included: it used to step over a record by its payload
    alone, so the iovec hints and boundary windows after it were read as
    records of kind 0, 16, 97... (test_exactness reads the reads' sizes
    this way)."""

    def test_every_checked_in_capture_parses_into_known_records(self):
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "captures")
        with_trailers = 0
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".cap"):
                continue
            events = harness.capture_events(os.path.join(folder, name))  # raises on an unknown kind or overrun
            self.assertTrue(events, name)
            for ev in events:
                self.assertIn(ev["kind"], range(1, 8), name)
                if ev["kind"] == harness.EVENT_DATA:
                    self.assertLessEqual(ev["captured_len"], ev["byte_count"], name)
                    self.assertIn(ev["direction"], (harness.DIR_INGRESS, harness.DIR_EGRESS), name)
                    with_trailers += bool(ev["flags"] & (harness.F_IOV_HINTS | harness.F_WINDOWS))
        self.assertGreater(with_trailers, 0, "the captures hold records with trailers")
