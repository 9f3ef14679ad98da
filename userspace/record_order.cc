// SPDX-License-Identifier: Apache-2.0
#include "record_order.h"

#include <cstring>

namespace aster {
namespace {
constexpr size_t kAlign = 8;
size_t aligned(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }
}  // namespace

void RecordOrder::add_ring_record(const void* data, size_t size) {
  auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    size_t len = size;
    if (size >= sizeof(aster_event)) {
      const auto& ev = *reinterpret_cast<const aster_event*>(p);
      size_t want = sizeof(aster_event) + (ev.kind == ASTER_EVENT_DATA ? ev.captured_len : 0);
      // A length past the record's end is kept whole: the tracker counts it
      // as malformed.
      if (want <= size) len = want;
    }
    add_event(p, len);
    size_t step = aligned(len);
    if (step >= size) break;
    p += step;
    size -= step;
  }
}

void RecordOrder::add_event(const uint8_t* p, size_t len) {
  // A record too short to carry a stamp goes out first (stamp 0), to be
  // counted as malformed.
  uint64_t ts = 0;
  if (len >= sizeof(aster_event)) ts = reinterpret_cast<const aster_event*>(p)->timestamp_ns;
  size_t off = bytes_.size();
  bytes_.insert(bytes_.end(), p, p + len);
  bytes_.resize(off + aligned(len));  // pads with at most 7 zero bytes
  refs_.push_back(Ref{ts, static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
}

void RecordOrder::keep_from(size_t first) {
  if (first == refs_.size()) {
    refs_.clear();
    bytes_.clear();
    return;
  }
  // Few events outlive a drain (those stamped during its flushes): copy
  // them to the front of a fresh buffer, in their sorted order.
  spare_.clear();
  size_t out = 0;
  for (size_t i = first; i < refs_.size(); ++i) {
    Ref r = refs_[i];
    size_t off = spare_.size();
    spare_.insert(spare_.end(), bytes_.data() + r.off, bytes_.data() + r.off + r.len);
    spare_.resize(off + aligned(r.len));
    refs_[out++] = Ref{r.ts, static_cast<uint32_t>(off), r.len};
  }
  refs_.resize(out);
  bytes_.swap(spare_);
}

}  // namespace aster
