#!/usr/bin/env python3
"""aster-exporter benchmark driver. Start it through bench/run.sh, which
builds what it needs and sets the environment up; this file runs the
servers, the load and the variants, and prints figures. It never passes or
fails on time.

Phases:
  1. throughput/latency/CPU: per scenario (HTTP/1.1 under wrk; h2c-tiny:
     HTTP/2 by prior knowledge, nghttpd under h2load; go-tls-tiny: the Go
     server over crypto/tls under wrk, the Go TLS uprobes), PAIRS rounds; each round runs the
     unwatched baseline and then every variant (in an order that rotates
     from round to round), and each variant's ratio is taken against the
     baseline of its own round. Medians over rounds. Throughput, latency
     and CPU are measured with kernel.bpf_stats_enabled=0 (as in
     production); a probed run then takes a second, STATS_DURATION-second
     window of the same load with it on, for the probes' kernel time.
     Then the quartiles of the per-round figures, and aster against the
     in-process middleware round by round with a sign test. Beside the
     exporter, the variants include two floors from bench/empty_probes:
     empty programs on the exporter's attach points (what dispatching a
     probe costs), and the copy floor (a timestamp and the head of each
     buffer for the server's processes, no state and no userspace: what
     any probe that reads HTTP out of the kernel pays).
  2. exactness: the exporter's counts and body-size sums against the Go
     server's own /metrics (in-process middleware) and nginx's access log,
     in each attach mode.
  3. memory per 1000 series: 10 000 distinct paths.
  4. slowdown of an unwatched syscall-heavy process while the exporter runs.
  5. profile of the exporter under the Go tiny saturated load (perf) and
     per-program bpf_stats.
  6. attribution of the machine's added CPU (perf, whole machine).
  7. callgrind: instructions per request through the userspace pipeline
     (ordering, connections, parsing, metrics), counted by valgrind while
     the exporter replays the captures committed in tests/captures: the
     same inputs every time, so unlike every figure above it does not
     move with the machine's noise, and two commits compare exactly.
"""
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import http.client
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("OUT", "/tmp/aster-bench")
EXPORTER = os.environ["EXPORTER"]
PAIRS = int(os.environ.get("PAIRS", "8"))
DURATION = int(os.environ.get("DURATION", "4"))
CONNS = int(os.environ.get("CONNS", "32"))
THREADS = int(os.environ.get("THREADS", "1"))
SCENARIOS = os.environ.get("SCENARIOS", "go-tiny,go-work,nginx-small,nginx-large,h2c-tiny,go-tls-tiny").split(",")
SYSCALLS_ALL = os.environ.get("SYSCALLS_ALL", "0") == "1"
PHASES = os.environ.get("PHASES", "load,exact,memory,syscall,profile,attribution,callgrind").split(",")
# Experiments: VARIANTS replaces the measured list (e.g. "aster-socket,aster-socket+small");
# VARIANT_ARGS gives a named variant its own exporter flags, as JSON
# (e.g. '{"aster-socket+small": ["--bpf.ringbuf-bytes=1048576"]}').
# Seconds of the second, bpf_stats-on window of each probed run.
STATS_DURATION = int(os.environ.get("STATS_DURATION", "2"))
VARIANTS = [v for v in os.environ.get("VARIANTS", "").split(",") if v]
VARIANT_ARGS = json.loads(os.environ.get("VARIANT_ARGS", "{}"))
# ... and VARIANT_EXPORTERS its own binary, to compare two builds in one run
# (e.g. '{"aster-socket+new": "/tmp/new/build/aster-exporter"}').
VARIANT_EXPORTERS = json.loads(os.environ.get("VARIANT_EXPORTERS", "{}"))
SERIES_PATHS = int(os.environ.get("SERIES_PATHS", "10000"))

GO_PORT, GO_MW_PORT, GO_TLS_PORT, NGINX_PORT, H2C_PORT, EXP_PORT = 18080, 18081, 18083, 18090, 18095, 18497
# h2load's concurrent streams per connection in the h2c scenario.
H2_STREAMS = int(os.environ.get("H2_STREAMS", "10"))
EXP_URL = f"http://127.0.0.1:{EXP_PORT}/metrics"

children = []  # every process we start: (Popen, name)


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- processes

def start(cmd, name, stdout=None, stderr=None):
    p = subprocess.Popen(cmd, stdout=stdout or subprocess.DEVNULL,
                         stderr=stderr or subprocess.DEVNULL, start_new_session=True)
    children.append((p, name))
    return p


def stop(p, sig=signal.SIGTERM, timeout=10):
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)  # its own session: itself and what it forked
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    children[:] = [(c, n) for c, n in children if c is not p]


def stop_all():
    for p, _ in list(children):
        stop(p)


