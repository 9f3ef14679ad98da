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
static_assert(sizeof(aster_conn_state) == 56);
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

namespace aster {

// Where a data record's iovec hint block starts, counted from the record's
// start (the payload's end rounded up to 8, see aster_iov_hints).
inline size_t iov_hints_offset(const aster_event& ev) {
  return (sizeof(aster_event) + ev.captured_len + 7) & ~size_t{7};
}

// The whole length of a data record whose first `avail` bytes are at `rec`:
// header, payload and, with ASTER_F_IOV_HINTS, the hint block. 0 when the
// record claims more than `avail` bytes (malformed).
inline size_t data_record_size(const aster_event& ev, const uint8_t* rec, size_t avail) {
  size_t n = sizeof(aster_event) + ev.captured_len;
  if (n > avail) return 0;
  if (!(ev.flags & ASTER_F_IOV_HINTS)) return n;
  const size_t off = iov_hints_offset(ev);
  if (off + sizeof(aster_iov_hints) > avail) return 0;
  aster_iov_hints hb;
  std::memcpy(&hb, rec + off, sizeof hb);
  n = off + sizeof hb + size_t{hb.count} * sizeof(aster_iov_hint);
  return hb.count <= ASTER_MAX_IOV_HINTS && n <= avail ? n : 0;
}

// Bytes after the header of a data record already checked with
// data_record_size: the payload and its hint block, if any.
inline size_t data_record_tail(const aster_event& ev, const uint8_t* payload) {
  return data_record_size(ev, payload - sizeof(aster_event), SIZE_MAX) - sizeof(aster_event);
}

}  // namespace aster
