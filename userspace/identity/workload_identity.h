// SPDX-License-Identifier: Apache-2.0
// Who a watched process is: the service it reports as, and the workload
// facts behind it. Records carry the id of one of these (ServiceRegistry),
// so two pods of one Deployment share `service` but not their k8s_* labels.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace aster {

// The sentinel for a fact that exists but could not be read (a pod whose
// runtime files were not found): a label value, never a guess.
inline constexpr const char* kUnknownLabel = "unknown";

struct WorkloadIdentity {
  std::string service;
  std::string service_namespace;  // OTel service.namespace
  std::string k8s_namespace_name;
  std::string k8s_pod_name;
  std::string k8s_container_name;
  std::string k8s_owner_kind;
  std::string k8s_owner_name;
  std::string k8s_pod_uid;
  std::string container_id;
  std::string container_runtime;
  std::string systemd_unit;

  bool in_kubernetes() const { return !k8s_pod_uid.empty() || !k8s_pod_name.empty(); }
  // Every fact, for telling a changed identity (after an exec) apart.
  std::string facts() const {
    std::string k;
    for (const std::string* f : {&service, &service_namespace, &k8s_namespace_name, &k8s_pod_name,
                                 &k8s_container_name, &k8s_owner_kind, &k8s_owner_name, &k8s_pod_uid,
                                 &container_id, &container_runtime, &systemd_unit}) {
      k += *f;
      k += '\x1f';
    }
    return k;
  }
  bool operator==(const WorkloadIdentity& o) const { return facts() == o.facts(); }
};

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// The labels every series of the workload carries after `service`: Beyla's
// names, k8s_* (never namespace/pod, which Prometheus's relabelling adds for
// the exporter's own pod). Only set facts: a host process's series are as
// they were. k8s_pod_name churns at every rollout, so it can be left out.
inline LabelPairs series_labels(const WorkloadIdentity& w, bool pod_name_label) {
  LabelPairs out;
  if (!w.service_namespace.empty()) out.emplace_back("service_namespace", w.service_namespace);
  if (w.in_kubernetes()) {
    out.emplace_back("k8s_namespace_name", w.k8s_namespace_name);
    if (pod_name_label) out.emplace_back("k8s_pod_name", w.k8s_pod_name);
    out.emplace_back("k8s_container_name", w.k8s_container_name);
    out.emplace_back("k8s_owner_kind", w.k8s_owner_kind);
    out.emplace_back("k8s_owner_name", w.k8s_owner_name);
  }
  return out;
}

// Everything known, for the one info series per workload (the target_info
// pattern): the high-cardinality facts stay off the request series.
inline LabelPairs info_labels(const WorkloadIdentity& w) {
  LabelPairs out{{"service", w.service}};
  for (const auto& [k, v] : series_labels(w, true)) out.emplace_back(k, v);
  auto add = [&](const char* k, const std::string& v) {
    if (!v.empty()) out.emplace_back(k, v);
  };
  add("k8s_pod_uid", w.k8s_pod_uid);
  add("container_id", w.container_id);
  add("container_runtime", w.container_runtime);
  add("systemd_unit", w.systemd_unit);
  return out;
}

// What the registry interns by: the series' labels (service and
// series_labels()), nothing more. Two workloads whose series would carry the
// same labels (two pods of one Deployment with k8s_pod_name off) share one
// id, so no two ids ever hold the same series, which expiring one of them
// would free under the other.
inline std::string series_key(const WorkloadIdentity& w, bool pod_name_label) {
  std::string k = w.service;
  for (const auto& [name, value] : series_labels(w, pod_name_label)) {
    k += '\x1f';
    k += name;
    k += '=';
    k += value;
  }
  return k;
}

}  // namespace aster
