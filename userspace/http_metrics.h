// SPDX-License-Identifier: Apache-2.0
// The four aster_http_* families of the product's metrics spec. Families are
// created once; each (service, method, path, status class) series is looked
// up by name only the first time it is seen, after which the hot path holds
// plain pointers found through a small integer-keyed table.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http_parser.h"
#include "path_normalizer.h"

namespace aster {

// One answered request, as the connection pairs it.
struct CompletedExchange {
  uint16_t service_id = 0;
  HttpMethod method = HttpMethod::kOther;
  bool method_unknown = false;  // the request head was not captured
  const std::string* raw_path = nullptr;
  uint16_t status = 0;
  uint64_t duration_ns = 0;
  uint64_t request_body_bytes = 0;
  uint64_t response_body_bytes = 0;
};

class HttpMetrics {
 public:
  using ServiceName = std::function<std::string(uint16_t)>;
  HttpMetrics(prometheus::Registry& registry, uint32_t max_paths_per_service, ServiceName names);

  void record(const CompletedExchange& x);
  // A response whose request was not seen (read before the exporter
  // attached, or its head not captured): counted in requests_total only,
  // as method "UNKNOWN", path "_unknown_", so totals stay exact while
  // durations and sizes are not invented.
  void record_unpaired(uint16_t service_id, uint16_t status);

  // For the self-metrics: how many path values went to "_other_".
  // Both safe to call from scrape threads.
  uint64_t path_overflows() const { return path_overflows_.load(std::memory_order_relaxed); }
  size_t series_count() const { return series_n_.load(std::memory_order_relaxed); }

  static const std::vector<double>& duration_buckets();
  static const std::vector<double>& size_buckets();

 private:
  struct SeriesKey {
    uint16_t service;
    uint8_t method;  // HttpMethod, or kUnknownMethod
    uint8_t status_class;
    const std::string* path;  // interned in the service's PathBudget
    bool operator==(const SeriesKey& o) const {
      return service == o.service && method == o.method && status_class == o.status_class &&
             path == o.path;
    }
  };
  struct SeriesKeyHash {
    size_t operator()(const SeriesKey& k) const {
      return std::hash<const void*>()(k.path) ^ (size_t(k.service) << 16) ^ (size_t(k.method) << 8) ^
             k.status_class;
    }
  };
  struct Series {
    prometheus::Counter* requests;
    prometheus::Histogram* duration;
    prometheus::Histogram* request_size;
    prometheus::Histogram* response_size;
  };
  struct ServiceState {
    std::unique_ptr<PathBudget> paths;
    std::string name;
  };

  Series& series_for(const SeriesKey& key);
  ServiceState& service(uint16_t id);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& request_size_;
  prometheus::Family<prometheus::Histogram>& response_size_;
  uint32_t max_paths_;
  ServiceName names_;
  std::vector<ServiceState> services_;
  std::unordered_map<SeriesKey, Series, SeriesKeyHash> series_;
  std::string scratch_path_;  // reused: collapsing a path allocates nothing in steady state
  std::atomic<uint64_t> path_overflows_{0};
  std::atomic<size_t> series_n_{0};
};

std::string_view status_class_label(uint16_t status);

}  // namespace aster
