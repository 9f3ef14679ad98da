// SPDX-License-Identifier: Apache-2.0
// The C++ view of bpf/aster_events.h: the same structs, plus checks that
// the layout the probes write is the layout this side reads.
#pragma once

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

extern "C" {
#include "aster_events.h"
}

static_assert(sizeof(aster_event) == 48, "aster_event layout changed: update both sides");
static_assert(offsetof(aster_event, conn_id) == 8);
static_assert(offsetof(aster_event, stream_pos) == 16);
static_assert(offsetof(aster_event, tgid) == 24);
static_assert(offsetof(aster_event, byte_count) == 36);
static_assert(offsetof(aster_event, captured_len) == 40);
static_assert(offsetof(aster_event, kind) == 42);
static_assert(offsetof(aster_event, direction) == 43);
static_assert(offsetof(aster_event, flags) == 44);
static_assert(offsetof(aster_event, service_id) == 46);
static_assert(sizeof(aster_watch) == 8);
static_assert(sizeof(aster_tls_key) == 16);
static_assert(sizeof(aster_tls_binding) == 32);
static_assert(sizeof(aster_go_tls_proc) == 16);
static_assert(ASTER_CAPTURE_DEFAULT <= ASTER_CAPTURE_MAX);
static_assert(sizeof(aster_iov_hints) == 8);
static_assert(sizeof(aster_iov_hint) == 24 && sizeof(aster_iov_hint) % 8 == 0,
              "hints must stay 8-byte aligned");
static_assert(offsetof(aster_iov_hint, head_len) == 4);
static_assert(offsetof(aster_iov_hint, head) == 8);
static_assert(ASTER_IOV_HINT_BYTES <= 255);
static_assert(sizeof(aster_walk) == 40);
static_assert(offsetof(aster_walk, stash) == 16);
static_assert(offsetof(aster_conn_state, walk) == 56);
static_assert(sizeof(aster_conn_state) == 56 + 2 * sizeof(aster_walk));
static_assert(sizeof(aster_window) == 32 && offsetof(aster_window, bytes) == 8);
static_assert(sizeof(aster_windows) == 8 && offsetof(aster_windows, w) == 8);
static_assert(sizeof(aster_walk_arm_key) == 16 && sizeof(aster_walk_arm) == 16);
static_assert(ASTER_WINDOW_BYTES < 256, "aster_window.len is a byte");
static_assert((ASTER_WALK_ARM_SLOTS & (ASTER_WALK_ARM_SLOTS - 1)) == 0);
// The probes' stage masks (bpf/maps.bpf.h: offsets below 2 *
// ASTER_CAPTURE_MAX) hold the largest record, starting anywhere below
// ASTER_STAGE_BYTES: a head, its hint block and its windows, each after
// up to 7 bytes of padding. (capture.bpf.h masks the hint block and the
// windows with 4095 each.)
constexpr size_t kMaxHintBlock = sizeof(aster_iov_hints) + ASTER_MAX_IOV_HINTS * sizeof(aster_iov_hint);
constexpr size_t kMaxWindowBlock = sizeof(aster_windows) + ASTER_MAX_WINDOWS * sizeof(aster_window);
static_assert(kMaxHintBlock + 7 < 4096 && kMaxWindowBlock + 7 < 4096);
static_assert(ASTER_STAGE_BYTES + sizeof(aster_event) + ASTER_CAPTURE_MAX + 7 + kMaxHintBlock + 7 +
                  kMaxWindowBlock <
              2 * ASTER_CAPTURE_MAX);

namespace aster {

// Where a data record's iovec hint block starts, counted from the record's
// start (the payload's end rounded up to 8, see aster_iov_hints).
inline size_t iov_hints_offset(const aster_event& ev) {
  return (sizeof(aster_event) + ev.captured_len + 7) & ~size_t{7};
}

// The two trailers a data record may carry after its payload, in this
// order, each 8-byte aligned: the iovec hint block (ASTER_F_IOV_HINTS) and
// the boundary windows (ASTER_F_WINDOWS). Offsets count from the record's
// start; 0 where the record has no such trailer or `avail` bytes do not
// hold it (then data_record_size says 0).
struct RecordTrailers {
  size_t hints = 0;
  size_t windows = 0;
  size_t size = 0;  // the whole record; 0: malformed
};

inline RecordTrailers record_trailers(const aster_event& ev, const uint8_t* rec, size_t avail) {
  RecordTrailers t;
  size_t n = sizeof(aster_event) + ev.captured_len;
  if (n > avail) return t;
  if (ev.flags & ASTER_F_IOV_HINTS) {
    const size_t off = iov_hints_offset(ev);
    if (off + sizeof(aster_iov_hints) > avail) return t;
    aster_iov_hints hb;
    std::memcpy(&hb, rec + off, sizeof hb);
    if (hb.count > ASTER_MAX_IOV_HINTS) return t;
    t.hints = off;
    n = off + sizeof hb + size_t{hb.count} * sizeof(aster_iov_hint);
    if (n > avail) return t;
  }
  if (ev.flags & ASTER_F_WINDOWS) {
    const size_t off = (n + 7) & ~size_t{7};
    if (off + sizeof(aster_windows) > avail) return t;
    aster_windows wb;
    std::memcpy(&wb, rec + off, sizeof wb);
    t.windows = off;
    // A count past ASTER_MAX_WINDOWS is the windows' check to reject
    // (streams/boundary_windows.h), not a malformed record.
    n = off + sizeof wb + size_t{wb.count} * sizeof(aster_window);
    if (n > avail) return t;
  }
  t.size = n;
  return t;
}

// The whole length of a data record whose first `avail` bytes are at `rec`:
// header, payload and its trailers. 0 when the record claims more than
// `avail` bytes (malformed).
inline size_t data_record_size(const aster_event& ev, const uint8_t* rec, size_t avail) {
  return record_trailers(ev, rec, avail).size;
}

// Bytes after the header of a data record already checked with
// data_record_size: the payload and its trailers, if any.
inline size_t data_record_tail(const aster_event& ev, const uint8_t* payload) {
  return data_record_size(ev, payload - sizeof(aster_event), SIZE_MAX) - sizeof(aster_event);
}

// The windows of a record data_record_size() accepted (null when none);
// `payload` is its captured bytes, in place or copied with what follows.
// 8-byte aligned in both cases: records start so, and a copy starts at a
// vector's storage.
inline const aster_windows* data_record_windows(const aster_event& ev, const uint8_t* payload) {
  if (!(ev.flags & ASTER_F_WINDOWS)) return nullptr;
  const RecordTrailers t = record_trailers(ev, payload - sizeof(aster_event), SIZE_MAX);
  return reinterpret_cast<const aster_windows*>(payload - sizeof(aster_event) + t.windows);
}

}  // namespace aster
