// SPDX-License-Identifier: Apache-2.0
#include "protocols/http2/frame.h"

namespace aster::h2 {

FrameHeader parse_frame_header(const uint8_t* p) {
  FrameHeader h;
  h.length = (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2];
  h.type = p[3];
  h.flags = p[4];
  h.reserved_bit = p[5] & 0x80;
  h.stream = ((uint32_t(p[5]) & 0x7f) << 24) | (uint32_t(p[6]) << 16) | (uint32_t(p[7]) << 8) | p[8];
  return h;
}

bool plausible(const FrameHeader& h, Sender sender, uint32_t max_frame) {
  if (h.reserved_bit || h.length > max_frame) return false;
  const bool conn = h.stream == 0;
  // Streams a client may send HEADERS on: its own (odd).
  const bool client_stream = h.stream & 1;
  uint8_t allowed = 0;
  switch (h.type) {
    case kData:
      allowed = kEndStream | kPadded;
      if (conn) return false;
      break;
    case kHeaders:
      allowed = kEndStream | kEndHeaders | kPadded | kPriorityFlag;
      if (conn || (sender == Sender::kClient && !client_stream)) return false;
      break;
    case kPriority:
      if (conn || h.length != 5) return false;
      break;
    case kRstStream:
      if (conn || h.length != 4) return false;
      break;
    case kSettings:
      allowed = kAck;
      if (!conn || h.length % 6 || ((h.flags & kAck) && h.length)) return false;
      break;
    case kPushPromise:
      allowed = kEndHeaders | kPadded;
      if (conn || sender == Sender::kClient) return false;
      break;
    case kPing:
      allowed = kAck;
      if (!conn || h.length != 8) return false;
      break;
    case kGoaway:
      if (!conn || h.length < 8) return false;
      break;
    case kWindowUpdate:
      if (h.length != 4) return false;
      break;
    case kContinuation:
      allowed = kEndHeaders;
      if (conn) return false;
      break;
    default:
      return false;
  }
  return (h.flags & ~allowed) == 0;
}

}  // namespace aster::h2
