// A data record exactly as the probes emit one: struct aster_event, then
// the first `captured` bytes of `bytes` (the rest moved but not copied).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "model/event_layout.h"

namespace aster {

// The header of a data record of process 100, fd 5.
inline aster_event data_header(uint64_t conn, uint8_t dir, uint64_t pos, size_t moved, size_t captured, uint64_t ts,
                               uint16_t flags) {
  aster_event ev{};
  ev.timestamp_ns = ts;
  ev.conn_id = conn;
  ev.stream_pos = pos;
  ev.tgid = 100;
  ev.tid = 100;
  ev.fd = 5;
  ev.byte_count = static_cast<uint32_t>(moved);
  ev.captured_len = static_cast<uint16_t>(captured);
  ev.kind = ASTER_EVENT_DATA;
  ev.direction = dir;
  ev.flags = flags;
  return ev;
}

inline std::vector<uint8_t> data_record(uint64_t conn, uint8_t dir, uint64_t pos, const std::string& bytes,
                                        uint64_t ts, size_t captured = SIZE_MAX, uint16_t flags = 0) {
  size_t cap = std::min(captured, bytes.size());
  std::vector<uint8_t> rec(sizeof(aster_event) + cap);
  const aster_event ev = data_header(conn, dir, pos, bytes.size(), cap, ts, flags);
  std::memcpy(rec.data(), &ev, sizeof ev);
  std::memcpy(rec.data() + sizeof ev, bytes.data(), cap);
  return rec;
}

// A writev/readv record as the probes build one (bpf/capture.bpf.h,
// copy_iovecs): the iovecs' bytes copied up to `budget`, then one hint per
// further iovec (at most `max_hints`, then ASTER_F_IOV_TRUNCATED).
inline std::vector<uint8_t> iov_record(uint64_t conn, uint8_t dir, uint64_t pos, const std::vector<std::string>& iovs,
                                       uint64_t ts, size_t budget, size_t max_hints = ASTER_MAX_IOV_HINTS) {
  std::string payload;
  uint32_t moved = 0, cut_rest = 0;
  std::vector<aster_iov_hint> hints;
  uint16_t flags = 0;
  for (const std::string& v : iovs) {
    moved += static_cast<uint32_t>(v.size());
    if (v.empty()) continue;
    if (payload.size() < budget) {
      size_t n = std::min(v.size(), budget - payload.size());
      payload += v.substr(0, n);
      cut_rest = static_cast<uint32_t>(v.size() - n);
      continue;
    }
    if (flags & ASTER_F_IOV_TRUNCATED) continue;
    if (hints.size() == max_hints) {
      flags |= ASTER_F_IOV_TRUNCATED;
      continue;
    }
    aster_iov_hint h{};
    h.len = static_cast<uint32_t>(v.size());
    h.head_len = static_cast<uint16_t>(std::min<size_t>(v.size(), ASTER_IOV_HINT_BYTES));
    std::memcpy(h.head, v.data(), h.head_len);
    hints.push_back(h);
  }
  if (!hints.empty()) flags |= ASTER_F_IOV_HINTS;
  const aster_event ev = data_header(conn, dir, pos, moved, payload.size(), ts, flags);
  std::vector<uint8_t> rec(sizeof ev + payload.size());
  std::memcpy(rec.data(), &ev, sizeof ev);
  std::memcpy(rec.data() + sizeof ev, payload.data(), payload.size());
  if (hints.empty()) return rec;
  rec.resize(iov_hints_offset(ev));
  aster_iov_hints hb{};
  hb.cut_rest = cut_rest;
  hb.count = static_cast<uint16_t>(hints.size());
  const auto* b = reinterpret_cast<const uint8_t*>(&hb);
  rec.insert(rec.end(), b, b + sizeof hb);
  for (const aster_iov_hint& h : hints) {
    const auto* hp = reinterpret_cast<const uint8_t*>(&h);
    rec.insert(rec.end(), hp, hp + sizeof h);
  }
  return rec;
}

}  // namespace aster

namespace aster {

// Appends boundary windows to record `rec` (after its payload, or after its
// iovec hint block when it has one), as the kernel's walker does: a window
// of the transfer's bytes `bytes` at each of `offsets` (ASTER_WINDOW_BYTES,
// fewer at the transfer's end).
inline void add_windows(std::vector<uint8_t>* rec, const std::string& bytes, const std::vector<uint32_t>& offsets) {
  reinterpret_cast<aster_event*>(rec->data())->flags |= ASTER_F_WINDOWS;
  rec->resize((rec->size() + 7) & ~size_t{7});
  aster_windows hdr{};
  hdr.count = static_cast<uint16_t>(offsets.size());
  const auto* h = reinterpret_cast<const uint8_t*>(&hdr);
  rec->insert(rec->end(), h, h + sizeof hdr);
  for (uint32_t off : offsets) {
    aster_window w{};
    w.offset = off;
    w.kind = ASTER_FRAMING_H1_CHUNKED;
    w.len = static_cast<uint8_t>(std::min<size_t>(ASTER_WINDOW_BYTES, bytes.size() - std::min<size_t>(off, bytes.size())));
    if (off < bytes.size()) std::memcpy(w.bytes, bytes.data() + off, w.len);
    const auto* p = reinterpret_cast<const uint8_t*>(&w);
    rec->insert(rec->end(), p, p + sizeof w);
  }
}

// A flat record (data_record) with boundary windows.
inline std::vector<uint8_t> windowed_record(uint64_t conn, uint8_t dir, uint64_t pos, const std::string& bytes,
                                            uint64_t ts, size_t captured, const std::vector<uint32_t>& offsets,
                                            uint16_t flags = 0) {
  std::vector<uint8_t> rec = data_record(conn, dir, pos, bytes, ts, captured, flags);
  add_windows(&rec, bytes, offsets);
  return rec;
}

}  // namespace aster
