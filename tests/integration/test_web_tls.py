"""/metrics over TLS from --web.config.file's tls_server_config (the
exporter-toolkit format), against real clients: curl and openssl s_client
with basic auth (good, wrong and no password), a client certificate
required and verified (none, one from another CA), TLS 1.3 as
min_version, the configured headers over TLS; a certificate rotated on
disk served from the next handshake without a restart, a broken change
kept out and counted; a real Prometheus (Debian's) scraping over TLS with
basic auth and a client certificate from its own scrape config, beside
jobs with a wrong password and without a certificate that it reports
down; and start-up errors that name the key. The exporter's TLS goes
through Debian 12's libcivetweb with the OpenSSL 3 shims
(web/civetweb_openssl.h): without them the first handshake crashed it.
Certificates come from the openssl CLI, the bcrypt hash from htpasswd."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest
import urllib.request

import test_web_config as plain  # a module, so its tests are not run again from here
from harness import EXPORTER, Exporter, Metrics, Proc, free_port, wait_for, wait_port

bcrypt, curl = plain.bcrypt, plain.curl


def openssl(*args, **kw):
    return subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, **kw)


class Pki:
    """A CA, a server certificate for 127.0.0.1 signed by it, a client
    certificate signed by it, and a client certificate from another CA."""

    def __init__(self, d):
        self.d = d
        self.ca_key, self.ca = self.path("ca.key"), self.path("ca.crt")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key, "-out", self.ca,
                "-days", "2", "-subj", "/CN=aster test CA")
        self.server_cert, self.server_key = self.issue("server", "127.0.0.1", server=True)
        self.client_cert, self.client_key = self.issue("client", "prometheus")
        self.rogue_cert, self.rogue_key = self.path("rogue.crt"), self.path("rogue.key")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.rogue_key, "-out", self.rogue_cert,
                "-days", "2", "-subj", "/CN=prometheus")

    def path(self, name):
        return os.path.join(self.d, name)

    def issue(self, name, cn, server=False):
        key, csr, crt = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".crt")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n" if server else "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial", "-out", crt,
                "-days", "2", "-extfile", ext)
        return crt, key


def s_client(port, *args, request=None):
    """openssl s_client's transcript of one handshake (and one request)."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "127.0.0.1",
                        "-ign_eof", *args], input=(request or "").encode(), capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


class WebTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aster-webtls-")
        cls.pki = Pki(cls.dir)
        cls.hash = bcrypt("s3cret")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def write(self, text, name):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)  # atomically, as a Secret update swaps it
        return path

    def start(self, config_path):
        e = Exporter("--target.port=1", f"--web.config.file={config_path}")
        self.addCleanup(e.stop)
        return e

    def mtls_config(self, name):
        p = self.pki
        return self.write(f"""
tls_server_config:
  cert_file: {p.server_cert}
  key_file: {p.server_key}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
http_server_config:
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: {self.hash}
""", name)

    def test_client_certificates_basic_auth_and_headers_with_curl_and_s_client(self):
        p = self.pki
        e = self.start(self.mtls_config("mtls.yml"))
        url = f"https://127.0.0.1:{e.port}/metrics"
        good = ["--cacert", p.ca, "--cert", p.client_cert, "--key", p.client_key]
        code, head, body = curl(url, *good, "-u", "prometheus:s3cret")
        self.assertEqual(code, 0, head)
        self.assertIn("HTTP/1.1 200", head)
        self.assertIn("X-Frame-Options: deny", head)
        self.assertIn("Strict-Transport-Security: max-age=31536000", head)
        self.assertIn("aster_exporter_build_info", body)
        # Wrong password, unknown user, none, the landing page: 401 with the
        # challenge, never the metrics.
        for creds, u in ((["-u", "prometheus:wrong"], url), (["-u", "mallory:s3cret"], url), ([], url),
                         ([], f"https://127.0.0.1:{e.port}/")):
            code, head, body = curl(u, *good, *creds)
            self.assertEqual(code, 0, creds)
            self.assertIn("HTTP/1.1 401", head, creds)
            self.assertIn("WWW-Authenticate: Basic", head)
            self.assertNotIn("aster_exporter_build_info", body)
        # No client certificate, or one from another CA: no request is read.
        refused = 0
        for certs in ([], ["--cert", p.rogue_cert, "--key", p.rogue_key]):
            code, head, body = curl(url, "--cacert", p.ca, *certs, "-u", "prometheus:s3cret")
            self.assertNotEqual(code, 0, certs)
            self.assertNotIn("aster_exporter_build_info", body)
            refused += 1
        # TLS 1.2 is below min_version; plain HTTP is not served on the port.
        code, head, _ = curl(url, *good, "-u", "prometheus:s3cret", "--tls-max", "1.2")
        self.assertNotEqual(code, 0, head)
        refused += 1
        code, head, body = curl(f"http://127.0.0.1:{e.port}/metrics", "-u", "prometheus:s3cret")
        self.assertNotIn("aster_exporter_build_info", body)
        refused += 1  # OpenSSL answers a plain request with an alert
        # openssl s_client: the chain verifies, TLS 1.3, and the request
        # with credentials is answered; without a certificate, an alert.
        code, out = s_client(e.port, "-CAfile", p.ca, "-cert", p.client_cert, "-key", p.client_key,
                             "-verify_return_error",
                             request="GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic "
                                     "cHJvbWV0aGV1czpzM2NyZXQ=\r\nConnection: close\r\n\r\n")
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("TLSv1.3", out)
        self.assertIn("HTTP/1.1 200 OK", out)
        self.assertIn("aster_exporter_build_info", out)
        code, out = s_client(e.port, "-CAfile", p.ca,
                             request="GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        self.assertNotIn("HTTP/1.1", out)
        self.assertIn("alert", out)
        refused += 1
        code, head, body = curl(url, *good, "-u", "prometheus:s3cret")
        m = Metrics(body)
        self.assertEqual(m.get("aster_exporter_web_auth_failures_total", answer="401"), 4)
        self.assertEqual(m.get("aster_exporter_web_tls_handshakes_refused_total"), refused)
        self.assertIsNone(e.proc.p.poll(), "the exporter exited (crashed?)")

    def test_a_rotated_certificate_is_served_without_a_restart(self):
        p = self.pki
        cert, key = os.path.join(self.dir, "rot.crt"), os.path.join(self.dir, "rot.key")
        shutil.copy(p.server_cert, cert)
        shutil.copy(p.server_key, key)
        path = self.write("tls_server_config:\n  cert_file: rot.crt\n  key_file: rot.key\n", "rot.yml")
        e = self.start(path)

        def served_cert():
            ctx = ssl.create_default_context(cafile=p.ca)
            with socket.create_connection(("127.0.0.1", e.port), timeout=5) as s:
                with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                    return t.getpeercert(binary_form=True)

        def scrape():
            code, head, body = curl(f"https://127.0.0.1:{e.port}/metrics", "--cacert", p.ca)
            self.assertEqual(code, 0, head)
            return Metrics(body)

        first = served_cert()
        new_cert, new_key = p.issue("server2", "127.0.0.1", server=True)
        # The key first, then the certificate: in between the pair does not
        # match; that change is refused and the old pair serves on.
        shutil.copy(new_key, key + ".tmp")
        os.rename(key + ".tmp", key)
        self.assertEqual(served_cert(), first)
        shutil.copy(new_cert, cert + ".tmp")
        os.rename(cert + ".tmp", cert)
        wait_for(lambda: served_cert() != first, timeout=10, what="the rotated certificate served")
        m = scrape()
        self.assertEqual(m.get("aster_exporter_web_config_reloads_total", result="failure"), 1)
        self.assertEqual(m.get("aster_exporter_web_config_reloads_total", result="success"), 1)
        self.assertEqual(m.get("aster_exporter_web_config_last_reload_successful"), 1)
        # A broken file: the config in use stays and says so.
        self.write("tls_server_config:\n  cert_file: rot.crt\n  key_file: rot.key\n  min_version: TLS9\n", "rot.yml")
        m = scrape()
        self.assertEqual(m.get("aster_exporter_web_config_last_reload_successful"), 0)
        self.assertIn("tls_server_config.min_version", e.proc.output())
        self.assertIsNone(e.proc.p.poll())

    def test_cipher_suites_and_curves(self):
        p = self.pki
        e = self.start(self.write(f"""
tls_server_config:
  cert_file: {p.server_cert}
  key_file: {p.server_key}
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
  curve_preferences: [CurveP384]
""", "ciphers.yml"))
        url = f"https://127.0.0.1:{e.port}/metrics"
        tls12 = ["--cacert", p.ca, "--tls-max", "1.2"]
        code, head, _ = curl(url, *tls12, "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256", "--curves", "P-384")
        self.assertEqual(code, 0, head)
        self.assertIn("HTTP/1.1 200", head)
        # Another TLS 1.2 suite, or a curve outside the list (TLS 1.3 too): no handshake.
        code, head, _ = curl(url, *tls12, "--ciphers", "ECDHE-RSA-AES256-GCM-SHA384")
        self.assertNotEqual(code, 0, head)
        code, head, _ = curl(url, "--cacert", p.ca, "--curves", "X25519")
        self.assertNotEqual(code, 0, head)
        code, head, _ = curl(url, "--cacert", p.ca, "--curves", "P-384", "--tlsv1.3")
        self.assertIn("HTTP/1.1 200", head)  # TLS 1.3's suites stay on, as in Go
        self.assertIsNone(e.proc.p.poll())

    def test_prometheus_scrapes_over_tls_with_basic_auth(self):
        p = self.pki
        e = self.start(self.mtls_config("prom-mtls.yml"))
        tls = {"ca_file": p.ca, "cert_file": p.client_cert, "key_file": p.client_key}

        def job(name, password, tls_config):
            return {"job_name": name, "scheme": "https", "scrape_interval": "1s", "scrape_timeout": "1s",
                    "basic_auth": {"username": "prometheus", "password": password}, "tls_config": tls_config,
                    "static_configs": [{"targets": [f"127.0.0.1:{e.port}"]}]}
        config = {"global": {"scrape_interval": "1s"},
                  "scrape_configs": [job("aster", "s3cret", tls), job("wrong-password", "guess", tls),
                                     job("no-client-cert", "s3cret", {"ca_file": p.ca})]}
        conf = self.write(json.dumps(config), "prometheus.yml")  # JSON is YAML
        port = free_port()
        data = tempfile.mkdtemp(prefix="prom-", dir=self.dir)
        prom = Proc(["prometheus", f"--config.file={conf}", f"--storage.tsdb.path={data}",
                     f"--web.listen-address=127.0.0.1:{port}"], log_name="prometheus")
        self.addCleanup(prom.stop)
        wait_port(port, timeout=30)

        def ready():  # its API answers 503 until the TSDB is open
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_for(ready, timeout=60, what="Prometheus ready")

        def targets():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5) as r:
                active = json.load(r)["data"]["activeTargets"]
            return {t["labels"]["job"]: t for t in active if t["health"] != "unknown"}

        got = wait_for(lambda: (lambda t: t if len(t) == 3 else None)(targets()), timeout=30,
                       what="all three scrape jobs tried")
        self.assertEqual(got["aster"]["health"], "up", got["aster"]["lastError"])
        self.assertEqual(got["wrong-password"]["health"], "down")
        self.assertIn("401", got["wrong-password"]["lastError"])
        self.assertEqual(got["no-client-cert"]["health"], "down")

        def query(q):
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["data"]["result"]
        # What Prometheus stored came over TLS from the exporter: its build
        # info and its own count of refused handshakes (the no-cert job).
        wait_for(lambda: query('aster_exporter_build_info{job="aster"}'), timeout=20, what="build info stored")
        wait_for(lambda: query('aster_exporter_web_tls_handshakes_refused_total{job="aster"} > 0'), timeout=20,
                 what="the refused handshakes counted and scraped")
        wait_for(lambda: query('aster_exporter_web_auth_failures_total{job="aster",answer="401"} > 0'), timeout=20,
                 what="the wrong password's 401s counted and scraped")
        self.assertIsNone(e.proc.p.poll())

    def test_start_up_errors_name_the_key(self):
        p = self.pki
        cases = {
            f"tls_server_config:\n  cert_file: {p.server_cert}\n  key_file: {p.server_key}\n"
            "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n": "tls_server_config.cipher_suites: 'TLS_AES_128_GCM_SHA256' is a TLS 1.3 suite",
            f"tls_server_config:\n  cert_file: {p.server_cert}\n  key_file: {p.server_key}\n"
            "  cipher_suites: [TLS_NOPE]\n": "tls_server_config.cipher_suites: unknown cipher suite 'TLS_NOPE'",
            f"tls_server_config:\n  cert_file: {p.server_cert}\n  key_file: {p.server_key}\n"
            "  client_allowed_sans: [prometheus]\n": "tls_server_config.client_allowed_sans: not supported",
            f"tls_server_config:\n  cert_file: {p.server_cert}\n  key_file: {p.client_key}\n":
                "tls_server_config.key_file: the key does not match",
            "tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n":
                "tls_server_config.cert_file: cannot load /nonexistent.crt",
            f"tls_server_config:\n  cert_file: {p.server_cert}\n  key_file: {p.server_key}\n"
            "  client_auth_type: RequireAndVerifyClientCert\n": "tls_server_config.client_auth_type",
        }
        for text, expected in cases.items():
            path = self.write(text, "bad.yml")
            r = subprocess.run([EXPORTER, "--target.port=1", f"--web.listen-address=127.0.0.1:{free_port()}",
                                f"--web.config.file={path}"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0, text)
            self.assertIn(expected, r.stderr, text)
