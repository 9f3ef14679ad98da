// SPDX-License-Identifier: Apache-2.0
// Puts the records of the ring buffer back in the order they happened.
//
// The probes stage small records per CPU and hand them over in batches (see
// ASTER_STAGE_BYTES), so the ring holds each CPU's records in order but not
// the CPUs' records in order with one another: a response written on one CPU
// can reach the ring before its request, read on another, is flushed.
//
// Each drain takes a watermark (ProbeSet::flush_staged): the clock read
// before the flushes, or the stamp of the oldest record still staged on a
// CPU that was not flushed, if earlier. A record stamped before it is in the
// ring once the flushes return, and so is everything that happened before
// it: a record's stamp is taken after every record it depends on was
// staged. So the records stamped before the watermark are handed on in
// stamp order, and the rest wait for a later drain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/event_layout.h"

namespace aster {

class RecordOrder {
 public:
  // Splits one ring-buffer record into its events (each 8-byte aligned,
  // back to back) and keeps a copy of each.
  void add_ring_record(const void* data, size_t size);
  // Hands every kept event stamped before `watermark_ns` to
  // sink(const void* event, size_t len), oldest first (events with the same
  // stamp in arrival order), and keeps the rest.
  template <class Sink>
  void release(uint64_t watermark_ns, Sink&& sink);
  size_t held() const { return refs_.size(); }
  // Bytes reserved by the buffers (what a burst leaves behind until
  // trim() gives it back).
  size_t reserved_bytes() const;

 private:
  struct Ref {
    uint64_t ts;
    uint32_t off;  // into bytes_; also the arrival order
    uint32_t len;
  };
  // A chain of runs of refs_ whose stamps never go down.
  struct Lane {
    uint32_t head, tail;
    uint64_t tail_ts;
  };
  void add_event(const uint8_t* p, size_t len);
  void sort_refs();
  void keep_from(size_t first);
  // After a burst the buffers keep the capacity of its largest drain (up to
  // the ring's size). Once kTrimDrains drains in a row used less than a
  // quarter of it, they are given back down to twice the largest of them.
  void trim(size_t used);
  static constexpr size_t kTrimDrains = 512;  // ~5 s at the default poll interval
  static constexpr size_t kTrimFloorBytes = 256 << 10;
  size_t recent_peak_ = 0;
  size_t quiet_drains_ = 0;
  std::vector<uint8_t> bytes_;
  std::vector<Ref> refs_;
  std::vector<uint8_t> spare_;
  // sort_refs()'s working space, kept between drains.
  std::vector<uint32_t> next_, heap_;
  std::vector<Lane> lanes_;
  std::vector<Ref> sorted_;
};

template <class Sink>
void RecordOrder::release(uint64_t watermark_ns, Sink&& sink) {
  if (refs_.empty()) {
    trim(0);
    return;
  }
  sort_refs();
  size_t n = 0;
  while (n < refs_.size() && refs_[n].ts < watermark_ns) {
    sink(bytes_.data() + refs_[n].off, static_cast<size_t>(refs_[n].len));
    ++n;
  }
  const size_t used = bytes_.size();
  keep_from(n);
  trim(used);
}

}  // namespace aster
