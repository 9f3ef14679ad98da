"""Faults a node agent meets: the exporter killed with SIGKILL under load
leaves nothing in the kernel (no programs, maps or links, as bpftool sees
them), the watched server never notices, and a new exporter counts again;
SIGTERM under load still exits promptly."""
import json
import os
import signal
import subprocess
import threading
import time
import unittest

from harness import Exporter, Nginx, curl, free_port, wait_for


def bpf_objects(kind):
    """{id: name} of the kernel's BPF programs, maps or links."""
    r = subprocess.run(["bpftool", kind, "show", "-j"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"bpftool {kind} show failed: {r.stderr}")
    return {o["id"]: o.get("name", "") for o in json.loads(r.stdout or "[]")}


def owned_bpf_ids(pid):
    """{"prog"|"map"|"link": {id}} of the BPF objects process `pid` holds a
    file descriptor of (its fdinfo names them), so other loaders on the
    machine cannot be mistaken for it."""
    out = {"prog": set(), "map": set(), "link": set()}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            kind = {"prog_id": "prog", "map_id": "map", "link_id": "link"}.get(key.strip())
            if kind and value.strip().isdigit():
                out[kind].add(int(value))
    return out


class Load:
    """Keep-alive curls against one URL until stopped; every answer must be 200."""

    def __init__(self, url):
        self.url, self.stop_flag, self.answers, self.bad = url, threading.Event(), 0, []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                for status, _ in curl(*[self.url] * 20):
                    self.answers += 1
                    if status != 200:
                        self.bad.append(status)
            except AssertionError as e:
                self.bad.append(str(e))

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=60)


class KillTest(unittest.TestCase):
    def setUp(self):
        self.port = free_port()
        self.nginx = Nginx(self.port, workers=1)
        self.addCleanup(self.nginx.stop)
        self.nginx.write_file("k.txt", 33)
        self.url = f"http://127.0.0.1:{self.port}/k.txt"

    def start_exporter(self):
        exporter = Exporter(f"--target.port={self.port}")
        self.addCleanup(exporter.stop)
        exporter.wait_watching("nginx", processes=2)
        return exporter

    def test_sigkill_under_load_leaves_nothing_in_the_kernel(self):
        exporter = self.start_exporter()
        held = owned_bpf_ids(exporter.proc.pid)
        ours = {k: {i: n for i, n in bpf_objects(k).items() if i in held[k]} for k in held}
        self.assertTrue(ours["prog"] and ours["map"] and ours["link"],
                        f"the exporter's BPF objects were not found: {ours}")
        load = Load(self.url)
        self.addCleanup(load.stop)
        wait_for(lambda: exporter.scrape().get("aster_http_requests_total", service="nginx") > 100,
                 timeout=30, what="counting under load")
        os.kill(exporter.proc.pid, signal.SIGKILL)
        exporter.proc.p.wait(timeout=10)

        def gone():
            left = {k: set(ours[k]) & set(bpf_objects(k)) for k in ours}
            return left if not any(left.values()) else None
        try:
            wait_for(lambda: gone() is not None, timeout=10, interval=0.2, what="the exporter's BPF objects to go")
        except AssertionError:
            self.fail(f"still in the kernel after SIGKILL: "
                      f"{ {k: {i: ours[k][i] for i in set(ours[k]) & set(bpf_objects(k))} for k in ours} }")
        answered = load.answers
        wait_for(lambda: load.answers > answered + 100, timeout=30, what="the server answering on")
        load.stop()
        self.assertEqual(load.bad, [], "the watched server noticed the kill")
        # A new exporter counts again, exactly.
        again = self.start_exporter()
        self.assertEqual(curl(*[self.url] * 7), [(200, 33)] * 7)
        again.wait_count(7, service="nginx")

    def test_sigterm_under_load_exits_promptly(self):
        exporter = self.start_exporter()
        load = Load(self.url)
        self.addCleanup(load.stop)
        wait_for(lambda: exporter.scrape().get("aster_http_requests_total", service="nginx") > 100,
                 timeout=30, what="counting under load")
        t0 = time.monotonic()
        os.kill(exporter.proc.pid, signal.SIGTERM)
        exporter.proc.p.wait(timeout=10)  # the DaemonSet grants 10 s
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(exporter.proc.p.returncode, 0, exporter.proc.output()[-2000:])
        load.stop()
        self.assertEqual(load.bad, [])


class RingOverflowTest(unittest.TestCase):
    """The exporter stopped (SIGSTOP) while a burst fills its smallest ring:
    the records that did not fit are counted as lost, nothing is counted
    that did not happen, and after the burst counting is exact again."""

    def test_overflow_is_counted_and_exact_counting_resumes(self):
        port = free_port()
        nginx = Nginx(port, workers=1)
        self.addCleanup(nginx.stop)
        nginx.write_file("o.txt", 50)
        exporter = Exporter(f"--target.port={port}", "--bpf.ringbuf-bytes=65536")
        self.addCleanup(exporter.stop)
        exporter.wait_watching("nginx", processes=2)
        url = f"http://127.0.0.1:{port}/o.txt"
        os.kill(exporter.proc.pid, signal.SIGSTOP)
        try:
            burst = 0
            for _ in range(40):  # 40 connections of 50 requests: far more than 64 KiB of records
                burst += len(curl(*[url] * 50))
        finally:
            os.kill(exporter.proc.pid, signal.SIGCONT)

        def settled():
            m = exporter.scrape()
            time.sleep(0.3)
            again = exporter.scrape()
            key = lambda x: (x.get("aster_http_requests_total"), x.get("aster_exporter_events_lost_total"))
            return again if key(m) == key(again) else None
        m = wait_for(settled, timeout=20, what="the exporter to catch up after the burst")
        lost = m.get("aster_exporter_events_lost_total")
        self.assertGreater(lost, 0, "a 64 KiB ring cannot hold a 2000-request burst")
        self.assertGreater(m.get("aster_exporter_lost_bytes_total"), 0)
        counted = m.get("aster_http_requests_total", service="nginx")
        self.assertLessEqual(counted, burst, "nothing counted that did not happen")
        paths = {l["path"] for l in m.series("aster_http_requests_total", service="nginx")}
        self.assertLessEqual(paths, {"/o.txt", "_unknown_"}, "no series invented from what was lost")
        self.assertEqual(m.get("aster_http_requests_total", service="nginx", path="/o.txt", status="2xx") +
                         m.get("aster_http_requests_total", service="nginx", path="_unknown_"), counted)
        # After the burst: new connections, counted exactly.
        self.assertEqual(curl(*[url] * 10), [(200, 50)] * 10)
        exporter.wait_count(counted + 10, service="nginx")
        self.assertEqual(exporter.scrape().get("aster_exporter_events_lost_total"), lost, "no loss after the burst")
