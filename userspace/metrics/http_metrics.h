// SPDX-License-Identifier: Apache-2.0
// The four PREFIX_http_* families of the product's metrics spec (PREFIX is
// "aster" unless configured). Families are created once; each series is
// created the first time its labels are seen, after which the hot path
// finds it through small pointer-keyed tables (no label maps are hashed).
//
// The path label, for a request of one service: the first configured route
// template that matches (route_templates.h), else the identifier heuristic
// and learning (route_learner.h). Cardinality is bounded per service and
// per family: past `max_series_per_family` label combinations, new ones go
// to the family's overflow series, path="_other_" with the request's method
// and status class, so totals stay exact and error ratios stay meaningful.
// Overflow series per family per service are at most 11 methods x 6 status
// classes (counter) or 11 (histograms), whatever the traffic.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "metrics/business_gauges.h"
#include "metrics/grpc_metrics.h"
#include "model/exchange.h"
#include "config/metrics_options.h"
#include "metrics/path_normalizer.h"
#include "metrics/route_learner.h"
#include "metrics/series_family.h"
#include "model/route_templates.h"

namespace aster {

class HttpMetrics : public ExchangeSink {
 public:
  using ServiceName = std::function<std::string(uint16_t)>;
  // The workload labels after `service` for an id (identity/: k8s_*,
  // service_namespace); none unless set. Read once, when the id is first seen.
  using ServiceLabels = std::function<std::vector<std::pair<std::string, std::string>>(uint16_t)>;
  HttpMetrics(prometheus::Registry& registry, const MetricsOptions& options, ServiceName names);
  // Defaults for everything but the series cap.
  HttpMetrics(prometheus::Registry& registry, uint32_t max_series_per_family, ServiceName names);

  // Each exchange a protocol finished: its request counted by method,
  // route and status, its duration and body sizes observed. An answer
  // whose request was not seen counts in requests_total only, as method
  // "UNKNOWN", path "_unknown_", so totals stay exact while durations and
  // sizes are not invented.
  void on_exchange(const Exchange& x) override;
  // Request starts and ends reach the in-flight gauges, when one is
  // configured (otherwise the protocols do not call).
  bool wants_request_events() const override;
  void on_request_start(uint16_t service_id, HttpMethod method, std::string_view path) override;
  void on_request_end(uint16_t service_id, HttpMethod method, std::string_view path) override;
  // Removes the service's series from the families (and, for kGone, its
  // route learning and gauges): every cached pointer to them goes first.
  void on_service_expired(uint16_t service_id, ExpiryReason reason) override;

  // Whether an id may be recorded under (the service table's is_live): a
  // record staged under an id that has since expired is dropped and
  // counted, not recorded under a service that may get the id next. Unset
  // (replay): every id may.
  void set_live_filter(std::function<bool(uint16_t)> live) { live_ = std::move(live); }
  // Services with series whose last answered request is `idle_ns` or more
  // before `now_ns` (CLOCK_MONOTONIC, the probes' clock).
  std::vector<uint16_t> idle_services(uint64_t now_ns, uint64_t idle_ns) const;
  // gRPC calls go to the PREFIX_grpc_server_* families (grpc_metrics.h).
  // (Only for a live service: the same filter as exchanges.)
  void on_grpc_start(uint16_t service_id, const std::string* path) override;
  void on_grpc_call(const GrpcCall& call) override;

  // For the self-metrics; all safe to call from scrape threads.
  // Requests whose path got no label of its own (label or learning budget
  // spent), so went to path="_other_".
  uint64_t path_overflows() const { return path_overflows_.load(std::memory_order_relaxed); }
  // Series of PREFIX_http_requests_total, all services (the largest family).
  size_t series_count() const { return series_n_.load(std::memory_order_relaxed); }
  // Series of every per-service family (the four HTTP families, the five
  // gRPC ones and the business gauges), all services: aster_exporter_series.
  size_t all_series_count() const;
  // Series removed by expiry, by reason (aster_exporter_series_expired_total).
  uint64_t series_expired(ExpiryReason r) const { return expired_[static_cast<int>(r)].load(std::memory_order_relaxed); }
  // Exchanges and request events dropped because their service id was not
  // live (staged before the service expired).
  uint64_t stale_dropped() const { return stale_.load(std::memory_order_relaxed); }
  // Path positions collapsed to ":param" by learning, all services.
  uint64_t learned_collapses() const { return collapses_.load(std::memory_order_relaxed); }
  // Requests recorded in an overflow series, per service and family (the
  // family's full name, e.g. aster_http_requests_total): for
  // aster_exporter_series_overflow_total{service,family}.
  struct FamilyOverflow {
    std::string service;
    std::vector<std::pair<std::string, std::string>> workload;  // the id's labels after service
    std::string family;
    uint64_t requests;
  };
  std::vector<FamilyOverflow> series_overflows() const;
  // Before the first exchange (main wires the identity labels in).
  void set_workload_labels(ServiceLabels f);

