// SPDX-License-Identifier: Apache-2.0
// HTTP/2 frame headers (RFC 9113 section 4.1) and the rules that tell a
// frame header from other bytes, for detection and resynchronisation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace aster::h2 {

constexpr size_t kFrameHeaderBytes = 9;
// The client connection preface (section 3.4).
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kPrefaceBytes = sizeof kPreface - 1;
// SETTINGS_MAX_FRAME_SIZE's initial value and its largest.
constexpr uint32_t kDefaultMaxFrame = 16384;
constexpr uint32_t kLargestMaxFrame = (1u << 24) - 1;

enum FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kPriority = 2,
  kRstStream = 3,
  kSettings = 4,
  kPushPromise = 5,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};

enum FrameFlag : uint8_t {
  kEndStream = 0x1,  // DATA, HEADERS
  kAck = 0x1,        // SETTINGS, PING
  kEndHeaders = 0x4, // HEADERS, PUSH_PROMISE, CONTINUATION
  kPadded = 0x8,     // DATA, HEADERS, PUSH_PROMISE
  kPriorityFlag = 0x20,  // HEADERS
};

struct FrameHeader {
  uint32_t length = 0;
  uint8_t type = 0;
  uint8_t flags = 0;
  uint32_t stream = 0;
  bool reserved_bit = false;
};

FrameHeader parse_frame_header(const uint8_t* p);

// Who sent the frame, as far as the frame's own rules tell.
enum class Sender : uint8_t { kClient, kServer, kEither };

// Whether a frame header is one a peer following RFC 9113 could send:
// a known type, only that type's flags, the reserved bit clear, the
// stream-id rules (connection-level frames on stream 0, stream frames
// not; a client opens odd streams and pushes nothing), the fixed lengths
// of PRIORITY, RST_STREAM, PING, WINDOW_UPDATE and SETTINGS, and at most
// `max_frame` bytes. Unknown types are legal on the wire (extensions) but
// not plausible here: detection must not claim on them.
bool plausible(const FrameHeader& h, Sender sender, uint32_t max_frame);

}  // namespace aster::h2
