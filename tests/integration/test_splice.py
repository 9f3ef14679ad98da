"""Bytes moved by a path the probes do not see: a real server that reads
request bodies (and, once, a whole request head) from its socket with
splice(), as proxies do, between normal keep-alive requests.

A splice() from a socket never reaches sock_recvmsg, so in the socket mode
no probe fires for it; the kernel's own sequence number (copied_seq) tells
the next record how many bytes went by, and they become a gap of that
length (gap_bytes_total{reason="unseen"}) instead of shifting the stream.
The syscalls mode traces splice() itself and reports its bytes as moved
without a user buffer (reason="no_user_buffer"). Either way everything
that could be read counts exactly; the request whose head was spliced is
answered under the sentinel method="UNKNOWN", path="_unknown_".
"""
import json
import os
import socket
import subprocess
import tempfile
import unittest

import harness
from harness import Exporter, Proc, free_port, http_exchange, wait_for, wait_port


class SpliceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aster-splice-")
        self.counters = os.path.join(self.dir, "counters.json")
        self.port = free_port()
        self.server = Proc(["python3", os.path.join(harness.SERVERS, "splice_server.py"), str(self.port),
                            self.counters], log_name="splice")
        self.addCleanup(self.server.stop)
        wait_port(self.port)
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.svc = os.path.basename(os.readlink(f"/proc/{self.server.pid}/exe"))
        self.exporter.wait_watching(self.svc)

    def truth(self):
        before = self.server.output().count("counters written")
        os.kill(self.server.pid, 12)  # SIGUSR2
        wait_for(lambda: self.server.output().count("counters written") > before, what="the server's counters")
        with open(self.counters) as f:
            return json.load(f)

    def body_file(self, size):
        path = os.path.join(self.dir, f"body-{size}")
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        return path

    def test_spliced_bytes_are_a_gap_not_a_shift(self):
        base = f"http://127.0.0.1:{self.port}"
        # One keep-alive connection: uploads whose bodies the server splices,
        # each followed by plain requests whose heads it reads with recv().
        # (--next starts a group of options that shares the connection.)
        args = []
        for i, size in enumerate([10, 5000, 100000, 1 << 20, 3]):
            for url, extra in ((f"{base}/up/{i}", ["--data-binary", f"@{self.body_file(size)}"]),
                               (f"{base}/plain", []), (f"{base}/status/404", [])):
                args += (["--next"] if args else []) + ["-sS", "-w", "%{http_code}\n", "-o", "/dev/null", *extra, url]
        r = subprocess.run(["curl", *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["200", "200", "404"] * 5)
        # A whole request head spliced: its answer has no request the
        # exporter could read.
        hidden = b"GET /hidden HTTP/1.1\r\nHost: x\r\n\r\n"
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            http_exchange(s, b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
            http_exchange(s, f"GET /arm?next={len(hidden)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            http_exchange(s, hidden)
            for _ in range(3):
                http_exchange(s, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        truth = self.truth()
        answered = sum(truth["requests"].values())
        self.assertEqual(answered, 15 + 6)
        m = self.exporter.wait_count(answered, service=self.svc, timeout=20)

        expected = {}
        for key, n in truth["requests"].items():
            path, status = key.split(" ")
            if path == "/hidden":
                continue
            label = "/" + path.split("/")[1] + "/:id" if path.count("/") == 2 else path
            k = (label, status[0] + "xx")
            expected[k] = expected.get(k, 0) + n
        for (label, cls), n in expected.items():
            self.assertEqual(m.get("aster_http_requests_total", path=label, status=cls), n, (label, cls))
        self.assertEqual(m.get("aster_http_requests_total", method="UNKNOWN", path="_unknown_"), 1,
                         "the spliced request's answer counts under the sentinel")
        self.assertEqual(m.get("aster_http_requests_total", path="/hidden"), 0)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", path="/up/:id"),
                         sum(v for k, v in truth["request_body"].items() if k.startswith("/up/")))
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/up/:id"),
                         sum(v for k, v in truth["response_body"].items() if k.startswith("/up/")))
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/after"), truth["response_body"]["/after"])
        reason = "unseen" if harness.ATTACH_MODE == "socket" else "no_user_buffer"
        self.assertEqual(m.get("aster_exporter_gap_bytes_total", reason=reason), truth["spliced"])
        self.assertEqual(m.get("aster_exporter_gap_bytes_total", reason="lost"), 0)
        self.assertEqual(m.get("aster_http_requests_total", method="OTHER"), 0)


if __name__ == "__main__":
    unittest.main()
