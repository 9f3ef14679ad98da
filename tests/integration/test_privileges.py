"""What the privileged daemon keeps: once it serves, every one of its
threads holds exactly the four capabilities it still needs (CAP_BPF,
CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH), effective and
permitted, and the bounding set is cut to them, so nothing it execs or
a later thread can take more back."""
import os
import unittest

from harness import Exporter

CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_PERFMON, CAP_BPF = 2, 19, 38, 39
KEPT = (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_SYS_PTRACE) | (1 << CAP_PERFMON) | (1 << CAP_BPF)


def caps(status_path):
    out = {}
    for line in open(status_path):
        key, _, value = line.partition(":")
        if key in ("CapEff", "CapPrm", "CapBnd", "CapInh"):
            out[key] = int(value.strip(), 16)
    return out


class CapabilitiesTest(unittest.TestCase):
    def test_every_thread_keeps_only_what_it_needs(self):
        exporter = Exporter("--target.port=1")  # nothing listens on port 1: nothing is watched
        self.addCleanup(exporter.stop)
        exporter.scrape()  # serving: the probes are attached and the drop is done
        tasks = os.listdir(f"/proc/{exporter.proc.pid}/task")
        self.assertGreater(len(tasks), 2, "the event loop, discovery and web threads")
        for tid in tasks:
            c = caps(f"/proc/{exporter.proc.pid}/task/{tid}/status")
            self.assertEqual(c["CapEff"], KEPT, f"thread {tid}: effective {c['CapEff']:#x}")
            self.assertEqual(c["CapPrm"], KEPT, f"thread {tid}: permitted {c['CapPrm']:#x}")
            self.assertEqual(c["CapBnd"] & ~KEPT, 0, f"thread {tid}: bounding set {c['CapBnd']:#x}")
            self.assertEqual(c["CapInh"], 0, f"thread {tid}: inheritable {c['CapInh']:#x}")
