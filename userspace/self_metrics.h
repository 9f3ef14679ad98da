// SPDX-License-Identifier: Apache-2.0
// aster_exporter_*: how the exporter itself is doing, built at scrape time
// from the pipeline's counters, the probes' per-CPU counters and the
// kernel's bpf_stats.
#pragma once

#include <prometheus/collectable.h>

#include <functional>
#include <string>
#include <vector>

#include "http_metrics.h"
#include "pipeline_stats.h"
#include "probe_loader.h"
#include "service_registry.h"

namespace aster {

class SelfMetrics : public prometheus::Collectable {
 public:
  SelfMetrics(const PipelineStats& stats, const ProbeSet& probes, const ServiceRegistry& registry,
              const Config& cfg)
      : stats_(stats), probes_(probes), registry_(registry), cfg_(cfg) {}
  // The series count lives on the event-loop thread; read it through this.
  std::function<size_t()> series_count;
  std::function<uint64_t()> path_overflows;
  std::function<std::vector<HttpMetrics::FamilyOverflow>()> series_overflows;
  std::function<uint64_t()> learned_collapses;
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const PipelineStats& stats_;
  const ProbeSet& probes_;
  const ServiceRegistry& registry_;
  const Config& cfg_;
};

}  // namespace aster
