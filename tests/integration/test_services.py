"""Watched services: discovery as processes come and go, selectors, PID
reuse, state cleanup, and per-service process metrics matching /proc."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import harness
from harness import Exporter, Proc, curl, free_port, wait_for, wait_port


def service_of(pid):
    return os.path.basename(os.readlink(f"/proc/{pid}/exe"))


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()  # fields from 3 on


def get_many(port, path, n):
    """n GETs from this process, a connection each (the Python server
    speaks HTTP/1.0): [(status, body bytes)]."""
    out = []
    for _ in range(n):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            out.append((r.status, len(r.read())))
    return out


class DiscoveryTest(unittest.TestCase):
    def test_server_started_after_exporter_is_watched_within_a_second(self):
        port = free_port()
        exporter = Exporter(f"--target.port={port}", "--discovery.interval-ms=60000")
        node = None
        try:
            started = time.monotonic()
            node = harness.start_node(port)
            svc = service_of(node.pid)
            exporter.wait_watching(svc)
            picked_up = time.monotonic() - started
            # The listen() probe triggers the check, not the (here: one minute) rescan.
            self.assertLess(picked_up, 1.0, "watched only after %.2fs" % picked_up)
            got = curl(*[f"http://127.0.0.1:{port}/fixed/1"] * 5)
            self.assertEqual(got, [(200, 100)] * 5)
            exporter.wait_count(5, service=svc)
        finally:
            exporter.stop()
            if node:
                node.stop()

    def test_requests_at_once_after_listen_are_counted(self):
        # A server restarted on a selected port answers at once: the kernel
        # watches it from its listen() on, before discovery has checked it
        # (without that, the soak saw 7 of 600 such requests missed). The
        # server sends itself its first requests microseconds after its
        # listen(), long before a check could have run.
        port = free_port()
        exporter = Exporter(f"--target.port={port}")
        self.addCleanup(exporter.stop)
        exporter.wait_count(0)
        total = 0
        svc = None
        for _ in range(3):
            server = Proc(["python3", os.path.join(harness.SERVERS, "answer_at_once_server.py"), str(port), "10"],
                          log_name="at-once")
            try:
                wait_for(lambda: "self requests: 10 answered, 1230 body bytes" in server.output(), timeout=20,
                         what="the server's own requests")
                svc = service_of(server.pid)
                total += 10
            finally:
                server.stop()
        m = exporter.wait_count(total, service=svc, path="/at-once", status="2xx", timeout=20)
        self.assertEqual(m.get("aster_http_response_size_bytes_sum", service=svc), 123 * total)
        self.assertGreater(m.get("aster_exporter_listener_records_total", result="kept"), 0)
        self.assertEqual(m.get("aster_exporter_listener_records_total", result="dropped"), 0)

    def test_a_listener_the_rule_does_not_pick_is_dropped_not_counted(self):
        # The kernel knows only the port; the rest of the rule (here an
        # executable no process has) is checked in userspace, which drops
        # what the early watch captured and ends the watch.
        port = free_port()
        root = tempfile.mkdtemp(prefix="aster-restart-")
        self.addCleanup(shutil.rmtree, root, True)
        with open(os.path.join(root, "f.txt"), "wb") as f:
            f.write(b"r" * 30)
        config = os.path.join(root, "config.yaml")
        with open(config, "w") as f:  # one rule: both must hold (two flags would be two rules)
            f.write(f"targets:\n  - ports: [{port}]\n    exe: no-such-program\n")
        exporter = Exporter(f"--config.file={config}")
        self.addCleanup(exporter.stop)
        exporter.wait_count(0)
        server = harness.start_python(port, root)
        self.addCleanup(server.stop)
        self.assertEqual(get_many(port, "/f.txt", 5), [(200, 30)] * 5)
        wait_for(lambda: exporter.scrape().get("aster_exporter_listener_records_total", result="dropped") > 0,
                 timeout=10, what="the early watch's records dropped")
        time.sleep(1.5)  # the batch's last records in, and past the last listen recheck: the watch has ended
        dropped = exporter.scrape().get("aster_exporter_listener_records_total", result="dropped")
        self.assertEqual(get_many(port, "/f.txt", 5), [(200, 30)] * 5)
        time.sleep(0.5)
        m = exporter.scrape()
        self.assertEqual(m.get("aster_exporter_listener_records_total", result="dropped"), dropped,
                         "still watched by the kernel after the check picked nothing")
        self.assertEqual(m.get("aster_http_requests_total"), 0)
        self.assertEqual(m.get("aster_exporter_listener_records_total", result="kept"), 0)

    def test_short_lived_children_are_counted_and_leave_no_state(self):
        port = free_port()
        server = Proc(["python3", os.path.join(harness.SERVERS, "forking_server.py"), str(port)], log_name="fork")
        wait_port(port)
        exporter = Exporter(f"--target.port={port}")
        try:
            svc = service_of(server.pid)
            exporter.wait_watching(svc)
            base = exporter.scrape()
            self.assertEqual(base.get("aster_exporter_bpf_map_entries", map="watched"), 1)
            for _ in range(200):  # each in a new child that exits
                self.assertEqual(curl(f"http://127.0.0.1:{port}/x"), [(200, 6)])
            exporter.wait_count(200, service=svc)
            # Every child was followed into the map by the fork probe and out by the exit probe.
            m = wait_for(lambda: (lambda m: m if m.get("aster_exporter_bpf_map_entries", map="watched") == 1
                                  and m.get("aster_exporter_watched_processes") == 1
                                  and m.get("aster_exporter_connections_tracked") == 0 else None)(exporter.scrape()),
                         what="watched map, registry and connections back to baseline")
            self.assertGreaterEqual(m.get("aster_exporter_events_total", kind="fork"), 200)
            self.assertGreaterEqual(m.get("aster_exporter_events_total", kind="exit"), 200)
        finally:
            exporter.stop()
            server.stop()

    def test_exited_process_is_dropped_and_its_pid_reuse_not_watched(self):
        port = free_port()
        node = harness.start_node(port)
        exporter = Exporter(f"--target.port={port}")
        other = None
        try:
            svc = service_of(node.pid)
            exporter.wait_watching(svc)
            pid = node.pid
            node.stop()
            wait_for(lambda: exporter.scrape().get("aster_exporter_bpf_map_entries", map="watched") == 0,
                     what="the exited server's map entry to go")
            # Make the next process get the same PID (ns_last_pid, as CRIU does).
            other_port = free_port()
            root = tempfile.mkdtemp(prefix="aster-reuse-")
            self.addCleanup(shutil.rmtree, root, ignore_errors=True)
            for _ in range(20):
                with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                    f.write(str(pid - 1))
                other = harness.start_python_stock(other_port, root)
                if other.pid == pid:
                    break
                other.stop()
                other = None
            self.assertIsNotNone(other, "could not get the PID reused")
            curl(f"http://127.0.0.1:{other_port}/")
            time.sleep(0.5)
            m = exporter.scrape()
            self.assertEqual(m.get("aster_exporter_bpf_map_entries", map="watched"), 0)
            self.assertEqual(m.get("aster_exporter_watched_processes"), 0)
            self.assertEqual(m.series("aster_http_requests_total", service=service_of(other.pid)), [])
        finally:
            exporter.stop()
            if other:
                other.stop()

    def test_exe_selector_and_name(self):
        port = free_port()
        node = harness.start_node(port)
        exporter = Exporter("--config.file=" + self._config(f"targets:\n  - name: frontend\n    exe: '.*/node(js)?'\n"))
        try:
            exporter.wait_watching("frontend")
            curl(f"http://127.0.0.1:{port}/fixed/3")
            m = exporter.wait_count(1, service="frontend")
            self.assertEqual(m.get("aster_http_requests_total", service=service_of(node.pid)), 0)
        finally:
            exporter.stop()
            node.stop()

    def test_cgroup_selector(self):
        cg = "/sys/fs/cgroup/unified/aster-test-%d" % os.getpid()
        if not os.path.isdir("/sys/fs/cgroup/unified"):
            cg = "/sys/fs/cgroup/aster-test-%d" % os.getpid()
        os.mkdir(cg)
        port = free_port()
        node = harness.start_node(port)
        exporter = None
        try:
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(node.pid))
            exporter = Exporter("--target.cgroup=/" + os.path.basename(cg))
            exporter.wait_watching(service_of(node.pid))
            curl(f"http://127.0.0.1:{port}/fixed/4")
            exporter.wait_count(1, service=service_of(node.pid))
        finally:
            if exporter:
                exporter.stop()
            node.stop()
            os.rmdir(cg)

    def test_server_in_its_own_network_namespace(self):
        """A container's server: its listeners are not in the exporter's
        namespace, so discovery reads them from /proc/PID/net/tcp of the
        process. A server on the same port in the exporter's own namespace
        is found too, and each service counts its own requests only."""
        port = free_port()
        # unshare and sh exec into the server: the child's PID is the server's.
        inside = Proc(["unshare", "--net", "sh", "-c",
                       f"ip link set lo up && exec node {os.path.join(harness.SERVERS, 'node_server.js')} {port}"],
                      log_name="netns-node")
        host = None
        exporter = None
        try:
            enter = ["nsenter", f"--net=/proc/{inside.pid}/ns/net"]

            def curl_inside(n):
                urls = [a for _ in range(n) for a in ("-o", "/dev/null", f"http://127.0.0.1:{port}/fixed/7")]
                r = subprocess.run(enter + ["curl", "-sS", "-w", "%{http_code}\n", *urls],
                                   capture_output=True, text=True, timeout=30)
                return r.stdout.split() if r.returncode == 0 else None
            wait_for(lambda: curl_inside(1), what="the server inside its namespace")
            self.assertNotEqual(os.stat(f"/proc/{inside.pid}/ns/net").st_ino,
                                os.stat("/proc/self/ns/net").st_ino)
            host = harness.start_python(port, tempfile.gettempdir())
            exporter = Exporter("--config.file=" + self._config(
                f"targets:\n  - name: in-netns\n    ports: [{port}]\n    pids: [{inside.pid}]\n"
                f"  - name: on-host\n    ports: [{port}]\n"))
            exporter.wait_watching("in-netns")
            exporter.wait_watching("on-host")
            self.assertEqual(curl_inside(6), ["200"] * 6)
            self.assertEqual(curl(*[f"http://127.0.0.1:{port}/close-delimited?size=10"] * 3), [(200, 10)] * 3)
            exporter.wait_count(6, service="in-netns", method="GET", status="2xx")
            exporter.wait_count(3, service="on-host", method="GET", status="2xx")
            m = exporter.wait_count(600, name="aster_http_response_size_bytes_sum", service="in-netns")
            self.assertEqual(m.get("aster_http_requests_total", service="in-netns"), 6)
        finally:
            if exporter:
                exporter.stop()
            if host:
                host.stop()
            inside.stop()

    def _config(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name


class ProcessMetricsTest(unittest.TestCase):
    def test_process_metrics_match_proc(self):
        port = free_port()
        node = harness.start_node(port)
        exporter = Exporter(f"--target.port={port}")
        try:
            svc = service_of(node.pid)
            exporter.wait_watching(svc)
            m = exporter.scrape()
            f = proc_stat(node.pid)
            ticks = os.sysconf("SC_CLK_TCK")
            with open("/proc/stat") as s:
                btime = int(next(l for l in s if l.startswith("btime")).split()[1])
            self.assertEqual(m.get("process_threads", service=svc), int(f[17]))
            self.assertEqual(m.get("process_virtual_memory_bytes", service=svc), int(f[20]))
            self.assertAlmostEqual(m.get("process_start_time_seconds", service=svc), btime + int(f[19]) / ticks, places=2)
            rss = int(f[21]) * os.sysconf("SC_PAGE_SIZE")
            self.assertLess(abs(m.get("process_resident_memory_bytes", service=svc) - rss), rss * 0.2)
            cpu = (int(f[11]) + int(f[12])) / ticks
            self.assertLess(abs(m.get("process_cpu_seconds_total", service=svc) - cpu), 0.5)
            self.assertEqual(m.get("process_open_fds", service=svc), len(os.listdir(f"/proc/{node.pid}/fd")))
        finally:
            exporter.stop()
            node.stop()
