// SPDX-License-Identifier: Apache-2.0
#include "streams/boundary_windows.h"

namespace aster {

WindowCheck check_windows(const aster_event& ev, const aster_windows* w, std::vector<WindowPiece>* out) {
  out->clear();
  if (w == nullptr || w->count == 0) return WindowCheck::kNone;
  if (w->count > ASTER_MAX_WINDOWS) return WindowCheck::kRejected;
  uint64_t covered = ev.captured_len;  // bytes of the transfer known so far
  int64_t last_offset = -1;
  for (uint16_t i = 0; i < w->count; ++i) {
    const aster_window& x = w->w[i];
    const uint64_t end = uint64_t{x.offset} + x.len;
    const bool bad = x.len == 0 || x.len > ASTER_WINDOW_BYTES || end > ev.byte_count ||
                     static_cast<int64_t>(x.offset) <= last_offset ||
                     (x.kind != ASTER_FRAMING_H1_CHUNKED && x.kind != ASTER_FRAMING_H2_FRAMES);
    if (bad) {
      out->clear();
      return WindowCheck::kRejected;
    }
    last_offset = x.offset;
    if (end <= covered) continue;  // nothing new (the kernel does not send these)
    const uint64_t from = x.offset < covered ? covered : x.offset;
    out->push_back(WindowPiece{static_cast<uint32_t>(from), x.bytes + (from - x.offset),
                               static_cast<uint32_t>(end - from)});
    covered = end;
  }
  return WindowCheck::kUsed;
}

}  // namespace aster
