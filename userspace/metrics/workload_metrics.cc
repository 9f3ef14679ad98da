// SPDX-License-Identifier: Apache-2.0
#include "metrics/workload_metrics.h"

#include <set>

#include "metrics/metric_builder.h"

namespace aster {

std::vector<prometheus::MetricFamily> WorkloadMetrics::Collect() const {
  using prometheus::MetricType;
  FamilyBuilder info(prefix_ + "_workload_info",
                     "A watched workload (1 while it has watched processes): its service and what the node "
                     "says about it (Kubernetes pod, container, systemd unit).",
                     MetricType::Gauge);
  std::set<LabelPairs> seen;  // one series per label set, even if two ids share it
  for (const auto& [identity, pids] : registry_.by_identity()) {
    LabelPairs labels = info_labels(identity);
    if (seen.insert(labels).second) info.add(1, labels);
  }
  FamilyBuilder failures("aster_exporter_identity_lookup_failures_total",
                         "Workload-identity lookups that found nothing, by source: cgroup (/proc/PID/cgroup "
                         "unreadable), environ (/proc/PID/environ unreadable), container (no runtime file or "
                         "kubelet log directory names the container).",
                         MetricType::Counter);
  failures.add(static_cast<double>(failures_.cgroup.load()), {{"source", "cgroup"}});
  failures.add(static_cast<double>(failures_.environ.load()), {{"source", "environ"}});
  failures.add(static_cast<double>(failures_.container.load()), {{"source", "container"}});
  return {info.take(), failures.take()};
}

}  // namespace aster
