"""The other servers users run, each against its own truth: Apache httpd
(its access log, and a CGI script that counts the request bytes it read),
Go net/http streaming with http.Flusher, aiohttp and Node.js (each counting
the body bytes its handlers read and wrote), and nginx proxying large
bodies (its access log for the answers, the client and the backend for the
bytes). Each compares counts per method, path and status class and request
and response body byte sums, and finds no estimated body, no unpaired
answer and no parse error."""
import os
import random
import shutil
import tempfile
import unittest

import harness
from harness import Exporter, Nginx, Proc, curl, curl_next, free_port, wait_for, wait_port
from test_go_runtime import build_goserver

# Debian's interpreter: python3-aiohttp and the CGI script's shebang are its.
DEBIAN_PYTHON = "/usr/bin/python3"

GO = {}  # the Go server, built once for the module


def setUpModule():
    GO["dir"] = tempfile.mkdtemp(prefix="aster-servers-go-")
    GO["binary"] = build_goserver(GO["dir"])


def tearDownModule():
    shutil.rmtree(GO.pop("dir"), ignore_errors=True)


def start_goserver(test):
    """The Go server with keep-alive on a free port; returns (port, the
    file of its own per-request counts)."""
    port = free_port()
    stats = os.path.join(GO["dir"], f"stats-{port}")
    server = Proc([GO["binary"], str(port), stats, "keepalive"], log_name="goserver")
    test.addCleanup(server.stop)
    wait_port(port)
    return port, stats + ".http"


class Truth:
    """What a server says it did, one row per answered request:
    (method, path, status, request body bytes, response body bytes), in the
    shape the exporter's series take."""

    def __init__(self, rows):
        self.rows = list(rows)
        self.counts = {}
        self.sizes = {}
        for method, path, status, req, resp in self.rows:
            key = (method, path, f"{str(status)[0]}xx")
            self.counts[key] = self.counts.get(key, 0) + 1
            s = self.sizes.setdefault((method, path), [0, 0, 0, 0])
            s[0] += 1
            s[1] += int(req)
            s[2] += 1
            s[3] += int(resp)


def truth_file(path, expected):
    """Rows a server appended to `path` ("METHOD PATH STATUS REQ RESP"),
    once it holds `expected` of them (a server may write its line as the
    client already has its answer)."""
    def rows():
        if not os.path.exists(path):
            return None
        with open(path) as f:
            got = [line.split() for line in f if line.strip()]
        return got if len(got) >= expected else None
    got = wait_for(rows, what=f"{expected} rows in the server's own counts {path}")
    assert len(got) == expected, f"the server counted {len(got)} requests, {expected} were sent"
    return Truth(got)


def exporter_truth(m, service):
    """The exporter's view in Truth's shape."""
    counts = {}
    for labels, v in m.select("aster_http_requests_total", service=service):
        key = (labels["method"], labels["path"], labels["status"])
        counts[key] = counts.get(key, 0) + int(v)
    sizes = {}
    for method, path, _ in counts:
        sel = dict(service=service, method=method, path=path)
        sizes[(method, path)] = [int(m.get("aster_http_request_size_bytes_count", **sel)),
                                 int(m.get("aster_http_request_size_bytes_sum", **sel)),
                                 int(m.get("aster_http_response_size_bytes_count", **sel)),
                                 int(m.get("aster_http_response_size_bytes_sum", **sel))]
    return counts, sizes


class ServerCase(unittest.TestCase):
    def start_exporter(self, port, service, processes=1):
        self.exporter = Exporter(f"--target.port={port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching(service, processes)

    def assert_exact(self, service, truth):
        m = self.exporter.wait_count(len(truth.rows), service=service)
        counts, sizes = exporter_truth(m, service)
        self.assertEqual(counts, truth.counts, "(method, path, status class) -> requests")
        self.assertEqual(sizes, truth.sizes, "(method, path) -> [request size samples, request body bytes, "
                                             "response size samples, response body bytes]")
        for name in ("aster_exporter_body_size_estimated_total", "aster_exporter_responses_unpaired_total",
                     "aster_exporter_parse_errors_total"):
            self.assertEqual(m.get(name), 0, f"{name}: {m.select(name)}")
        return m

    def uploads(self, url):
        """Three POSTs: 300 bytes and 200 000 on one connection, the large
        one behind "Expect: 100-continue" (the server's interim 100 is no
        exchange of its own), then a small chunked one."""
        with tempfile.TemporaryDirectory() as d:
            small, large = payload_file(d, "small", 300), payload_file(d, "large", 200000)
            got = curl_next(("--data-binary", f"@{small}", url),
                            ("-H", "Expect: 100-continue", "--data-binary", f"@{large}", url))
            got += curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{small}", url)
        self.assertEqual(got, [(200, len("read 300")), (200, len("read 200000")), (200, len("read 300"))])


def payload_file(directory, name, size, text=False):
    """A file of `size` bytes; `text` makes it compressible but not trivially
    (gzip output of several chunks)."""
    path = os.path.join(directory, name)
    rng = random.Random(size)
    with open(path, "wb") as f:
        if text:
            words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
                     for _ in range(2000)]
            out = bytearray()
            while len(out) < size:
                out += rng.choice(words) + b" "
            f.write(bytes(out[:size]))
        else:
            f.write(rng.randbytes(size))
    os.chmod(path, 0o644)
    return path


