// SPDX-License-Identifier: Apache-2.0
// How a watched process's workload is named and labelled (identity/):
// which sources may name the service, and where the runtimes' files are.
#pragma once

#include <string>
#include <vector>

namespace aster {

struct IdentityOptions {
  // Service-name rules after an explicit selector name, each switchable:
  // OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES service.name,
  bool from_environment = true;
  // the Kubernetes workload owning the pod (from its name's shape),
  bool from_kubernetes = true;
  // the Docker/Podman container name or systemd unit name.
  bool from_container = true;
  // k8s_pod_name on the HTTP series (it changes at every rollout).
  bool pod_name_label = true;
  // containerd --state directories (each holds io.containerd.runtime.v2.task/).
  std::vector<std::string> containerd_state{"/run/containerd"};
  std::string crio_storage = "/run/containers/storage";
  std::string docker_root = "/var/lib/docker";
  std::string pod_logs = "/var/log/pods";
  std::string container_logs = "/var/log/containers";
  // Where the host's files are when they are not mounted at their own
  // paths: "auto" is /proc/1/root when the exporter runs in a container.
  std::string host_root = "auto";
};

}  // namespace aster
