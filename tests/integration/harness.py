"""Shared pieces of the integration tests: free ports, real servers, the
exporter under test, and a parser for what it serves.

Everything here runs real programs on 127.0.0.1 and polls for conditions
instead of sleeping for fixed times.
"""
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = os.path.join(HERE, "servers")

# Set by run.py from its command line.
EXPORTER = os.environ.get("ASTER_EXPORTER", "build/aster-exporter")
ATTACH_MODE = os.environ.get("ASTER_ATTACH_MODE", "socket")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")


def wait_port(port, timeout=10.0):
    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False
    wait_for(up, timeout, what=f"port {port} to accept connections")


class Proc:
    """A child process that is always killed (with its process group)."""

    def __init__(self, argv, cwd=None, env=None, log_name="proc"):
        self.log = tempfile.NamedTemporaryFile(prefix=log_name + "-", suffix=".log", delete=False)
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    @property
    def pid(self):
        return self.p.pid

    def output(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.log.closed:
            return  # already stopped
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()
        os.unlink(self.log.name)


def build_grpcserver(out_dir, static=False):
    """servers/grpcserver built into out_dir (test_grpc, test_identity, test_expiry).
    static: no libc (CGO off), to run in a container's bare rootfs."""
    binary = os.path.join(out_dir, "grpcserver")
    # GOPATH mode: grpc-go and its dependencies from Debian's /usr/share/gocode.
    env = dict(os.environ, GO111MODULE="off", GOCACHE=os.path.join(out_dir, "cache"),
               GOPATH=out_dir + ":/usr/share/gocode")
    if static:
        env["CGO_ENABLED"] = "0"
    subprocess.run(["go", "build", "-o", binary, os.path.join(SERVERS, "grpcserver", "main.go")], check=True,
                   env=env, timeout=600)
    return binary


# The five gRPC server families, as their series are scraped (a histogram by _count).
GRPC_FAMILIES = ("aster_grpc_server_started_total", "aster_grpc_server_handled_total",
                 "aster_grpc_server_handling_seconds_count", "aster_grpc_server_msg_received_total",
                 "aster_grpc_server_msg_sent_total")


def per_service_series(m):
    """(gRPC, HTTP) series in a scrape, counted as aster_exporter_series counts
    them: a histogram is one series; the three HTTP histograms share labels."""
    grpc = sum(len(m.series(f)) for f in GRPC_FAMILIES)
    http = len(m.series("aster_http_requests_total")) + 3 * len(m.series("aster_http_request_duration_seconds_count"))
    return grpc, http


def start_node(port):
    p = Proc(["node", os.path.join(SERVERS, "node_server.js"), str(port)], log_name="node")
    wait_port(port)
    return p


def start_python(port, root):
    p = Proc(["python3", os.path.join(SERVERS, "py_server.py"), str(port)], cwd=root, log_name="python")
    wait_port(port)
    return p


def start_python_stock(port, root):
    """Python's own `python3 -m http.server` (HTTP/1.0)."""
    p = Proc(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=root,
             log_name="pyhttp")
    wait_port(port)
    return p


def make_cert(directory):
    """A self-signed certificate for localhost, made with the openssl CLI:
    (certificate path, key path)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o644)  # nginx's workers read it as nobody
    return cert, key


def start_openssl_server(port, directory):
    """openssl s_server on 127.0.0.1:port with a throw-away certificate in
    `directory`: a real TLS server that answers each line reversed (-rev),
    so it answers in TLS whatever a client sends."""
    cert, key = make_cert(directory)
    server = Proc(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", cert, "-key", key, "-rev",
                   "-quiet"], log_name="s_server")
    wait_port(port)
    return server


def tls_line_exchange(port, line):
    """One TLS connection (Python's ssl, no verification) that sends `line`
    and returns the server's answer up to its newline."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port)) as raw, ctx.wrap_socket(raw) as s:
        s.sendall(line)
        got = b""
        while not got.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                break
            got += chunk
        return got


class Nginx:
    """nginx with a master and two workers, static files, sendfile on, and an
    access log that is the ground truth for counts and body bytes.
    `locations`: the server block's location directives. `ssl_port`: the
    same server also listens there with TLS (a self-signed certificate),
    speaking HTTP/2 there too with `http2` (ALPN h2, HTTP/1.1 still offered)."""

    def __init__(self, port, workers=2, locations="location /post { return 204; }", ssl_port=None, http2=False,
                 worker_connections=1024):
        self.dir = tempfile.mkdtemp(prefix="aster-nginx-")
        self.root = os.path.join(self.dir, "html")
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.dir, "logs"))
        self.access_log = os.path.join(self.dir, "logs", "access.log")
        conf = os.path.join(self.dir, "nginx.conf")
        tls = ""
        if ssl_port:
            cert, key = make_cert(self.dir)
            tls = (f"listen 127.0.0.1:{ssl_port} ssl{' http2' if http2 else ''}; "
                   f"ssl_certificate {cert}; ssl_certificate_key {key}; "
                   "ssl_protocols TLSv1.2 TLSv1.3;")
        with open(conf, "w") as f:
            f.write(f"""
worker_processes {workers};
worker_rlimit_nofile {worker_connections + 64};
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
  log_format truth '$request_method $request_uri $status $body_bytes_sent $content_length $request';
  access_log {self.access_log} truth;
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path {self.dir}/tmp;
  proxy_temp_path {self.dir}/tmp;
  fastcgi_temp_path {self.dir}/tmp;
  uwsgi_temp_path {self.dir}/tmp;
  scgi_temp_path {self.dir}/tmp;
  server {{
    listen 127.0.0.1:{port};
    {tls}
    root {self.root};
    {locations}
  }}
}}
""")
        os.makedirs(os.path.join(self.dir, "tmp"))
        os.chmod(self.dir, 0o755)
        os.chmod(self.root, 0o755)
        self.proc = Proc(["nginx", "-p", self.dir, "-c", conf, "-g", "daemon off;"], log_name="nginx")
        wait_port(port)
        if ssl_port:
            wait_port(ssl_port)

    def write_file(self, name, size):
        path = os.path.join(self.root, name)
        with open(path, "wb") as f:
            f.write(bytes((i * 7) % 251 for i in range(size)))
        os.chmod(path, 0o644)
        return size

    def truth(self, skip_unsent_get=False):
        """(method, path, status class) -> [count, body bytes] from the access log.

        skip_unsent_get: leave out GETs that nginx logged with no body byte
        sent. When a client resets a connection (wrk at its deadline) nginx
        still logs the request it was answering although its write failed:
        no response left the server, so there is nothing to count."""
        out = {}
        self.unsent = 0
        with open(self.access_log) as f:
            for line in f:
                method, uri, status, sent, _, request = line.rstrip("\n").split(" ", 5)
                if method == "-":
                    # A request line nginx would not take (a lower-case
                    # method): it logs no method or URI, but the line itself.
                    parts = request.split(" ")
                    if len(parts) == 3 and parts[1].startswith("/"):
                        method, uri = parts[0], parts[1]
                if skip_unsent_get and method == "GET" and status == "200" and sent == "0":
                    self.unsent += 1
                    continue
                key = (method, uri.split("?")[0], status[0] + "xx")
                rec = out.setdefault(key, [0, 0])
                rec[0] += 1
                rec[1] += int(sent)
        return out

    def logged(self):
        """(answered requests, of which 2xx) in the access log."""
        n = ok = 0
        with open(self.access_log) as f:
            for line in f:
                n += 1
                ok += line.split(" ")[2].startswith("2")
        return n, ok

    def stop(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics:
    """One scrape, parsed: get(name, **labels) sums the matching samples."""

    def __init__(self, text):
        self.text = text
        self.samples = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            m = LINE.match(line)
            if not m:
                raise AssertionError(f"unparsable exposition line: {line!r}")
            labels = dict(LABEL.findall(m.group(3) or ""))
            self.samples.append((m.group(1), labels, float(m.group(4))))

    def select(self, name, **labels):
        return [(l, v) for n, l, v in self.samples
                if n == name and all(l.get(k) == str(val) for k, val in labels.items())]

    def get(self, name, **labels):
        return sum(v for _, v in self.select(name, **labels))

    def series(self, name, **labels):
        return [l for l, _ in self.select(name, **labels)]


class Exporter:
    def __init__(self, *args, mode=None, env=None):
        self.port = free_port()
        argv = [EXPORTER, f"--web.listen-address=127.0.0.1:{self.port}",
                f"--bpf.attach-mode={mode or ATTACH_MODE}", "--discovery.interval-ms=200", *args]
        self.proc = Proc(argv, env=env, log_name="exporter")
        try:
            wait_port(self.port, timeout=20)
        except AssertionError:
            raise AssertionError("exporter did not start:\n" + self.proc.output() + "\n" + self.threads())

    def scrape(self, path="/metrics"):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return Metrics(r.read().decode())

    def raw(self, path="/metrics"):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return r.read().decode()

    def wait_watching(self, service, processes=1):
        def watching():
            try:
                return self.scrape().get("aster_service_processes", service=service) >= processes
            except OSError:  # a scrape that timed out on a loaded machine: poll again
                return False
        try:
            wait_for(watching, timeout=20,
                     what=f"{processes} watched process(es) of service {service}")
        except AssertionError as e:
            log = "\n".join(l for l in self.proc.output().splitlines() if "libbpf:" not in l)
            raise AssertionError(f"{e}\nexporter log (last 4000 characters):\n{log[-4000:]}\n"
                                 f"{self.threads()}") from None

    def threads(self):
        """Where each of the exporter's threads is, for a failure message:
        its state and kernel stack from /proc, and its user stack when gdb
        is installed. A stalled start-up shows here what it waits on."""
        if self.proc.p.poll() is not None:
            return f"exporter exited with status {self.proc.p.returncode}"
        out = [f"exporter threads (pid {self.proc.pid}):"]
        try:
            tids = sorted(os.listdir(f"/proc/{self.proc.pid}/task"), key=int)
        except OSError:
            return "exporter exited while its threads were listed"
        for tid in tids:
            base = f"/proc/{self.proc.pid}/task/{tid}"
            try:
                comm = open(f"{base}/comm").read().strip()
                state = open(f"{base}/stat").read().rsplit(")", 1)[1].split()[0]
                stack = " <- ".join(l.split()[-1] for l in open(f"{base}/stack").read().splitlines()[:8])
            except OSError:
                continue  # the thread has gone
            out.append(f"  {tid} {comm} {state}: {stack}")
        if shutil.which("gdb"):
            # A diagnosis must not replace the failure it explains: a gdb
            # that hangs or fails only loses the user stacks.
            try:
                r = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-ex", "thread apply all bt 12"],
                                   capture_output=True, text=True, timeout=60)
                out.append("\n".join(l for l in r.stdout.splitlines() if l.startswith(("#", "Thread"))))
            except (OSError, subprocess.SubprocessError) as e:
                out.append(f"(no user stacks: {e})")
        return "\n".join(out)

    def wait_count(self, expected, name="aster_http_requests_total", timeout=10, **labels):
        """Polls until the summed counter equals `expected`; returns the scrape.
        Fails if it overshoots (counted twice) or never gets there."""
        last = [None]

        def check():
            m = self.scrape()
            last[0] = m
            got = m.get(name, **labels)
            if got > expected:
                raise AssertionError(f"{name}{labels} = {got}, more than the {expected} requests sent")
            return m if got == expected else None
        try:
            return wait_for(check, timeout, what=f"{name}{labels} == {expected}")
        except AssertionError:
            got = last[0].get(name, **labels) if last[0] else None
            series = last[0].select(name) if last[0] else []
            raise AssertionError(f"{name}{labels}: expected {expected}, got {got}; series: {series}")

    def stop(self):
        self.proc.stop()


