// SPDX-License-Identifier: Apache-2.0
#include "identity/container_metadata.h"

#include <dirent.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace aster {
namespace {

// Runtime files are small (an OCI spec is tens of KiB); anything larger is
// not what we look for.
constexpr size_t kMaxFileBytes = 4u << 20;

bool read_small_file(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return text->size() <= kMaxFileBytes;
}

// The path as given, else under the host's root.
bool read_host_file(const RuntimeDirs& d, const std::string& path, std::string* text) {
  if (read_small_file(path, text)) return true;
  return !d.host_root.empty() && read_small_file(d.host_root + path, text);
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* dir = opendir(path.c_str());
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(dir);
  return out;
}

// The directory as given if it exists, else under the host's root; "" if neither.
std::string host_dir(const RuntimeDirs& d, const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return path;
  if (!d.host_root.empty() && stat((d.host_root + path).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return d.host_root + path;
  }
  return "";
}

std::string str(const YAML::Node& map, const char* key) {
  const YAML::Node v = map[key];
  return v && v.IsScalar() ? v.Scalar() : "";
}

// Both CRI implementations' pod keys.
void take_pod_keys(const YAML::Node& m, ContainerMetadata* out) {
  auto first = [&](std::initializer_list<const char*> keys) {
    for (const char* k : keys) {
      std::string v = str(m, k);
      if (!v.empty()) return v;
    }
    return std::string();
  };
  out->pod_name = first({"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"});
  out->pod_namespace = first({"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"});
  out->pod_uid = first({"io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"});
  out->container_name = first({"io.kubernetes.cri.container-name", "io.kubernetes.container.name"});
  out->sandbox_id = first({"io.kubernetes.cri.sandbox-id", "io.kubernetes.sandbox.id"});
  out->container_type = first({"io.kubernetes.cri.container-type", "io.kubernetes.docker.type"});
}

YAML::Node load_json(std::string_view json) {
  try {
    YAML::Node n = YAML::Load(std::string(json));
    if (n.IsMap()) return n;
  } catch (const YAML::Exception&) {
  }
  return YAML::Node();
}

}  // namespace

bool parse_oci_annotations(std::string_view json, ContainerMetadata* out) {
  YAML::Node spec = load_json(json);
  if (!spec || !spec["ociVersion"]) return false;
  if (YAML::Node a = spec["annotations"]; a && a.IsMap()) take_pod_keys(a, out);
  return true;
}

bool parse_docker_config(std::string_view json, ContainerMetadata* out) {
  YAML::Node c = load_json(json);
  if (!c || !c["ID"]) return false;
  std::string name = str(c, "Name");
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  out->name = name;
  if (YAML::Node cfg = c["Config"]; cfg && cfg.IsMap()) {
    if (YAML::Node labels = cfg["Labels"]; labels && labels.IsMap()) take_pod_keys(labels, out);
  }
  return true;
}

bool parse_pod_log_dir(std::string_view dir, ContainerMetadata* out) {
  // Namespaces and pod names hold no '_' (DNS labels), so the split is exact.
  size_t a = dir.find('_');
  size_t b = a == std::string_view::npos ? a : dir.find('_', a + 1);
  if (b == std::string_view::npos || a == 0 || b == a + 1 || b + 1 >= dir.size()) return false;
  out->pod_namespace = std::string(dir.substr(0, a));
  out->pod_name = std::string(dir.substr(a + 1, b - a - 1));
  out->pod_uid = std::string(dir.substr(b + 1));
  return true;
}

ContainerMetadata read_container_metadata(const RuntimeDirs& d, const std::string& id, const std::string& pod_uid) {
  ContainerMetadata m;
  std::string text;
  for (const std::string& state : d.containerd_state) {
    std::string tasks = host_dir(d, state + "/io.containerd.runtime.v2.task");
    if (tasks.empty()) continue;
    for (const std::string& ns : list_dir(tasks)) {
      if (read_small_file(tasks + "/" + ns + "/" + id + "/config.json", &text) && parse_oci_annotations(text, &m)) {
        m.runtime = "containerd";
        return m;
      }
    }
  }
  if (read_host_file(d, d.crio_storage + "/overlay-containers/" + id + "/userdata/config.json", &text) &&
      parse_oci_annotations(text, &m)) {
    // Podman keeps its containers in the same storage; CRI-O's carry the pod keys.
    m.runtime = m.pod_name.empty() ? "podman" : "cri-o";
    return m;
  }
  if (read_host_file(d, d.docker_root + "/containers/" + id + "/config.v2.json", &text) &&
      parse_docker_config(text, &m)) {
    m.runtime = "docker";
    return m;
  }
  if (pod_uid.empty()) return m;
  std::string pods = host_dir(d, d.pod_logs);
  if (pods.empty()) return m;
  const std::string suffix = "_" + pod_uid;
  for (const std::string& dir : list_dir(pods)) {
    if (dir.size() <= suffix.size() || dir.compare(dir.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    if (!parse_pod_log_dir(dir, &m)) continue;
    m.runtime = "kubelet-logs";
    // The container: the only one the pod has, else the one whose
    // /var/log/containers link names this container id.
    std::vector<std::string> containers = list_dir(pods + "/" + dir);
    if (containers.size() == 1) {
      m.container_name = containers[0];
    } else {
      std::string logs = host_dir(d, d.container_logs);
      const std::string head = m.pod_name + "_" + m.pod_namespace + "_";
      const std::string tail = "-" + id + ".log";
      for (const std::string& f : logs.empty() ? std::vector<std::string>() : list_dir(logs)) {
        if (f.size() > head.size() + tail.size() && f.compare(0, head.size(), head) == 0 &&
            f.compare(f.size() - tail.size(), tail.size(), tail) == 0) {
          m.container_name = f.substr(head.size(), f.size() - head.size() - tail.size());
        }
      }
    }
    return m;
  }
  return m;
}

std::vector<std::string> containerd_pod_containers(const RuntimeDirs& d, const std::string& sandbox_id) {
  std::vector<std::string> names;
  if (sandbox_id.empty()) return names;
  std::string text;
  for (const std::string& state : d.containerd_state) {
    std::string tasks = host_dir(d, state + "/io.containerd.runtime.v2.task");
    if (tasks.empty()) continue;
    for (const std::string& ns : list_dir(tasks)) {
      for (const std::string& id : list_dir(tasks + "/" + ns)) {
        ContainerMetadata m;
        if (!read_small_file(tasks + "/" + ns + "/" + id + "/config.json", &text) || !parse_oci_annotations(text, &m)) continue;
        if (m.sandbox_id == sandbox_id && m.container_type != "sandbox" && !m.container_name.empty()) {
          names.push_back(m.container_name);
        }
      }
    }
  }
  return names;
}

std::string detect_host_root() {
  struct stat self_root, host_root;
  if (stat("/", &self_root) != 0 || stat("/proc/1/root/", &host_root) != 0) return "";
  bool same = self_root.st_dev == host_root.st_dev && self_root.st_ino == host_root.st_ino;
  return same ? "" : "/proc/1/root";
}

}  // namespace aster
