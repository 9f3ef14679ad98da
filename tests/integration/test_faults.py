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
