// SPDX-License-Identifier: Apache-2.0
// The gRPC server families of go-grpc-prometheus (grpc-ecosystem), from the
// gRPC calls protocols/http2/ reads: PREFIX_grpc_server_started_total,
// _handled_total, _handling_seconds, _msg_received_total and
// _msg_sent_total, or their unprefixed names (grpc_server_*) for existing
// dashboards (metrics.grpc_names). Labels: service, grpc_service,
// grpc_method, grpc_type, and grpc_code on handled_total.
//
// grpc_service and grpc_method come from the :path /package.Service/Method;
// a path that could not be read is "_unknown_" in both, a path of another
// shape or one past the per-service budget (max_series_per_family
// methods) is "_other_", and so is every new series of a family once the
// service has max_series_per_family of them: totals stay exact.
// grpc_type is not on the wire: "bidi_stream" when the call carried more
// than one message each way (nothing less proves a type: a bidi or
// streaming method may send one message, or none), else "unknown".
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/metrics_options.h"
#include "model/grpc_call.h"

namespace aster {

class GrpcMetrics {
 public:
  using ServiceName = std::function<std::string(uint16_t)>;
  GrpcMetrics(prometheus::Registry& registry, const MetricsOptions& options, ServiceName names);
  // The workload labels after `service` for an id (HttpMetrics::ServiceLabels:
  // k8s_*, service_namespace), so a gRPC series is labelled as the HTTP
  // series of its workload and no two ids share one. Before the first call.
  using ServiceLabels = std::function<std::vector<std::pair<std::string, std::string>>(uint16_t)>;
  void set_workload_labels(ServiceLabels f) { workload_labels_ = std::move(f); }

  void on_start(uint16_t service_id, const std::string* path);
  void on_call(const GrpcCall& call);

  // Removes the service's series and forgets its methods (an expired
  // service, see HttpMetrics::on_service_expired); returns how many series.
  size_t drop_service(uint16_t service_id);

  std::vector<prometheus::Collectable*> families() const;
  // Series of the five families, all services (for aster_exporter_series;
  // a histogram is one series, as in the HTTP families).
  size_t series_count() const { return series_n_.load(std::memory_order_relaxed); }
  // "aster_grpc_server" or "grpc_server", as configured.
  const std::string& name_prefix() const { return names_prefix_; }
  // Calls counted in a family's "_other_" series because the service's
  // cap was reached, per service and family (aster_exporter_series_overflow_total).
  struct FamilyOverflow {
    std::string service;
    std::vector<std::pair<std::string, std::string>> workload;  // the id's labels after service
    std::string family;
    uint64_t calls;
  };
  std::vector<FamilyOverflow> series_overflows() const;
  // Default bounds of _handling_seconds, go-grpc-prometheus's (the
  // Prometheus client's DefBuckets).
  static const std::vector<double>& handling_buckets();

 private:
  enum Type : uint8_t { kUnary, kClientStream, kServerStream, kBidiStream, kUnknownType, kTypes };
  enum FamilyIndex : uint8_t { kStarted, kHandled, kSeconds, kReceived, kSent, kFamilies };
  struct Method {
    std::string grpc_service, grpc_method;
    std::array<prometheus::Counter*, kTypes> started{}, received{}, sent{};
    std::array<prometheus::Histogram*, kTypes> seconds{};
    std::array<std::array<prometheus::Counter*, kGrpcCodes + 1>, kTypes> handled{};
  };
  struct Service {
    std::string name;
    // service and the workload's labels: the start of every series' label set.
    prometheus::Labels base;
    std::unordered_map<std::string, std::unique_ptr<Method>> methods;
    Method unknown, other;
    std::array<size_t, kFamilies> series{};
    std::array<std::atomic<uint64_t>, kFamilies> overflowed{};
  };

  Service& service(uint16_t id);
  Method& method(Service& svc, const std::string* path);
  // The series of family `f` for `m`, or the service's "_other_" one once
  // the family's cap is reached.
  prometheus::Counter& counter(Service& svc, Method& m, FamilyIndex f, Type t, uint8_t code = 0);
  prometheus::Histogram& histogram(Service& svc, Method& m, Type t);
  static prometheus::Labels labels(const Service& svc, const Method& m, Type t);
  void count_series(Service& svc, FamilyIndex f);

  MetricsOptions options_;
  std::string names_prefix_;
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& seconds_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& sent_;
  ServiceName names_;
  ServiceLabels workload_labels_;
  std::atomic<size_t> series_n_{0};
  mutable std::mutex services_mu_;
  std::vector<std::unique_ptr<Service>> services_;
};

}  // namespace aster
