// SPDX-License-Identifier: Apache-2.0
// Resolves a process to its workload identity, from the node alone: the
// selector's name, the process's OpenTelemetry environment, its cgroup, and
// what the container runtimes and the kubelet wrote on disk (no API server,
// no runtime socket). Called by target discovery once per process it
// watches (and again after an exec), off the event path; container lookups
// are cached per container id. Failures are counted per source.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/identity_options.h"
#include "identity/container_metadata.h"
#include "identity/workload_identity.h"

namespace aster {

struct IdentityFailures {
  std::atomic<uint64_t> cgroup{0};     // /proc/PID/cgroup unreadable
  std::atomic<uint64_t> environ{0};    // /proc/PID/environ unreadable
  std::atomic<uint64_t> container{0};  // a container id no runtime file names
};

class IdentityResolver {
 public:
  explicit IdentityResolver(const IdentityOptions& options);

  // The service name, in this order: `explicit_name` (the selector's),
  // OTEL_SERVICE_NAME / service.name, the pod's owning workload (with the
  // container name when the pod runs several app containers), the
  // Docker/Podman container or systemd unit name, then `exe_name`.
  WorkloadIdentity resolve(pid_t pid, const std::string& explicit_name, const std::string& exe_name);

  const IdentityFailures& failures() const { return failures_; }
  const RuntimeDirs& dirs() const { return dirs_; }

 private:
  struct Container {
    ContainerMetadata meta;
    bool several_app_containers = false;
  };
  Container container(const std::string& id, const std::string& pod_uid);

  IdentityOptions options_;
  RuntimeDirs dirs_;
  IdentityFailures failures_;
  std::mutex mu_;
  std::unordered_map<std::string, Container> containers_;
};

// The service name a set of facts gives under `options` (rules 2 to 5 of
// resolve(); explicit names are the caller's). Pure, for the unit tests.
std::string service_name_for(const IdentityOptions& options, const std::string& otel_name,
                             const WorkloadIdentity& facts, const std::string& container_name_of_runtime,
                             bool several_app_containers, const std::string& unit_name,
                             const std::string& exe_name);

}  // namespace aster
