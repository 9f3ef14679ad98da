"""HTTP/2 without TLS to a Go server (golang.org/x/net/http2/h2c from
Debian's golang-golang-x-net-dev), reached as curl reaches it: by prior
knowledge (--http2-prior-knowledge: the client preface first) and by
HTTP/1.1 "Upgrade: h2c" (--http2: the first request asks, Go answers 101
and then that request on stream 1 as HTTP/2, the others follow as streams
3, 5...). The server's own counts (servers/h2cserver: per request its
method, path, status and the body bytes its handlers read and wrote) are
the truth."""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import Exporter, Proc, free_port, wait_port
from test_http2 import exporter_view, h2load, status_class

# With goserver's truth file, copied beside it: Go builds named files only
# from one directory (and GOPATH mode no package from an absolute one).
SOURCES = [os.path.join(harness.SERVERS, "h2cserver", "main.go"), os.path.join(harness.SERVERS, "goserver", "truth.go")]


def build_h2cserver(out_dir):
    binary = os.path.join(out_dir, "h2cserver")
    src = os.path.join(out_dir, "h2cserver-src")
    os.makedirs(src, exist_ok=True)
    for f in SOURCES:
        shutil.copy(f, src)
    # GOPATH mode: x/net comes from Debian's /usr/share/gocode.
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOCACHE=os.path.join(out_dir, "cache"),
               GOPATH=f"{out_dir}:/usr/share/gocode")
    subprocess.run(["go", "build", "-o", binary, *sorted(os.path.join(src, f) for f in os.listdir(src))],
                   check=True, env=env, timeout=300)
    return binary


def server_truth(stats):
    """(method, path, status class) -> requests, and (method, path) ->
    [response body bytes, request body bytes], from the server's own lines."""
    counts, sizes = {}, {}
    with open(stats) as f:
        for line in f:
            method, path, status, read, wrote = line.split()
            key = (method, path, status_class(int(status)))
            counts[key] = counts.get(key, 0) + 1
            rec = sizes.setdefault((method, path), [0, 0])
            rec[0] += int(wrote)
            rec[1] += int(read)
    return counts, sizes


def exporter_truth_view(m, service):
    """The exporter's counterpart of server_truth (its size families have
    no status label)."""
    counts = {k: v[0] for k, v in exporter_view(m, service).items()}
    sizes = {}
    for (method, path, _), v in exporter_view(m, service).items():
        sizes[(method, path)] = v[1:]
    return counts, sizes


def curl_h2(how, transfers):
    """One curl (one connection) with `how` (--http2 or
    --http2-prior-knowledge) for all its transfers, separated by --next;
    returns [(status, HTTP version, body bytes)]."""
    argv = ["curl"]
    for i, options in enumerate(transfers):
        if i:
            argv.append("--next")
        argv += ["-sS", how, "-o", "/dev/null", "-w", "%{http_code} %{http_version} %{size_download}\n", *options]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"curl {how} {transfers} failed: {r.stderr}")
    return [tuple(line.split()) for line in r.stdout.splitlines()]


class GoH2cTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aster-h2c-")
        cls.binary = build_h2cserver(cls.dir)
        cls.upload = os.path.join(cls.dir, "upload.bin")
        with open(cls.upload, "wb") as f:
            f.write(os.urandom(3000))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.port = free_port()
        self.stats = os.path.join(self.dir, f"stats-{self.port}")
        self.server = Proc([self.binary, str(self.port), self.stats], log_name="h2cserver")
        self.addCleanup(self.server.stop)
        wait_port(self.port)
        # wait_port's own connection is one Go read as nothing: not a request.
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("h2cserver")

    def transfers(self, first):
        """The requests of one connection after `first`: small and larger
        answers, one written in flushed pieces, a 503, a 404 and an upload.
        Each answer fits the capture of its transfer (--capture.bytes)."""
        base = f"http://127.0.0.1:{self.port}"
        return [first, [f"{base}/small"], [f"{base}/blob?size=2000"], [f"{base}/stream?n=3&size=400"],
                [f"{base}/status?code=503"], [f"{base}/nothing/here"],
                ["--data-binary", f"@{self.upload}", f"{base}/upload"]]

    def check_against_server(self, expected):
        m = self.exporter.wait_count(expected, service="h2cserver")
        counts, sizes = server_truth(self.stats)
        self.assertEqual(sum(counts.values()), expected, "the server logged every request")
        got_counts, got_sizes = exporter_truth_view(m, "h2cserver")
        self.assertEqual(got_counts, counts, "(method, path, class) -> requests")
        self.assertEqual(got_sizes, sizes, "(method, path) -> [response DATA bytes, request DATA bytes]")
        self.assertEqual(m.get("aster_http_request_duration_seconds_count", service="h2cserver"), expected)
        for family in ("aster_exporter_http2_fields_unresolved_total", "aster_exporter_http2_resyncs_total",
                       "aster_exporter_http2_frames_invalid_total", "aster_exporter_responses_unpaired_total",
                       "aster_exporter_requests_unanswered_total"):
            self.assertEqual(m.get(family), 0, family)
        self.assertEqual(m.get("aster_exporter_connections_total", event="not_http"), 0)
        self.assertEqual(m.get("aster_exporter_connections_total", event="upgraded"), 0,
                         "an h2c upgrade is parsed on, not a connection given up")
        return m

    def test_prior_knowledge(self):
        # curl 7.88 (Debian 12) fails to reuse a prior-knowledge connection
        # ("Error in the HTTP2 framing layer"): one curl per request, and
        # h2load for many streams at once on each connection.
        got = []
        for t in self.transfers([f"http://127.0.0.1:{self.port}/status?code=201"]):
            got += curl_h2("--http2-prior-knowledge", [t])
        self.assertEqual({v for _, v, _ in got}, {"2"})
        base = f"http://127.0.0.1:{self.port}"
        codes, data = h2load("-n", "100", "-c", "2", "-m", "10", f"{base}/small", f"{base}/blob?size=300",
                             f"{base}/nothing")
        self.assertEqual(sum(codes.values()), 100)
        m = self.check_against_server(len(got) + 100)
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="start"), len(got) + 2)
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="upgrade"), 0)

    def test_upgrade(self):
        # Three connections that upgrade: with a GET, a HEAD (no body in
        # the answer on stream 1) and an upload (Go reads its whole body
        # before the 101); each goes on with HTTP/2 streams.
        base = f"http://127.0.0.1:{self.port}"
        got = curl_h2("--http2", self.transfers([f"{base}/blob?size=1500"]))
        got += curl_h2("--http2", [["-I", f"{base}/small"], [f"{base}/status?code=404"]])
        got += curl_h2("--http2", self.transfers(["--data-binary", f"@{self.upload}", f"{base}/upload"]))
        self.assertEqual({v for _, v, _ in got}, {"2"}, "every answer came as HTTP/2")
        m = self.check_against_server(len(got))
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="upgrade"), 3)
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="start"), 0)
        self.assertEqual(m.get("aster_http_requests_total", service="h2cserver", method="HEAD"), 1)
        self.assertEqual(m.get("aster_http_requests_total", service="h2cserver", method="POST"), 3)


if __name__ == "__main__":
    unittest.main()
