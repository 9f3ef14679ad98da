"""--web.config.file (the Prometheus exporter-toolkit format) against curl:
basic auth with good, wrong and no passwords on every path, the configured
headers, failed checks past an address's budget answered 429 while the
scraper's cached password still passes, a changed password file used
without a restart, a broken change kept out (the old config serves on,
the failure counted), and start-up errors that name the key (TLS:
test_web_tls.py). The bcrypt hashes come from htpasswd (apache2-utils)."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import EXPORTER, Exporter, Metrics, wait_for


def bcrypt(password):
    out = subprocess.run(["htpasswd", "-nbBC", "5", "u", password], check=True, capture_output=True,
                         text=True, timeout=30).stdout
    return out.strip().split(":", 1)[1]


def curl(url, *args):
    r = subprocess.run(["curl", "-s", "-o", "-", "-D", "-", "--max-time", "10", *args, url], capture_output=True,
                       timeout=30)
    head, _, body = r.stdout.decode(errors="replace").partition("\r\n\r\n")
    return r.returncode, head, body


class WebConfigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aster-webcfg-")
        cls.hash, cls.hash2 = bcrypt("s3cret"), bcrypt("n3w")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def write_config(self, text, name="web.yml"):
        path = os.path.join(self.dir, name)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)  # atomically, as a Secret update swaps it
        return path

    def start(self, path):
        e = Exporter("--target.port=1", f"--web.config.file={path}")
        self.addCleanup(e.stop)
        return e

    def test_basic_auth_headers_and_the_failure_budget(self):
        path = self.write_config(f"""
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: {self.hash}
""")
        e = self.start(path)
        url = f"http://127.0.0.1:{e.port}/metrics"
        code, head, body = curl(url, "-u", "prometheus:s3cret")
        self.assertEqual(code, 0)
        self.assertIn("HTTP/1.1 200", head)
        self.assertIn("X-Frame-Options: deny", head)
        self.assertIn("X-Content-Type-Options: nosniff", head)
        self.assertIn("aster_exporter_build_info", body)
        # Wrong password, unknown user, none, a landing page, a HEAD: 401
        # with the challenge and the headers, never the metrics.
        for args, u in ((["-u", "prometheus:wrong"], url), (["-u", "mallory:s3cret"], url), ([], url),
                        ([], f"http://127.0.0.1:{e.port}/"), (["-I"], url)):
            code, head, body = curl(u, *args)
            self.assertIn("HTTP/1.1 401", head, args)
            self.assertIn("WWW-Authenticate: Basic", head)
            self.assertIn("X-Frame-Options: deny", head)
            self.assertNotIn("aster_exporter_build_info", body)
        # Guessing from one address: past 5 failed checks, 429 without one;
        # the scraper's cached password still passes.
        answers = [curl(url, "-u", f"prometheus:guess{i}")[1].split("\r\n")[0] for i in range(12)]
        self.assertIn("HTTP/1.1 429 Too Many Requests", answers)
        code, head, body = curl(url, "-u", "prometheus:s3cret")
        self.assertIn("HTTP/1.1 200", head)
        m = Metrics(body)
        self.assertEqual(m.get("aster_exporter_web_auth_failures_total", answer="401") +
                         m.get("aster_exporter_web_auth_failures_total", answer="429"), 5 + 12)
        self.assertGreaterEqual(m.get("aster_exporter_web_auth_failures_total", answer="429"), 1)
        self.assertIsNone(e.proc.p.poll())

    def test_a_changed_file_is_used_without_a_restart_and_a_broken_one_kept_out(self):
        path = self.write_config(f"basic_auth_users:\n  prometheus: {self.hash}\n", "live.yml")
        e = self.start(path)
        url = f"http://127.0.0.1:{e.port}/metrics"
        self.assertIn("HTTP/1.1 200", curl(url, "-u", "prometheus:s3cret")[1])
        self.write_config(f"basic_auth_users:\n  prometheus: {self.hash2}\n", "live.yml")
        wait_for(lambda: "HTTP/1.1 200" in curl(url, "-u", "prometheus:n3w")[1], timeout=10,
                 what="the new password accepted")
        self.assertIn("HTTP/1.1 401", curl(url, "-u", "prometheus:s3cret")[1])
        self.write_config("basic_auth_users:\n  prometheus: plaintext\n", "live.yml")
        code, head, body = curl(url, "-u", "prometheus:n3w")
        self.assertIn("HTTP/1.1 200", head)  # the config in use stays
        m = Metrics(body)
        self.assertEqual(m.get("aster_exporter_web_config_last_reload_successful"), 0)
        self.assertEqual(m.get("aster_exporter_web_config_reloads_total", result="failure"), 1)
        self.assertEqual(m.get("aster_exporter_web_config_reloads_total", result="success"), 1)
        self.assertIn("basic_auth_users.prometheus: not a bcrypt hash", e.proc.output())

    def test_start_up_errors_name_the_key(self):
        cases = {
            "http_server_config:\n  http2: true\n": "http_server_config.http2",
            "basic_auth_users:\n  prometheus: s3cret\n": "basic_auth_users.prometheus: not a bcrypt hash",
            "http_server_config:\n  headers:\n    Server: x\n": "http_server_config.headers.Server",
            "rate_limit:\n  burst: 2\n": "rate_limit: not supported",
        }
        for text, expected in cases.items():
            path = self.write_config(text, "bad.yml")
            r = subprocess.run([EXPORTER, "--target.port=1", "--web.listen-address=127.0.0.1:1",
                                f"--web.config.file={path}"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0, text)
            self.assertIn(expected, r.stderr, text)
        r = subprocess.run([EXPORTER, "--target.port=1", "--web.listen-address=127.0.0.1:1",
                            "--web.config.file=/nonexistent/web.yml"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("web config /nonexistent/web.yml: cannot read it", r.stderr)
