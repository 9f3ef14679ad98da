// SPDX-License-Identifier: Apache-2.0
// What a process's /proc/PID/cgroup says about who runs it: the container
// runtime and container id, the Kubernetes pod uid, or the systemd unit.
// Pure text in, facts out, so every layout in use is a unit-test line.
#pragma once

#include <string>
#include <string_view>

namespace aster {

struct CgroupFacts {
  // "containerd", "docker", "podman", "cri-o"; "" when the path names a
  // container but not its runtime (kubelet's cgroupfs layout with
  // containerd), or names no container.
  std::string runtime;
  std::string container_id;  // 64 hex digits, "" when not in a container
  std::string pod_uid;       // with dashes, as the API shows it; "" outside a pod
  std::string systemd_unit;  // "nginx.service", only outside containers
  std::string unit_slice;    // the unit's parent slice ("system-getty.slice")
  std::string path;          // the cgroup path the facts were read from
  bool in_container() const { return !container_id.empty(); }
};

// One cgroup path ("/kubepods/burstable/pod<uid>/<id>"). Components ".."
// (a reader in a private cgroup namespace sees "/../../kubepods/…") are
// skipped.
CgroupFacts parse_cgroup_path(std::string_view path);

// The whole file: v2 ("0::/path"), v1 ("4:memory:/path") or both (hybrid
// hosts). The line that tells most wins: a container id, else a pod, else
// a unit; the v2 line first among equals.
CgroupFacts parse_cgroup_file(std::string_view text);

// The service name a unit gives: "nginx.service" -> "nginx"; a template
// instance ("getty@tty1.service") is named by its slice
// ("system-getty.slice" -> "getty"), else by its template ("getty").
std::string unit_service_name(const CgroupFacts& facts);

}  // namespace aster
