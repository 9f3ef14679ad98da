// SPDX-License-Identifier: Apache-2.0
// What one HTTP/2 stream tells about its gRPC call: the length-prefixed
// messages in each direction's DATA (a 1-byte compressed flag and a
// 4-byte big-endian length before every message, gRPC's PROTOCOL-HTTP2.md)
// and the call's status, from grpc-status, RST_STREAM or the HTTP status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/grpc_call.h"

namespace aster::grpc {

// Counts the messages of one direction from its DATA payload bytes, in
// order. Bytes that went by uncaptured inside a message's body change
// nothing (its length was read); a gap over a message prefix, or a prefix
// that is not one (flag other than 0 or 1), ends the count's exactness.
class MessageCounter {
 public:
  void feed(const uint8_t* p, size_t n);
  // `n` payload bytes moved but were not captured.
  void skip(uint64_t n);
  void lose() { exact_ = false; }
  // Complete messages so far (a lower bound when !exact()).
  uint64_t messages() const { return messages_; }
  bool exact() const { return exact_; }
  // Between messages: no prefix or body half read.
  bool at_boundary() const { return prefix_len_ == 0 && body_left_ == 0; }

 private:
  uint64_t messages_ = 0;
  uint64_t body_left_ = 0;  // body bytes of the current message still to come
  uint8_t prefix_[5];
  uint8_t prefix_len_ = 0;
  bool exact_ = true;
};

// content-type application/grpc, application/grpc+proto, ...;grpc...
bool is_grpc_content_type(std::string_view v);
// A grpc-status value: its code, or kGrpcCodeUnknown when it is not one.
uint8_t parse_grpc_status(std::string_view v);
// The code a grpc-go client reports for a RST_STREAM error code.
uint8_t code_from_rst(uint32_t error_code);
// gRPC's doc/http-grpc-status-mapping.md: the code for an HTTP status
// that came without grpc-status.
uint8_t code_from_http_status(uint16_t status);

}  // namespace aster::grpc
