// SPDX-License-Identifier: Apache-2.0
// A finished gRPC call (an HTTP/2 stream whose content-type is
// application/grpc...), as protocols/http2/ read it, for the
// PREFIX_grpc_server_* families (metrics/grpc_metrics.h). Beside the
// stream's Exchange, never instead of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aster {

// gRPC status codes (grpc/include/grpc/impl/codegen/status.h), 0..16, and
// the sentinel for a code that could not be read.
constexpr uint8_t kGrpcCodes = 17;
constexpr uint8_t kGrpcCodeUnknown = kGrpcCodes;  // label "_unknown_"

// The label of a code, as go-grpc-prometheus writes it (codes.Code.String()).
inline std::string_view grpc_code_name(uint8_t code) {
  static constexpr std::string_view kNames[] = {
      "OK",          "Canceled", "Unknown",         "InvalidArgument",   "DeadlineExceeded", "NotFound",
      "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
      "Unimplemented", "Internal", "Unavailable",   "DataLoss",          "Unauthenticated"};
  return code < kGrpcCodes ? kNames[code] : std::string_view("_unknown_");
}

struct GrpcCall {
  uint16_t service_id = 0;
  // The request's :path (/package.Service/Method), or null when it could
  // not be read. Valid during the call.
  const std::string* path = nullptr;
  uint8_t code = kGrpcCodeUnknown;
  // The request's HEADERS were read (the call had a start we saw): only
  // then is a duration known.
  bool request_seen = false;
  // Whether the call was already counted as started (its content-type read
  // with its request HEADERS), so the metrics do not count it again.
  bool start_counted = false;
  // Length-prefixed messages each way, complete ones only; *_known is false
  // when some of that direction's DATA went by uncaptured at a message
  // boundary, so the count is a lower bound only.
  uint64_t messages_received = 0;  // client to server
  uint64_t messages_sent = 0;      // server to client
  bool received_known = true;
  bool sent_known = true;
  uint64_t first_byte_ns = 0;
  uint64_t last_byte_ns = 0;
};

}  // namespace aster
