// SPDX-License-Identifier: Apache-2.0
#include "metrics/web_self_metrics.h"

#include "metrics/metric_builder.h"

namespace aster {

std::vector<prometheus::MetricFamily> WebSelfMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  add_gauge(out, "aster_exporter_web_connections_open",
            "Connections to the web server counted against their client address's cap",
            static_cast<double>(s_.connections_open.load(std::memory_order_relaxed)));
  add_counter(out, "aster_exporter_web_connections_refused_total",
              "Connections closed at once because their client address already had "
              "web.max_connections_per_peer open",
              static_cast<double>(s_.refused_per_peer.get()));
  return out;
}

}  // namespace aster
