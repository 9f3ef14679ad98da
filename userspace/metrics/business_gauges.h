// SPDX-License-Identifier: Apache-2.0
// Business gauges derived from observed traffic, as configured under
// metrics.gauges (see metrics_options.h):
//   - counting gauges: +1 for each answered exchange matching `up` (POST
//     /v1/agents 2xx), -1 for each matching `down` (DELETE /v1/agents/:id
//     2xx), never below zero;
//   - in-flight gauges: requests matching `inflight` whose head was parsed
//     and whose exchange has not left the connection yet (answered and
//     recorded, or dropped unanswered at close).
// One series per service ({service="..."}), created at 0 when the service
// is first seen. All calls come from the event-loop thread; scrapes read
// the gauges through prometheus-cpp, which is thread-safe.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/http_method.h"
#include "config/metrics_options.h"

namespace aster {

class BusinessGauges {
 public:
  using ServiceName = std::function<std::string(uint16_t)>;
  BusinessGauges(prometheus::Registry& registry, std::vector<GaugeRule> rules, ServiceName names);
  // The workload labels after `service` (HttpMetrics::ServiceLabels): a
  // gauge per workload, as the HTTP series, so that no two ids share one.
  using ServiceLabels = std::function<std::vector<std::pair<std::string, std::string>>(uint16_t)>;
  void set_workload_labels(ServiceLabels f) { workload_labels_ = std::move(f); }

  bool has_inflight() const { return has_inflight_; }
  // An answered exchange (counting gauges).
  void on_exchange(uint16_t service_id, HttpMethod method, std::string_view path, uint16_t status);
  // A request head was parsed / its exchange left the connection, recorded
  // or dropped (each start has exactly one end).
  void on_request_start(uint16_t service_id, HttpMethod method, std::string_view path);
  void on_request_end(uint16_t service_id, HttpMethod method, std::string_view path);
  // The service's workload is gone: its gauge series are removed (and made
  // again at 0 if the id is reused). Returns how many.
  size_t drop_service(uint16_t id);
  size_t series_count() const { return series_.load(std::memory_order_relaxed); }

 private:
  struct Bound {
    const GaugeRule* rule;
    prometheus::Gauge* gauge;
  };
  struct ServiceGauges {
    bool ready = false;
    std::vector<Bound> counting;
    std::vector<Bound> inflight;
  };
  ServiceGauges& service(uint16_t id);
  static int delta(const GaugeRule& r, HttpMethod method, std::string_view path, uint16_t status);
  static bool any_request_match(const std::vector<ExchangeMatch>& ms, HttpMethod m, std::string_view path);

  std::vector<GaugeRule> rules_;
  std::vector<prometheus::Family<prometheus::Gauge>*> families_;  // one per rule

 public:
  const std::vector<prometheus::Family<prometheus::Gauge>*>& families() const { return families_; }
  ServiceName names_;
  ServiceLabels workload_labels_;
  bool has_inflight_ = false;
  std::vector<ServiceGauges> services_;
  std::atomic<size_t> series_{0};
};

}  // namespace aster
