// SPDX-License-Identifier: Apache-2.0
// One TCP connection of a watched process: two byte streams that know their
// gaps (bytes not copied, records lost) and hold records that arrive out of
// order briefly, and the protocol that reads them. Which protocol, if any,
// is decided from the first bytes (model/protocol.h); the connection knows
// no protocol by name.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/event_layout.h"
#include "model/pipeline_stats.h"
#include "model/protocol.h"
#include "streams/record_pieces.h"

namespace aster {

class Connection {
 public:
  // Bytes seen without a protocol claiming the connection before giving up.
  static constexpr uint64_t kMaxUnclassifiedBytes = 256 * 1024;
  // Payload bytes of out-of-order records a connection holds while it waits
  // for the records before them; past it the bytes still missing are
  // declared lost at once (counted), so a stream with a hole cannot make a
  // connection grow without bound.
  static constexpr size_t kMaxHeldBytes = 1 << 20;

  // `protocols` are asked in order; they must outlive the connection.
  Connection(const ConnectionContext& ctx, const std::vector<const Protocol*>& protocols);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A record flagged ASTER_F_TLS_PLAINTEXT makes this a TLS connection from
  // then on: what was read of it before (ciphertext sent before its session
  // was bound) is forgotten, and later ciphertext records are skipped.
  void on_data(const aster_event& ev, const uint8_t* payload);
  bool tls() const { return ctx_.source == StreamSource::kTlsPlaintext; }
  uint16_t service_id() const { return ctx_.service_id; }
  void on_close(uint64_t ts_ns);
  // Delivers held (out-of-order) records once they are `min_age` batches
  // old, treating the bytes still missing as lost. True while some remain.
  bool flush_held(uint64_t batch, uint64_t min_age);
  bool has_held() const { return !dirs_[0].held.empty() || !dirs_[1].held.empty(); }
  uint64_t last_activity_ns() const { return last_activity_ns_; }
  void set_batch(uint64_t batch) { batch_ = batch; }

 private:
  enum class Role : uint8_t { kUnknown, kServer, kClient, kNotHttp, kStopped };

  struct Held {
    aster_event ev;
    std::vector<uint8_t> bytes;
    uint64_t batch;
  };
  struct Direction {
    bool started = false;
    uint64_t next_pos = 0;
    std::vector<Held> held;
  };

  // The first bytes of a direction, from a transfer boundary on, kept while
  // a protocol needs more of them to decide (a request split over reads).
  struct Unclaimed {
    std::vector<Held> records;
    std::vector<uint8_t> prefix;  // their captured bytes, up to FirstBytes::kDetectBytes
    uint64_t bytes = 0;           // bytes moved in this direction that nobody claimed
  };

  // Offers the connection's first bytes to the protocols; once one claims
  // it, the records it decided on go through accept() in order.
  void classify(const aster_event& ev, const uint8_t* payload);
  void give_up_candidate(Unclaimed& u);
  // The ordered path: stream positions, holding, delivery.
  void accept(const aster_event& ev, const uint8_t* payload);
  void deliver(const aster_event& ev, const uint8_t* payload);
  // Past the payload: the bytes its trailers hold and the gaps around them.
  // False when the session stopped.
  bool deliver_pieces(const aster_event& ev, const uint8_t* payload);
  // `missing` bytes of the record `ev` were not captured: a gap. False when
  // the session stopped.
  bool not_captured(const aster_event& ev, uint64_t missing);
  // Tells the kernel's walker where the next boundary is, when the session
  // knows it lies inside a later transfer and the kernel is not walking.
  void arm_walker(const aster_event& ev);
  // After the session took bytes: stop, or hand over to another protocol.
  bool follow_session();
  void hold(Direction& d, const aster_event& ev, const uint8_t* payload);
  // Delivers the held records that now follow on in stream order.
  void deliver_following(Direction& d);
  // Delivers the oldest held record of `d`, the bytes before it as lost.
  void release_oldest(Direction& d);
  bool serving() const { return role_ == Role::kServer; }
  void restart_as_tls();

  ConnectionContext ctx_;
  const std::vector<const Protocol*>& protocols_;
  std::unique_ptr<ProtocolSession> session_;
  Role role_ = Role::kUnknown;
  uint64_t unclassified_bytes_ = 0;
  Unclaimed unclaimed_[2];
  uint64_t last_activity_ns_ = 0;
  uint64_t batch_ = 0;
  size_t held_bytes_ = 0;
  Direction dirs_[2];
  uint64_t armed_at_[2] = {UINT64_MAX, UINT64_MAX};
  RecordPieces pieces_;  // reused for each record's trailers
};

}  // namespace aster
