// Records fed to a ConnectionTracker as the probes emit them, each
// connection's directions at consecutive stream positions, with the
// exchanges they produce collected by `Sink`.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/protocol.h"
#include "streams/connection_tracker.h"
#include "streams/data_record.h"

namespace aster {

template <class Sink>
class TrackerFeed {
 public:
  explicit TrackerFeed(std::vector<const Protocol*> protocols) : tracker(stats, sink, std::move(protocols), nullptr) {}
  // One transfer of `bytes`, of which the first `captured` were copied.
  // `flags`: ASTER_F_* as the probe sets them (ASTER_F_TLS_PLAINTEXT).
  void data(uint64_t conn, uint8_t dir, const std::string& bytes, uint64_t ts, size_t captured = SIZE_MAX,
            uint16_t flags = 0) {
    uint64_t& pos = pos_[conn][dir];
    at(conn, dir, pos, bytes, ts, captured, flags);
    pos += bytes.size();
  }
  void at(uint64_t conn, uint8_t dir, uint64_t pos, const std::string& bytes, uint64_t ts, size_t captured = SIZE_MAX,
          uint16_t flags = 0) {
    auto rec = data_record(conn, dir, pos, bytes, ts, captured, flags);
    tracker.on_record(rec.data(), rec.size());
  }
  void close(uint64_t conn) {
    aster_event ev{};
    ev.conn_id = conn;
    ev.kind = ASTER_EVENT_CLOSE;
    tracker.on_record(&ev, sizeof ev);
    for (int i = 0; i < 3; ++i) tracker.end_batch(0);
  }
  PipelineStats stats;
  Sink sink;
  ConnectionTracker tracker;

 private:
  std::map<uint64_t, std::map<uint8_t, uint64_t>> pos_;
};

}  // namespace aster
