// SPDX-License-Identifier: Apache-2.0
// One info series per watched workload, the target_info pattern:
// <prefix>_workload_info{service, k8s_pod_uid, container_id,
// container_runtime, systemd_unit, ...} 1, so that nothing of high
// cardinality sits on the request series (join on service and the k8s_*
// labels). And the identity lookups that failed, by source.
#pragma once

#include <prometheus/collectable.h>

#include <string>
#include <vector>

#include "identity/identity_resolver.h"
#include "targets/service_registry.h"

namespace aster {

class WorkloadMetrics : public prometheus::Collectable {
 public:
  WorkloadMetrics(const ServiceRegistry& registry, const IdentityFailures& failures, std::string prefix)
      : registry_(registry), failures_(failures), prefix_(std::move(prefix)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ServiceRegistry& registry_;
  const IdentityFailures& failures_;
  std::string prefix_;
};

}  // namespace aster
