// SPDX-License-Identifier: Apache-2.0
// process_* metrics read from /proc at scrape time: the exporter's own (no
// service label, as every Prometheus client library exports them) and, per
// watched workload, summed over its processes (with its service label and
// the workload's k8s_* labels: two pods of one Deployment are two series).
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "targets/service_registry.h"

namespace aster {

class ProcessMetrics : public prometheus::Collectable {
 public:
  // The series labels are the registry's (its pod_name_label).
  explicit ProcessMetrics(const ServiceRegistry& registry) : registry_(registry) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ServiceRegistry& registry_;
};

}  // namespace aster
