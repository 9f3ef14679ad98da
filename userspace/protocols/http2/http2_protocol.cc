// SPDX-License-Identifier: Apache-2.0
#include "protocols/http2/http2_protocol.h"

#include <cstring>

#include "model/event_layout.h"
#include "protocols/http2/frame.h"
#include "protocols/http2/http2_session.h"

namespace aster {
namespace {

using namespace h2;

// Who wrote a header block, from its first field: a request starts with
// request pseudo-headers (static indices 1-7: :authority, :method, :path,
// :scheme), a response with :status (8-14), as RFC 9113 8.3 puts
// pseudo-headers first. Either as an indexed field or as a literal with
// an indexed name; a leading table size update is skipped.
enum class BlockSide { kUnknown, kRequest, kResponse };

BlockSide block_side(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n && (p[i] & 0xe0) == 0x20) {  // dynamic table size update
    bool more = (p[i] & 0x1f) == 0x1f;
    ++i;
    while (more && i < n) more = p[i++] & 0x80;
  }
  if (i >= n) return BlockSide::kUnknown;
  uint8_t b = p[i];
  unsigned index = 0;
  if (b & 0x80) {
    index = b & 0x7f;
  } else if ((b & 0xc0) == 0x40) {
    index = b & 0x3f;
  } else if ((b & 0xe0) == 0) {
    index = b & 0x0f;
  }
  if (index >= 1 && index <= 7) return BlockSide::kRequest;
  if (index >= 8 && index <= 14) return BlockSide::kResponse;
  return BlockSide::kUnknown;
}

// The role two or more frames at the start of a transfer reveal, for a
// connection opened before the exporter: who sent them.
enum class Sent { kNotFrames, kUnknown, kClient, kServer };

Sent frames_sender(const uint8_t* p, size_t n) {
  size_t at = 0, frames = 0;
  Sent who = Sent::kUnknown;
  while (at + kFrameHeaderBytes <= n) {
    FrameHeader h = parse_frame_header(p + at);
    if (!plausible(h, Sender::kEither, kLargestMaxFrame) || (frames == 0 && h.type == kContinuation)) {
      return Sent::kNotFrames;
    }
    const uint8_t* payload = p + at + kFrameHeaderBytes;
    size_t have = std::min<size_t>(h.length, n - at - kFrameHeaderBytes);
    if (h.type == kPushPromise || (h.type == kHeaders && !(h.stream & 1))) {
      who = Sent::kServer;
    } else if (h.type == kHeaders && who == Sent::kUnknown) {
      size_t skip = (h.flags & kPadded ? 1 : 0) + (h.flags & kPriorityFlag ? 5 : 0);
      if (have > skip) {
        BlockSide side = block_side(payload + skip, have - skip);
        if (side == BlockSide::kRequest) who = Sent::kClient;
        if (side == BlockSide::kResponse) who = Sent::kServer;
      }
    }
    ++frames;
    at += kFrameHeaderBytes + h.length;
  }
  // Two whole frame headers, or one frame that ends the transfer exactly
  // (detection sees a whole short transfer).
  if (frames >= 2 || (frames == 1 && at == n && n < FirstBytes::kDetectBytes)) return who;
  return Sent::kNotFrames;
}

}  // namespace

Detection Http2Protocol::detect(const FirstBytes& b) const {
  if (b.len == 0) return Detection::kNotMine;
  const bool in = b.dir == ASTER_DIR_INGRESS;
  size_t cmp = b.len < kPrefaceBytes ? b.len : kPrefaceBytes;
  if (std::memcmp(b.data, kPreface, cmp) == 0) {
    if (cmp < kPrefaceBytes) return Detection::kNeedMore;
    // The server reads the preface; a client writes it.
    return in ? Detection::kServer : Detection::kClient;
  }
  switch (frames_sender(b.data, b.len)) {
    case Sent::kClient:
      return in ? Detection::kServer : Detection::kClient;
    case Sent::kServer:
      return in ? Detection::kClient : Detection::kServer;
    case Sent::kUnknown:
      // Frames, but nothing yet says whose (SETTINGS, WINDOW_UPDATE,
      // DATA): a later transfer will.
    case Sent::kNotFrames:
      break;
  }
  return Detection::kNotMine;
}

std::unique_ptr<ProtocolSession> Http2Protocol::open(const ConnectionContext& ctx, const Handover* handover) const {
  return std::make_unique<Http2Session>(ctx, handover);
}

}  // namespace aster