  // Every family this object registered, in exposition order: the web
  // server collects and writes them one at a time, so a scrape holds one
  // family's samples in memory, not the whole registry's.
  std::vector<prometheus::Collectable*> families() const;

  static const std::vector<double>& duration_buckets();
  static const std::vector<double>& size_buckets();

 private:
  static constexpr size_t kMethods = static_cast<size_t>(HttpMethod::kCount) + 1;  // + UNKNOWN
  static constexpr size_t kClasses = 6;                                            // other, 1xx..5xx

  struct CounterKey {
    const std::string* path;
    uint16_t status;  // class (0..5) or code (0, 100..599), as the status label is configured
    uint8_t method;
    bool operator==(const CounterKey& o) const { return path == o.path && status == o.status && method == o.method; }
  };
  struct HistKey {
    const std::string* path;
    uint8_t method;
    bool operator==(const HistKey& o) const { return path == o.path && method == o.method; }
  };
  struct KeyHash {
    size_t operator()(const CounterKey& k) const {
      return std::hash<const void*>()(k.path) ^ (size_t(k.status) << 20) ^ (size_t(k.method) << 12);
    }
    size_t operator()(const HistKey& k) const { return std::hash<const void*>()(k.path) ^ (size_t(k.method) << 12); }
  };
  struct Histograms {
    HistogramSeries* duration = nullptr;
    HistogramSeries* request_size = nullptr;
    HistogramSeries* response_size = nullptr;
  };
  // The labels of the raw paths seen last, by a hash of the path: the
  // learner's walk of the path's segments (≈ 500 instructions) is paid
  // once per path shape, not per request. Cleared when learning collapses
  // a position (labels of seen paths change then); refused paths (null)
  // are not kept, so their overflow is counted every time.
  struct RouteCache {
    static constexpr size_t kSlots = 64;
    struct Slot {
      std::string raw;
      const std::string* label = nullptr;
    };
    std::array<Slot, kSlots> slots;
  };
  struct ServiceState {
    std::string name;
    RouteCache route_cache;
    // service and the workload's labels: the start of every series' label set.
    prometheus::Labels base;
    RouteTemplater templates;
    std::unique_ptr<RouteLearner> learner;
    std::unordered_map<CounterKey, CounterSeries*, KeyHash> counters;
    std::unordered_map<HistKey, Histograms, KeyHash> histograms;
    std::array<std::array<CounterSeries*, kClasses>, kMethods> counter_overflow{};
    std::array<Histograms, kMethods> histogram_overflow{};
    std::atomic<uint64_t> counter_overflowed{0};
    std::atomic<uint64_t> histogram_overflowed{0};
    size_t counter_series = 0;    // in requests_
    size_t histogram_series = 0;  // in each of the three histogram families
    uint64_t last_exchange_ns = 0;
  };

  // Null when the id is not live (see set_live_filter).
  ServiceState* service(uint16_t id);
  ServiceState* create_service(uint16_t id);
  // Removes the service's HTTP series; returns how many.
  size_t remove_series(ServiceState& svc);
  const std::string* path_label(ServiceState& svc, const std::string& raw);
  CounterSeries& counter_for(ServiceState& svc, uint8_t method, const std::string* path, uint16_t status);
  Histograms& histograms_for(ServiceState& svc, uint8_t method, const std::string* path);
  std::string method_label(uint8_t method) const;
  static prometheus::Labels with_base(const ServiceState& svc, prometheus::Labels own);
  static std::vector<std::pair<std::string, std::string>> workload_of(const ServiceState& svc);

  MetricsOptions options_;
  // Our own families (series_family.h), not the registry's: HttpMetrics
  // collects them through families().
  mutable CounterFamily requests_;
  mutable HistogramFamily duration_;
  mutable HistogramFamily request_size_;
  mutable HistogramFamily response_size_;
  ServiceName names_;
  ServiceLabels workload_labels_;
  std::unique_ptr<BusinessGauges> gauges_;  // null: none configured
  GrpcMetrics grpc_;
  // Written by the event-loop thread only; the mutex orders growth of the
  // table against scrape threads reading it (series_overflows).
  mutable std::mutex services_mu_;
  std::vector<std::unique_ptr<ServiceState>> services_;
  std::function<bool(uint16_t)> live_;
  std::atomic<uint64_t> path_overflows_{0};
  std::atomic<size_t> series_n_{0};
  std::atomic<size_t> histogram_series_n_{0};  // per histogram family
  std::atomic<uint64_t> expired_[2] = {};
  std::atomic<uint64_t> stale_{0};
  std::atomic<uint64_t> collapses_{0};
};

std::string_view status_class_label(uint16_t status);

}  // namespace aster
