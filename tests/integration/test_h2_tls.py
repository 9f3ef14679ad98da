"""HTTP/2 over TLS (ALPN h2) through the TLS uprobes (OpenSSL's libssl):
nginx with `listen ... ssl http2` driven by h2load (many streams at once on
each connection) and by curl --http2 over https, against nginx's access log
($status, and $body_bytes_sent, which HTTP/2 nginx counts as DATA payload).
The TLS plaintext goes through the same detection as plain bytes: the
client preface makes each connection HTTP/2."""
import os
import unittest

from harness import Exporter, Nginx, free_port
from test_h2c_go import curl_h2
from test_http2 import exporter_view, h2load
from test_pipeline import as_label_path
from test_tls import assert_clean_tls, services, wait_probed


class NginxHttp2TlsTest(unittest.TestCase):
    def setUp(self):
        self.port, self.tls_port = free_port(), free_port()
        # Uploads go to WebDAV PUT, which reads the whole body: a `return`
        # answers before it and stops the upload with RST_STREAM, which
        # curl 7.88 reports as an error at times.
        self.nginx = Nginx(self.port, ssl_port=self.tls_port, http2=True,
                           locations="location /up/ { dav_methods PUT; }")
        self.addCleanup(self.nginx.stop)
        # Small enough that ten streams' answers in one TLS write fit the
        # capture of that write (--capture.bytes).
        self.nginx.write_file("a.txt", 100)
        self.nginx.write_file("b.bin", 200)
        self.nginx.write_file("c.bin", 3000)
        self.base = f"https://127.0.0.1:{self.tls_port}"
        self.exporter = Exporter(f"--target.port={self.tls_port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("nginx", processes=3)
        wait_probed(self.exporter)

    def compare(self, expected):
        m = self.exporter.wait_count(expected, service="nginx")
        got = {k: v[:2] for k, v in exporter_view(m, "nginx").items()}
        truth = {}
        for (method, path, status), (n, sent) in self.nginx.truth().items():
            rec = truth.setdefault((method, as_label_path(path), status), [0, 0])
            rec[0] += n
            rec[1] += sent
        self.assertEqual(got, truth,
                         "exporter vs nginx's access log: (method, path, class) -> [requests, body bytes]")
        self.assertEqual(services(m), {"nginx"}, "the clients map libssl unwatched: not counted")
        assert_clean_tls(self, m)
        for family in ("aster_exporter_http2_fields_unresolved_total", "aster_exporter_http2_resyncs_total",
                       "aster_exporter_http2_frames_invalid_total", "aster_exporter_responses_unpaired_total",
                       "aster_exporter_requests_unanswered_total"):
            self.assertEqual(m.get(family), 0, family)
        self.assertEqual(m.get("aster_http_request_duration_seconds_count", service="nginx"), expected)
        return m

    def test_h2load_over_tls_equals_the_access_log(self):
        # 3 connections, 10 concurrent streams each, ALPN h2.
        codes, data = h2load("-n", "300", "-c", "3", "-m", "10",
                             *[f"{self.base}/{p}" for p in ("a.txt", "b.bin", "missing")])
        self.assertEqual(sum(codes.values()), 300)
        m = self.compare(300)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", service="nginx"), data,
                         "response sizes are h2load's DATA bytes")
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="start"), 3)
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="tls"), 3)

    def test_curl_http2_over_https(self):
        upload = os.path.join(self.nginx.dir, "upload.bin")
        with open(upload, "wb") as f:
            f.write(os.urandom(3000))
        # nginx's workers (nobody) write the uploads and their temporary files.
        os.makedirs(os.path.join(self.nginx.root, "up"))
        for d in (os.path.join(self.nginx.root, "up"), os.path.join(self.nginx.dir, "tmp")):
            os.chmod(d, 0o777)
        got = curl_h2("--http2", [["-k", f"{self.base}/{p}"] for p in ("a.txt", "c.bin", "missing/1", "a.txt")])
        got += curl_h2("--http2", [["-k", "-T", upload, f"{self.base}/up/{n}.bin"] for n in (1, 2, 1)])
        self.assertEqual([(s, v) for s, v, _ in got],
                         [("200", "2"), ("200", "2"), ("404", "2"), ("200", "2"), ("201", "2"), ("201", "2"),
                          ("204", "2")], "HTTP/2 through ALPN; PUT creates, then overwrites")
        m = self.compare(7)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", service="nginx", method="PUT"), 9000)
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="start"), 2)


if __name__ == "__main__":
    unittest.main()
