"""Connection faults against a real nginx, each compared with nginx's own
access log: the server killed (SIGKILL) in the middle of a large response, a
client that resets (SO_LINGER 0) mid-request and mid-response, and clients
that vanish without a FIN (TCP_REPAIR: the socket goes with no packet sent);
a request read from a socket that an RST had already closed; many
connections are in test_many_connections.py. An exchange whose response never
finished is no request in aster_http_requests_total: it counts in
aster_exporter_requests_unanswered_total, and nothing after it is
misattributed; every connection's state is freed when it closes."""
import os
import shutil
import signal
import socket
import struct
import tempfile
import time
import unittest

import harness
from harness import Exporter, Nginx, Proc, free_port, wait_for, wait_port

TCP_REPAIR = 19
BIG = 32 << 20  # far more than the socket buffers hold: the response is mid-body when it stops
SMALL = 37


def connect(port, rcvbuf=None):
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s


def reset(s):
    """Close with an RST (SO_LINGER on, timeout 0)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def vanish(s):
    """Close without sending anything (no FIN, no RST): a half-open
    connection, as when a client's machine loses power. Later segments from
    the server meet no socket and get an RST from the kernel."""
    s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    s.close()


def read_some(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def read_responses(s, count, size):
    """Reads `count` responses of a `size`-byte body."""
    buf = b""
    done = 0
    while done < count:
        end = buf.find(b"\r\n\r\n")
        if end >= 0 and len(buf) >= end + 4 + size:
            assert buf.startswith(b"HTTP/1.1 200"), buf[:40]
            buf = buf[end + 4 + size:]
            done += 1
            continue
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("the server closed the connection")
        buf += chunk


def get(path):
    return f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode()


class ConnectionFaultsTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        # A short header timeout, so that nginx itself closes what vanished.
        self.nginx = Nginx(self.port, workers=1, worker_connections=256,
                           locations="client_header_timeout 2s; keepalive_timeout 300s; "
                                     "location /post { return 204; }")
        self.addCleanup(self.nginx.stop)
        self.nginx.write_file("big.bin", BIG)
        self.nginx.write_file("small.txt", SMALL)
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("nginx", processes=2)

    def stat(self, name, **labels):
        return self.exporter.scrape().get(name, **labels)

    def log_lines(self):
        with open(self.nginx.access_log) as f:
            return [l.split(" ") for l in f.read().splitlines()]

    def small_requests(self, n):
        with connect(self.port) as s:
            s.sendall(get("/small.txt") * n)
            read_responses(s, n, SMALL)

    def settle_closed(self, tracked_before):
        """Waits until the exporter holds no more connections than before."""
        wait_for(lambda: self.stat("aster_exporter_connections_tracked") <= tracked_before, timeout=20,
                 what="every closed connection's state freed")

    def assert_exact_after(self, unanswered, small):
        """Later requests count exactly, under their own path; what never
        finished is unanswered, never a request."""
        self.small_requests(5)
        m = self.exporter.wait_count(small + 5, service="nginx", path="/small.txt", status="2xx")
        logged_small = sum(1 for l in self.log_lines() if l[1] == "/small.txt" and l[2] == "200")
        self.assertEqual(logged_small, small + 5, "nginx's own count")
        self.assertEqual(m.get("aster_http_requests_total", service="nginx", path="/big.bin"), 0,
                         "a response that never finished counted as a request")
        self.assertEqual(m.get("aster_http_requests_total", service="nginx", path="_unknown_"), 0)
        self.assertEqual(m.get("aster_exporter_responses_unpaired_total"), 0, "an answer misattributed")
        wait_for(lambda: self.stat("aster_exporter_requests_unanswered_total") == unanswered, timeout=10,
                 what=f"{unanswered} unanswered requests counted")

    def test_server_killed_mid_response(self):
        self.small_requests(3)
        self.exporter.wait_count(3, service="nginx", path="/small.txt")
        worker = [int(p) for p in os.popen(f"pgrep -P {self.nginx.proc.pid}").read().split()]
        self.assertEqual(len(worker), 1, worker)
        s = connect(self.port, rcvbuf=65536)
        self.addCleanup(s.close)
        s.sendall(get("/small.txt") + get("/big.bin"))
        head = read_some(s, 200 << 10)
        self.assertIn(b"HTTP/1.1 200", head[SMALL:])
        os.kill(worker[0], signal.SIGKILL)
        # What the kernel still holds of the response goes out, then the
        # FIN: the body ends short of its Content-Length.
        s.settimeout(30)
        got = len(head) + len(read_some(s, BIG))
        self.assertLess(got, BIG, "the kill did not cut the response short")
        s.close()
        # The master starts a new worker: watched as its child.
        self.exporter.wait_watching("nginx", processes=2)
        wait_for(lambda: self.stat("aster_exporter_requests_unanswered_total") == 1, timeout=10,
                 what="the killed response counted as unanswered")
        self.assertNotIn("/big.bin", [l[1] for l in self.log_lines()], "nginx logged what it never finished")
        self.assert_exact_after(unanswered=1, small=4)

    def test_client_reset_mid_request_and_mid_response(self):
        tracked = self.stat("aster_exporter_connections_tracked")
        # Mid-request: half a head, then half of an upload nginx answers
        # early (204 before the body), then RST.
        s = connect(self.port)
        s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: t\r\nAcc")
        time.sleep(0.2)  # the half head is read before the reset (not a timing assertion)
        reset(s)
        s = connect(self.port)
        s.sendall(b"POST /post HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        self.assertTrue(read_some(s, 12).startswith(b"HTTP/1.1 204"))
        reset(s)
        # Mid-response: part of a large body read, then RST.
        s = connect(self.port, rcvbuf=65536)
        s.sendall(get("/big.bin"))
        read_some(s, 100 << 10)
        reset(s)
        self.settle_closed(tracked)
        logged = self.log_lines()
        big = [l for l in logged if l[1] == "/big.bin"]
        self.assertEqual(len(big), 1, logged)
        self.assertLess(int(big[0][3]), BIG, "nginx's log says the body was cut short")
        self.exporter.wait_count(1, service="nginx", method="POST", path="/post", status="2xx")
        self.assert_exact_after(unanswered=1, small=0)

    def test_half_open_connections(self):
        tracked = self.stat("aster_exporter_connections_tracked")
        opened = self.stat("aster_exporter_connections_total", event="opened")
        # Clients that vanish: with half a head sent (nginx's header
        # timeout closes them), and in the middle of a large response.
        for _ in range(20):
            s = connect(self.port)
            s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: t\r\n")
            time.sleep(0.01)
            vanish(s)
        s = connect(self.port, rcvbuf=65536)
        s.sendall(get("/big.bin"))
        read_some(s, 100 << 10)
        vanish(s)
        # Complete requests beside them count exactly.
        self.small_requests(10)
        self.exporter.wait_count(10, service="nginx", path="/small.txt")
        self.settle_closed(tracked)
        self.assertGreaterEqual(self.stat("aster_exporter_connections_total", event="opened") - opened, 21)
        logged = self.log_lines()
        # nginx logs 400 or 408 for a head its timeout cut short, sending nothing.
        self.assertEqual(sorted({l[2] for l in logged if l[3] == "0"} - {"400", "408"}), [], logged)
        self.assert_exact_after(unanswered=1, small=10)


class ReadAfterResetTest(unittest.TestCase):
    """A client resets its connection while it waits in the server's
    backlog; the server then reads the request from a closed socket. No
    close record can name that connection (it had none when it closed):
    its records say the socket is closed, so its state is freed all the
    same."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="aster-late-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.go = os.path.join(self.dir, "go")
        self.port = free_port()
        self.server = Proc(["python3", os.path.join(harness.SERVERS, "late_accept_server.py"), str(self.port),
                            self.go], log_name="late")
        self.addCleanup(self.server.stop)
        wait_port(self.port)
        self.accept_waiting()  # wait_port's own connection
        self.exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(self.exporter.stop)
        self.svc = os.path.basename(os.readlink(f"/proc/{self.server.pid}/exe"))
        self.exporter.wait_watching(self.svc)

    def accept_waiting(self):
        done = self.server.output().count("done")
        open(self.go, "w").close()
        wait_for(lambda: self.server.output().count("done") > done, what="the server to accept")

    def stat(self, name, **labels):
        return self.exporter.scrape().get(name, **labels)

    def test_request_read_after_the_reset(self):
        tracked = self.stat("aster_exporter_connections_tracked")
        n = 3
        for _ in range(n):
            s = connect(self.port)
            s.sendall(get("/late"))
            time.sleep(0.05)  # the request is in the server's receive queue
            reset(s)
        time.sleep(0.2)
        self.accept_waiting()
        out = self.server.output()
        self.assertEqual(out.count("answer failed"), n, out)  # the server's own truth
        # And a request the server answers, beside them.
        s = connect(self.port)
        s.sendall(get("/ok"))
        self.accept_waiting()
        self.assertEqual(s.recv(100).split(b"\r\n")[0], b"HTTP/1.1 200 OK")
        s.close()
        self.exporter.wait_count(1, service=self.svc, path="/ok", status="2xx")
        wait_for(lambda: self.stat("aster_exporter_connections_tracked") <= tracked, timeout=10,
                 what="the reset connections' state freed")
        m = self.exporter.scrape()
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="closed_at_transfer"), n)
        self.assertEqual(m.get("aster_http_requests_total", service=self.svc, path="/late"), 0,
                         "a request its server never answered counted")
        self.assertEqual(m.get("aster_exporter_requests_unanswered_total"), n)