# struct aster_event (bpf/aster_events.h), host byte order (little-endian).
EVENT = struct.Struct("<QQQIIiIHBBHH")
EVENT_DATA, DIR_INGRESS, DIR_EGRESS = 1, 0, 1


def capture_events(path):
    """The events of a capture (userspace/capture/capture_file.h: "ASTERCAP",
    version, then frames; a ring-record frame holds one or more events back
    to back, each 8-byte aligned), as dicts of struct aster_event's fields."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"ASTERCAP":
        raise AssertionError(f"{path} is not a capture")
    out, pos = [], 16
    fields = ("timestamp_ns", "conn_id", "stream_pos", "tgid", "tid", "fd", "byte_count", "captured_len", "kind",
              "direction", "flags", "service_id")
    while pos + 8 <= len(data):
        ftype, length = struct.unpack_from("<II", data, pos)
        payload = data[pos + 8:pos + 8 + length]
        pos += 8 + (length + 7) // 8 * 8
        if ftype != 2:  # CaptureFrame::kRingRecord
            continue
        off = 0
        while off + EVENT.size <= len(payload):
            ev = dict(zip(fields, EVENT.unpack_from(payload, off)))
            if not 1 <= ev["kind"] <= 7:
                raise AssertionError(f"{path}: a record of unknown kind {ev['kind']} at frame offset {off}")
            out.append(ev)
            size = data_record_size(payload, off, ev) if ev["kind"] == EVENT_DATA else EVENT.size
            if off + size > len(payload):
                raise AssertionError(f"{path}: a record of {size} bytes runs past its ring record")
            off += (size + 7) // 8 * 8
    return out


# The trailers a data record may carry after its payload (bpf/aster_events.h,
# read the same way as record_trailers() in userspace/model/event_layout.h):
# the iovec hint block, then the boundary windows, each 8-byte aligned.
F_IOV_HINTS, F_WINDOWS = 1 << 4, 1 << 8
IOV_HINTS_HEAD, IOV_HINT = 8, 24      # struct aster_iov_hints, aster_iov_hint
WINDOWS_HEAD, WINDOW = 8, 32          # struct aster_windows, aster_window


def data_record_size(buf, start, ev):
    n = EVENT.size + ev["captured_len"]
    if ev["flags"] & F_IOV_HINTS:
        n = (n + 7) // 8 * 8
        count = struct.unpack_from("<H", buf, start + n + 4)[0]  # after cut_rest
        n += IOV_HINTS_HEAD + count * IOV_HINT
    if ev["flags"] & F_WINDOWS:
        n = (n + 7) // 8 * 8
        count = struct.unpack_from("<H", buf, start + n)[0]
        n += WINDOWS_HEAD + count * WINDOW
    return n


def reads_per_connection(path):
    """{conn_id: [byte_count of each read, in stream order]} of a capture's
    ingress data records: how the watched server's reads really split what
    its clients sent."""
    reads = {}
    for ev in sorted(capture_events(path), key=lambda e: (e["conn_id"], e["stream_pos"])):
        if ev["kind"] == EVENT_DATA and ev["direction"] == DIR_INGRESS:
            reads.setdefault(ev["conn_id"], []).append(ev["byte_count"])
    return reads


def curl(*args):
    """Runs one curl (one keep-alive connection for all its URLs); returns
    [(status, body bytes)] per URL."""
    return curl_next(args)


def curl_next(*transfers):
    """One curl, its transfers separated by --next (each with its own
    options, e.g. its own request body) on one keep-alive connection;
    returns [(status, body bytes)] per URL."""
    argv = ["curl"]
    for i, options in enumerate(transfers):
        if i:
            argv.append("--next")
        # -k: the tests' servers have self-signed certificates; --http1.1: no
        # HTTP/2 through ALPN.
        argv += ["-sSk", "--http1.1", "-w", "%{http_code} %{size_download}\n"]
        for a in options:
            if a.startswith(("http://", "https://")):
                argv += ["-o", "/dev/null"]
            argv.append(a)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"curl {transfers} failed: {r.stderr}")
    return [tuple(int(x) for x in line.split()) for line in r.stdout.splitlines()]


def http_exchange(sock, raw, expect_responses=1, timeout=5):
    """Sends raw bytes and reads until `expect_responses` Content-Length
    responses have arrived; returns the bytes read."""
    sock.sendall(raw)
    sock.settimeout(timeout)
    buf = b""
    while True:
        n = 0
        pos = 0
        while True:
            head_end = buf.find(b"\r\n\r\n", pos)
            if head_end < 0:
                break
            m = re.search(rb"(?i)content-length:\s*(\d+)", buf[pos:head_end])
            length = int(m.group(1)) if m else 0
            if len(buf) < head_end + 4 + length:
                break
            n += 1
            pos = head_end + 4 + length
        if n >= expect_responses:
            return buf
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk
