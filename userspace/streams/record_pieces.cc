// SPDX-License-Identifier: Apache-2.0
#include "streams/record_pieces.h"

#include <algorithm>
#include <cstring>

namespace aster {
namespace {

// The hints describe the bytes after the payload: the rest of the iovec
// the budget ended in (not described), then each further iovec by its first
// bytes and its length.
void hint_pieces(const aster_event& ev, const uint8_t* block, std::vector<RecordPiece>* out) {
  aster_iov_hints hb;
  std::memcpy(&hb, block, sizeof hb);
  const uint64_t end = ev.byte_count;
  uint64_t at = uint64_t{ev.captured_len} + hb.cut_rest;
  const auto* hints = reinterpret_cast<const aster_iov_hint*>(block + sizeof hb);
  for (uint16_t i = 0; i < hb.count && at < end; ++i) {
    const aster_iov_hint& h = hints[i];
    const uint64_t len = std::min<uint64_t>(h.len, end - at);
    const size_t head = std::min<size_t>({h.head_len, sizeof h.head, len});
    if (head) out->push_back(RecordPiece{at, h.head, static_cast<uint32_t>(head), false});
    at += len;
  }
}

}  // namespace

void record_pieces(const aster_event& ev, const uint8_t* payload, RecordPieces* out) {
  out->pieces.clear();
  out->windows = WindowCheck::kNone;
  const uint8_t* rec = payload - sizeof(aster_event);
  const RecordTrailers t = record_trailers(ev, rec, SIZE_MAX);
  if (t.hints) hint_pieces(ev, rec + t.hints, &out->pieces);
  const size_t from_hints = out->pieces.size();
  if (t.windows) {
    out->windows = check_windows(ev, reinterpret_cast<const aster_windows*>(rec + t.windows), &out->scratch);
    for (const WindowPiece& p : out->scratch) out->pieces.push_back(RecordPiece{p.offset, p.bytes, p.len, true});
  }
  // Each list is ascending: merge them (a hint first where both start at
  // the same byte), then keep each byte once.
  std::inplace_merge(out->pieces.begin(), out->pieces.begin() + static_cast<std::ptrdiff_t>(from_hints),
                     out->pieces.end(),
                     [](const RecordPiece& a, const RecordPiece& b) { return a.offset < b.offset; });
  uint64_t known = ev.captured_len;
  size_t kept = 0;
  for (RecordPiece p : out->pieces) {
    const uint64_t end = p.offset + p.len;
    if (end <= known) continue;
    if (p.offset < known) {
      p.bytes += known - p.offset;
      p.len = static_cast<uint32_t>(end - known);
      p.offset = known;
    }
    out->pieces[kept++] = p;
    known = end;
  }
  out->pieces.resize(kept);
}

}  // namespace aster
