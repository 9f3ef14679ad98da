// SPDX-License-Identifier: Apache-2.0
#include "protocols/http2/grpc_stream.h"

#include <algorithm>

namespace aster::grpc {

void MessageCounter::feed(const uint8_t* p, size_t n) {
  while (n > 0 && exact_) {
    if (body_left_ > 0) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(body_left_, n));
      body_left_ -= k;
      p += k;
      n -= k;
      if (body_left_ == 0) ++messages_;
      continue;
    }
    prefix_[prefix_len_++] = *p++;
    --n;
    if (prefix_len_ == 1 && prefix_[0] > 1) {
      // Not a compressed flag: this is not gRPC's framing (or not where we
      // thought it was).
      exact_ = false;
      return;
    }
    if (prefix_len_ < 5) continue;
    prefix_len_ = 0;
    body_left_ = uint64_t(prefix_[1]) << 24 | uint64_t(prefix_[2]) << 16 | uint64_t(prefix_[3]) << 8 | prefix_[4];
    if (body_left_ == 0) ++messages_;
  }
}

void MessageCounter::skip(uint64_t n) {
  if (n == 0 || !exact_) return;
  if (prefix_len_ == 0 && n <= body_left_) {
    body_left_ -= n;
    if (body_left_ == 0) ++messages_;
    return;
  }
  exact_ = false;
}

bool is_grpc_content_type(std::string_view v) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (v.size() < kGrpc.size()) return false;
  for (size_t i = 0; i < kGrpc.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kGrpc[i]) return false;
  }
  return v.size() == kGrpc.size() || v[kGrpc.size()] == '+' || v[kGrpc.size()] == ';';
}

uint8_t parse_grpc_status(std::string_view v) {
  if (v.empty() || v.size() > 2) return kGrpcCodeUnknown;
  unsigned n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return kGrpcCodeUnknown;
    n = n * 10 + unsigned(c - '0');
  }
  // A code outside 0..16 is one grpc-go reports as is but no
  // go-grpc-prometheus label names: it is not guessed at.
  return n < kGrpcCodes ? static_cast<uint8_t>(n) : kGrpcCodeUnknown;
}

namespace {
enum : uint8_t {
  kOk = 0, kCanceled = 1, kUnknown = 2, kInvalidArgument = 3, kDeadlineExceeded = 4, kNotFound = 5,
  kAlreadyExists = 6, kPermissionDenied = 7, kResourceExhausted = 8, kFailedPrecondition = 9, kAborted = 10,
  kOutOfRange = 11, kUnimplemented = 12, kInternal = 13, kUnavailable = 14, kDataLoss = 15, kUnauthenticated = 16,
};
}  // namespace

uint8_t code_from_rst(uint32_t error_code) {
  // grpc-go internal/transport/http_util.go, http2ErrConvTab; codes it does
  // not list are Unknown there too.
  switch (error_code) {
    case 0x0:  // NO_ERROR
    case 0x1:  // PROTOCOL_ERROR
    case 0x2:  // INTERNAL_ERROR
    case 0x4:  // SETTINGS_TIMEOUT
    case 0x5:  // STREAM_CLOSED
    case 0x6:  // FRAME_SIZE_ERROR
    case 0x9:  // COMPRESSION_ERROR
    case 0xa:  // CONNECT_ERROR
    case 0xd:  // HTTP_1_1_REQUIRED
      return kInternal;
    case 0x3:  // FLOW_CONTROL_ERROR
    case 0xb:  // ENHANCE_YOUR_CALM
      return kResourceExhausted;
    case 0x7:  // REFUSED_STREAM
      return kUnavailable;
    case 0x8:  // CANCEL
      return kCanceled;
    case 0xc:  // INADEQUATE_SECURITY
      return kPermissionDenied;
    default:
      return kUnknown;
  }
}

uint8_t code_from_http_status(uint16_t status) {
  switch (status) {
    case 400: return kInternal;
    case 401: return kUnauthenticated;
    case 403: return kPermissionDenied;
    case 404: return kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504: return kUnavailable;
    default: return kUnknown;
  }
}


}  // namespace aster::grpc