class Apache:
    """Debian's apache2 in the foreground with its own configuration:
    mpm_event (one worker process), keep-alive, static files, and a CGI
    script (through mod_cgid) that counts the request body bytes it read.
    The access log's "%m %U %>s %B" gives the answers and response body
    bytes (%B counts the body, not chunk framing)."""

    CGI = """#!/usr/bin/python3
import os, sys
n = 0
while True:
    piece = sys.stdin.buffer.read1(65536)
    if not piece:
        break
    n += len(piece)
with open(os.environ["ASTER_CGI_TRUTH"], "a") as f:
    f.write(f"{os.environ['REQUEST_METHOD']} {os.environ['SCRIPT_NAME']} {n}\\n")
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n" + f"read {n}\\n")
"""

    def __init__(self, port):
        self.dir = tempfile.mkdtemp(prefix="aster-apache-")
        self.root = os.path.join(self.dir, "html")
        cgi_bin = os.path.join(self.dir, "cgi-bin")
        logs = os.path.join(self.dir, "logs")
        for d in (self.root, cgi_bin, logs):
            os.makedirs(d)
        self.access_log = os.path.join(logs, "access.log")
        self.cgi_log = os.path.join(logs, "cgi.log")
        script = os.path.join(cgi_bin, "count")
        with open(script, "w") as f:
            f.write(self.CGI)
        os.chmod(script, 0o755)
        # The CGI runs as www-data and appends its counts here.
        open(self.cgi_log, "w").close()
        os.chmod(self.cgi_log, 0o666)
        for d in (self.dir, self.root, cgi_bin):
            os.chmod(d, 0o755)
        mods = "/usr/lib/apache2/modules"
        conf = os.path.join(self.dir, "httpd.conf")
        with open(conf, "w") as f:
            f.write(f"""
ServerRoot {self.dir}
PidFile {self.dir}/httpd.pid
Listen 127.0.0.1:{port}
ServerName localhost
User www-data
Group www-data
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule alias_module {mods}/mod_alias.so
LoadModule cgid_module {mods}/mod_cgid.so
LoadModule env_module {mods}/mod_env.so
TypesConfig /etc/mime.types
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
KeepAlive On
MaxKeepAliveRequests 0
ErrorLog {logs}/error.log
LogFormat "%m %U %>s %B" truth
CustomLog {self.access_log} truth
ScriptSock {logs}/cgid.sock
DocumentRoot {self.root}
ScriptAlias /cgi-bin/ {cgi_bin}/
SetEnv ASTER_CGI_TRUTH {self.cgi_log}
<Directory />
  Require all granted
</Directory>
""")
        self.proc = Proc(["apache2", "-f", conf, "-DFOREGROUND"], log_name="apache")
        wait_port(port)

    def write_file(self, name, size):
        payload_file(self.root, name, size)
        return size

    def truth(self, expected):
        """Rows from the access log; a CGI request's body bytes are the ones
        its script says it read (requests are sent one after another, so
        the two logs are in the same order)."""
        def lines(path):
            with open(path) as f:
                return [line.split() for line in f if line.strip()]
        wait_for(lambda: len(lines(self.access_log)) >= expected, what=f"{expected} lines in Apache's access log")
        read = lines(self.cgi_log)
        rows = []
        for method, path, status, sent in lines(self.access_log):
            req = 0
            if path.startswith("/cgi-bin/"):
                cgi_method, cgi_path, req = read.pop(0)
                assert (cgi_method, cgi_path) == (method, path), (cgi_method, cgi_path, method, path)
            rows.append((method, path, status, req, 0 if sent == "-" else sent))
        assert not read, f"CGI runs without an access log line: {read}"
        assert len(rows) == expected, f"Apache logged {len(rows)} answers, {expected} requests were sent"
        return Truth(rows)

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ApacheTest(ServerCase):
    def test_static_files_404_cgi_posts_keepalive(self):
        port = free_port()
        apache = Apache(port)
        self.addCleanup(apache.stop)
        sizes = {"s.txt": 13, "m.bin": 3000, "l.bin": 100 << 10, "xl.bin": 1 << 20}
        for name, size in sizes.items():
            apache.write_file(name, size)
        self.start_exporter(port, "apache2", processes=2)
        base = f"http://127.0.0.1:{port}"
        names = ["s.txt", "m.bin", "l.bin", "xl.bin", "s.txt", "xl.bin"]
        got = curl(*[f"{base}/{n}" for n in names], f"{base}/missing.html")
        self.assertEqual(got[:-1], [(200, sizes[n]) for n in names])
        self.assertEqual(got[-1][0], 404)
        with tempfile.TemporaryDirectory() as d:
            # 2 MiB: curl asks "Expect: 100-continue" by itself.
            bodies = [payload_file(d, f"b{n}", n) for n in (300, 50000, 2 << 20)]
            posts = [("--data-binary", f"@{b}", f"{base}/cgi-bin/count") for b in bodies]
            self.assertEqual([s for s, _ in curl_next(*posts)], [200] * 3)
            self.assertEqual(curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{bodies[0]}",
                                  f"{base}/cgi-bin/count"), [(200, len("read 300\n"))])
        self.assert_exact("apache2", apache.truth(len(names) + 1 + 4))


