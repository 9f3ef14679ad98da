// /proc/PID/cgroup lines as the runtimes and init systems write them.
#include "identity/cgroup_path.h"

#include <gtest/gtest.h>

namespace aster {
namespace {

const std::string kId = "3f9a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
const std::string kUid = "0f4c6b1e-2a3d-4b5c-8d9e-1f2a3b4c5d6e";
const std::string kUidUnderscore = "0f4c6b1e_2a3d_4b5c_8d9e_1f2a3b4c5d6e";

struct Case {
  const char* what;
  std::string file;
  std::string runtime, container_id, pod_uid, unit, unit_service;
};

TEST(CgroupPath, EveryLayoutInUse) {
  const Case cases[] = {
      {"systemd unit (v2)", "0::/system.slice/nginx.service\n", "", "", "", "nginx.service", "nginx"},
      {"systemd unit with a sub-cgroup", "0::/system.slice/nginx.service/worker\n", "", "", "", "nginx.service", "nginx"},
      {"template unit, named by its slice", "0::/system.slice/system-getty.slice/getty@tty1.service\n", "", "", "",
       "getty@tty1.service", "getty"},
      {"user unit", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/api.service\n", "", "", "",
       "api.service", "api"},
      {"session scope: no unit", "0::/user.slice/user-1000.slice/session-3.scope\n", "", "", "", "", ""},
      {"docker, systemd driver", "0::/system.slice/docker-" + kId + ".scope\n", "docker", kId, "", "", ""},
      {"docker, cgroupfs driver (v1)", "12:memory:/docker/" + kId + "\n11:cpu,cpuacct:/docker/" + kId + "\n",
       "docker", kId, "", "", ""},
      {"podman, systemd", "0::/machine.slice/libpod-" + kId + ".scope/container\n", "podman", kId, "", "", ""},
      {"podman, cgroupfs", "0::/libpod_parent/libpod-" + kId + "\n", "podman", kId, "", "", ""},
      {"podman's conmon is not the container",
       "0::/machine.slice/libpod-conmon-" + kId + ".scope\n", "", "", "", "", ""},
      {"kubelet systemd driver, containerd",
       "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kUidUnderscore +
           ".slice/cri-containerd-" + kId + ".scope\n",
       "containerd", kId, kUid, "", ""},
      {"kubelet systemd driver, guaranteed QoS",
       "0::/kubepods.slice/kubepods-pod" + kUidUnderscore + ".slice/cri-containerd-" + kId + ".scope\n",
       "containerd", kId, kUid, "", ""},
      {"kubelet cgroupfs driver", "0::/kubepods/burstable/pod" + kUid + "/" + kId + "\n", "", kId, kUid, "", ""},
      {"kubelet cgroupfs driver, besteffort (v1)",
       "10:memory:/kubepods/besteffort/pod" + kUid + "/" + kId + "\n1:name=systemd:/kubepods/besteffort/pod" + kUid +
           "/" + kId + "\n",
       "", kId, kUid, "", ""},
      {"CRI-O", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidUnderscore +
                    ".slice/crio-" + kId + ".scope\n",
       "cri-o", kId, kUid, "", ""},
      {"CRI-O's conmon: the pod, not a container",
       "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kUidUnderscore +
           ".slice/crio-conmon-" + kId + ".scope\n",
       "", "", kUid, "", ""},
      {"containerd v1 systemd driver, colon form",
       "4:memory:/system.slice/containerd.service/kubepods-burstable-pod" + kUidUnderscore +
           ".slice:cri-containerd:" + kId + "\n",
       "containerd", kId, kUid, "", ""},
      {"private cgroup namespace",
       "0::/../../kubepods-burstable-pod" + kUidUnderscore + ".slice/cri-containerd-" + kId + ".scope\n",
       "containerd", kId, kUid, "", ""},
      {"private cgroup namespace, own cgroup", "0::/\n", "", "", "", "", ""},
      {"hybrid: v2 line says little, v1 names the container",
       "12:pids:/docker/" + kId + "\n1:name=systemd:/docker/" + kId + "\n0::/\n", "docker", kId, "", "", ""},
      {"hybrid: unit on both, v2 first",
       "1:name=systemd:/system.slice/nginx.service\n0::/system.slice/nginx.service\n", "", "", "", "nginx.service",
       "nginx"},
      {"a container under its runtime's unit is no unit",
       "0::/system.slice/containerd.service/kubepods-burstable-pod" + kUidUnderscore + ".slice:cri-containerd:" +
           kId + "\n",
       "containerd", kId, kUid, "", ""},
      {"not a container id (too short)", "0::/docker/abc123\n", "", "", "", "", ""},
      {"garbage", "no colons here\n\n::\n", "", "", "", "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    CgroupFacts f = parse_cgroup_file(c.file);
    EXPECT_EQ(f.runtime, c.runtime);
    EXPECT_EQ(f.container_id, c.container_id);
    EXPECT_EQ(f.pod_uid, c.pod_uid);
    EXPECT_EQ(f.systemd_unit, c.unit);
    EXPECT_EQ(unit_service_name(f), c.unit_service);
  }
}

TEST(CgroupPath, ThisProcessParses) {
  // Whatever this machine runs, its own line is read without a crash and
  // names a path.
  FILE* f = fopen("/proc/self/cgroup", "r");
  ASSERT_NE(f, nullptr);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  CgroupFacts facts = parse_cgroup_file(std::string(buf, n));
  EXPECT_FALSE(facts.path.empty());
}

}  // namespace
}  // namespace aster
