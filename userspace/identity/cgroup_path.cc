// SPDX-License-Identifier: Apache-2.0
#include "identity/cgroup_path.h"

#include <vector>

namespace aster {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

bool is_container_id(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A pod uid as it appears in the path: dashes (cgroupfs driver) or
// underscores (systemd driver, where '-' separates slice levels).
bool pod_uid_from(std::string_view s, std::string* uid) {
  if (s.size() != 36) return false;
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    bool dash_at = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_at) {
      if (c != '-' && c != '_') return false;
      c = '-';
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  *uid = out;
  return true;
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (!c.empty() && c != "." && c != "..") out.push_back(c);
    i = j + 1;
  }
  return out;
}

// "<prefix><id><suffix>" -> id, when id is a container id.
bool id_between(std::string_view c, std::string_view prefix, std::string_view suffix, std::string* id) {
  if (!starts_with(c, prefix) || !ends_with(c, suffix) || c.size() < prefix.size() + suffix.size()) return false;
  std::string_view mid = c.substr(prefix.size(), c.size() - prefix.size() - suffix.size());
  if (!is_container_id(mid)) return false;
  *id = std::string(mid);
  return true;
}

// One component naming a container, systemd-driver style:
// "docker-<id>.scope", "cri-containerd-<id>.scope", "crio-<id>.scope",
// "libpod-<id>.scope", or containerd's "<slice>:cri-containerd:<id>" (cgroup v1
// with the systemd driver). The runtimes' monitor processes (conmon:
// "crio-conmon-<id>.scope", "libpod-conmon-<id>.scope") are not the container.
bool container_component(std::string_view c, std::string* runtime, std::string* id) {
  struct Form {
    std::string_view prefix, runtime;
  };
  static constexpr Form kScopes[] = {
      {"docker-", "docker"}, {"cri-containerd-", "containerd"}, {"crio-", "cri-o"}, {"libpod-", "podman"}};
  for (const Form& f : kScopes) {
    if (id_between(c, f.prefix, ".scope", id) || id_between(c, f.prefix, "", id)) {
      *runtime = std::string(f.runtime);
      return true;
    }
  }
  size_t colon = c.rfind(':');
  if (colon != std::string_view::npos && is_container_id(c.substr(colon + 1))) {
    std::string_view kind = c.substr(0, colon);
    kind = kind.substr(kind.rfind(':') + 1);
    *id = std::string(c.substr(colon + 1));
    *runtime = kind == "cri-containerd" ? "containerd" : kind == "crio" ? "cri-o" : kind == "docker" ? "docker" : "";
    return true;
  }
  return false;
}

// "kubepods-burstable-pod<uid>.slice" (systemd driver) or "pod<uid>"
// (cgroupfs driver).
bool pod_component(std::string_view c, std::string* uid) {
  if (ends_with(c, ".slice")) {
    c.remove_suffix(6);
    size_t at = c.rfind("-pod");
    if (!starts_with(c, "kubepods") || at == std::string_view::npos) return false;
    return pod_uid_from(c.substr(at + 4), uid);
  }
  return starts_with(c, "pod") && pod_uid_from(c.substr(3), uid);
}

int score(const CgroupFacts& f) {
  return f.in_container() ? 3 : !f.pod_uid.empty() ? 2 : !f.systemd_unit.empty() ? 1 : 0;
}

}  // namespace

CgroupFacts parse_cgroup_path(std::string_view path) {
  CgroupFacts f;
  f.path = std::string(path);
  auto parts = components(path);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view c = parts[i];
    std::string uid, runtime, id;
    if (pod_component(c, &uid)) {
      f.pod_uid = uid;
    } else if (container_component(c, &runtime, &id)) {
      f.runtime = runtime;
      f.container_id = id;
      // "<pod slice>:cri-containerd:<id>" names the pod too.
      if (size_t colon = c.find(':'); colon != std::string_view::npos && pod_component(c.substr(0, colon), &uid)) {
        f.pod_uid = uid;
      }
    } else if (is_container_id(c) && i > 0) {
      // Plain ids: "/docker/<id>", "/kubepods/burstable/pod<uid>/<id>"
      // (kubelet's cgroupfs driver: containerd, whose name the path omits).
      std::string_view parent = parts[i - 1];
      std::string puid;
      f.container_id = std::string(c);
      f.runtime = parent == "docker" ? "docker" : "";
      if (pod_component(parent, &puid)) f.runtime = "";
    } else if (ends_with(c, ".service") && !f.in_container() && f.pod_uid.empty()) {
      f.systemd_unit = std::string(c);
      f.unit_slice = i > 0 && ends_with(parts[i - 1], ".slice") ? std::string(parts[i - 1]) : "";
    }
  }
  // A container's cgroup sits under its runtime's unit (docker.service,
  // containerd.service) on some hosts; that unit is not the workload.
  if (f.in_container() || !f.pod_uid.empty()) {
    f.systemd_unit.clear();
    f.unit_slice.clear();
  }
  return f;
}

CgroupFacts parse_cgroup_file(std::string_view text) {
  CgroupFacts best;
  int best_score = -1;
  bool best_v2 = false;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view line = text.substr(i, j - i);
    i = j + 1;
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    bool v2 = line.substr(0, c1) == "0" && c2 == c1 + 1;
    CgroupFacts f = parse_cgroup_path(line.substr(c2 + 1));
    int s = score(f);
    if (s > best_score || (s == best_score && v2 && !best_v2)) {
      best = f;
      best_score = s;
      best_v2 = v2;
    }
  }
  return best;
}

std::string unit_service_name(const CgroupFacts& f) {
  std::string_view unit = f.systemd_unit;
  if (!ends_with(unit, ".service")) return "";
  unit.remove_suffix(8);
  size_t at = unit.find('@');
  if (at == std::string_view::npos) return std::string(unit);
  std::string_view slice = f.unit_slice;
  if (ends_with(slice, ".slice")) {
    slice.remove_suffix(6);
    size_t dash = slice.rfind('-');
    if (dash != std::string_view::npos && dash + 1 < slice.size()) return std::string(slice.substr(dash + 1));
  }
  return std::string(unit.substr(0, at));
}

}  // namespace aster
