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

inline std::vector<uint8_t> data_record(uint64_t conn, uint8_t dir, uint64_t pos, const std::string& bytes,
                                        uint64_t ts, size_t captured = SIZE_MAX, uint16_t flags = 0) {
  size_t cap = std::min(captured, bytes.size());
  std::vector<uint8_t> rec(sizeof(aster_event) + cap);
  aster_event ev{};
  ev.timestamp_ns = ts;
  ev.conn_id = conn;
  ev.stream_pos = pos;
  ev.tgid = 100;
  ev.tid = 100;
  ev.fd = 5;
  ev.byte_count = static_cast<uint32_t>(bytes.size());
  ev.captured_len = static_cast<uint16_t>(cap);
  ev.kind = ASTER_EVENT_DATA;
  ev.direction = dir;
  ev.flags = flags;
  std::memcpy(rec.data(), &ev, sizeof ev);
  std::memcpy(rec.data() + sizeof ev, bytes.data(), cap);
  return rec;
}

}  // namespace aster
