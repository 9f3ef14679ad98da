// SPDX-License-Identifier: Apache-2.0
#include "http_metrics.h"

namespace aster {
namespace {

constexpr uint8_t kUnknownMethod = static_cast<uint8_t>(HttpMethod::kCount);
const std::string kUnknownPath = "_unknown_";

uint8_t status_class(uint16_t status) {
  return status >= 100 && status < 600 ? static_cast<uint8_t>(status / 100) : 0;
}

}  // namespace

std::string_view status_class_label(uint16_t status) {
  static const char* labels[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  return labels[status_class(status)];
}

const std::vector<double>& HttpMetrics::duration_buckets() {
  // Sub-millisecond to tens of seconds: tiny handlers and slow uploads both
  // land inside the range, so quantiles are not clipped at either end.
  static const std::vector<double> b = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10,
                                        30};
  return b;
}

const std::vector<double>& HttpMetrics::size_buckets() {
  // Body bytes, powers of four from 64 B to 64 MiB; 0 has its own bucket
  // because most GETs carry no request body.
  static const std::vector<double> b = {0,      64,      256,      1024,     4096,     16384,
                                        65536, 262144, 1048576, 4194304, 16777216, 67108864};
  return b;
}

HttpMetrics::HttpMetrics(prometheus::Registry& registry, uint32_t max_paths_per_service,
                         ServiceName names)
    : requests_(prometheus::BuildCounter()
                    .Name("aster_http_requests_total")
                    .Help("HTTP requests answered by the watched service, by method, path and status class.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("aster_http_request_duration_seconds")
                    .Help("From the server's read of the request's first bytes to the return of its write "
                          "of the response's last byte.")
                    .Register(registry)),
      request_size_(prometheus::BuildHistogram()
                        .Name("aster_http_request_size_bytes")
                        .Help("HTTP request body bytes (after chunked decoding).")
                        .Register(registry)),
      response_size_(prometheus::BuildHistogram()
                         .Name("aster_http_response_size_bytes")
                         .Help("HTTP response body bytes (after chunked decoding).")
                         .Register(registry)),
      max_paths_(max_paths_per_service),
      names_(std::move(names)) {}

HttpMetrics::ServiceState& HttpMetrics::service(uint16_t id) {
  if (id >= services_.size()) services_.resize(id + 1);
  ServiceState& s = services_[id];
  if (!s.paths) {
    s.paths = std::make_unique<PathBudget>(max_paths_);
    s.name = names_(id);
  }
  return s;
}

HttpMetrics::Series& HttpMetrics::series_for(const SeriesKey& key) {
  auto it = series_.find(key);
  if (it != series_.end()) return it->second;
  const std::string& svc = services_[key.service].name;
  std::string method = key.method == kUnknownMethod
                           ? std::string("UNKNOWN")
                           : std::string(method_name(static_cast<HttpMethod>(key.method)));
  static const char* classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  Series s;
  s.requests = &requests_.Add(
      {{"service", svc}, {"method", method}, {"path", *key.path}, {"status", classes[key.status_class]}});
  prometheus::Labels hl{{"service", svc}, {"method", method}, {"path", *key.path}};
  s.duration = &duration_.Add(hl, duration_buckets());
  s.request_size = &request_size_.Add(hl, size_buckets());
  s.response_size = &response_size_.Add(hl, size_buckets());
  auto& added = series_.emplace(key, s).first->second;
  series_n_.store(series_.size(), std::memory_order_relaxed);
  return added;
}

void HttpMetrics::record(const CompletedExchange& x) {
  ServiceState& svc = service(x.service_id);
  const std::string* path = &kUnknownPath;
  if (!x.method_unknown && x.raw_path) {
    collapse_identifiers_into(*x.raw_path, scratch_path_);
    uint64_t before = svc.paths->overflowed();
    path = svc.paths->admit(scratch_path_);
    if (svc.paths->overflowed() != before) {
      path_overflows_.store(path_overflows_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }
  SeriesKey key{x.service_id,
                x.method_unknown ? kUnknownMethod : static_cast<uint8_t>(x.method),
                status_class(x.status), path};
  Series& s = series_for(key);
  s.requests->Increment();
  s.duration->Observe(static_cast<double>(x.duration_ns) / 1e9);
  s.request_size->Observe(static_cast<double>(x.request_body_bytes));
  s.response_size->Observe(static_cast<double>(x.response_body_bytes));
}

void HttpMetrics::record_unpaired(uint16_t service_id, uint16_t status) {
  service(service_id);
  SeriesKey key{service_id, kUnknownMethod, status_class(status), &kUnknownPath};
  series_for(key).requests->Increment();
}

}  // namespace aster
