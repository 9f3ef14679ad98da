// SPDX-License-Identifier: Apache-2.0
// What a protocol hands to the metrics: finished exchanges, and the start
// and end of each request for the in-flight gauges. Protocols produce
// them (protocols/), the metrics layer consumes them (metrics/); neither
// includes the other's headers, only this one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/grpc_call.h"
#include "model/http_method.h"

namespace aster {

enum class AppProtocol : uint8_t { kHttp1, kHttp2 };

// One answered request, as its protocol paired it.
struct Exchange {
  uint16_t service_id = 0;
  AppProtocol protocol = AppProtocol::kHttp1;
  // False for an answer whose request was not seen (read before the
  // exporter attached, or its head not captured): it counts as method
  // UNKNOWN and path "_unknown_", in the request counter only, so totals
  // stay exact while durations and sizes are not invented.
  bool request_seen = true;
  // The request body was not fully read before the answer (413, early 401).
  bool request_incomplete = false;
  // False when the request body's size cannot be known (its head's end was
  // not captured): no request-size sample is taken for it.
  bool request_body_known = true;
  HttpMethod method = HttpMethod::kOther;
  // The request's path without query or fragment, as the protocol read it
  // (the metrics layer turns it into a route label). Valid during the call.
  const std::string* path = nullptr;
  uint16_t status = 0;
  // False when the response body's size is not known (HTTP/2 DATA frames
  // that went by in a gap the framing could not be followed through).
  bool response_body_known = true;
  uint64_t request_body_bytes = 0;
  uint64_t response_body_bytes = 0;
  // Times of the transfers that moved the request's first byte and the
  // response's last byte (CLOCK_MONOTONIC, from the probes).
  uint64_t first_byte_ns = 0;
  uint64_t last_byte_ns = 0;
};

// Why a service's series go (aster_exporter_series_expired_total{reason}):
// its workload is gone (every process exited gone_after ago: series, route
// learning, gauges and the id all go), or it is live but idle (no answered
// request for idle_after: its HTTP series go, its learning stays).
enum class ExpiryReason : uint8_t { kGone = 0, kIdle = 1 };

class ExchangeSink {
 public:
  virtual ~ExchangeSink() = default;
  virtual void on_exchange(const Exchange& x) = 0;
  // Request starts and exchange ends, each start with exactly one end
  // (answered, dropped unanswered at close, or dropped by a cap). Called
  // only when wants_request_events() says so, so that without an in-flight
  // gauge their cost per request is a branch.
  virtual bool wants_request_events() const { return false; }
  virtual void on_request_start(uint16_t /*service_id*/, HttpMethod, std::string_view /*path*/) {}
  virtual void on_request_end(uint16_t /*service_id*/, HttpMethod, std::string_view /*path*/) {}
  // Drop the service's series (see ExpiryReason); after kGone nothing under
  // `service_id` is recorded until the id is live again.
  virtual void on_service_expired(uint16_t /*service_id*/, ExpiryReason) {}
  // gRPC calls (HTTP/2 streams of content-type application/grpc...), beside
  // their exchanges: a call's start when its request HEADERS say gRPC, and
  // every finished call, reset ones included (they have no exchange).
  virtual void on_grpc_start(uint16_t /*service_id*/, const std::string* /*path: null if unread*/) {}
  virtual void on_grpc_call(const GrpcCall& /*call*/) {}
};

}  // namespace aster
