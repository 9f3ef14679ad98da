"""gRPC over h2c, as grpc-go (Debian's golang-google-grpc-dev) speaks it: a
server that answers with every status code, Trailers-Only errors and
errors after its headers, a deadline exceeded, a call the client cancels,
server, client and bidirectional streams (servers/grpcserver), driven by
its own grpc-go client. The server's interceptors count what
go-grpc-prometheus would (started, handled by code, messages each way):
the truth for aster_grpc_server_*."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Exporter, Proc, free_port, wait_for, wait_port

SERVICE = "aster.test.Echo"


def by_method_code(m, family):
    out = {}
    for labels, v in m.select(family, service="grpcserver"):
        if v:
            key = f'{labels["grpc_method"]} {labels["grpc_code"]}'
            out[key] = out.get(key, 0) + int(v)
    return out


def by_method(m, family):
    out = {}
    for labels, v in m.select(family, service="grpcserver"):
        if v:
            out[labels["grpc_method"]] = out.get(labels["grpc_method"], 0) + int(v)
    return out


def minus(after, before):
    out = {k: v - before.get(k, 0) for k, v in after.items()}
    return {k: v for k, v in out.items() if v}


class GrpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aster-grpc-")
        cls.binary = harness.build_grpcserver(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.port = free_port()
        self.stats = os.path.join(self.dir, f"stats-{self.port}.json")
        self.server = Proc([self.binary, "serve", str(self.port), self.stats], log_name="grpcserver")
        self.addCleanup(self.server.stop)
        wait_port(self.port)

    def truth(self):
        with open(self.stats) as f:
            return json.load(f)

    def start_exporter(self, *args):
        self.exporter = Exporter(f"--target.port={self.port}", *args)
        self.addCleanup(self.exporter.stop)
        self.exporter.wait_watching("grpcserver")

    def run_client(self, *args):
        r = subprocess.run([self.binary, *args], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def wait_handled(self, expected, family="aster_grpc_server_handled_total"):
        return self.exporter.wait_count(expected, name=family, timeout=15, service="grpcserver")

    def test_every_code_and_stream_equals_the_servers_interceptors(self):
        self.start_exporter()
        self.run_client("client", f"127.0.0.1:{self.port}")
        truth = self.truth()
        m = self.wait_handled(sum(truth["handled"].values()))
        self.assertEqual(by_method_code(m, "aster_grpc_server_handled_total"), truth["handled"],
                         "handled by method and code, as the server's interceptors counted")
        self.assertEqual(len({k.split()[1] for k in truth["handled"]}), 17, "every code was answered")
        self.assertEqual(by_method(m, "aster_grpc_server_started_total"), truth["started"])
        self.assertEqual(by_method(m, "aster_grpc_server_msg_received_total"), truth["received"])
        self.assertEqual(by_method(m, "aster_grpc_server_msg_sent_total"), truth["sent"])
        self.assertEqual({l["grpc_service"] for l in m.series("aster_grpc_server_handled_total")}, {SERVICE})
        # Only Chat's call carried more than one message each way.
        self.assertEqual({(l["grpc_method"], l["grpc_type"]) for l, v in
                          m.select("aster_grpc_server_handled_total") if l["grpc_type"] != "unknown"},
                         {("Chat", "bidi_stream")})
        self.assertEqual(m.get("aster_grpc_server_handling_seconds_count"), sum(truth["handled"].values()))
        self.assertEqual(m.get("aster_exporter_grpc_calls_total", found="content_type"),
                         sum(truth["handled"].values()))
        self.assertEqual(m.get("aster_exporter_grpc_calls_total", found="framing"), 0)
        self.assertEqual(m.get("aster_exporter_grpc_codes_unresolved_total"), 0)
        self.assertEqual(m.get("aster_exporter_grpc_messages_unknown_total"), 0)
        # Beside them, the HTTP families: every call but the cancelled one
        # had an answer (the cancelled one its headers: status 200 too).
        self.assertEqual(m.get("aster_http_requests_total", service="grpcserver", method="POST", status="2xx"),
                         sum(truth["handled"].values()))

    def test_unprefixed_names_for_go_grpc_prometheus_dashboards(self):
        self.start_exporter("--metrics.grpc-names=unprefixed")
        self.run_client("client", f"127.0.0.1:{self.port}")
        truth = self.truth()
        m = self.wait_handled(sum(truth["handled"].values()), family="grpc_server_handled_total")
        self.assertEqual(by_method_code(m, "grpc_server_handled_total"), truth["handled"])
        self.assertEqual(m.series("aster_grpc_server_handled_total"), [])
        self.assertEqual(by_method(m, "grpc_server_started_total"), truth["started"])

    def test_a_connection_opened_before_the_exporter(self):
        # One client connection: three calls before the exporter starts,
        # then the same methods and codes again and new ones. Their HPACK
        # entries (content-type, grpc-status, the paths used before) were
        # inserted before the exporter: those fields are unknown for the
        # connection's life, never guessed; what was inserted after is read.
        sync = tempfile.mkdtemp(dir=self.dir)
        client = Proc([self.binary, "late", f"127.0.0.1:{self.port}", sync], log_name="grpc-late")
        self.addCleanup(client.stop)
        wait_for(lambda: os.path.exists(os.path.join(sync, "ready")), timeout=30, what="the first calls")
        before = self.truth()
        self.start_exporter()
        open(os.path.join(sync, "go"), "w").close()
        self.assertEqual(client.p.wait(timeout=60), 0, client.output())
        after = self.truth()
        handled = minus(after["handled"], before["handled"])
        m = self.wait_handled(sum(handled.values()))
        got = by_method_code(m, "aster_grpc_server_handled_total")
        self.assertEqual(m.get("aster_exporter_http2_connections_total", attach="late"), 1)
        # Every call after the attach is counted; known by its framing (its
        # content-type entry is from before).
        self.assertEqual(m.get("aster_exporter_grpc_calls_total", found="framing"), sum(handled.values()))
        # Paths first used after the attach are read (Chat, Upload); those
        # used before are the sentinel, never another method's name.
        for key, v in got.items():
            method, code = key.split()
            if method == "_unknown_":
                continue
            self.assertIn(method, ("Chat", "Upload"), key)
        per_method = {}
        for key, v in handled.items():
            per_method[key.split()[0]] = per_method.get(key.split()[0], 0) + v
        self.assertEqual(by_method(m, "aster_grpc_server_handled_total"),
                         {"Chat": per_method["Chat"], "Upload": per_method["Upload"],
                          "_unknown_": per_method["Call"] + per_method["Watch"]})
        self.assertEqual({l["grpc_service"] for l in m.series("aster_grpc_server_handled_total")},
                         {SERVICE, "_unknown_"})
        # grpc-status's name entry is from before too: each call's code is
        # read where its block is, else the sentinel, counted.
        unresolved = m.get("aster_exporter_grpc_codes_unresolved_total")
        self.assertEqual(sum(v for k, v in got.items() if k.endswith(" _unknown_")), unresolved)
        for key, v in got.items():
            if not key.endswith(" _unknown_"):
                method, code = key.split()
                self.assertLessEqual(v, sum(n for k, n in handled.items() if k.split()[1] == code), key)
        # Message counts: exact for the calls that started after the attach.
        self.assertEqual(by_method(m, "aster_grpc_server_msg_received_total"),
                         {"Chat": 2, "Upload": 3, "_unknown_": 3 + 1 + 1 + 1})
        self.assertEqual(m.get("aster_exporter_grpc_messages_unknown_total"), 0)


if __name__ == "__main__":
    unittest.main()
