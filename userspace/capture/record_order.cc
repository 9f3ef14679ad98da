// SPDX-License-Identifier: Apache-2.0
#include "capture/record_order.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

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
      size_t want = ev.kind == ASTER_EVENT_DATA ? data_record_size(ev, p, size) : sizeof(aster_event);
      // A length past the record's end is kept whole: the tracker counts it
      // as malformed.
      if (want != 0 && want <= size) len = want;
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
  // One range insert and the padding (under 8 bytes) by a resize: a second
  // range insert for the padding costs ≈ 200 instructions per request.
  bytes_.insert(bytes_.end(), p, p + len);
  bytes_.resize(off + aligned(len));
  refs_.push_back(Ref{ts, static_cast<uint32_t>(off), static_cast<uint32_t>(len)});
}

// Sorts refs_ by (stamp, arrival). The records arrive as runs already in
// order (one CPU's batch, or one record), and a CPU's batches arrive in its
// own order, so the runs chain into about one lane per CPU: a merge of the
// lanes then costs O(n log lanes) instead of a sort's O(n log n).
void RecordOrder::sort_refs() {
  constexpr uint32_t kEnd = UINT32_MAX;
  size_t n = refs_.size();
  next_.assign(n, kEnd);
  lanes_.clear();
  for (size_t b = 0; b < n;) {
    size_t e = b + 1;
    for (; e < n && refs_[e].ts >= refs_[e - 1].ts; ++e) next_[e - 1] = static_cast<uint32_t>(e);
    // The lane that ends with the latest stamp not after this run's first.
    Lane* best = nullptr;
    for (Lane& l : lanes_) {
      if (l.tail_ts <= refs_[b].ts && (!best || l.tail_ts > best->tail_ts)) best = &l;
    }
    if (best) {
      next_[best->tail] = static_cast<uint32_t>(b);
      best->tail = static_cast<uint32_t>(e - 1);
      best->tail_ts = refs_[e - 1].ts;
    } else {
      lanes_.push_back(Lane{static_cast<uint32_t>(b), static_cast<uint32_t>(e - 1), refs_[e - 1].ts});
    }
    b = e;
  }
  if (lanes_.size() == 1) return;  // already in order
  // A min-heap of the lanes' heads: the earliest (stamp, arrival) on top.
  auto later = [this](uint32_t a, uint32_t b) {
    return refs_[a].ts != refs_[b].ts ? refs_[a].ts > refs_[b].ts : refs_[a].off > refs_[b].off;
  };
  heap_.clear();
  for (const Lane& l : lanes_) heap_.push_back(l.head);
  std::make_heap(heap_.begin(), heap_.end(), later);
  sorted_.clear();
  sorted_.reserve(n);
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    uint32_t i = heap_.back();
    sorted_.push_back(refs_[i]);
    if (next_[i] == kEnd) {
      heap_.pop_back();
    } else {
      heap_.back() = next_[i];
      std::push_heap(heap_.begin(), heap_.end(), later);
    }
  }
  refs_.swap(sorted_);
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
    spare_.insert(spare_.end(), bytes_.data() + r.off, bytes_.data() + r.off + aligned(r.len));
    refs_[out++] = Ref{r.ts, static_cast<uint32_t>(off), r.len};
  }
  refs_.resize(out);
  bytes_.swap(spare_);
}

size_t RecordOrder::reserved_bytes() const {
  return bytes_.capacity() + spare_.capacity() +
         (refs_.capacity() + sorted_.capacity()) * sizeof(Ref) +
         (next_.capacity() + heap_.capacity()) * sizeof(uint32_t) + lanes_.capacity() * sizeof(Lane);
}

void RecordOrder::trim(size_t used) {
  recent_peak_ = std::max(recent_peak_, used);
  // keep_from() swaps the two byte buffers, so either may hold the burst's.
  const size_t cap = std::max(bytes_.capacity(), spare_.capacity());
  if (cap <= kTrimFloorBytes || used * 4 > cap) {
    quiet_drains_ = 0;
    recent_peak_ = used;
    return;
  }
  if (++quiet_drains_ < kTrimDrains) return;
  // Rebuild each buffer at the size the recent drains needed: refs scale
  // with bytes (an event takes at least a header's worth of them).
  const size_t keep = std::max(2 * recent_peak_, kTrimFloorBytes);
  const size_t keep_refs = keep / sizeof(aster_event) + 1;
  auto refit = [](auto& v, size_t cap) {
    std::remove_reference_t<decltype(v)> fresh;
    fresh.reserve(std::max(v.size(), cap));
    fresh.assign(v.begin(), v.end());
    v.swap(fresh);
  };
  refit(bytes_, keep);
  refit(spare_, 0);
  refit(refs_, keep_refs);
  refit(sorted_, 0);
  refit(next_, 0);
  refit(heap_, 0);
  refit(lanes_, 0);
  quiet_drains_ = 0;
  recent_peak_ = 0;
}

}  // namespace aster
