// SPDX-License-Identifier: Apache-2.0
// How the HTTP metrics are named and labelled, how their cardinality is
// bounded, and which business gauges are derived from traffic: the
// `metrics:` section of the configuration file and the --metrics.* flags.
//
//   metrics:
//     prefix: aster                    # families: PREFIX_http_requests_total, ...
//     status_label: class              # class (2xx) or code (201)
//     grpc_names: prefixed             # PREFIX_grpc_server_*, or unprefixed: grpc_server_*
//     max_series_per_family: 1000      # per service; then path="_other_"
//     learn_threshold: 50              # distinct values before ":param"; 0: off
//     buckets:
//       request_duration_seconds: [0.001, 0.01, 0.1, 1, 10]
//       request_size_bytes: [0, 1024, 65536]
//       response_size_bytes: [0, 1024, 65536]
//     routes:                          # first match wins
//       - /healthz                     # every service
//       - template: /v1/agents/:id     # also {id} and a trailing *
//         service: agents-api          # or a list; absent: every service
//     gauges:
//       - name: aster_agents_total
//         help: Agents created minus agents deleted since the exporter started.
//         up:   {method: POST, route: /v1/agents, status: 2xx}
//         down: {method: DELETE, route: /v1/agents/:id, status: 2xx}
//       - name: aster_workflows_running
//         inflight: {method: POST, route: /v1/workflows/:id/run}
//     expiry:
//       gone_after: 10m                # series of a workload whose last process exited
//       idle_after: 0                  # series of a live workload without traffic; 0: off
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/http_method.h"
#include "model/route_templates.h"

namespace YAML {
class Node;
}

namespace aster {

enum class StatusLabel { kClass, kCode };
// The gRPC families' names: PREFIX_grpc_server_* or go-grpc-prometheus's
// own grpc_server_* (for dashboards built on them).
enum class GrpcNames { kPrefixed, kUnprefixed };

struct RouteRule {
  RouteTemplate route;
  std::vector<std::string> services;  // empty: every service
};

// One kind of exchange: method (any when unset), route, status range.
struct ExchangeMatch {
  bool any_method = true;
  HttpMethod method = HttpMethod::kOther;
  RouteTemplate route;
  uint16_t status_min = 200;  // "2xx" -> 200..299, "201" -> 201..201, "any" -> 0..999
  uint16_t status_max = 299;

  bool matches(HttpMethod m, std::string_view path, uint16_t status) const {
    return (any_method || m == method) && status >= status_min && status <= status_max && route.matches(path);
  }
  bool matches_request(HttpMethod m, std::string_view path) const {
    return (any_method || m == method) && route.matches(path);
  }
};

struct GaugeRule {
  std::string name;
  std::string help;
  std::vector<std::string> services;  // empty: every service
  // A counting gauge: +1 per exchange matching `up`, -1 per one matching
  // `down` (never below zero).
  std::vector<ExchangeMatch> up;
  std::vector<ExchangeMatch> down;
  // An in-flight gauge: requests matching one of these whose answer has not
  // been recorded yet (status is not looked at).
  std::vector<ExchangeMatch> inflight;
};

struct MetricsOptions {
  std::string prefix = "aster";
  StatusLabel status_label = StatusLabel::kClass;
  GrpcNames grpc_names = GrpcNames::kPrefixed;
  // Empty: HttpMetrics::duration_buckets() / size_buckets().
  std::vector<double> duration_buckets;
  std::vector<double> request_size_buckets;
  std::vector<double> response_size_buckets;
  // Label combinations per metric family per service; past it, new ones
  // share the family's path="_other_" series.
  uint32_t max_series_per_family = 1000;
  uint32_t learn_threshold = 50;
  std::vector<RouteRule> routes;
  std::vector<GaugeRule> gauges;
  // A workload gone this long (its last watched process exited) loses its
  // series, route learning and service id. At least kMinExpiryMs.
  uint64_t gone_after_ms = 10 * 60 * 1000;
  // A live workload without an answered request this long loses its HTTP
  // series (its route learning and business gauges stay); 0: never.
  uint64_t idle_after_ms = 0;
};

// The shortest gone_after / idle_after accepted: below a second, a server
// that restarts (exit, then a new process picked up by the next listen)
// would lose its series between the two.
inline constexpr uint64_t kMinExpiryMs = 1000;

// "10m", "90s", "1h30m", "500ms", "0" (a bare 0 only): milliseconds, or ""
// set in *error naming `key`.
uint64_t parse_duration_ms(const std::string& key, const std::string& text, std::string* error);

bool applies_to(const std::vector<std::string>& services, const std::string& service);

// Parses the `metrics` mapping into `out` (fields it does not name keep
// their values). `key_prefix` ("metrics.") starts every key in errors.
// Returns "" or an error naming the key and what it accepts.
std::string parse_metrics_options(const YAML::Node& node, const std::string& key_prefix, MetricsOptions& out);

// The --metrics.* flags: --metrics.prefix, --metrics.status-label,
// --metrics.max-series-per-family, --metrics.learn-threshold,
// --metrics.expiry.gone-after, --metrics.expiry.idle-after.
bool is_metrics_flag(const std::string& name);
// Returns "" or an error naming the flag.
std::string apply_metrics_flag(const std::string& name, const std::string& value, MetricsOptions& out);
// Lines for --help, in usage_text()'s layout.
std::string metrics_flags_usage();

}  // namespace aster
