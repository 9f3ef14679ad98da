// SPDX-License-Identifier: Apache-2.0
#include "identity/identity_resolver.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "identity/cgroup_path.h"
#include "identity/otel_environment.h"
#include "identity/pod_owner.h"
#include "model/log.h"

namespace aster {
namespace {

// Containers are few per node; the bound only stops a churning node from
// growing the cache without end (it is then rebuilt from the files).
constexpr size_t kMaxCachedContainers = 8192;

bool dir_exists(const std::string& host_root, const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return true;
  return !host_root.empty() && stat((host_root + path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool read_text(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

IdentityResolver::IdentityResolver(const IdentityOptions& o) : options_(o) {
  dirs_.containerd_state = o.containerd_state;
  dirs_.crio_storage = o.crio_storage;
  dirs_.docker_root = o.docker_root;
  dirs_.pod_logs = o.pod_logs;
  dirs_.container_logs = o.container_logs;
  dirs_.host_root = o.host_root == "auto" ? detect_host_root() : o.host_root;
  // One line per source at start; a missing one is skipped silently later.
  std::string found, missing;
  auto note = [&](const std::string& what, const std::string& path) {
    std::string& list = dir_exists(dirs_.host_root, path) ? found : missing;
    list += (list.empty() ? "" : ", ") + what + " " + path;
  };
  for (const auto& s : dirs_.containerd_state) note("containerd", s);
  note("cri-o/podman", dirs_.crio_storage);
  note("docker", dirs_.docker_root);
  note("kubelet", dirs_.pod_logs);
  LOG_INFO("workload identity: reading %s%s%s%s", found.empty() ? "no runtime files" : found.c_str(),
           missing.empty() ? "" : " (not present: ", missing.c_str(), missing.empty() ? "" : ")");
  if (!dirs_.host_root.empty()) LOG_INFO("workload identity: host files also looked up under %s", dirs_.host_root.c_str());
}

IdentityResolver::Container IdentityResolver::container(const std::string& id, const std::string& pod_uid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  // A miss is not cached for good: the runtime may write the files after
  // the process started (and is watched).
  if (it != containers_.end() && it->second.meta.found()) return it->second;
  if (containers_.size() >= kMaxCachedContainers) containers_.clear();
  Container c;
  c.meta = read_container_metadata(dirs_, id, pod_uid);
  if (!c.meta.found()) failures_.container++;
  if (c.meta.runtime == "containerd") {
    c.several_app_containers = containerd_pod_containers(dirs_, c.meta.sandbox_id).size() > 1;
  }
  containers_[id] = c;
  return c;
}

std::string service_name_for(const IdentityOptions& o, const std::string& otel_name, const WorkloadIdentity& f,
                             const std::string& runtime_name, bool several, const std::string& unit_name,
                             const std::string& exe_name) {
  if (o.from_environment && !otel_name.empty()) return otel_name;
  if (o.from_kubernetes && !f.k8s_owner_name.empty() && f.k8s_owner_name != kUnknownLabel) {
    if (several && !f.k8s_container_name.empty() && f.k8s_container_name != kUnknownLabel) {
      return f.k8s_owner_name + "/" + f.k8s_container_name;
    }
    return f.k8s_owner_name;
  }
  if (o.from_container && !f.in_kubernetes()) {
    if (!runtime_name.empty()) return runtime_name;
    if (!unit_name.empty()) return unit_name;
  }
  return exe_name;
}

WorkloadIdentity IdentityResolver::resolve(pid_t pid, const std::string& explicit_name, const std::string& exe_name) {
  WorkloadIdentity id;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::string otel_name;
  if (auto env = read_otel_environment(pid)) {
    otel_name = env->service_name;
    if (options_.from_environment) id.service_namespace = env->service_namespace;
  } else {
    failures_.environ++;
  }
  std::string text, unit_name, runtime_name;
  bool several = false;
  if (read_text(proc + "/cgroup", &text)) {
    CgroupFacts cg = parse_cgroup_file(text);
    id.systemd_unit = cg.systemd_unit;
    unit_name = unit_service_name(cg);
    id.container_id = cg.container_id;
    id.container_runtime = cg.runtime;
    id.k8s_pod_uid = cg.pod_uid;
    if (cg.in_container()) {
      Container c = container(cg.container_id, cg.pod_uid);
      if (c.meta.found()) {
        if (id.container_runtime.empty() && c.meta.runtime != "kubelet-logs") id.container_runtime = c.meta.runtime;
        runtime_name = c.meta.name;
        if (id.k8s_pod_uid.empty()) id.k8s_pod_uid = c.meta.pod_uid;
        id.k8s_namespace_name = c.meta.pod_namespace;
        id.k8s_pod_name = c.meta.pod_name;
        id.k8s_container_name = c.meta.container_name;
        several = c.several_app_containers;
      }
      if (id.container_runtime.empty()) id.container_runtime = kUnknownLabel;
    }
    if (id.in_kubernetes()) {
      // A pod whose files say nothing: its labels say so, and the failure
      // is counted (container()).
      for (std::string* f : {&id.k8s_namespace_name, &id.k8s_pod_name, &id.k8s_container_name}) {
        if (f->empty()) *f = kUnknownLabel;
      }
      if (id.k8s_pod_name != kUnknownLabel) {
        PodOwner owner = pod_owner(id.k8s_pod_name);
        id.k8s_owner_kind = owner.kind;
        id.k8s_owner_name = owner.name;
      } else {
        id.k8s_owner_kind = id.k8s_owner_name = kUnknownLabel;
      }
    }
  } else {
    failures_.cgroup++;
  }
  id.service = !explicit_name.empty()
                   ? explicit_name
                   : service_name_for(options_, otel_name, id, runtime_name, several, unit_name, exe_name);
  return id;
}

}  // namespace aster
