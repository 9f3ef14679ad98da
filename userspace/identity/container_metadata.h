// SPDX-License-Identifier: Apache-2.0
// What the node's container runtimes wrote down about a container, read
// from their files (never their sockets: docker.sock is root-equivalent,
// and a read-only mount does not restrict its API):
//   containerd  <state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json,
//               the task's OCI bundle; CRI puts the pod in its annotations
//               (io.kubernetes.cri.sandbox-name, -namespace, -uid, -id,
//               container-name, container-type)
//   CRI-O       /run/containers/storage/overlay-containers/<id>/userdata/config.json,
//               annotations io.kubernetes.pod.name, .namespace, .uid,
//               io.kubernetes.container.name
//   Docker      /var/lib/docker/containers/<id>/config.v2.json: Name, and
//               the pod labels dockershim/cri-dockerd set
//   kubelet     /var/log/pods/<namespace>_<pod>_<uid>/<container>/ and
//               /var/log/containers/<pod>_<namespace>_<container>-<id>.log,
//               a fallback that needs no runtime at all
// Pod labels (app.kubernetes.io/name, pod-template-hash) are in none of
// these files, only in containerd's metadata store, which is not read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace aster {

struct ContainerMetadata {
  std::string runtime;         // where it was found: containerd, cri-o, docker, kubelet-logs
  std::string name;            // Docker/Podman container name, without the leading '/'
  std::string pod_name;
  std::string pod_namespace;
  std::string pod_uid;
  std::string container_name;  // the Kubernetes container name
  std::string sandbox_id;      // containerd: the pod sandbox's container id
  std::string container_type;  // containerd: "container" or "sandbox"
  bool found() const { return !runtime.empty(); }
};

// Parsers of the files' text (JSON; yaml-cpp reads it). False when the text
// is not the expected document.
bool parse_oci_annotations(std::string_view json, ContainerMetadata* out);
bool parse_docker_config(std::string_view json, ContainerMetadata* out);
// "<namespace>_<pod>_<uid>" (a /var/log/pods directory name).
bool parse_pod_log_dir(std::string_view dir, ContainerMetadata* out);

// Where to look. Each path is tried as given, then under host_root
// ("/proc/1/root" when the exporter runs in a container of its own and the
// host's files are not mounted at the same place).
struct RuntimeDirs {
  std::vector<std::string> containerd_state{"/run/containerd"};
  std::string crio_storage = "/run/containers/storage";
  std::string docker_root = "/var/lib/docker";
  std::string pod_logs = "/var/log/pods";
  std::string container_logs = "/var/log/containers";
  std::string host_root;  // "" when the exporter sees the host's filesystem
};

// Looks the container up in each runtime's files; `pod_uid` (from the
// cgroup, may be "") lets the kubelet's log directories answer when no
// runtime file does. Not found: found() is false.
ContainerMetadata read_container_metadata(const RuntimeDirs& dirs, const std::string& container_id,
                                          const std::string& pod_uid);

// The app containers (container-type "container") containerd runs in the
// sandbox `sandbox_id`, by Kubernetes container name; a pod with several
// serving containers names its services per container.
std::vector<std::string> containerd_pod_containers(const RuntimeDirs& dirs, const std::string& sandbox_id);

// "/proc/1/root" when this process's root is not the host's (it runs in a
// container of its own with the host's PID namespace), else "".
std::string detect_host_root();

}  // namespace aster
