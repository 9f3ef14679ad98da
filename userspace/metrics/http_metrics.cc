// SPDX-License-Identifier: Apache-2.0
#include "metrics/http_metrics.h"

#include <algorithm>

namespace aster {
namespace {

constexpr uint8_t kUnknownMethod = static_cast<uint8_t>(HttpMethod::kCount);
const std::string kUnknownPath = "_unknown_";
const char* const kClassLabels[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

uint8_t status_class(uint16_t status) {
  return status >= 100 && status < 600 ? static_cast<uint8_t>(status / 100) : 0;
}

void bump(std::atomic<uint64_t>& a) {
  // One writer (the event-loop thread): no read-modify-write needed.
  a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

const std::vector<double>& or_default(const std::vector<double>& v, const std::vector<double>& d) {
  return v.empty() ? d : v;
}

}  // namespace

std::string_view status_class_label(uint16_t status) { return kClassLabels[status_class(status)]; }

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

namespace {
MetricsOptions with_cap(uint32_t cap) {
  MetricsOptions o;
  o.max_series_per_family = cap;
  return o;
}
}  // namespace

std::vector<prometheus::Collectable*> HttpMetrics::families() const {
  std::vector<prometheus::Collectable*> out = {&requests_, &duration_, &request_size_, &response_size_};
  for (auto* f : grpc_.families()) out.push_back(f);
  if (gauges_) {
    for (auto* f : gauges_->families()) out.push_back(f);
  }
  return out;
}

HttpMetrics::HttpMetrics(prometheus::Registry& registry, uint32_t max_series_per_family, ServiceName names)
    : HttpMetrics(registry, with_cap(max_series_per_family), std::move(names)) {}

HttpMetrics::HttpMetrics(prometheus::Registry& registry, const MetricsOptions& options, ServiceName names)
    : options_(options),
      requests_(options.prefix + "_http_requests_total",
                "HTTP requests answered by the watched service, by method, path and status."),
      duration_(options.prefix + "_http_request_duration_seconds",
                "From the server's read of the request's first bytes to the return of its write "
                "of the response's last byte.",
                or_default(options.duration_buckets, duration_buckets())),
      request_size_(options.prefix + "_http_request_size_bytes",
                    "HTTP request body bytes (after chunked decoding).",
                    or_default(options.request_size_buckets, size_buckets())),
      response_size_(options.prefix + "_http_response_size_bytes",
                     "HTTP response body bytes (after chunked decoding).",
                     or_default(options.response_size_buckets, size_buckets())),
      names_(std::move(names)),
      grpc_(registry, options, names_) {
  if (!options_.gauges.empty()) {
    gauges_ = std::make_unique<BusinessGauges>(registry, options_.gauges, names_);
  }
}

bool HttpMetrics::wants_request_events() const { return gauges_ && gauges_->has_inflight(); }

void HttpMetrics::on_request_start(uint16_t service_id, HttpMethod method, std::string_view path) {
  if (gauges_ && service(service_id)) gauges_->on_request_start(service_id, method, path);
}

void HttpMetrics::on_request_end(uint16_t service_id, HttpMethod method, std::string_view path) {
  if (gauges_ && service(service_id)) gauges_->on_request_end(service_id, method, path);
}

HttpMetrics::ServiceState* HttpMetrics::service(uint16_t id) {
  if (id < services_.size() && services_[id]) return services_[id].get();
  return create_service(id);
}

HttpMetrics::ServiceState* HttpMetrics::create_service(uint16_t id) {
  if (live_ && !live_(id)) {
    bump(stale_);
    return nullptr;
  }
  auto s = std::make_unique<ServiceState>();
  s->name = names_(id);
  s->base = {{"service", s->name}};
  if (workload_labels_) {
    for (auto& [k, v] : workload_labels_(id)) s->base.emplace(std::move(k), std::move(v));
  }
  for (const auto& r : options_.routes) {
    if (applies_to(r.services, s->name)) s->templates.add(r.route);
  }
  RouteLearner::Limits limits;
  limits.learn_threshold = options_.learn_threshold;
  limits.max_labels = options_.max_series_per_family;
  limits.max_nodes = RouteLearner::default_max_nodes(options_.max_series_per_family);
  s->learner = std::make_unique<RouteLearner>(limits);
  std::lock_guard<std::mutex> lock(services_mu_);
  if (id >= services_.size()) services_.resize(id + 1);
  services_[id] = std::move(s);
  return services_[id].get();
}

size_t HttpMetrics::remove_series(ServiceState& svc) {
  // The tables hold raw pointers into the families; each is erased before
  // remove() frees what it points to. All on the event-loop thread,
  // the only one that uses them; scrapes see a family with or without a
  // series, never a freed one (the family's own lock).
  size_t n = 0;
  auto drop_histograms = [&](Histograms& h) {
    if (!h.duration) return;
    duration_.remove(h.duration);
    request_size_.remove(h.request_size);
    response_size_.remove(h.response_size);
    h = Histograms{};
    n += 3;
  };
  for (auto& [key, c] : svc.counters) {
    requests_.remove(c);
    ++n;
  }
  svc.counters.clear();
  for (auto& per_method : svc.counter_overflow) {
    for (CounterSeries*& c : per_method) {
      if (!c) continue;
      requests_.remove(c);
      c = nullptr;
      ++n;
    }
  }
  for (auto& [key, h] : svc.histograms) drop_histograms(h);
  svc.histograms.clear();
  for (Histograms& h : svc.histogram_overflow) drop_histograms(h);
  series_n_.fetch_sub(svc.counter_series, std::memory_order_relaxed);
  histogram_series_n_.fetch_sub(svc.histogram_series, std::memory_order_relaxed);
  svc.counter_series = 0;
  svc.histogram_series = 0;
  return n;
}

void HttpMetrics::on_service_expired(uint16_t id, ExpiryReason reason) {
  size_t n = 0;
  if (id < services_.size() && services_[id]) {
    n += remove_series(*services_[id]);
    if (reason == ExpiryReason::kGone) {
      // Route learning and templates go with the service: a reused id
      // starts from nothing.
      std::lock_guard<std::mutex> lock(services_mu_);
      services_[id].reset();
    }
  }
  if (reason == ExpiryReason::kGone && gauges_) n += gauges_->drop_service(id);
  n += grpc_.drop_service(id);
  expired_[static_cast<int>(reason)].fetch_add(n, std::memory_order_relaxed);
}

void HttpMetrics::on_grpc_start(uint16_t service_id, const std::string* path) {
  if (service(service_id)) grpc_.on_start(service_id, path);
}

void HttpMetrics::on_grpc_call(const GrpcCall& call) {
  if (service(call.service_id)) grpc_.on_call(call);
}

std::vector<uint16_t> HttpMetrics::idle_services(uint64_t now_ns, uint64_t idle_ns) const {
  std::vector<uint16_t> out;
  for (size_t id = 0; id < services_.size(); ++id) {
    const ServiceState* s = services_[id].get();
    if (!s || s->counter_series + s->histogram_series == 0) continue;
    if (now_ns >= s->last_exchange_ns && now_ns - s->last_exchange_ns >= idle_ns) out.push_back(static_cast<uint16_t>(id));
  }
  return out;
}

size_t HttpMetrics::all_series_count() const {
  size_t n = series_n_.load(std::memory_order_relaxed) + 3 * histogram_series_n_.load(std::memory_order_relaxed);
  if (gauges_) n += gauges_->series_count();
  return n + grpc_.series_count();
}

std::string HttpMetrics::method_label(uint8_t method) const {
  return method == kUnknownMethod ? std::string("UNKNOWN") : std::string(method_name(static_cast<HttpMethod>(method)));
}

const std::string* HttpMetrics::path_label(ServiceState& svc, const std::string& raw) {
  RouteCache& cache = svc.route_cache;
  RouteCache::Slot& slot = cache.slots[std::hash<std::string_view>()(raw) % RouteCache::kSlots];
  if (slot.label && slot.raw == raw) return slot.label;
  const std::string* l = svc.templates.match(raw);
  if (!l) {
    uint64_t collapses = svc.learner->collapses();
    l = svc.learner->label(raw);
    if (svc.learner->collapses() != collapses) {
      bump(collapses_);
      // Paths already seen may take the collapsed label from now on.
      for (RouteCache::Slot& s : cache.slots) s.label = nullptr;
    }
    if (!l) {
      bump(path_overflows_);
      return nullptr;
    }
  }
  slot.raw.assign(raw);
  slot.label = l;
  return l;
}

CounterSeries& HttpMetrics::counter_for(ServiceState& svc, uint8_t method, const std::string* path,
                                              uint16_t status) {
  uint8_t cls = status_class(status);
  if (path) {
    uint16_t key_status = cls;
    if (options_.status_label == StatusLabel::kCode) key_status = cls ? status : 0;
    CounterKey key{path, key_status, method};
    auto it = svc.counters.find(key);
    if (it != svc.counters.end()) return *it->second;
    if (svc.counters.size() < options_.max_series_per_family) {
      std::string status_value = cls && options_.status_label == StatusLabel::kCode ? std::to_string(status)
                                                                                    : std::string(kClassLabels[cls]);
      CounterSeries* c = &requests_.add(
          with_base(svc, {{"method", method_label(method)}, {"path", *path}, {"status", status_value}}));
      svc.counters.emplace(key, c);
      ++svc.counter_series;
      series_n_.fetch_add(1, std::memory_order_relaxed);
      return *c;
    }
  }
  // The overflow series keep the status class even when the label is the
  // exact code, so they stay few; status=~"5.." still matches "5xx".
  bump(svc.counter_overflowed);
  CounterSeries*& c = svc.counter_overflow[method][cls];
  if (!c) {
    c = &requests_.add(with_base(svc, {{"method", method_label(method)},
                                       {"path", std::string(kOverflowPath)},
                                       {"status", kClassLabels[cls]}}));
    ++svc.counter_series;
    series_n_.fetch_add(1, std::memory_order_relaxed);
  }
  return *c;
}

HttpMetrics::Histograms& HttpMetrics::histograms_for(ServiceState& svc, uint8_t method, const std::string* path) {
  if (path) {
    HistKey key{path, method};
    auto it = svc.histograms.find(key);
    if (it != svc.histograms.end()) return it->second;
    if (svc.histograms.size() < options_.max_series_per_family) {
      prometheus::Labels l = with_base(svc, {{"method", method_label(method)}, {"path", *path}});
      Histograms h{&duration_.add(l), &request_size_.add(l), &response_size_.add(l)};
      ++svc.histogram_series;
      histogram_series_n_.fetch_add(1, std::memory_order_relaxed);
      return svc.histograms.emplace(key, h).first->second;
    }
  }
  bump(svc.histogram_overflowed);
  Histograms& h = svc.histogram_overflow[method];
  if (!h.duration) {
    prometheus::Labels l = with_base(svc, {{"method", method_label(method)}, {"path", std::string(kOverflowPath)}});
    h = Histograms{&duration_.add(l), &request_size_.add(l), &response_size_.add(l)};
    ++svc.histogram_series;
    histogram_series_n_.fetch_add(1, std::memory_order_relaxed);
  }
  return h;
}

void HttpMetrics::on_exchange(const Exchange& x) {
  ServiceState* found = service(x.service_id);
  if (!found) return;  // a record from before its service expired (counted)
  ServiceState& svc = *found;
  svc.last_exchange_ns = std::max({svc.last_exchange_ns, x.first_byte_ns, x.last_byte_ns});
  if (!x.request_seen || !x.path) {
    counter_for(svc, kUnknownMethod, &kUnknownPath, x.status).increment();
    return;
  }
  uint8_t method = static_cast<uint8_t>(x.method);
  const std::string* path = path_label(svc, *x.path);
  counter_for(svc, method, path, x.status).increment();
  Histograms& h = histograms_for(svc, method, path);
  uint64_t duration_ns = x.last_byte_ns > x.first_byte_ns ? x.last_byte_ns - x.first_byte_ns : 0;
  h.duration->observe(static_cast<double>(duration_ns) / 1e9);
  if (x.request_body_known) h.request_size->observe(static_cast<double>(x.request_body_bytes));
  if (x.response_body_known) h.response_size->observe(static_cast<double>(x.response_body_bytes));
  if (gauges_) gauges_->on_exchange(x.service_id, x.method, *x.path, x.status);
}

void HttpMetrics::set_workload_labels(ServiceLabels f) {
  if (gauges_) gauges_->set_workload_labels(f);
  grpc_.set_workload_labels(f);
  workload_labels_ = std::move(f);
}

std::vector<std::pair<std::string, std::string>> HttpMetrics::workload_of(const ServiceState& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : s.base) {
    if (k != "service") out.emplace_back(k, v);
  }
  return out;
}

prometheus::Labels HttpMetrics::with_base(const ServiceState& svc, prometheus::Labels own) {
  own.insert(svc.base.begin(), svc.base.end());
  return own;
}

std::vector<HttpMetrics::FamilyOverflow> HttpMetrics::series_overflows() const {
  std::vector<FamilyOverflow> out;
  {
  std::lock_guard<std::mutex> lock(services_mu_);
  for (const auto& s : services_) {
    if (!s) continue;
    uint64_t c = s->counter_overflowed.load(std::memory_order_relaxed);
    uint64_t h = s->histogram_overflowed.load(std::memory_order_relaxed);
    out.push_back({s->name, workload_of(*s), options_.prefix + "_http_requests_total", c});
    out.push_back({s->name, workload_of(*s), options_.prefix + "_http_request_duration_seconds", h});
    out.push_back({s->name, workload_of(*s), options_.prefix + "_http_request_size_bytes", h});
    out.push_back({s->name, workload_of(*s), options_.prefix + "_http_response_size_bytes", h});
  }
  }
  for (auto& g : grpc_.series_overflows()) out.push_back({g.service, std::move(g.workload), g.family, g.calls});
  return out;
}

}  // namespace aster
