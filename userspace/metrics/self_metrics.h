// SPDX-License-Identifier: Apache-2.0
// aster_exporter_*: how the exporter itself is doing, built at scrape time
// from the probes' per-CPU counters, the kernel's bpf_stats and what is
// watched (the pipeline's own counters are in pipeline_self_metrics.h).
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "capture/probe_loader.h"
#include "targets/service_registry.h"

namespace aster {

class SelfMetrics : public prometheus::Collectable {
 public:
  SelfMetrics(const ProbeSet& probes, const ServiceRegistry& registry, const Config& cfg)
      : probes_(probes), registry_(registry), cfg_(cfg) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ProbeSet& probes_;
  const ServiceRegistry& registry_;
  const Config& cfg_;
};

}  // namespace aster
