"""HTTP/2 without TLS (h2c), as real peers speak it: nghttpd (Debian's
nghttp2-server) driven by h2load (nghttp2-client), many streams at once on
each connection, uploads, and connections opened before the exporter.
nghttpd's own frame log (-v: every request's :method and :path, every
response's :status and DATA frame lengths) and h2load's totals are the
truth."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import Exporter, Proc, free_port, wait_for, wait_port

FRAME = re.compile(r"^\[id=(\d+)\] \[\s*[\d.]+\] (send|recv) (\w+) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>")
RECV_FIELD = re.compile(r"^\[id=(\d+)\] \[\s*[\d.]+\] recv \(stream_id=(\d+)\) (:method|:path): (.*)$")
STATUS = re.compile(r"^\s+:status: (\d+)$")


def status_class(code):
    return f"{code // 100}xx"


class Nghttpd:
    """nghttpd --no-tls serving files from a temporary htdocs, logging every
    frame it sends and receives (-v)."""

    def __init__(self, port, *extra):
        self.root = tempfile.mkdtemp(prefix="aster-nghttpd-")
        self.htdocs = os.path.join(self.root, "htdocs")
        os.mkdir(self.htdocs)
        self.port = port
        self.proc = Proc(["nghttpd", "--no-tls", "-v", "-a", "127.0.0.1", "-d", self.htdocs, *extra, str(port)],
                         log_name="nghttpd")
        wait_port(port)

    def write_file(self, name, size):
        with open(os.path.join(self.htdocs, name), "wb") as f:
            f.write(os.urandom(size))

    def truth(self):
        """(method, path, status class) -> [streams, response DATA bytes,
        request DATA bytes], from the frame log."""
        streams = {}  # (connection, stream) -> dict
        last_send_headers = None
        for line in self.proc.output().splitlines():
            m = RECV_FIELD.match(line)
            if m:
                s = streams.setdefault((m.group(1), m.group(2)), {"resp": 0, "req": 0})
                s[m.group(3)] = m.group(4).split("?")[0]
                continue
            m = FRAME.match(line)
            if m:
                conn, direction, kind, length, _, stream = m.groups()
                last_send_headers = None
                if stream == "0":
                    continue
                s = streams.setdefault((conn, stream), {"resp": 0, "req": 0})
                if kind == "DATA":
                    s["resp" if direction == "send" else "req"] += int(length)
                elif kind == "HEADERS" and direction == "send":
                    last_send_headers = s
                continue
            m = STATUS.match(line)
            if m and last_send_headers is not None and "status" not in last_send_headers:
                last_send_headers["status"] = int(m.group(1))
        out = {}
        for s in streams.values():
            if "status" not in s:
                continue
            key = (s.get(":method", "UNKNOWN"), s.get(":path", "_unknown_"), status_class(s["status"]))
            rec = out.setdefault(key, [0, 0, 0])
            rec[0] += 1
            rec[1] += s["resp"]
            rec[2] += s["req"]
        return out

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def h2load(*args, timeout=120):
    """Runs h2load; returns (status class -> count, DATA bytes received)."""
    r = subprocess.run(["h2load", *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"h2load {args} failed: {r.stdout}\n{r.stderr}")
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", r.stdout)
    data = re.search(r"\((\d+)\) data", r.stdout)
    if not m or not data:
        raise AssertionError(f"unexpected h2load output: {r.stdout}")
    codes = {f"{i + 2}xx": int(n) for i, n in enumerate(m.groups())}
    return {k: v for k, v in codes.items() if v}, int(data.group(1))


def exporter_view(m, service):
    """(method, path, status) -> [count, response bytes, request bytes]."""
    out = {}
    for labels, v in m.select("aster_http_requests_total", service=service):
        out.setdefault((labels["method"], labels["path"], labels["status"]), [0, 0, 0])[0] += int(v)
    for family, i in (("aster_http_response_size_bytes_sum", 1), ("aster_http_request_size_bytes_sum", 2)):
        for labels, v in m.select(family, service=service):
            for key in out:
                if key[:2] == (labels["method"], labels["path"]):
                    out[key][i] = int(v)
    return out


class NghttpdTest(unittest.TestCase):
    def start(self, *server_args):
        self.port = free_port()
        self.server = Nghttpd(self.port, *server_args)
        self.addCleanup(self.server.stop)
        self.server.write_file("a.txt", 100)
        # Small enough that ten streams' answers fit in one capture
        # (--capture.bytes, 4096): see the test of larger ones below.
        self.server.write_file("b.bin", 200)
        self.urls = [f"http://127.0.0.1:{self.port}{p}" for p in ("/a.txt", "/b.bin", "/missing")]

    def start_exporter(self):
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("nghttpd")

    def test_h2load_streams_equal_nghttpds_log(self):
        # 3 connections, 10 concurrent streams each: responses interleave
        # and complete out of order on every connection.
        self.start()
        self.start_exporter()
        codes, data = h2load("-n", "300", "-c", "3", "-m", "10", *self.urls)
        self.assertEqual(sum(codes.values()), 300)
        m = self.exporter.wait_count(300, service="nghttpd")
        truth = self.server.truth()
        self.assertEqual(sum(v[0] for v in truth.values()), 300, "nghttpd logged every stream")
        got = exporter_view(m, "nghttpd")
        self.assertEqual({k: v[:2] for k, v in got.items()}, {k: v[:2] for k, v in truth.items()},
                         "exporter vs nghttpd's frames: (method, path, class) -> [streams, DATA bytes]")
        by_class = {}
        for (_, _, cls), v in got.items():
            by_class[cls] = by_class.get(cls, 0) + v[0]
        self.assertEqual(by_class, codes, "status classes as h2load counted them")
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", service="nghttpd"), data,
                         "response sizes are h2load's DATA bytes")
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="start"), 3)
        self.assertEqual(m.get("aster_exporter_http2_fields_unresolved_total"), 0)
        self.assertEqual(m.get("aster_exporter_http2_resyncs_total"), 0)
        # nghttpd's last read brings h2load's GOAWAY and FIN together: the FIN's
        # sequence number is no unseen byte.
        self.assertEqual(m.get("aster_exporter_gap_bytes_total", reason="unseen"), 0)
        self.assertEqual(m.get("aster_http_request_duration_seconds_count", service="nghttpd"), 300)

    def test_answers_beyond_the_capture_are_counted_or_said_lost_never_mislabelled(self):
        # Ten 20 kB answers per write: most frame headers are beyond the
        # captured head of each transfer, so frame sync is lost and found
        # again; streams whose end went by unseen are unanswered (today
        # most of the large ones: the capture takes each transfer's head
        # only), and what is counted has the right path and status.
        self.start()
        self.server.write_file("big.bin", 20000)
        self.start_exporter()
        urls = [f"http://127.0.0.1:{self.port}/big.bin", self.urls[0]]
        codes, _ = h2load("-n", "200", "-c", "2", "-m", "10", *urls)
        self.assertEqual(codes, {"2xx": 200})
        truth = self.server.truth()

        def settled():
            m = self.exporter.scrape()
            done = m.get("aster_http_requests_total", service="nghttpd")
            return m if done + m.get("aster_exporter_requests_unanswered_total") == 200 else None
        m = wait_for(settled, timeout=15, what="every stream counted or unanswered at close")
        got = exporter_view(m, "nghttpd")
        self.assertGreater(m.get("aster_exporter_http2_resyncs_total"), 0)
        for key, v in got.items():
            self.assertIn(key, truth)
            self.assertLessEqual(v[0], truth[key][0], key)

    def test_uploads_count_their_data_bytes(self):
        self.start()
        self.start_exporter()
        upload = os.path.join(self.server.root, "upload")
        with open(upload, "wb") as f:
            f.write(os.urandom(150))
        codes, _ = h2load("-n", "100", "-c", "2", "-m", "10", "-d", upload, self.urls[0], self.urls[2])
        self.assertEqual(sum(codes.values()), 100)
        m = self.exporter.wait_count(100, service="nghttpd")
        truth = self.server.truth()
        got = exporter_view(m, "nghttpd")
        self.assertEqual(got, truth, "(method, path, class) -> [streams, response DATA, request DATA bytes]")
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", service="nghttpd"), 100 * 150)
        self.assertEqual(m.get("aster_http_requests_total", method="POST"), 100)

    def test_without_dynamic_indexing_late_connections_are_exact(self):
        # Neither side inserts into its HPACK table, so a connection opened
        # before the exporter is read exactly from its next request on.
        self.start("--encoder-header-table-size=0")
        load = Proc(["h2load", "--encoder-header-table-size=0", "-c", "2", "-m", "1", "--rps=40", "-D", "8",
                     self.urls[0], self.urls[2]], log_name="h2load")
        self.addCleanup(load.stop)
        wait_for(lambda: sum(v[0] for v in self.server.truth().values()) >= 10, timeout=10,
                 what="h2load's connections to be busy before the exporter starts")
        self.start_exporter()
        wait_for(lambda: self.exporter.scrape().get("aster_http_requests_total", service="nghttpd") >= 50,
                 timeout=20, what="requests counted on the connections opened before the exporter")
        load.p.wait(timeout=30)
        time.sleep(0.5)  # the last responses' records
        m = self.exporter.scrape()
        truth = self.server.truth()
        got = exporter_view(m, "nghttpd")
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="late"), 2)
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="start"), 0)
        self.assertEqual(m.get("aster_exporter_http2_fields_unresolved_total"), 0, "every field was readable")
        for key, v in got.items():
            if key[1] == "_unknown_":
                # At most one stream per connection was in flight at the
                # attach: its request went by before.
                self.assertLessEqual(v[0], 2, key)
                continue
            self.assertIn(key, truth, "a path and status nghttpd answered")
            self.assertLessEqual(v[0], truth[key][0], key)
        self.assertEqual({k[:2] for k in got if k[1] != "_unknown_"},
                         {("GET", "/a.txt"), ("GET", "/missing")})
        self.assertEqual(got[("GET", "/a.txt", "2xx")][1], 100 * got[("GET", "/a.txt", "2xx")][0])


if __name__ == "__main__":
    unittest.main()
