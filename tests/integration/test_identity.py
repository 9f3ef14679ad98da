"""Workload identity from the node itself (issue 20): the service name and
the k8s_* labels of real containers that a real containerd runs, the
OpenTelemetry environment, and a systemd-unit cgroup.

The containers: Debian's containerd (with runc) started here with a
temporary root, state directory and socket (its CRI plugin off; in a chroot,
from a bind mount of "/" in a mount namespace of its own), and
`ctr run --rootfs` on a busybox-static root filesystem made here (no image,
the host's network namespace),
each container carrying the annotations kubelet's CRI gives a real pod
(io.kubernetes.cri.sandbox-name, ...) and the cgroup path of either kubelet
cgroup driver. The exporter reads the tasks' config.json from that state
directory; the counts are checked against what curl was answered.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

import harness
from harness import Exporter, Proc, curl, free_port, wait_for, wait_port

BUSYBOX = "/bin/busybox"


def cgroup2_mount():
    """Where cgroup v2 is mounted (/sys/fs/cgroup/unified on a hybrid host)."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


UNIFIED = cgroup2_mount()


def root_is_a_mount():
    """Whether "/" is a mount point here (not so in a chroot)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == "/" for line in f)


def container_tools_missing():
    missing = [t for t in ("containerd", "ctr", "runc") if not shutil.which(t)]
    if not os.path.exists(BUSYBOX):
        missing.append("busybox-static")
    return missing


class Containerd:
    """A private containerd: its own root, state, socket; stopped with its tasks."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="aster-containerd-")
        self.state = os.path.join(self.dir, "state")
        self.sock = os.path.join(self.dir, "containerd.sock")
        config = os.path.join(self.dir, "config.toml")
        with open(config, "w") as f:
            f.write(f'version = 2\nroot = "{self.dir}/root"\nstate = "{self.state}"\n'
                    'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                    f'[grpc]\n  address = "{self.sock}"\n[ttrpc]\n  address = "{self.sock}.ttrpc"\n'
                    f'[debug]\n  address = "{self.dir}/debug.sock"\n')
        argv = ["containerd", "--config", config]
        if not root_is_a_mount():
            # A chroot (CI's fresh root): runc makes "/" rslave, which fails
            # where "/" is no mount point. In a mount namespace of its own,
            # containerd (and its shims) run rooted at a bind mount of "/",
            # which is one; every path stays the same.
            bind = os.path.join(self.dir, "rootbind")
            os.makedirs(bind)
            argv = ["unshare", "-m", "--propagation", "unchanged", "sh", "-c",
                    f'mount --rbind / "{bind}" && exec chroot "{bind}" containerd --config "{config}"']
        self.proc = Proc(argv, log_name="containerd")
        self.ids = []
        wait_for(lambda: self.ctr("version", check=False).returncode == 0, timeout=20,
                 what="containerd to answer on its socket")
        self.rootfs = os.path.join(self.dir, "rootfs")
        for d in ("bin", "www", "proc", "dev", "sys", "tmp"):
            os.makedirs(os.path.join(self.rootfs, d))
        shutil.copy(BUSYBOX, os.path.join(self.rootfs, "bin", "busybox"))
        with open(os.path.join(self.rootfs, "www", "index.html"), "w") as f:
            f.write("x" * 100)

    def exporter_config(self, extra=""):
        """An exporter config file that reads this containerd's state (plus
        `extra` identity: lines); returns its path."""
        config = os.path.join(self.dir, "exporter.yaml")
        with open(config, "w") as f:
            f.write(f"identity:\n  containerd_state: [{self.state}]\n{extra}")
        return config

    def ctr(self, *args, check=True):
        r = subprocess.run(["ctr", "-a", self.sock, "-n", "k8s.io", *args], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed: {r.stderr}\ncontainerd log:\n"
                                 f"{self.proc.output()[-2000:]}")
        return r

    def run_pod(self, pod, namespace, container, cgroup_layout, port, sandbox=None, uid=None, argv=None):
        """A pod's app container as kubelet's CRI would create it (a second
        container of the same pod: pass its sandbox and uid), running busybox
        httpd or `argv` (a program in the rootfs); returns (container id, pod
        uid, sandbox id)."""
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        sandbox = sandbox or uuid.uuid4().hex + uuid.uuid4().hex
        uid = uid or str(uuid.uuid4())
        if cgroup_layout == "cgroupfs":
            cgroup = f"/kubepods/burstable/pod{uid}/{cid}"
        else:  # the systemd driver's names (runc writes them as plain paths here)
            cgroup = (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid.replace('-', '_')}"
                      f".slice/cri-containerd-{cid}.scope")
        annotations = {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": container,
            "io.kubernetes.cri.sandbox-id": sandbox,
            "io.kubernetes.cri.sandbox-name": pod,
            "io.kubernetes.cri.sandbox-namespace": namespace,
        }
        # The host's network namespace, joined by path: --net-host would
        # also bind-mount the host's /etc/hosts, which a fresh root lacks.
        args = ["run", "-d", "--with-ns", f"network:/proc/{os.getpid()}/ns/net", "--rootfs", "--cgroup", cgroup]
        for k, v in annotations.items():
            args += ["--annotation", f"{k}={v}", "--label", f"{k}={v}"]
        argv = argv or ["/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", "/www"]
        self.ctr(*args, self.rootfs, cid, *argv)
        self.ids.append(cid)
        wait_port(port)
        return cid, uid, sandbox

    def stop(self):
        for cid in self.ids:
            self.ctr("task", "kill", "-s", "KILL", cid, check=False)
        for cid in self.ids:
            wait_for(lambda: self.ctr("task", "rm", cid, check=False).returncode == 0 or
                     cid not in self.ctr("task", "ls", check=False).stdout,
                     timeout=10, what=f"task {cid} removed")
            self.ctr("container", "rm", cid, check=False)
        self.proc.stop()
        subprocess.run(["umount", "-R", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipIf(container_tools_missing(), f"needs {container_tools_missing()} (scripts/install-deps.sh test)")
class ContainerdPodsTest(unittest.TestCase):
    def test_pods_of_one_deployment_share_a_service_not_their_k8s_labels(self):
        ctd = Containerd()
        exporter = None
        try:
            ports = [free_port() for _ in range(3)]
            pods = [("checkout-7d9f8b6c5d-x2k4p", "cgroupfs", ports[0], 3),
                    ("checkout-7d9f8b6c5d-q8w9z", "systemd", ports[1], 5),
                    ("cart-0", "cgroupfs", ports[2], 7)]
            ids = {}
            for pod, layout, port, _ in pods:
                ids[pod] = ctd.run_pod(pod, "shop", "app", layout, port)
            config = ctd.exporter_config()
            exporter = Exporter(f"--config.file={config}", "--target.port=" + ",".join(map(str, ports)))
            exporter.wait_watching("checkout", processes=2)
            exporter.wait_watching("cart")
            for pod, _, port, n in pods:
                self.assertEqual(curl(*[f"http://127.0.0.1:{port}/index.html"] * n), [(200, 100)] * n)
            m = exporter.wait_count(15)
            series = m.series("aster_http_requests_total")
            self.assertEqual(sorted({s["service"] for s in series}), ["cart", "checkout"],
                             "three pods, two workloads, one executable (busybox)")
            for pod, _, _, n in pods:
                owner, kind = ("cart", "StatefulSet") if pod == "cart-0" else ("checkout", "Deployment")
                self.assertEqual(m.get("aster_http_requests_total", service=owner, k8s_pod_name=pod,
                                       k8s_namespace_name="shop", k8s_container_name="app",
                                       k8s_owner_kind=kind, k8s_owner_name=owner, status="2xx"), n, pod)
                cid, uid, _ = ids[pod]
                info = m.select("aster_workload_info", k8s_pod_name=pod)
                self.assertEqual(len(info), 1, info)
                labels, value = info[0]
                self.assertEqual(value, 1)
                self.assertEqual((labels["service"], labels["container_id"], labels["k8s_pod_uid"],
                                  labels["container_runtime"]), (owner, cid, uid, "containerd"))
                self.assertNotIn("systemd_unit", labels)
                self.assertEqual(m.get("aster_service_processes", service=owner, k8s_pod_name=pod), 1)
            for s in series:  # no high-cardinality fact on a request series
                self.assertFalse({"container_id", "k8s_pod_uid", "namespace", "pod"} & set(s), s)
            self.assertEqual(m.get("aster_exporter_identity_lookup_failures_total", source="container"), 0)
            self.assertEqual(m.get("aster_exporter_watched_services"), 2)
        finally:
            if exporter:
                exporter.stop()
            ctd.stop()

    def test_a_pod_with_several_app_containers_names_each(self):
        ctd = Containerd()
        exporter = None
        try:
            ports = [free_port(), free_port()]
            pod = "shop-api-5c8d7f9b4-qwz7n"
            _, uid, sandbox = ctd.run_pod(pod, "shop", "api", "systemd", ports[0])
            ctd.run_pod(pod, "shop", "admin", "systemd", ports[1], sandbox=sandbox, uid=uid)
            config = ctd.exporter_config("  pod_name_label: false\n")
            exporter = Exporter(f"--config.file={config}", "--target.port=" + ",".join(map(str, ports)))
            exporter.wait_watching("shop-api/api")
            exporter.wait_watching("shop-api/admin")
            self.assertEqual(curl(*[f"http://127.0.0.1:{ports[0]}/index.html"] * 2), [(200, 100)] * 2)
            self.assertEqual(curl(*[f"http://127.0.0.1:{ports[1]}/index.html"] * 4), [(200, 100)] * 4)
            m = exporter.wait_count(6)
            self.assertEqual(m.get("aster_http_requests_total", service="shop-api/api", k8s_container_name="api",
                                   k8s_owner_name="shop-api", k8s_owner_kind="Deployment"), 2)
            self.assertEqual(m.get("aster_http_requests_total", service="shop-api/admin",
                                   k8s_container_name="admin"), 4)
            self.assertFalse([s for s in m.series("aster_http_requests_total") if "k8s_pod_name" in s],
                             "identity.pod_name_label: false")
            self.assertEqual(len(m.select("aster_workload_info", k8s_pod_name=pod, k8s_pod_uid=uid)), 2,
                             "the info series keeps the pod name")
        finally:
            if exporter:
                exporter.stop()
            ctd.stop()


    def test_pods_sharing_their_series_labels_each_get_an_info_series(self):
        # identity.pod_name_label: false: two pods of one Deployment carry
        # the same series labels (one id, one series), but each is a
        # workload of its own in aster_workload_info.
        ctd = Containerd()
        exporter = None
        try:
            ports = [free_port(), free_port()]
            pods = ["checkout-7d9f8b6c5d-x2k4p", "checkout-7d9f8b6c5d-q8w9z"]
            ids = [ctd.run_pod(pod, "shop", "app", "cgroupfs", port) for pod, port in zip(pods, ports)]
            config = ctd.exporter_config("  pod_name_label: false\n")
            exporter = Exporter(f"--config.file={config}", "--target.port=" + ",".join(map(str, ports)))
            exporter.wait_watching("checkout", processes=2)
            self.assertEqual(curl(*[f"http://127.0.0.1:{ports[0]}/index.html"] * 2), [(200, 100)] * 2)
            self.assertEqual(curl(*[f"http://127.0.0.1:{ports[1]}/index.html"] * 3), [(200, 100)] * 3)
            m = exporter.wait_count(5, service="checkout")
            self.assertEqual(len(m.series("aster_http_requests_total", service="checkout")), 1, "one id, one series")
            info = {labels["k8s_pod_uid"]: labels for labels, _ in m.select("aster_workload_info", service="checkout")}
            self.assertEqual(set(info), {uid for _, uid, _ in ids}, "each pod's own facts")
            for pod, (cid, uid, _) in zip(pods, ids):
                self.assertEqual((info[uid]["k8s_pod_name"], info[uid]["container_id"]), (pod, cid))
        finally:
            if exporter:
                exporter.stop()
            ctd.stop()

    def test_grpc_and_go_series_carry_the_pods_labels(self):
        # grpc-go built without libc runs in the busybox rootfs; its
        # interceptors write the truth inside it (/grpc/stats.json).
        ctd = Containerd()
        exporter = None
        try:
            os.makedirs(os.path.join(ctd.rootfs, "grpc"))
            binary = harness.build_grpcserver(os.path.join(ctd.dir), static=True)
            shutil.copy(binary, os.path.join(ctd.rootfs, "grpc", "grpcserver"))
            port = free_port()
            pod = "orders-6b7c9d8f5-h4j2k"
            ctd.run_pod(pod, "shop", "grpc", "systemd", port,
                        argv=["/grpc/grpcserver", "serve", str(port), "/grpc/stats.json"])
            config = ctd.exporter_config()
            exporter = Exporter(f"--config.file={config}", f"--target.port={port}")
            exporter.wait_watching("orders")
            r = subprocess.run([binary, "client", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(ctd.rootfs, "grpc", "stats.json")) as f:
                truth = json.load(f)
            calls = sum(truth["handled"].values())
            pod_labels = dict(service="orders", k8s_namespace_name="shop", k8s_pod_name=pod,
                              k8s_container_name="grpc", k8s_owner_kind="Deployment", k8s_owner_name="orders")
            m = exporter.wait_count(calls, name="aster_grpc_server_handled_total", timeout=15, **pod_labels)
            for family in harness.GRPC_FAMILIES:
                series = m.series(family)
                self.assertTrue(series, family)
                for s in series:
                    self.assertEqual({k: s.get(k) for k in pod_labels}, pod_labels, family)
            self.assertEqual(m.get("aster_grpc_server_started_total", **pod_labels), sum(truth["started"].values()))
            self.assertEqual(m.get("aster_http_requests_total", method="POST", **pod_labels), calls,
                             "the HTTP series of the same calls carry the same labels")
            # Counted in aster_exporter_series: the HTTP and gRPC families,
            # a histogram as one series.
            grpc_series, http_series = harness.per_service_series(m)
            self.assertEqual(m.get("aster_exporter_series"), grpc_series + http_series)
            # A Go program: its go_* series (read from outside at scrape time)
            # carry the same labels, as process_* do.
            for family in ("go_info", "go_goroutines", "go_threads", "go_memstats_heap_inuse_bytes",
                           "go_gc_duration_seconds_count", "process_resident_memory_bytes"):
                series = m.series(family, service="orders")
                self.assertEqual(len(series), 1, family)
                self.assertEqual({k: series[0].get(k) for k in pod_labels}, pod_labels, family)
            self.assertGreater(m.get("go_goroutines", **pod_labels), 0)
        finally:
            if exporter:
                exporter.stop()
            ctd.stop()


class EnvironmentAndUnitTest(unittest.TestCase):
    def test_otel_service_name_names_the_service(self):
        root = tempfile.mkdtemp(prefix="aster-otel-")
        port, port2 = free_port(), free_port()
        env = dict(os.environ, OTEL_SERVICE_NAME="checkout")
        env2 = dict(os.environ, OTEL_RESOURCE_ATTRIBUTES="deployment.environment=prod,service.name=cart%20api,"
                                                        "service.namespace=shop")
        servers = [Proc(["python3", "-m", "http.server", str(p), "--bind", "127.0.0.1"], cwd=root, env=e,
                        log_name="python") for p, e in ((port, env), (port2, env2))]
        exporter = None
        try:
            wait_port(port)
            wait_port(port2)
            with open(os.path.join(root, "f"), "w") as f:
                f.write("y" * 10)
            exporter = Exporter(f"--target.port={port},{port2}")
            exporter.wait_watching("checkout")
            exporter.wait_watching("cart api")
            self.assertEqual(curl(*[f"http://127.0.0.1:{port}/f"] * 4), [(200, 10)] * 4)
            self.assertEqual(curl(*[f"http://127.0.0.1:{port2}/f"] * 2), [(200, 10)] * 2)
            m = exporter.wait_count(4, service="checkout")
            m = exporter.wait_count(2, service="cart api", service_namespace="shop")
            exe = os.path.basename(os.readlink(f"/proc/{servers[0].pid}/exe"))
            self.assertEqual(m.get("aster_http_requests_total", service=exe), 0)
            self.assertNotIn("prod", m.text, "only service.name and service.namespace are read")
        finally:
            if exporter:
                exporter.stop()
            for s in servers:
                s.stop()
            shutil.rmtree(root, ignore_errors=True)

    def test_environment_rule_can_be_switched_off(self):
        root = tempfile.mkdtemp(prefix="aster-otel-")
        port = free_port()
        server = Proc(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=root,
                      env=dict(os.environ, OTEL_SERVICE_NAME="checkout"), log_name="python")
        config = os.path.join(root, "exporter.yaml")
        with open(config, "w") as f:
            f.write("identity:\n  from_environment: false\n")
        exporter = None
        try:
            wait_port(port)
            exporter = Exporter(f"--config.file={config}", f"--target.port={port}")
            exporter.wait_watching(os.path.basename(os.readlink(f"/proc/{server.pid}/exe")))
        finally:
            if exporter:
                exporter.stop()
            server.stop()
            shutil.rmtree(root, ignore_errors=True)

    @unittest.skipIf(UNIFIED is None, "no cgroup v2 hierarchy mounted")
    def test_systemd_unit_cgroup_names_the_service(self):
        # PID 1 is not systemd here: the unit's cgroup is made by hand, where
        # systemd would put it (system.slice/<unit>.service on cgroup v2).
        unit = f"aster-test-{uuid.uuid4().hex[:8]}"
        slice_dir = os.path.join(UNIFIED, "system.slice")
        made_slice = not os.path.isdir(slice_dir)
        cgroup = os.path.join(slice_dir, unit + ".service")
        os.makedirs(cgroup)
        root = tempfile.mkdtemp(prefix="aster-unit-")
        port = free_port()
        server = Proc(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=root,
                      log_name="python")
        exporter = None
        try:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(server.pid))
            with open(os.path.join(root, "f"), "w") as f:
                f.write("z" * 20)
            wait_port(port)
            exporter = Exporter(f"--target.port={port}")
            exporter.wait_watching(unit)
            self.assertEqual(curl(*[f"http://127.0.0.1:{port}/f"] * 3), [(200, 20)] * 3)
            m = exporter.wait_count(3, service=unit)
            info = m.select("aster_workload_info", service=unit)
            self.assertEqual([l.get("systemd_unit") for l, _ in info], [unit + ".service"])
            self.assertFalse(any(k.startswith("k8s_") for l, _ in info for k in l), info)
        finally:
            if exporter:
                exporter.stop()
            server.stop()
            # A process left behind would keep the cgroup busy: move any back.
            for pid in open(os.path.join(cgroup, "cgroup.procs")).read().split():
                with open(os.path.join(UNIFIED, "cgroup.procs"), "w") as f:
                    f.write(pid)
            os.rmdir(cgroup)
            if made_slice:
                os.rmdir(slice_dir)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