class GoStreamingTest(ServerCase):
    def test_flushed_writes_uploads_and_404(self):
        port, stats = start_goserver(self)
        self.start_exporter(port, "goserver")
        base = f"http://127.0.0.1:{port}"
        streams = [(1, 10), (5, 1000), (3, 20000), (50, 100), (0, 0), (2, 70000)]
        got = curl(*[f"{base}/stream?n={n}&size={s}" for n, s in streams], f"{base}/stream/missing")
        self.assertEqual(got, [(200, n * s) for n, s in streams] + [(404, 19)])
        self.uploads(f"{base}/upload")
        self.assert_exact("goserver", truth_file(stats, len(streams) + 1 + 3))


class AiohttpTest(ServerCase):
    def test_fixed_streamed_uploads_and_404(self):
        port = free_port()
        truth = os.path.join(tempfile.mkdtemp(prefix="aster-aiohttp-"), "truth")
        self.addCleanup(shutil.rmtree, os.path.dirname(truth), True)
        server = Proc([DEBIAN_PYTHON, os.path.join(harness.SERVERS, "aiohttp_server.py"), str(port), truth],
                      log_name="aiohttp")
        self.addCleanup(server.stop)
        wait_port(port, timeout=20)
        service = os.path.basename(os.readlink(f"/proc/{server.pid}/exe"))
        self.start_exporter(port, service)
        base = f"http://127.0.0.1:{port}"
        got = curl(f"{base}/fixed?size=13", f"{base}/fixed?size=100000", f"{base}/stream?n=5&size=1000",
                   f"{base}/stream?n=3&size=20000", f"{base}/nothing")
        self.assertEqual(got, [(200, 13), (200, 100000), (200, 5000), (200, 60000), (404, 14)])
        self.uploads(f"{base}/upload")
        self.assert_exact(service, truth_file(truth, 5 + 3))


