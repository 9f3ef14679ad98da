// SPDX-License-Identifier: Apache-2.0
// process_* metrics read from /proc at scrape time: the exporter's own (no
// service label, as every Prometheus client library exports them) and, per
// watched service, summed over its processes (with a service label).
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "targets/service_registry.h"

namespace aster {

class ProcessMetrics : public prometheus::Collectable {
 public:
  explicit ProcessMetrics(const ServiceRegistry& registry) : registry_(registry) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ServiceRegistry& registry_;
};

}  // namespace aster
