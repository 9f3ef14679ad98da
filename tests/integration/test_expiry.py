"""Series expiry (metrics.expiry): a stopped server's series go after the
grace period and a new server with the same executable name counts exactly
its own requests; an idle live server's go after idle_after; 200 workloads
that come and go leave the exporter's series, service table and memory
where they were."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Exporter, curl, free_port, wait_for


def service_of(pid):
    return os.path.basename(os.readlink(f"/proc/{pid}/exe"))


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def table(m, state):
    return m.get("aster_exporter_service_table_entries", state=state)


class GoneTest(unittest.TestCase):
    def test_stopped_server_expires_and_a_new_one_of_the_same_name_counts_exactly(self):
        first_port, second_port = free_port(), free_port()
        targets = f"--target.port={first_port},{second_port}"
        # Two exporters watch the same servers: one with a 2 s grace period,
        # one with the default 10 minutes, so "not yet expired" is shown by
        # the second, not by racing the first's clock.
        short = Exporter(targets, "--metrics.expiry.gone-after=2s")
        long_ = Exporter(targets)
        first = second = None
        try:
            first = harness.start_node(first_port)
            svc = service_of(first.pid)
            short.wait_watching(svc)
            long_.wait_watching(svc)
            self.assertEqual(curl(*[f"http://127.0.0.1:{first_port}/fixed/1"] * 5), [(200, 100)] * 5)
            short.wait_count(5, service=svc)
            long_.wait_count(5, service=svc)
            before = short.scrape()
            self.assertGreater(before.get("aster_exporter_series"), 0)
            self.assertEqual(table(before, "watched"), 1)

            first.stop()
            m = wait_for(lambda: (lambda m: m if m.series("aster_http_requests_total", service=svc) == [] else None)(
                short.scrape()), timeout=30, what=f"service {svc}'s series to expire")
            for family in ("aster_http_request_duration_seconds_count", "aster_http_request_size_bytes_count",
                           "aster_http_response_size_bytes_count"):
                self.assertEqual(m.series(family, service=svc), [], family)
            self.assertEqual(m.get("aster_exporter_series"), 0)
            self.assertEqual(m.get("aster_exporter_series_expired_total", reason="gone"),
                             before.get("aster_exporter_series"))
            self.assertEqual(m.get("aster_exporter_series_expired_total", reason="idle"), 0)
            self.assertEqual(table(m, "watched") + table(m, "gone"), 0)
            self.assertEqual(table(m, "quarantined"), 1)
            self.assertEqual(m.get("aster_exporter_stale_service_records_total"), 0)
            # Ten minutes of grace: the other exporter still shows them.
            self.assertEqual(long_.scrape().get("aster_http_requests_total", service=svc), 5)

            second = harness.start_node(second_port)
            self.assertEqual(service_of(second.pid), svc)
            short.wait_watching(svc)
            long_.wait_watching(svc)
            self.assertEqual(curl(*[f"http://127.0.0.1:{second_port}/fixed/2"] * 7), [(200, 100)] * 7)
            # From zero where the first server's series expired; continued
            # where they had not.
            short.wait_count(7, service=svc)
            long_.wait_count(12, service=svc)
            m = short.scrape()
            self.assertEqual(m.get("aster_http_request_duration_seconds_count", service=svc), 7)
            self.assertEqual(m.get("aster_http_response_size_bytes_sum", service=svc), 700)
            # A live server is never expired, however long it waits.
            time.sleep(3)
            self.assertEqual(short.scrape().get("aster_http_requests_total", service=svc), 7)
        finally:
            short.stop()
            long_.stop()
            for s in (first, second):
                if s:
                    s.stop()


class GrpcGoneTest(unittest.TestCase):
    def test_a_stopped_grpc_servers_series_go_and_are_counted(self):
        root = tempfile.mkdtemp(prefix="aster-grpc-expiry-")
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        binary = harness.build_grpcserver(root)
        port = free_port()
        exporter = Exporter(f"--target.port={port}", "--metrics.expiry.gone-after=2s")
        server = harness.Proc([binary, "serve", str(port), os.path.join(root, "stats.json")], log_name="grpcserver")
        try:
            harness.wait_port(port)
            exporter.wait_watching("grpcserver")
            r = subprocess.run([binary, "client", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(root, "stats.json")) as f:
                calls = sum(json.load(f)["handled"].values())
            before = exporter.wait_count(calls, name="aster_grpc_server_handled_total", timeout=15,
                                         service="grpcserver")
            grpc_series, http_series = harness.per_service_series(before)
            self.assertGreater(grpc_series, 0)
            self.assertEqual(before.get("aster_exporter_series"), grpc_series + http_series,
                             "aster_exporter_series counts the gRPC families")

            server.stop()
            m = wait_for(lambda: (lambda m: m if not any(m.series(f) for f in harness.GRPC_FAMILIES) else None)(
                exporter.scrape()), timeout=30, what="the gRPC series to expire")
            self.assertEqual(m.series("aster_http_requests_total"), [])
            self.assertEqual(m.get("aster_exporter_series"), 0)
            self.assertEqual(m.get("aster_exporter_series_expired_total", reason="gone"),
                             grpc_series + http_series)
        finally:
            exporter.stop()
            server.stop()


class IdleTest(unittest.TestCase):
    def test_idle_live_server_loses_its_series_and_counts_again_from_zero(self):
        port = free_port()
        exporter = Exporter(f"--target.port={port}", "--metrics.expiry.idle-after=2s")
        server = None
        try:
            server = harness.start_node(port)
            svc = service_of(server.pid)
            exporter.wait_watching(svc)
            self.assertEqual(curl(*[f"http://127.0.0.1:{port}/fixed/1"] * 3), [(200, 100)] * 3)
            before = exporter.wait_count(3, service=svc)
            m = wait_for(lambda: (lambda m: m if m.series("aster_http_requests_total", service=svc) == [] else None)(
                exporter.scrape()), timeout=30, what=f"idle service {svc}'s series to expire")
            self.assertEqual(m.get("aster_exporter_series_expired_total", reason="idle"),
                             before.get("aster_exporter_series"))
            self.assertEqual(m.get("aster_exporter_series_expired_total", reason="gone"), 0)
            # Idle is not gone: the server is still watched under its id.
            self.assertEqual(m.get("aster_service_processes", service=svc), 1)
            self.assertEqual(table(m, "watched"), 1)
            self.assertEqual(table(m, "quarantined"), 0)
            self.assertEqual(curl(*[f"http://127.0.0.1:{port}/fixed/2"] * 2), [(200, 100)] * 2)
            exporter.wait_count(2, service=svc)
        finally:
            exporter.stop()
            if server:
                server.stop()


class ChurnTest(unittest.TestCase):
    WORKLOADS = 200
    WAVE = 10
    HITS = 3

    def test_200_workloads_come_and_go_and_leave_the_exporter_at_baseline(self):
        # free_port() may hand a port out twice (each is free when asked).
        unique = []
        while len(unique) < self.WORKLOADS + 1:
            p = free_port()
            if p not in unique:
                unique.append(p)
        steady_port, ports = unique[0], unique[1:]
        root = tempfile.mkdtemp(prefix="aster-churn-")
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("churn\n")
        config = os.path.join(root, "aster.yaml")
        with open(config, "w") as f:
            f.write("targets:\n")
            f.write(f"  - name: steady\n    ports: [{steady_port}]\n")
            for i, p in enumerate(ports):
                f.write(f"  - name: churn-{i}\n    ports: [{p}]\n")
        exporter = Exporter(f"--config.file={config}", "--metrics.expiry.gone-after=1s")
        steady = harness.start_python_stock(steady_port, root)
        running = []
        try:
            exporter.wait_watching("steady")
            curl(*[f"http://127.0.0.1:{steady_port}/index.html"] * 4)
            base = exporter.wait_count(4, service="steady")
            base_series = base.get("aster_exporter_series")
            self.assertGreater(base_series, 0)
            warm_rss = None
            for wave in range(0, self.WORKLOADS, self.WAVE):
                batch = list(range(wave, wave + self.WAVE))
                running = [harness.start_python_stock(ports[i], root) for i in batch]
                for i in batch:
                    exporter.wait_watching(f"churn-{i}")
                urls = [f"http://127.0.0.1:{ports[i]}/index.html" for i in batch for _ in range(self.HITS)]
                self.assertEqual(curl(*urls), [(200, 6)] * len(urls))

                def all_counted():
                    m = exporter.scrape()
                    got = {i: m.get("aster_http_requests_total", service=f"churn-{i}") for i in batch}
                    over = {i: v for i, v in got.items() if v > self.HITS}
                    if over:
                        raise AssertionError(f"counted more than {self.HITS} requests: {over}")
                    return m if all(v == self.HITS for v in got.values()) else None
                wait_for(all_counted, timeout=20, what=f"wave {wave // self.WAVE}: {self.HITS} requests each")
                for s in running:
                    s.stop()
                running = []
                if wave + self.WAVE == 2 * self.WAVE:
                    warm_rss = vm_rss_kib(exporter.proc.pid)

            def at_baseline():
                m = exporter.scrape()
                left = [l for l in m.series("aster_http_requests_total") if l.get("service", "").startswith("churn-")]
                ok = (not left and m.get("aster_exporter_series") == base_series and table(m, "watched") == 1
                      and table(m, "gone") == 0 and table(m, "quarantined") == 0
                      and m.get("aster_exporter_watched_processes") == 1
                      and m.get("aster_exporter_bpf_map_entries", map="watched") == 1)
                return m if ok else None
            # gone_after (1 s), then the quarantine (10 s) before ids are free.
            m = wait_for(at_baseline, timeout=60, what="series and service table back at baseline")
            end_rss = vm_rss_kib(exporter.proc.pid)
            self.assertEqual(m.get("aster_http_requests_total", service="steady"), 4, "steady is untouched")
            self.assertGreaterEqual(m.get("aster_exporter_series_expired_total", reason="gone"),
                                    self.WORKLOADS * 4, "a counter and three histograms per workload at least")
            self.assertEqual(m.get("aster_exporter_service_table_full_total"), 0)
            self.assertLessEqual(m.get("aster_exporter_service_table_allocated"), self.WORKLOADS + 1)
            # Generous: 200 services' series, learners and connections would
            # be far less than this if nothing were freed; the point is that
            # growth does not scale with the workloads seen.
            self.assertLess(end_rss - warm_rss, 16 * 1024,
                            f"VmRSS grew from {warm_rss} KiB after warm-up to {end_rss} KiB")

            # Every id is free now: the next workload reuses one and counts exactly.
            allocated = m.get("aster_exporter_service_table_allocated")
            reused = m.get("aster_exporter_service_ids_reused_total")
            again = harness.start_python_stock(ports[0], root)
            running = [again]
            exporter.wait_watching("churn-0")
            curl(*[f"http://127.0.0.1:{ports[0]}/index.html"] * 2)
            m = exporter.wait_count(2, service="churn-0")
            self.assertEqual(m.get("aster_exporter_service_table_allocated"), allocated)
            self.assertEqual(m.get("aster_exporter_service_ids_reused_total"), reused + 1)
            self.assertEqual(m.get("aster_exporter_stale_service_records_total"), 0)
        finally:
            for s in running:
                s.stop()
            steady.stop()
            exporter.stop()


if __name__ == "__main__":
    unittest.main()