class NginxProxyTest(ServerCase):
    """nginx gzipping static text (chunked) and proxying large bodies both
    ways to the Go server, with and without a length. The client's
    byte counts are the truth for what nginx sent and received; the
    backend's own counts must agree with them."""

    def setUp(self):
        backend_port, self.backend_truth = start_goserver(self)
        port = free_port()
        self.nginx = Nginx(port, workers=1, locations=f"""
    location /gz/ {{ gzip on; gzip_types text/plain; gzip_min_length 1; }}
    location /up/ {{ proxy_pass http://127.0.0.1:{backend_port}/; client_max_body_size 64m; }}""")
        self.addCleanup(self.nginx.stop)
        os.makedirs(os.path.join(self.nginx.root, "gz"), mode=0o755)
        for name, size in (("small.txt", 2000), ("big.txt", 1 << 20)):
            payload_file(os.path.join(self.nginx.root, "gz"), name, size, text=True)
        self.start_exporter(port, "nginx", processes=2)
        self.base = f"http://127.0.0.1:{port}"
        self.rows = []  # what the client sent and got

    def get(self, *paths, gzip=False):
        args = ["-H", "Accept-Encoding: gzip"] if gzip else []
        for path, (status, size) in zip(paths, curl(*args, *[self.base + p for p in paths])):
            self.rows.append(("GET", path.split("?")[0], status, 0, size))

    def assert_client_agrees_with_nginx(self):
        logged = {key: n for key, (n, _) in self.nginx.truth().items()}
        self.assertEqual(logged, Truth(self.rows).counts, "nginx's access log vs the client")

    def test_chunked_answers_gzipped_and_proxied(self):
        # Chunked by nginx: gzip output (the client's size_download, without
        # --compressed, is the gzip bytes: nginx's $body_bytes_sent would
        # count the chunk framing), and a backend's answers without a length.
        self.get("/gz/small.txt", "/gz/big.txt", "/gz/small.txt", "/gz/missing.txt", gzip=True)
        self.assertTrue(all(r[4] < 1 << 20 for r in self.rows), f"gzipped answers are smaller: {self.rows}")
        self.get("/up/stream?n=64&size=65536", "/up/stream?n=3&size=100")
        for size in (300, 5 << 20):
            self.proxied_upload(size)
        self.assertEqual([r[2] for r in self.rows], [200, 200, 200, 404] + [200] * 4)
        self.assert_client_agrees_with_nginx()
        self.assert_backend_agrees()
        self.assert_exact("nginx", Truth(self.rows))

    def proxied_upload(self, size, query=""):
        with tempfile.TemporaryDirectory() as d:
            body = payload_file(d, f"b{size}", size)
            (status, got), = curl("--data-binary", f"@{body}", f"{self.base}/up/upload{query}")
        self.rows.append(("POST", "/up/upload", status, size, got))

    def assert_backend_agrees(self):
        """The backend read every byte the client sent through nginx and
        wrote every byte the client got (its answers to uploads are "read N")."""
        rows = [r for r in self.rows if r[1].startswith("/up/")]
        backend = truth_file(self.backend_truth, len(rows))
        self.assertEqual([(r[0], int(r[3]), int(r[4])) for r in backend.rows],
                         [(m, req, resp) for m, _, _, req, resp in rows])

    def test_large_proxied_bodies_both_ways(self):
        # The backend's answers have a Content-Length, which nginx keeps.
        self.get("/up/blob?n=64&size=65536", "/up/blob?n=3&size=100")
        for size in (300, 5 << 20):
            self.proxied_upload(size, "?sized=1")
        self.assertEqual([r[2] for r in self.rows], [200] * 4)
        self.assert_client_agrees_with_nginx()
        self.assert_backend_agrees()
        self.assert_exact("nginx", Truth(self.rows))


class NodePipeAndContinueTest(ServerCase):
    """Node.js piping files (stream.pipe(res)) with a Content-Length, and
    uploads behind "Expect: 100-continue": the interim 100 is no counted
    exchange and does not shift the pairing; an upload refused with 417
    before any body was sent counts once."""

    def start_node(self):
        self.port = free_port()
        self.files = tempfile.mkdtemp(prefix="aster-nodepipe-")
        self.addCleanup(shutil.rmtree, self.files, True)
        self.truth = os.path.join(self.files, "truth")
        server = Proc(["node", os.path.join(harness.SERVERS, "node_pipe_server.js"), str(self.port), self.files,
                       self.truth], log_name="node")
        self.addCleanup(server.stop)
        wait_port(self.port)
        self.service = os.path.basename(os.readlink(f"/proc/{server.pid}/exe"))
        self.start_exporter(self.port, self.service)
        return f"http://127.0.0.1:{self.port}"

    def test_pipe_with_length_and_expect_continue(self):
        base = self.start_node()
        sizes = {"a.bin": 3000, "b.bin": 300000, "c.bin": 2 << 20}
        for name, size in sizes.items():
            payload_file(self.files, name, size)
        got = curl(*[f"{base}/pipe-sized/{n}" for n in sizes])
        self.assertEqual(got, [(200, s) for s in sizes.values()])
        bodies = [payload_file(self.files, f"up{n}", n) for n in (5000, 2 << 20)]
        # Asked for explicitly on a small body; by curl itself on the large one.
        self.assertEqual(curl_next(("-H", "Expect: 100-continue", "--data-binary", f"@{bodies[0]}", f"{base}/upload"),
                                   ("--data-binary", f"@{bodies[1]}", f"{base}/upload")),
                         [(200, len("read 5000")), (200, len(f"read {2 << 20}"))])
        self.assertEqual(curl("-H", "Expect: 100-continue", "--data-binary", f"@{bodies[0]}", f"{base}/reject"),
                         [(417, 7)])
        m = self.assert_exact(self.service, truth_file(self.truth, 3 + 2 + 1))
        self.assertEqual(m.series("aster_http_requests_total", status="1xx"), [])

    def test_pipe_chunked(self):
        base = self.start_node()
        sizes = {"a.bin": 3000, "b.bin": 300000, "c.bin": 2 << 20}
        for name, size in sizes.items():
            payload_file(self.files, name, size)
        got = curl(*[f"{base}/pipe/{n}" for n in sizes], f"{base}/pipe/a.bin")
        self.assertEqual(got, [(200, s) for s in sizes.values()] + [(200, 3000)])
        self.assert_exact(self.service, truth_file(self.truth, 4))


if __name__ == "__main__":
    unittest.main()
