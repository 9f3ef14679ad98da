"""HTTPS from Node.js servers through the TLS probes, against the server's own
counters (servers/node_tls_server.js). Node's TLSWrap keeps OpenSSL's records
in memory BIOs and sends them later from its event loop, so a session is bound
to its connection by the records BIO_write saw (bpf/tls_probes.bpf.h), not by
a transfer inside SSL_read/SSL_write.

Two Node.js builds: the one that links the system libssl (Debian 12's
nodejs 18 through libnode108: what a fresh machine and CI run; the binary is
$ASTER_TEST_NODE, default `node` on PATH), and one with OpenSSL built into its
executable (NodeSource's node, probed on the executable itself), tested where
such a binary is present."""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from harness import Exporter, Proc, curl, free_port, make_cert, wait_port
from test_pipeline import as_label_path, exporter_view
from test_tls import assert_clean_tls, keepalive_https_get, wait_probed

NODE_TLS_SERVER = os.path.join(harness.SERVERS, "node_tls_server.js")


def openssl_linkage(node):
    """'system' (maps libssl.so), 'built-in' (OpenSSL without libssl), or None (no such node)."""
    if not node or not shutil.which(node):
        return None
    probe = ("const m=require('fs').readFileSync('/proc/self/maps','utf8');"
             "console.log(!process.versions.openssl?'none':m.includes('/libssl.so')?'system':'built-in')")
    try:
        out = subprocess.run([node, "-e", probe], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out if out in ("system", "built-in") else None


def built_in_node():
    for node in (shutil.which("node"), "/usr/bin/node"):
        if openssl_linkage(node) == "built-in":
            return node
    return None


class NodeTlsServer:
    def __init__(self, node):
        self.dir = tempfile.mkdtemp(prefix="aster-nodetls-")
        self.cert, self.key = make_cert(self.dir)
        self.truth_file = os.path.join(self.dir, "truth.txt")
        self.port = free_port()
        self.proc = Proc([node, NODE_TLS_SERVER, self.cert, self.key, self.truth_file, str(self.port)],
                         log_name="nodetls")
        wait_port(self.port)
        self.url = f"https://127.0.0.1:{self.port}"

    def lines(self):
        if not os.path.exists(self.truth_file):
            return []
        with open(self.truth_file) as f:
            return [line.split() for line in f]

    def truth(self):
        """(method, path, status class) -> [count, response body bytes]."""
        out = {}
        for method, path, status, body, _ in self.lines():
            rec = out.setdefault((method, as_label_path(path), status[0] + "xx"), [0, 0])
            rec[0] += 1
            rec[1] += int(body)
        return out

    def uploaded(self):
        return sum(int(received) for _, _, _, _, received in self.lines())

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class NodeTlsChecks:
    """The checks, run against the Node.js binary `self.node()`."""

    def server(self):
        s = NodeTlsServer(self.node())
        self.addCleanup(s.stop)
        return s

    def watch(self, srv):
        exporter = Exporter(f"--target.port={srv.port}")
        self.addCleanup(exporter.stop)
        exporter.wait_watching("node")
        wait_probed(exporter)
        return exporter

    def compare(self, exporter, srv, expected):
        m = exporter.wait_count(expected, service="node", timeout=20)
        self.assertEqual(exporter_view(m, "node"), srv.truth(),
                         "exporter vs the server's own counters: (method, path, class) -> [count, body bytes]")
        self.assertEqual({l["service"] for l in m.series("aster_http_requests_total")}, {"node"},
                         "curl and h2load map libssl unwatched: not counted")
        assert_clean_tls(self, m)
        return m

    def test_https_server_matches_its_own_counters(self):
        srv = self.server()
        exporter = self.watch(srv)
        u = srv.url
        # One curl per line: its transfers share a keep-alive connection.
        self.assertEqual(curl(*[f"{u}/bytes/100"] * 3, f"{u}/bytes/70000", f"{u}/nothing/1"),
                         [(200, 100)] * 3 + [(200, 70000), (404, 8)])
        self.assertEqual(curl(f"{u}/chunked/5/1000", f"{u}/chunked/3/20000", f"{u}/bytes/1"),
                         [(200, 5000), (200, 60000), (200, 1)])
        self.assertEqual(curl("-d", "u" * 3000, f"{u}/upload", f"{u}/upload"), [(200, 4)] * 2)
        self.assertEqual(curl("-d", "", f"{u}/upload"), [(200, 1)])  # an empty body
        h2load = subprocess.run(["h2load", "--h1", "-n", "60", "-c", "3", f"{u}/bytes/10", f"{u}/chunked/2/300",
                                 f"{u}/missing"], capture_output=True, text=True, timeout=60)
        self.assertIn("60 done", h2load.stdout, h2load.stdout + h2load.stderr)
        m = self.compare(exporter, srv, 11 + 60)
        self.assertEqual(m.get("aster_http_request_size_bytes_sum", method="POST", path="/upload"),
                         srv.uploaded())
        self.assertEqual(srv.uploaded(), 6000)
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="tls"), 4 + 3)
        self.assertGreaterEqual(m.get("aster_exporter_tls_sessions_bound_total"), 4 + 3)

    def test_outgoing_https_get_is_not_counted_as_served(self):
        callee = self.server()
        caller = self.server()
        exporter = self.watch(caller)
        url = f"{caller.url}/call?url={callee.url}/bytes/7"
        self.assertEqual(curl(url, url, url), [(200, 6)] * 3)
        self.assertEqual(callee.truth(), {("GET", "/bytes/:id", "2xx"): [3, 21]}, "the calls were made")
        m = self.compare(exporter, caller, 3)
        self.assertEqual(m.get("aster_http_requests_total", path="/bytes/:id"), 0, "the caller's own requests")
        # Node 20's global agent keeps its connection alive: one for the three calls.
        self.assertGreaterEqual(m.get("aster_exporter_connections_total", event="client_role"), 1)

    def test_keepalive_connection_opened_before_the_exporter(self):
        """Bound at its first response after the start (that exchange's
        plaintext is counted as unbound, visibly), counted from the next."""
        srv = self.server()
        get = keepalive_https_get(self, srv.port)
        self.assertEqual(get("/bytes/5"), (200, 5))
        exporter = self.watch(srv)
        self.assertEqual(get("/bytes/6"), (200, 6))
        for _ in range(3):
            self.assertEqual(get("/bytes/13"), (200, 13))
        m = exporter.wait_count(3, service="node")
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", path="/bytes/:id"), 39)
        self.assertEqual(m.get("aster_exporter_tls_plaintext_unbound_total"), 2, "the first exchange's read and write")
        self.assertEqual(m.get("aster_exporter_connections_total", event="not_http"), 0)
        self.assertEqual(m.get("aster_exporter_parse_errors_total"), 0)


class SystemLibsslNodeTest(NodeTlsChecks, unittest.TestCase):
    """Debian's Node.js: OpenSSL through the system's libssl.so.3 and libcrypto.so.3."""

    def node(self):
        node = os.environ.get("ASTER_TEST_NODE", "node")
        linkage = openssl_linkage(node)
        if linkage == "built-in":
            self.skipTest(f"{node} has OpenSSL built in (tested below); set ASTER_TEST_NODE to Debian's node "
                          "(nodejs + libnode108) to test the libssl path")
        self.assertEqual(linkage, "system", f"{node}: no Node.js with OpenSSL (install Debian's nodejs)")
        return node


class BuiltInOpenSslNodeTest(NodeTlsChecks, unittest.TestCase):
    """A Node.js whose executable exports SSL_* itself (NodeSource builds)."""

    def node(self):
        node = built_in_node()
        if not node:
            self.skipTest("no Node.js with OpenSSL built into its executable here (Debian's links libssl)")
        return node


if __name__ == "__main__":
    unittest.main()
