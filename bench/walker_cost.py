#!/usr/bin/env python3
"""BPF time per request of the boundary walker where it works: chunked
uploads to Node.js (64 KiB reads, chunk-size lines past the copied head),
and small GETs on the same server where it is not armed. Runs each exporter
given, one after the other in rounds, against one Node server it starts,
and prints the kernel time of all of the exporter's BPF programs per request
(kernel.bpf_stats_enabled=1 for the run, restored after).

    bench/walker_cost.py EXPORTER[=NAME] ... [--rounds N] [--mode socket|syscalls]

Speed figures only (bench/RESULTS.md); the machine's load moves them."""
import argparse
import http.client
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

UPLOADS, UPLOAD_BYTES, CHUNK = 40, 1_000_000, 4096
GETS = 400


def bpf_seconds(m):
    return sum(v for _, v in m.select("aster_exporter_bpf_program_run_seconds_total"))


def run(exporter, mode, port, svc):
    harness.EXPORTER = exporter
    ex = harness.Exporter(f"--target.port={port}", mode=mode)
    try:
        ex.wait_watching(svc)
        out = {}
        rng = random.Random(1)
        body = [rng.randbytes(CHUNK) for _ in range(UPLOAD_BYTES // CHUNK)]
        for what in ("get", "upload"):
            before = bpf_seconds(ex.scrape())
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            n = GETS if what == "get" else UPLOADS
            for _ in range(n):
                if what == "get":
                    c.request("GET", "/fixed/1")
                else:
                    c.request("POST", "/echo-size", body=iter(body), encode_chunked=True)
                c.getresponse().read()
            c.close()
            time.sleep(0.5)
            out[what] = (bpf_seconds(ex.scrape()) - before) * 1e9 / n
        m = ex.scrape()
        out["estimated"] = m.get("aster_exporter_body_size_estimated_total")
        return out
    finally:
        ex.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exporters", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mode", default="socket")
    a = ap.parse_args()
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        was = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    port = harness.free_port()
    node = harness.start_node(port)
    try:
        from test_pipeline import harness_service
        svc = harness_service(node.pid)
        results = {}
        for r in range(a.rounds):
            for spec in a.exporters:
                path, _, name = spec.partition("=")
                res = run(os.path.abspath(path), a.mode, port, svc)
                results.setdefault(name or path, []).append(res)
                print(f"round {r} {name or path}: {res}", flush=True)
        for name, rs in results.items():
            med = lambda k: sorted(x[k] for x in rs)[len(rs) // 2]
            print(f"{name} ({a.mode}): GET {med('get'):.0f} BPF ns/req, 1 MB chunked upload "
                  f"{med('upload'):.0f} BPF ns/req ({med('upload') / (UPLOAD_BYTES / CHUNK):.0f} per 4 KiB chunk), "
                  f"bodies estimated {max(x['estimated'] for x in rs):.0f}")
    finally:
        node.stop()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(was)


if __name__ == "__main__":
    main()
