// SPDX-License-Identifier: Apache-2.0
#include "metrics/grpc_metrics.h"

#include <string_view>


namespace aster {
namespace {

const char* const kTypeNames[] = {"unary", "client_stream", "server_stream", "bidi_stream", "unknown"};
constexpr std::string_view kUnknownName = "_unknown_";
constexpr std::string_view kOtherName = "_other_";

std::string family_prefix(const MetricsOptions& o) {
  return o.grpc_names == GrpcNames::kUnprefixed ? std::string("grpc_server") : o.prefix + "_grpc_server";
}

// /package.Service/Method: both parts non-empty, nothing after.
bool split_path(const std::string& path, std::string_view* svc, std::string_view* method) {
  if (path.size() < 4 || path[0] != '/') return false;
  size_t slash = path.find('/', 1);
  if (slash == std::string::npos || slash == 1 || slash + 1 == path.size()) return false;
  if (path.find('/', slash + 1) != std::string::npos) return false;
  *svc = std::string_view(path).substr(1, slash - 1);
  *method = std::string_view(path).substr(slash + 1);
  return true;
}

}  // namespace

const std::vector<double>& GrpcMetrics::handling_buckets() {
  static const std::vector<double> b = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return b;
}

GrpcMetrics::GrpcMetrics(prometheus::Registry& registry, const MetricsOptions& options, ServiceName names)
    : options_(options),
      names_prefix_(family_prefix(options)),
      started_(prometheus::BuildCounter()
                   .Name(names_prefix_ + "_started_total")
                   .Help("Total number of RPCs started on the server (their request HEADERS read).")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name(names_prefix_ + "_handled_total")
                   .Help("Total number of RPCs completed on the server, regardless of success or failure.")
                   .Register(registry)),
      seconds_(prometheus::BuildHistogram()
                   .Name(names_prefix_ + "_handling_seconds")
                   .Help("Histogram of response latency (seconds) of gRPC that had been application-level "
                         "handled by the server: from the request's first byte to the response's last.")
                   .Register(registry)),
      received_(prometheus::BuildCounter()
                    .Name(names_prefix_ + "_msg_received_total")
                    .Help("Total number of RPC stream messages received on the server.")
                    .Register(registry)),
      sent_(prometheus::BuildCounter()
                .Name(names_prefix_ + "_msg_sent_total")
                .Help("Total number of gRPC stream messages sent by the server.")
                .Register(registry)),
      names_(std::move(names)) {}

std::vector<prometheus::Collectable*> GrpcMetrics::families() const {
  return {&started_, &handled_, &seconds_, &received_, &sent_};
}

GrpcMetrics::Service& GrpcMetrics::service(uint16_t id) {
  if (id < services_.size() && services_[id]) return *services_[id];
  auto s = std::make_unique<Service>();
  s->name = names_(id);
  s->base = {{"service", s->name}};
  if (workload_labels_) {
    for (auto& [k, v] : workload_labels_(id)) s->base.emplace(std::move(k), std::move(v));
  }
  s->unknown.grpc_service = s->unknown.grpc_method = std::string(kUnknownName);
  s->other.grpc_service = s->other.grpc_method = std::string(kOtherName);
  std::lock_guard<std::mutex> lock(services_mu_);
  if (id >= services_.size()) services_.resize(id + 1);
  services_[id] = std::move(s);
  return *services_[id];
}

GrpcMetrics::Method& GrpcMetrics::method(Service& svc, const std::string* path) {
  if (!path) return svc.unknown;
  auto it = svc.methods.find(*path);
  if (it != svc.methods.end()) return *it->second;
  std::string_view s, m;
  if (!split_path(*path, &s, &m)) return svc.other;
  if (svc.methods.size() >= options_.max_series_per_family) {
    // Past the budget: counted in the overflow series of every family.
    for (auto& o : svc.overflowed) o.store(o.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return svc.other;
  }
  auto method = std::make_unique<Method>();
  method->grpc_service.assign(s);
  method->grpc_method.assign(m);
  return *svc.methods.emplace(*path, std::move(method)).first->second;
}

prometheus::Counter& GrpcMetrics::counter(Service& svc, Method& m, FamilyIndex f, Type t, uint8_t code) {
  auto slot = [&](Method& x) -> prometheus::Counter*& {
    switch (f) {
      case kStarted: return x.started[t];
      case kReceived: return x.received[t];
      case kSent: return x.sent[t];
      default: return x.handled[t][code];
    }
  };
  prometheus::Counter*& c = slot(m);
  if (c) return *c;
  Method* target = &m;
  const bool own = &m != &svc.unknown && &m != &svc.other;
  if (own && svc.series[f] >= options_.max_series_per_family) {
    target = &svc.other;
    auto& o = svc.overflowed[f];
    o.store(o.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (prometheus::Counter* existing = slot(svc.other)) return *existing;
  }
  prometheus::Labels l = labels(svc, *target, t);
  prometheus::Family<prometheus::Counter>* family = f == kStarted ? &started_ : f == kReceived ? &received_
                                                  : f == kSent    ? &sent_
                                                                  : &handled_;
  if (f == kHandled) l.emplace("grpc_code", std::string(grpc_code_name(code)));
  prometheus::Counter* made = &family->Add(l);
  count_series(svc, f);
  slot(*target) = made;
  return *made;
}

prometheus::Histogram& GrpcMetrics::histogram(Service& svc, Method& m, Type t) {
  prometheus::Histogram*& h = m.seconds[t];
  if (h) return *h;
  Method* target = &m;
  const bool own = &m != &svc.unknown && &m != &svc.other;
  if (own && svc.series[kSeconds] >= options_.max_series_per_family) {
    target = &svc.other;
    auto& o = svc.overflowed[kSeconds];
    o.store(o.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (svc.other.seconds[t]) return *svc.other.seconds[t];
  }
  prometheus::Histogram* made = &seconds_.Add(labels(svc, *target, t), handling_buckets());
  count_series(svc, kSeconds);
  target->seconds[t] = made;
  return *made;
}

prometheus::Labels GrpcMetrics::labels(const Service& svc, const Method& m, Type t) {
  prometheus::Labels l = svc.base;
  l.emplace("grpc_service", m.grpc_service);
  l.emplace("grpc_method", m.grpc_method);
  l.emplace("grpc_type", kTypeNames[t]);
  return l;
}

void GrpcMetrics::count_series(Service& svc, FamilyIndex f) {
  ++svc.series[f];
  series_n_.fetch_add(1, std::memory_order_relaxed);
}

size_t GrpcMetrics::drop_service(uint16_t id) {
  if (id >= services_.size() || !services_[id]) return 0;
  Service& svc = *services_[id];
  size_t n = 0;
  auto drop = [&](Method& m) {
    for (size_t t = 0; t < kTypes; ++t) {
      if (m.started[t]) started_.Remove(m.started[t]), ++n;
      if (m.received[t]) received_.Remove(m.received[t]), ++n;
      if (m.sent[t]) sent_.Remove(m.sent[t]), ++n;
      if (m.seconds[t]) seconds_.Remove(m.seconds[t]), ++n;
      for (prometheus::Counter* c : m.handled[t]) {
        if (c) handled_.Remove(c), ++n;
      }
    }
  };
  for (auto& [path, m] : svc.methods) drop(*m);
  drop(svc.unknown);
  drop(svc.other);
  series_n_.fetch_sub(n, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(services_mu_);
  services_[id].reset();
  return n;
}

void GrpcMetrics::on_start(uint16_t service_id, const std::string* path) {
  Service& svc = service(service_id);
  // No message has moved yet: nothing proves the call's type.
  counter(svc, method(svc, path), kStarted, kUnknownType).Increment();
}

void GrpcMetrics::on_call(const GrpcCall& call) {
  Service& svc = service(call.service_id);
  Method& m = method(svc, call.path);
  const Type t = call.messages_received > 1 && call.messages_sent > 1 ? kBidiStream : kUnknownType;
  // A call whose content-type was not read with its request (known only
  // by its framing at the end) starts when it is known.
  if (call.request_seen && !call.start_counted) counter(svc, m, kStarted, kUnknownType).Increment();
  counter(svc, m, kHandled, t, call.code).Increment();
  if (call.request_seen) {
    uint64_t ns = call.last_byte_ns > call.first_byte_ns ? call.last_byte_ns - call.first_byte_ns : 0;
    histogram(svc, m, t).Observe(static_cast<double>(ns) / 1e9);
  }
  if (call.received_known) counter(svc, m, kReceived, t).Increment(static_cast<double>(call.messages_received));
  if (call.sent_known) counter(svc, m, kSent, t).Increment(static_cast<double>(call.messages_sent));
}

std::vector<GrpcMetrics::FamilyOverflow> GrpcMetrics::series_overflows() const {
  static const char* const kSuffix[] = {"_started_total", "_handled_total", "_handling_seconds",
                                        "_msg_received_total", "_msg_sent_total"};
  std::vector<FamilyOverflow> out;
  std::lock_guard<std::mutex> lock(services_mu_);
  for (const auto& s : services_) {
    if (!s) continue;
    std::vector<std::pair<std::string, std::string>> workload;
    for (const auto& [k, v] : s->base) {
      if (k != "service") workload.emplace_back(k, v);
    }
    for (size_t f = 0; f < kFamilies; ++f) {
      out.push_back({s->name, workload, names_prefix_ + kSuffix[f], s->overflowed[f].load(std::memory_order_relaxed)});
    }
  }
  return out;
}

}  // namespace aster