def wait_port(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


def wait_listening(port, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                if ppid == pid:
                    out.append(int(d))
            except OSError:
                pass
    return out


# ------------------------------------------------------------- measurement

def cpu_ns(pids):
    """CPU time of every thread of these processes (schedstat, ns)."""
    total = 0
    for pid in pids:
        try:
            for t in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                        total += int(f.read().split()[0])
                except OSError:
                    pass
        except OSError:
            pass
    return total


def stat_cpu_us(pid):
    """utime+stime of a process from /proc/PID/stat, in microseconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1e6 / os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """The whole machine's CPU time from /proc/stat, in seconds: busy (user,
    nice, system, irq, softirq), idle (idle, iowait), steal (taken by the
    hypervisor for other guests)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return dict(busy=(user + nice + system + irq + softirq) / hz, idle=(idle + iowait) / hz, steal=steal / hz)


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def fetch(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if m:
            labels = dict(LABEL.findall(m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


def metric_sum(metrics, name, **want):
    return sum(v for n, l, v in metrics if n == name and all(l.get(k) == w for k, w in want.items()))


def metric_by(metrics, name, key):
    out = {}
    for n, l, v in metrics:
        if n == name:
            out[l.get(key)] = out.get(l.get(key), 0) + v
    return out


def empty_probe_ns():
    """run_time_ns and run_cnt summed over the loaded floor programs
    (empty_* and copy_*, from bench/empty_probes.bpf.c)."""
    progs = json.loads(subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True,
                                      text=True, check=True).stdout)
    mine = [p for p in progs if p.get("name", "").startswith(("empty_", "copy_"))]
    return sum(p.get("run_time_ns", 0) for p in mine), sum(p.get("run_cnt", 0) for p in mine)


def dur_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return v * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def h2load(url, duration, conns=CONNS, threads=THREADS, streams=H2_STREAMS):
    """h2load by prior knowledge (h2c) for `duration` seconds, `conns`
    connections of `streams` concurrent streams each; the same figures as
    wrk(), the latency percentiles from its per-request log."""
    logf = f"{OUT}/h2load-requests.log"
    cmd = ["h2load", f"-t{threads}", f"-c{conns}", f"-m{streams}", f"-D{duration}", "--log-file", logf, url]
    p = start(cmd, "h2load", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.communicate()[0].decode()
    stop(p)
    res = {"raw": out}
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored",
                  out)
    res["requests"] = int(m.group(1)) if m else 0
    res["socket_errors"] = f"failed {m.group(3)}, errored {m.group(4)}" if m else ""
    m = re.search(r"finished in [^,]+, ([\d.]+) req/s", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    res["non2xx"] = sum(int(x) for x in m.groups()[2:]) if m else 0
    # One line per request: start time, status, microseconds from request to answer.
    took = []
    try:
        with open(logf) as f:
            took = sorted(int(line.split()[2]) for line in f if len(line.split()) >= 3)
    except OSError:
        pass
    for q in (50, 99):
        res[f"p{q}"] = float(took[min(len(took) - 1, len(took) * q // 100)]) if took else float("nan")
    return res


def load(sc, duration):
    """The scenario's load generator: wrk for HTTP/1.1 (over TLS for
    go-tls), h2load for h2c."""
    scheme = "https" if sc["kind"] == "go-tls" else "http"
    url = f"{scheme}://127.0.0.1:{sc['port']}{sc['path']}"
    return h2load(url, duration) if sc["kind"] == "h2c" else wrk(url, duration)


def wrk(url, duration, script=None, conns=CONNS, threads=THREADS, env=None):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    p = start(cmd, "wrk", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.communicate()[0].decode()
    stop(p)
    res = {"raw": out}
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        res[f"p{q}"] = dur_us(m.group(1)) if m else float("nan")
    m = re.search(r"Socket errors: (.*)", out)
    res["socket_errors"] = m.group(1) if m else ""
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    return res


# ---------------------------------------------------------------- servers

class Servers:
    def __init__(self):
        self.go = start([f"{OUT}/goserver", "-addr", f"127.0.0.1:{GO_PORT}"], "goserver")
        self.go_mw = start([f"{OUT}/goserver", "-addr", f"127.0.0.1:{GO_MW_PORT}", "-middleware"],
                           "goserver-mw")
        # HTTPS through Go's crypto/tls (the Go TLS uprobes), the same server.
        self.go_tls = start([f"{OUT}/goserver", "-addr", f"127.0.0.1:{GO_TLS_PORT}", "-tls-cert",
                             f"{OUT}/bench-cert.pem", "-tls-key", f"{OUT}/bench-key.pem"], "goserver-tls")
        self.nginx = start(["nginx", "-c", f"{OUT}/nginx.conf", "-g", "daemon off;"], "nginx",
                           stderr=open(f"{OUT}/nginx-stderr.log", "w"))
        # HTTP/2 without TLS: nghttpd (nghttp2-server, one event loop) on the same files.
        self.h2c = start(["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", f"{OUT}/www", str(H2C_PORT)], "nghttpd",
                         stdout=subprocess.DEVNULL, stderr=open(f"{OUT}/nghttpd.log", "w"))
        for port in (GO_PORT, GO_MW_PORT, NGINX_PORT):
            wait_port(port)
        wait_listening(H2C_PORT)  # nghttpd answers an HTTP/1.1 GET with frames
        wait_listening(GO_TLS_PORT)  # TLS: no plain GET

    def nginx_pids(self):
        return [self.nginx.pid] + children_of(self.nginx.pid)


def write_nginx_conf():
    www = f"{OUT}/www"
    os.makedirs(www, exist_ok=True)
    os.makedirs(f"{OUT}/nginx-tmp", exist_ok=True)
    with open(f"{www}/small.html", "w") as f:  # the size of nginx's welcome page
        f.write("<!DOCTYPE html>\n<html><head><title>bench</title></head><body>\n"
                + "<p>aster-exporter benchmark static page.</p>\n" * 12 + "</body></html>\n")
    with open(f"{www}/tiny.txt", "w") as f:  # go-tiny's answer: ten streams' answers fit one capture
        f.write("hello, world\n")
    with open(f"{www}/large.bin", "wb") as f:
        f.write(os.urandom(1 << 20))
    with open(f"{OUT}/nginx.conf", "w") as f:
        f.write(f"""
worker_processes 1;
pid {OUT}/nginx.pid;
error_log {OUT}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format bench '$request_method $uri $status $body_bytes_sent';
    access_log {OUT}/access.log bench buffer=64k flush=100ms;
    client_body_temp_path {OUT}/nginx-tmp;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{NGINX_PORT};
        root {www};
        location / {{ }}
    }}
}}
""")


# --------------------------------------------------------------- variants

class Exporter:
    def __init__(self, mode, ports, expect_procs, extra=(), exe=None):
        self.log = open(f"{OUT}/exporter-{mode}.log", "a")
        cmd = [exe or EXPORTER, f"--target.port={','.join(map(str, ports))}",
               f"--web.listen-address=127.0.0.1:{EXP_PORT}", f"--bpf.attach-mode={mode}",
               "--log.level=warn", *extra]
        self.p = start(cmd, "aster-exporter", stdout=self.log, stderr=self.log)
        end = time.time() + 20
        while True:
            if self.p.poll() is not None:
                raise RuntimeError(f"aster-exporter exited ({self.p.returncode}); see {OUT}/exporter-{mode}.log")
            try:
                m = parse_metrics(fetch(EXP_URL))
                if metric_sum(m, "aster_exporter_watched_processes") >= expect_procs:
                    break
            except OSError:
                pass
            if time.time() > end:
                raise RuntimeError("aster-exporter did not start watching in 20 s")
            time.sleep(0.05)
        self.pid = self.p.pid

    def metrics(self):
        return parse_metrics(fetch(EXP_URL))

    def close(self):
        stop(self.p)
        self.log.close()


class EmptyProbes:
    """The floors: empty programs (mode socket or syscalls), or the copy
    floor (mode copy: a timestamp and the buffer's head, for pids only)."""

    def __init__(self, mode, pids=()):
        self.p = start([f"{OUT}/empty_probes", mode] + [str(p) for p in pids], "empty_probes",
                       stdout=subprocess.PIPE,
                       stderr=open(f"{OUT}/empty_probes.log", "a"))
        line = self.p.stdout.readline().decode().strip()
        if line != "ready":
            raise RuntimeError(f"empty_probes {mode} did not attach; see {OUT}/empty_probes.log")

    def close(self):
        stop(self.p)


SCEN = {
    "go-tiny": dict(port=GO_PORT, path="/tiny", kind="go"),
    "go-work": dict(port=GO_PORT, path="/work/4242", kind="go"),
    "nginx-small": dict(port=NGINX_PORT, path="/small.html", kind="nginx"),
    "nginx-large": dict(port=NGINX_PORT, path="/large.bin", kind="nginx"),
    "h2c-tiny": dict(port=H2C_PORT, path="/tiny.txt", kind="h2c"),
    "go-tls-tiny": dict(port=GO_TLS_PORT, path="/tiny", kind="go-tls"),
}


def variants_for(name):
    if VARIANTS:
        return [v for v in VARIANTS if v != "in-process-mw" or SCEN[name]["kind"] == "go"]
    v = ["aster-socket"]
    if name == "go-tiny" or SYSCALLS_ALL:
        v.append("aster-syscalls")
    v += ["empty-socket", "empty-syscalls", "copy-socket"]
    if SCEN[name]["kind"] == "go":
        v.append("in-process-mw")
    return v


def run_one(servers, name, variant):
    sc = SCEN[name]
    port = sc["port"]
    if sc["kind"] == "go":
        server_pids = [servers.go.pid]
        if variant == "in-process-mw":
            port, server_pids = GO_MW_PORT, [servers.go_mw.pid]
        expect = 1
    elif sc["kind"] == "h2c":
        server_pids = [servers.h2c.pid]
        expect = 1
    elif sc["kind"] == "go-tls":
        server_pids = [servers.go_tls.pid]
        expect = 1
    else:
        server_pids = servers.nginx_pids()
        expect = len(server_pids)
    helper = None
    if variant.startswith("aster-"):
        mode = variant.split("-", 1)[1].split("+", 1)[0]
        helper = Exporter(mode, [port], expect, VARIANT_ARGS.get(variant, ()), VARIANT_EXPORTERS.get(variant))
    elif variant.startswith("empty-"):
        helper = EmptyProbes(variant.split("-", 1)[1])
    elif variant == "copy-socket":
        helper = EmptyProbes("copy", server_pids)

    def snap():
        s = {"server": cpu_ns(server_pids)}
        if isinstance(helper, Exporter):
            m = helper.metrics()
            s["exp_cpu"] = cpu_ns([helper.pid])
            s["exp_stat_us"] = stat_cpu_us(helper.pid)
            s["bpf_ns"] = metric_sum(m, "aster_exporter_bpf_program_run_seconds_total") * 1e9
            s["bpf_prog_ns"] = {k: v * 1e9 for k, v in metric_by(m, "aster_exporter_bpf_program_run_seconds_total", "program").items()}
            s["bpf_prog_runs"] = metric_by(m, "aster_exporter_bpf_program_runs_total", "program")
            s["lost"] = metric_sum(m, "aster_exporter_events_lost_total")
        elif isinstance(helper, EmptyProbes):
            s["bpf_ns"], _ = empty_probe_ns()
        return s

    try:
        # Throughput, latency and CPU with bpf_stats off, as in production:
        # its two clock reads per program run (a paravirt clock in this
        # guest) would be charged to the probes' servers and clients.
        bpf_stats(False)
        before = snap()
        m0 = machine_cpu()
        w = load(dict(sc, port=port), DURATION)
        m1 = machine_cpu()
        time.sleep(0.3)  # the exporter drains its ring every 10 ms
        after = snap()
        r = dict(rps=w["rps"], p50=w["p50"], p99=w["p99"], requests=w["requests"],
                 non2xx=w["non2xx"], socket_errors=w["socket_errors"])
        n = max(w["requests"], 1)
        r["server_us"] = (after["server"] - before["server"]) / n / 1e3
        # Where the machine's CPU went during the wrk window: if throughput
        # falls by more than the CPU a request gains, the rest is idle time
        # (a latency-bound pipeline) or time the hypervisor gave elsewhere.
        d = {k: m1[k] - m0[k] for k in m0}
        window = sum(d.values()) or 1.0
        r["busy_us"] = d["busy"] * 1e6 / n
        r["idle_pct"] = 100.0 * d["idle"] / window
        r["steal_pct"] = 100.0 * d["steal"] / window
        served = w["requests"]
        if helper:
            # The probes' kernel time in a second, shorter window of the same
            # load with bpf_stats on.
            bpf_stats(True)
            try:
                s0 = snap()
                w2 = load(dict(sc, port=port), STATS_DURATION)
                time.sleep(0.3)
                s1 = snap()
            finally:
                bpf_stats(False)
            n2 = max(w2["requests"], 1)
            served += w2["requests"]
            r["bpf_ns"] = (s1["bpf_ns"] - s0["bpf_ns"]) / n2
        if isinstance(helper, Exporter):
            r["exp_us"] = (after["exp_cpu"] - before["exp_cpu"]) / n / 1e3
            r["exp_stat_us"] = (after["exp_stat_us"] - before["exp_stat_us"]) / n
            r["lost"] = s1["lost"] - before["lost"]
            r["hwm_kb"] = status_kb(helper.pid, "VmHWM")
            r["prog"] = {k: ((s1["bpf_prog_ns"].get(k, 0) - s0["bpf_prog_ns"].get(k, 0)) / n2,
                             (s1["bpf_prog_runs"].get(k, 0) - s0["bpf_prog_runs"].get(k, 0)) / n2)
                         for k in s1["bpf_prog_ns"]}
            m = helper.metrics()
            r["counted"] = metric_sum(m, "aster_http_requests_total")
            r["served"] = served
        return r
    finally:
        if helper:
            helper.close()


def bpf_stats(on):
    """kernel.bpf_stats_enabled: run_time_ns/run_cnt of every BPF program,
    at the price of two clock reads per run (run.sh restores the old value)."""
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1" if on else "0")


def added_us(base, x):
    """CPU a variant adds per request in one round: its server's CPU over
    the same round's unwatched server, plus the exporter's."""
    return x["server_us"] - base["server_us"] + (x.get("exp_us") or 0)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def phase_load(servers):
    log(f"\n== load: {PAIRS} rounds x {DURATION} s, wrk -t{THREADS} -c{CONNS}, per scenario ==")
    table = []
    profile_progs = {}
    all_rounds = {}
    for name in SCENARIOS:
        variants = variants_for(name)
        # warm-up: the server, the page cache, the JIT of the probes' paths
        load(SCEN[name], 1)
        rounds = []
        for i in range(PAIRS):
            rot = variants[i % len(variants):] + variants[:i % len(variants)]
            res = {"base": run_one(servers, name, "base")}
            for v in rot:
                res[v] = run_one(servers, name, v)
            rounds.append(res)
            b = res["base"]
            log(f"  {name} round {i + 1}/{PAIRS}: base {b['rps']:.0f} req/s; "
                + ", ".join(f"{v} {res[v]['rps'] / b['rps']:.3f}" for v in variants))
        all_rounds[name] = (variants, rounds)
        base = [r["base"] for r in rounds]
        row = dict(scenario=name, variant="unwatched", rps=med([b["rps"] for b in base]),
                   ratio=1.0, p50=med([b["p50"] for b in base]), p99=med([b["p99"] for b in base]),
                   server_us=med([b["server_us"] for b in base]),
                   busy_us=med([b["busy_us"] for b in base]), idle_pct=med([b["idle_pct"] for b in base]),
                   steal_pct=med([b["steal_pct"] for b in base]))
        table.append(row)
        for v in variants:
            rs = [(r["base"], r[v]) for r in rounds]
            row = dict(scenario=name, variant=v,
                       rps=med([x["rps"] for _, x in rs]),
                       p50=med([x["p50"] for _, x in rs]), p99=med([x["p99"] for _, x in rs]),
                       ratio=med([x["rps"] / b["rps"] for b, x in rs]),
                       p50r=med([x["p50"] / b["p50"] for b, x in rs]),
                       p99r=med([x["p99"] / b["p99"] for b, x in rs]),
                       bpf_ns=med([x.get("bpf_ns") for _, x in rs]),
                       server_us=med([x["server_us"] for _, x in rs]),
                       busy_us=med([x["busy_us"] for _, x in rs]),
                       busy_r=med([x["busy_us"] / b["busy_us"] for b, x in rs]),
                       idle_pct=med([x["idle_pct"] for _, x in rs]),
                       steal_pct=med([x["steal_pct"] for _, x in rs]),
                       exp_us=med([x.get("exp_us") for _, x in rs]),
                       exp_stat_us=med([x.get("exp_stat_us") for _, x in rs]),
                       added_us=med([added_us(b, x) for b, x in rs]),
                       hwm_mb=max([x.get("hwm_kb", 0) for _, x in rs]) / 1024 or None,
                       lost=sum(x.get("lost", 0) for _, x in rs) if v.startswith("aster") else None)
            table.append(row)
            if v.startswith("aster"):
                progs = {}
                for _, x in rs:
                    for k, (ns, runs) in x["prog"].items():
                        progs.setdefault(k, []).append((ns, runs))
                profile_progs[(name, v)] = {k: (med([a for a, _ in l]), med([b for _, b in l])) for k, l in progs.items()}
                # the exporter counts at least what wrk completed (it also sees
                # the in-flight requests wrk abandons at its deadline)
                short = [(x["counted"], x["served"]) for _, x in rs if x["counted"] < x["served"]]
                if short:
                    log(f"  WARNING {name} {v}: exporter counted fewer requests than wrk completed: {short}")
    print_table(table)
    print_machine_table(table)
    print_spread(all_rounds)
    log("\nBPF time per request by program (median ns per request, runs per request):")
    for (name, v), progs in profile_progs.items():
        items = ", ".join(f"{k} {ns:.0f} ns/{runs:.2f} runs" for k, (ns, runs) in sorted(progs.items()) if runs >= 0.005)
        log(f"  {name:12} {v:15} {items}")
    return table


def print_table(table):
    hdr = ("scenario", "variant", "req/s", "÷unw", "p50 µs", "p99 µs", "p50÷", "p99÷",
           "BPF ns/req", "srv µs/req", "exp µs/req", "added µs/req", "exp HWM MB", "lost")
    rows = []
    for r in table:
        rows.append((r["scenario"], r["variant"], fmt(r["rps"], ".0f"), fmt(r["ratio"], ".3f"),
                     fmt(r.get("p50"), ".0f"), fmt(r.get("p99"), ".0f"),
                     fmt(r.get("p50r"), ".3f"), fmt(r.get("p99r"), ".3f"),
                     fmt(r.get("bpf_ns"), ".0f"), fmt(r["server_us"], ".2f"),
                     fmt(r.get("exp_us"), ".3f"), fmt(r.get("added_us"), ".2f"),
                     fmt(r.get("hwm_mb"), ".1f"), fmt(r.get("lost"), ".0f")))
    widths = [max(len(str(x[i])) for x in rows + [hdr]) for i in range(len(hdr))]
    log("")
    log("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    log("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        log("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    log("(medians over rounds; ratios are per round against that round's unwatched run; "
        "srv = server CPU incl. probe time; added = srv − unwatched srv + exporter; lost = sum over rounds)")


def print_machine_table(table):
    """The machine's side of the same runs: a 2-core box saturated by server,
    client and exporter serves (2 s of CPU per second) ÷ (busy µs per
    request), unless part of the time is idle or stolen."""
    log("\nWhere the machine's CPU went (whole machine during each wrk window, medians):")
    log("  busy µs/req = user+system+irq+softirq of all CPUs ÷ requests (server, wrk, exporter, kernel); "
        "÷unw = per-round ratio; idle/steal = share of the window's CPU time")
    for r in table:
        log(f"  {r['scenario']:12} {r['variant']:18} busy {fmt(r.get('busy_us'), '6.2f')} µs/req"
            f" (÷unw {fmt(r.get('busy_r'), '.3f')}), idle {fmt(r.get('idle_pct'), '4.1f')} %,"
            f" steal {fmt(r.get('steal_pct'), '4.1f')} %")


def quartiles(xs):
    """(lower quartile, median, upper quartile) of a few per-round figures."""
    xs = sorted(xs)
    if len(xs) < 2:
        return (xs[0],) * 3 if xs else (None,) * 3
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[1], q[2]


def sign_test(wins, n):
    """Two-sided sign test: the chance of a split at least this uneven if
    either side were as likely to win each round."""
    k = max(wins, n - wins)
    tail = sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def print_spread(all_rounds):
    """How far apart the rounds are, and the targets' side-by-side comparison
    round by round: on this shared machine a median alone does not say
    whether a difference of a few per cent is resolved."""
    log("\nSpread over rounds (lower quartile / median / upper quartile of the per-round figures):")
    for name, (variants, rounds) in all_rounds.items():
        for v in variants:
            r = [x[v]["rps"] / x["base"]["rps"] for x in rounds]
            a = [added_us(x["base"], x[v]) for x in rounds]
            log(f"  {name:12} {v:15} ÷unw " + " / ".join(fmt(q, ".3f") for q in quartiles(r))
                + "   added µs/req " + " / ".join(fmt(q, "+.2f") for q in quartiles(a)))
    log("\nWatched by aster (socket mode) against the in-process middleware, round by round (same rounds, same unwatched run):")
    for name, (variants, rounds) in all_rounds.items():
        if "aster-socket" not in variants or "in-process-mw" not in variants:
            continue
        d_added = [x["aster-socket"]["server_us"] + (x["aster-socket"].get("exp_us") or 0)
                   - x["in-process-mw"]["server_us"] for x in rounds]
        d_ratio = [x["aster-socket"]["rps"] / x["in-process-mw"]["rps"] for x in rounds]
        wins = sum(1 for d in d_added if d < 0)
        log(f"  {name:12} added CPU aster − middleware: " + " / ".join(fmt(q, "+.2f") for q in quartiles(d_added))
            + f" µs/req; aster adds less in {wins} of {len(rounds)} rounds (sign test p = {sign_test(wins, len(rounds)):.2f})")
        tput = sum(1 for d in d_ratio if d > 1)
        log(f"  {name:12} throughput aster ÷ middleware: " + " / ".join(fmt(q, ".3f") for q in quartiles(d_ratio))
            + f"; aster faster in {tput} of {len(rounds)} rounds (sign test p = {sign_test(tput, len(rounds)):.2f})")


# -------------------------------------------------------------- exactness

def go_truth(metrics, before):
    """(method, path, status) -> count and (method, path) -> sums from the Go
    middleware, as deltas, with gin's route templates written the way the
    exporter writes paths."""
    def rename(p):
        return {"_unmatched_": "/nope/here", "/status/:code": "/status/:id"}.get(p, p)
    out = {}
    for n, l, v in metrics:
        key = None
        if n == "aster_http_requests_total":
            key = ("requests", l["method"], rename(l["path"]), l["status"])
        elif n in ("aster_http_request_size_bytes_sum", "aster_http_response_size_bytes_sum",
                   "aster_http_request_duration_seconds_count"):
            key = (n.replace("aster_http_", ""), l["method"], rename(l["path"]), "")
        if key:
            out[key] = out.get(key, 0) + v - before.get(key, 0)
    return {k: v for k, v in out.items() if v}


def exporter_view(metrics, service):
    out = {}
    for n, l, v in metrics:
        if l.get("service") != service or l.get("path") == "/metrics":
            continue
        if n == "aster_http_requests_total":
            key = ("requests", l["method"], l["path"], l["status"])
        elif n in ("aster_http_request_size_bytes_sum", "aster_http_response_size_bytes_sum",
                   "aster_http_request_duration_seconds_count"):
            key = (n.replace("aster_http_", ""), l["method"], l["path"], "")
        else:
            continue
        out[key] = out.get(key, 0) + v
    return {k: v for k, v in out.items() if v}


def diff(truth, seen):
    lines = []
    for k in sorted(set(truth) | set(seen)):
        t, s = truth.get(k, 0), seen.get(k, 0)
        if abs(t - s) > 1e-6:
            lines.append(f"    {k[0]:34} {k[1]:6} {k[2]:14} {k[3]:4} truth {t:.0f}  exporter {s:.0f}")
    return lines


def nginx_driver(requests_per_conn=200, conns=8):
    """Mixed keep-alive traffic with clean closes (no request abandoned in
    flight, unlike wrk at its deadline, whose RST cuts a 1 MiB body short and
    makes nginx log a partial size)."""
    plan = [("GET", "/small.html"), ("GET", "/large.bin"), ("GET", "/missing"),
            ("HEAD", "/small.html"), ("GET", "/small.html?x=1")]
    errors = []

    def one(k):
        try:
            c = http.client.HTTPConnection("127.0.0.1", NGINX_PORT, timeout=10)
            for i in range(requests_per_conn):
                m, p = plan[(i + k) % len(plan)]
                c.request(m, p)
                c.getresponse().read()
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=one, args=(k,)) for k in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        log(f"    nginx driver errors: {errors[:3]}")


def nginx_truth(lines):
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue
        method, uri, status, sent = parts
        if uri == "/metrics":
            continue
        k = ("requests", method, uri, status[0] + "xx")
        out[k] = out.get(k, 0) + 1
        k = ("response_size_bytes_sum", method, uri, "")
        out[k] = out.get(k, 0) + int(sent)
        k = ("request_duration_seconds_count", method, uri, "")
        out[k] = out.get(k, 0) + 1
    return {k: v for k, v in out.items() if v}


def report_diff(who, truth, seen, how):
    """Logs one exactness comparison and its differences; returns them."""
    d = diff(truth, seen)
    n_req = sum(v for k, v in truth.items() if k[0] == "requests")
    log(f"  {who} {n_req:.0f} requests ({how}), {len(truth)} values compared, {len(d)} differences")
    for line in d:
        log(line)
    return d


def phase_exact(servers):
    log("\n== exactness: exporter vs the Go server's own /metrics and nginx's access log ==")
    ok = True
    modes = ["socket", "syscalls"]
    for mode in modes:
        go_before = go_truth(parse_metrics(fetch(f"http://127.0.0.1:{GO_MW_PORT}/metrics")), {})
        # Requests nginx answered before the exporter started (the start-up
        # check's GET /, when this phase runs first) reach the log up to
        # 100 ms later: let them land before the truth's starting point.
        time.sleep(0.3)
        log_size = os.path.getsize(f"{OUT}/access.log")
        exp = Exporter(mode, [GO_MW_PORT, NGINX_PORT], 1 + len(servers.nginx_pids()))
        try:
            # goclient, not wrk: it lets every request in flight finish (see
            # bench/goclient/main.go for why that matters to the diff).
            out = subprocess.run([f"{OUT}/goclient", "-addr", f"127.0.0.1:{GO_MW_PORT}", "-c", str(CONNS),
                                  "-d", f"{DURATION}s"], check=True, capture_output=True, text=True).stdout
            w = json.loads(out)
            w["rps"] = w["requests"] / w["seconds"]
            nginx_driver()
            time.sleep(0.5)  # nginx flushes its log every 100 ms; the exporter drains every 10 ms
            m = exp.metrics()
        finally:
            exp.close()
        go_after = parse_metrics(fetch(f"http://127.0.0.1:{GO_MW_PORT}/metrics"))
        truth = go_truth(go_after, go_before)
        seen = exporter_view(m, "goserver")
        d = report_diff(f"{mode:8} goserver:", truth, seen,
                        f"goclient, {CONNS} connections saturated, {w['rps']:.0f} req/s, mixed routes, "
                        f"{w['errors']} client errors")
        with open(f"{OUT}/access.log") as f:
            f.seek(log_size)
            ntruth = nginx_truth(f.read().splitlines())
        nseen = exporter_view(m, "nginx")
        # nginx's access log has no request body size; bodies are all empty here
        nseen = {k: v for k, v in nseen.items() if k[0] != "request_size_bytes_sum"}
        d2 = report_diff(f"{mode:8} nginx:   ", ntruth, nseen, "keep-alive, small/1 MiB sendfile/404/HEAD")
        lost = metric_sum(m, "aster_exporter_events_lost_total")
        unpaired = metric_sum(m, "aster_exporter_responses_unpaired_total")
        log(f"  {mode:8} events lost {lost:.0f}, responses unpaired {unpaired:.0f}")
        ok = ok and not d and not d2
    log(f"  exactness diff: {'EMPTY' if ok else 'NOT EMPTY'}")


# ----------------------------------------------------------------- callgrind

CALLGRIND_CAPTURES = ["go_wrk", "go_keepalive_tiny", "nghttpd_h2c_tiny", "nginx_keepalive_pipelined",
                      "node_chunked_preopened"]


def private_loader():
    """A copy of the dynamic loader for the replay to run under. An exporter
    that probes TLS libraries puts a uprobe (an int3) on the system loader's
    _dl_debug_state in every process; valgrind executes that int3 itself and
    the replay dies of SIGTRAP before main. A copy is another inode, so it
    carries no uprobe."""
    src = os.path.realpath("/lib64/ld-linux-x86-64.so.2")
    dst = f"{OUT}/ld.so"
    subprocess.run(["cp", src, dst], check=True)
    return dst


def phase_callgrind(_servers):
    log("\n== callgrind: instructions per request through the userspace pipeline (replay of tests/captures) ==")
    captures = os.path.join(HERE, "..", "tests", "captures")
    loader = private_loader()
    for name in CALLGRIND_CAPTURES:
        out = f"{OUT}/callgrind.{name}.out"
        # Only the pipeline's three entry points count (and what they call),
        # not start-up or the printing of the result.
        r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            "--toggle-collect=aster::RecordPipeline::*", loader, EXPORTER,
                            f"--capture.replay={captures}/{name}.cap"],
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            log(f"  {name}: replay under callgrind failed ({r.returncode}): {r.stderr[-500:]}")
            continue
        m = parse_metrics(r.stdout)
        requests = metric_sum(m, "aster_exporter_requests_recorded_total") + \
            metric_sum(m, "aster_exporter_responses_unpaired_total")
        with open(out) as f:
            total = next(int(l.split()[1]) for l in f if l.startswith("summary:"))
        log(f"  {name:28} {requests:6.0f} requests  {total / max(requests, 1):8.0f} instructions/request"
            f"  ({total} in all)")


# ----------------------------------------------------------------- memory

def phase_memory(servers):
    # "Series" in Prometheus's sense: one exposed sample stream (a histogram
    # bucket is one). Each distinct path here makes 1 counter + 3 histograms
    # = 51 series, so the first step lands near 10 000 series and the second
    # shows how far it scales (aster_exporter_http_series counts label sets).
    steps = [max(1, 10000 // 51), SERIES_PATHS]
    log(f"\n== memory: distinct paths on the Go server ({', '.join(map(str, steps))}), socket mode ==")
    # Learning off: the generated words must stay distinct paths, not ":param".
    exp = Exporter("socket", [GO_PORT], 1, extra=["--limits.max-paths-per-service=20000",
                                                  "--metrics.learn-threshold=0"])
    try:
        wrk(f"http://127.0.0.1:{GO_PORT}/tiny", 2)  # steady state: buffers, one series
        time.sleep(0.5)
        m0 = exp.metrics()  # one scrape, so the exposer's buffers exist before the baseline
        rss0 = status_kb(exp.pid, "VmRSS")
        samples0 = sum(1 for n, l, v in m0 if n.startswith("aster_http_"))
        log(f"  baseline: {samples0} aster_http_* series, RSS {rss0 / 1024:.1f} MB")
        for paths in steps:
            env = dict(os.environ, PATHS=str(paths))
            p = subprocess.run(["wrk", "-t1", "-c8", "-d3s", "-s", f"{HERE}/lua/distinct_paths.lua",
                                f"http://127.0.0.1:{GO_PORT}"], env=env, capture_output=True, text=True)
            time.sleep(0.5)
            rss1 = status_kb(exp.pid, "VmRSS")  # before any scrape sees the new series
            t = time.perf_counter()
            text = fetch(EXP_URL, timeout=60)
            scrape_s = time.perf_counter() - t
            m1 = parse_metrics(text)
            rss2 = status_kb(exp.pid, "VmRSS")
            hwm2 = status_kb(exp.pid, "VmHWM")
            labelsets = metric_sum(m1, "aster_exporter_http_series")
            samples = sum(1 for n, l, v in m1 if n.startswith("aster_http_"))
            req = re.search(r"(\d+) requests in", p.stdout)
            log(f"  {paths} paths ({req.group(1) if req else '?'} requests): {samples} aster_http_* series "
                f"({labelsets:.0f} label sets); RSS {rss1 / 1024:.1f} MB before a scrape, "
                f"{rss2 / 1024:.1f} MB after (VmHWM {hwm2 / 1024:.1f} MB); scrape {scrape_s:.2f} s, "
                f"{len(text) / 1024:.0f} KB; overflow {metric_sum(m1, 'aster_exporter_path_overflow_total'):.0f}")
            if samples > samples0:
                log(f"    per 1000 series: {(rss1 - rss0) / (samples - samples0) * 1000:.1f} KB before a scrape, "
                    f"{(rss2 - rss0) / (samples - samples0) * 1000:.1f} KB after")
    finally:
        exp.close()


# ---------------------------------------------------------- syscall load

def phase_syscall(servers):
    count = int(os.environ.get("SYSCALL_LOOP_COUNT", "1000000"))
    log(f"\n== unwatched syscall-heavy process: dd bs=64 count={count} /dev/zero -> /dev/null "
        f"(2 syscalls per block), {PAIRS} rounds ==")
    variants = ["aster-socket", "aster-syscalls", "empty-syscalls"]

    def timed():
        t = time.perf_counter()
        subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=64", f"count={count}"],
                       check=True, capture_output=True)
        return time.perf_counter() - t

    timed()
    res = {v: [] for v in variants}
    base = []
    for i in range(PAIRS):
        b = timed()
        base.append(b)
        for v in variants[i % 3:] + variants[:i % 3]:
            if v.startswith("aster"):
                h = Exporter(v.split("-")[1], [GO_PORT], 1)
            else:
                h = EmptyProbes("syscalls")
            try:
                res[v].append(timed() / b)
            finally:
                h.close()
    log(f"  unwatched, nothing attached: median {med(base) * 1e3:.0f} ms "
        f"({med(base) / (2 * count) * 1e9:.0f} ns per syscall)")
    for v in variants:
        r = med(res[v])
        log(f"  {v:15} slowdown {(r - 1) * 100:+.1f} % (median of per-round ratios; "
            f"+{(r - 1) * med(base) / (2 * count) * 1e9:.0f} ns per syscall)")


# ---------------------------------------------------------------- profile

BPF_SYMS = re.compile(r"bpf_prog_|bpf_trace_run|\bbpf_|ringbuf|copy_from_user_nofault|sk_storage")


def phase_profile(servers):
    secs = int(os.environ.get("PROFILE_SECONDS", "8"))
    log(f"\n== profile: exporter (socket mode) under go-tiny saturated load, perf record -g, {secs} s ==")
    # The probes' filtered-out path: the exporter watches an idle port while
    # the Go server, unwatched, takes the load (every run is an early exit).
    bpf_stats(True)
    exp = Exporter("socket", [NGINX_PORT], len(servers.nginx_pids()))
    try:
        m0 = exp.metrics()
        w = wrk(f"http://127.0.0.1:{GO_PORT}/tiny", 3)
        m1 = exp.metrics()
    finally:
        exp.close()
    ns = (metric_sum(m1, "aster_exporter_bpf_program_run_seconds_total")
          - metric_sum(m0, "aster_exporter_bpf_program_run_seconds_total")) * 1e9
    runs = (metric_sum(m1, "aster_exporter_bpf_program_runs_total")
            - metric_sum(m0, "aster_exporter_bpf_program_runs_total"))
    log(f"  unwatched traffic only (early exit): {runs / max(w['requests'], 1):.2f} runs/req, "
        f"{ns / max(runs, 1):.0f} ns/run (bpf_stats), {ns / max(w['requests'], 1):.0f} ns/req")
    for what in ("exporter", "system"):
        # The machine-wide sample is taken as in production, bpf_stats off.
        bpf_stats(what == "exporter")
        exp = Exporter("socket", [GO_PORT], 1)
        data = f"{OUT}/perf-{what}.data"
        try:
            m0 = exp.metrics()
            target = ["-F", "9999", "-p", str(exp.pid)] if what == "exporter" else ["-F", "1999", "-a"]
            perf = start(["perf", "record", "-g", "-o", data, *target, "--", "sleep", str(secs)],
                         "perf", stdout=open(f"{OUT}/perf-{what}.log", "w"), stderr=subprocess.STDOUT)
            w = wrk(f"http://127.0.0.1:{GO_PORT}/tiny", secs + 1)
            perf.wait()
            stop(perf)
            m1 = exp.metrics()
        finally:
            exp.close()
        n = w["requests"]
        if what == "exporter":
            log(f"  {n} requests at {w['rps']:.0f} req/s; bpf_stats per program:")
            ns0 = metric_by(m0, "aster_exporter_bpf_program_run_seconds_total", "program")
            ns1 = metric_by(m1, "aster_exporter_bpf_program_run_seconds_total", "program")
            r0 = metric_by(m0, "aster_exporter_bpf_program_runs_total", "program")
            r1 = metric_by(m1, "aster_exporter_bpf_program_runs_total", "program")
            for k in sorted(ns1):
                runs = r1[k] - r0.get(k, 0)
                ns = (ns1[k] - ns0.get(k, 0)) * 1e9
                if runs / n >= 0.005:
                    log(f"    {k:20} {runs / n:5.2f} runs/req  {ns / runs:6.0f} ns/run  {ns / n:6.0f} ns/req")
        report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                 "--sort", "dso,sym", "--percent-limit", "0.02", "-g", "none"],
                                capture_output=True, text=True).stdout
        with open(f"{OUT}/perf-{what}.txt", "w") as f:
            f.write(report)
        top = [l for l in report.splitlines() if l.strip() and not l.startswith("#")]
        if what == "exporter":
            log(f"  perf (exporter process, self time, top 30; full report {OUT}/perf-{what}.txt):")
            for l in top[:30]:
                log("    " + l.rstrip())
        else:
            m = re.search(r"Event count \(approx.\): (\d+)", report)
            total_ns = int(m.group(1)) if m else 0  # cpu-clock: ns sampled over all CPUs
            share = 0.0
            log(f"  perf (whole machine, BPF programs and the helpers they call; "
                f"full report {OUT}/perf-{what}.txt):")
            for l in top:
                if BPF_SYMS.search(l):
                    pct = float(l.split("%")[0])
                    share += pct
                    log(f"    {l.rstrip()}   ~{pct / 100 * total_ns / (w['rps'] * secs):.0f} ns/req")
            log(f"    sum {share:.2f} % of all CPU time ~ {share / 100 * total_ns / (w['rps'] * secs):.0f} ns/req "
                f"(sampled by cpu-clock, kernel.bpf_stats_enabled=0)")
    bpf_stats(False)


# What the probes' own path is, beside bpf_stats' programs: the tracepoint's
# call-out and hardened usercopy's checks of the copy's destination.
PROBE_PATH = re.compile(BPF_SYMS.pattern + r"|call_trace_sock_|__check_object_size|__virt_addr_valid")
REPORT_LINE = re.compile(r"\s*([\d.]+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(.*)")


def perf_attribution(data, requests, server_comm="goserver"):
    """µs per request by (who, what) and by (who, symbol) from a whole-machine
    cpu-clock recording."""
    report = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none",
                             "--sort", "comm,dso,sym"], capture_output=True, text=True).stdout
    m = re.search(r"Event count \(approx.\): (\d+)", report)
    total_us = (int(m.group(1)) if m else 0) / 1e3  # cpu-clock counts ns over all CPUs
    cats, syms = {}, {}
    for line in report.splitlines():
        m = REPORT_LINE.match(line)
        if not m:
            continue
        pct, comm, dso, kind, sym = m.groups()
        us = float(pct) / 100 * total_us / max(requests, 1)
        who = {server_comm: "server", "wrk": "client"}.get(comm, "other")
        if comm.startswith(("aster", "civetweb")):  # the exporter's threads
            who = "exporter"
        if comm == "swapper" and ("halt" in sym or "idle" in sym):
            who = "idle"
        if who in ("server", "client"):
            what = "probes" if PROBE_PATH.search(dso + " " + sym) else ("kernel" if kind == "k" else "user")
        else:
            what = ""
        cats[(who, what)] = cats.get((who, what), 0.0) + us
        if who in ("server", "client") and kind == "k":
            syms[(who, sym.strip())] = syms.get((who, sym.strip()), 0.0) + us
    return cats, syms


def phase_attribution(servers):
    """Where watching costs the machine CPU, by symbol: go-tiny unwatched,
    under the copy floor and watched, in alternating rounds, each a
    whole-machine perf recording. The copy floor's column tells what of the
    added cost comes with reading the bytes in the kernel at all, and what
    only with the exporter's own state, hand-over and process."""
    pairs = int(os.environ.get("ATTRIBUTION_PAIRS", "3"))
    name = os.environ.get("ATTRIBUTION_SCENARIO", "go-tiny")
    sc = SCEN[name]
    url = f"http://127.0.0.1:{sc['port']}{sc['path']}"
    go = sc["kind"] == "go"
    server_comm = "goserver" if go else "nginx"
    secs = 8
    log(f"\n== attribution: {name}, {pairs} rounds of 8 s whole-machine perf records (cpu-clock, "
        f"bpf_stats off): unwatched, copy floor, watched (socket mode) ==")
    bpf_stats(False)
    runs = {"unwatched": [], "copy": [], "watched": []}
    for i in range(pairs):
        for variant in runs:
            helper = None
            pids = [servers.go.pid] if go else servers.nginx_pids()
            if variant == "watched":
                helper = Exporter("socket", [sc["port"]], len(pids))
            elif variant == "copy":
                helper = EmptyProbes("copy", pids)
            data = f"{OUT}/perf-attribution.data"
            try:
                wrk(url, 1)  # warm-up
                perf = start(["perf", "record", "-a", "-e", "cpu-clock", "-F", "4999", "-o", data,
                              "--", "sleep", str(secs)], "perf",
                             stdout=open(f"{OUT}/perf-attribution.log", "w"), stderr=subprocess.STDOUT)
                w = wrk(url, secs + 1)
                perf.wait()
                stop(perf)
            finally:
                if helper:
                    helper.close()
            runs[variant].append((w["rps"], perf_attribution(data, w["rps"] * secs, server_comm)))

    def ratio(variant):
        return med([w[0] / u[0] for u, w in zip(runs["unwatched"], runs[variant])])

    def mean(variant, pick):
        return sum(pick(a) for _, a in runs[variant]) / len(runs[variant])
    rows = [("server", "probes", "server: BPF programs, helpers, tracepoint call-out, usercopy checks"),
            ("server", "kernel", "server: the rest of its kernel time"),
            ("server", "user", "server: user space"),
            ("client", "probes", "wrk: the probes (early exits)"),
            ("client", "kernel", "wrk: the rest of its kernel time"),
            ("client", "user", "wrk: user space"),
            ("exporter", "", "exporter"),
            ("other", "", "other processes"),
            ("idle", "", "idle (not busy)")]
    log(f"  throughput ÷ unwatched in these rounds (median): copy floor {ratio('copy'):.3f}, "
        f"watched {ratio('watched'):.3f}")
    log(f"  {'µs per request (mean of the rounds)':58} {'unwatched':>9} {'copy':>7} {'watched':>8} "
        f"{'+copy':>6} {'+watched':>8}")
    busy = {v: 0.0 for v in runs}
    for who, what, label in rows:
        f = {v: mean(v, lambda a: a[0].get((who, what), 0.0)) for v in runs}
        if who != "idle":
            for v in runs:
                busy[v] += f[v]
        log(f"  {label:58} {f['unwatched']:9.2f} {f['copy']:7.2f} {f['watched']:8.2f} "
            f"{f['copy'] - f['unwatched']:+6.2f} {f['watched'] - f['unwatched']:+8.2f}")
    log(f"  {'busy, whole machine':58} {busy['unwatched']:9.2f} {busy['copy']:7.2f} {busy['watched']:8.2f} "
        f"{busy['copy'] - busy['unwatched']:+6.2f} {busy['watched'] - busy['unwatched']:+8.2f}")
    for who in ("server", "client"):
        keys = set()
        for v in runs:
            for _, a in runs[v]:
                keys |= {k for k in a[1] if k[0] == who}
        for v in ("copy", "watched"):
            grown = sorted(((mean(v, lambda a: a[1].get(k, 0.0)) - mean("unwatched", lambda a: a[1].get(k, 0.0)), k[1])
                            for k in keys if not PROBE_PATH.search(k[1])), reverse=True)[:6]
            log(f"  {who} kernel symbols that grew most, {v} (µs/req): "
                + ", ".join(f"{s} {d:+.2f}" for d, s in grown))
    log("  (cpu-clock samples that fall while interrupts are off land where they are turned back on: "
        "_raw_spin_unlock_irqrestore stands for the wake-ups' critical sections)")


def foreign_load():
    """What else runs here: BPF programs that are not ours (another
    exporter, a test suite) and the load average. Both skew every figure."""
    progs = json.loads(subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True,
                                      text=True).stdout or "[]")
    ours = {c.pid for c, _ in children}
    foreign = sorted({p.get("name", "?") for p in progs
                      if p.get("type") in ("tracing", "tracepoint", "raw_tracepoint", "kprobe")})
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return foreign, load


def warn_foreign(when):
    foreign, load = foreign_load()
    # The kernel frees a closed program's memory after an RCU grace period:
    # the exporter just stopped may still be listed for a moment.
    for _ in range(30):
        if not foreign:
            break
        time.sleep(0.1)
        foreign, load = foreign_load()
    others = [c for c in children if c[1] == "aster-exporter"]
    if foreign and not others:
        log(f"  WARNING ({when}): tracing BPF programs loaded by something else: {', '.join(foreign[:12])}"
            " - another exporter or test run shares the machine; figures are skewed")
    log(f"  load average ({when}): {' '.join(load)}")


def main():
    write_nginx_conf()
    servers = Servers()
    t0 = time.time()
    log(f"aster-exporter benchmark: {os.environ.get('EXPORTER_DESC', EXPORTER)}; PAIRS={PAIRS} DURATION={DURATION}s; "
        f"servers: goserver :{GO_PORT}, goserver -middleware :{GO_MW_PORT}, nginx :{NGINX_PORT} "
        f"(1 worker), nghttpd --no-tls :{H2C_PORT} (h2load -m{H2_STREAMS}), goserver -tls-cert :{GO_TLS_PORT}")
    warn_foreign("start")
    bpf_stats(False)  # only the windows that read it turn it on
    for name, phase in [("load", phase_load), ("exact", phase_exact), ("memory", phase_memory),
                        ("syscall", phase_syscall), ("profile", phase_profile),
                        ("attribution", phase_attribution), ("callgrind", phase_callgrind)]:
        if name in PHASES:
            phase(servers)
            if name == "load":
                warn_foreign("after the load phase")
    warn_foreign("end")
    log(f"\ntotal time {time.time() - t0:.0f} s")


if __name__ == "__main__":
    def on_signal(sig, _):
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        main()
    finally:
        stop_all()
