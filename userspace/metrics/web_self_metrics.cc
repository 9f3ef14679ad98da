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
  using prometheus::MetricType;
  out.push_back(FamilyBuilder("aster_exporter_web_auth_failures_total",
                              "Requests refused by basic auth, by answer: 401 (no, unknown or wrong credentials) "
                              "or 429 (the client address spent its budget of failed checks)",
                              MetricType::Counter)
                    .add(static_cast<double>(s_.auth_failures.get()), {{"answer", "401"}})
                    .add(static_cast<double>(s_.auth_rate_limited.get()), {{"answer", "429"}})
                    .take());
  add_counter(out, "aster_exporter_web_tls_handshakes_refused_total",
              "TLS handshakes the server ended with a fatal alert (no or unverified client certificate where "
              "one is required, a protocol version outside min_version..max_version)",
              static_cast<double>(s_.tls_handshakes_refused.get()));
  out.push_back(FamilyBuilder("aster_exporter_web_config_reloads_total",
                              "Rereads of --web.config.file after it or a file it names changed, by result (a "
                              "failed one keeps the configuration in use)",
                              MetricType::Counter)
                    .add(static_cast<double>(s_.config_reloads_ok.get()), {{"result", "success"}})
                    .add(static_cast<double>(s_.config_reloads_failed.get()), {{"result", "failure"}})
                    .take());
  add_gauge(out, "aster_exporter_web_config_last_reload_successful",
            "0 while the last change to --web.config.file could not be loaded (the previous one is in use), else 1",
            static_cast<double>(s_.config_last_reload_ok.load(std::memory_order_relaxed)));
  return out;
}

}  // namespace aster
