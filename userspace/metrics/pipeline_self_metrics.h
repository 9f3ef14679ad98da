// SPDX-License-Identifier: Apache-2.0
// aster_exporter_* that the userspace pipeline produces by itself: records
// read, gaps, parse troubles, connections, pairing outcomes, cardinality.
// They depend only on what the pipeline consumed, so a replayed capture
// gives them exactly as the live run did (self_metrics.h has the rest:
// the probes' counters, the kernel's bpf_stats, what is watched).
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "metrics/http_metrics.h"
#include "model/pipeline_stats.h"

namespace aster {

class PipelineSelfMetrics : public prometheus::Collectable {
 public:
  PipelineSelfMetrics(const PipelineStats& stats, const HttpMetrics& http) : stats_(stats), http_(http) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const PipelineStats& stats_;
  const HttpMetrics& http_;
};

}  // namespace aster
