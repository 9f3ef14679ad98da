// SPDX-License-Identifier: Apache-2.0
#include "streams/connection.h"

#include <algorithm>
#include <cstring>

#include "streams/record_pieces.h"

namespace aster {
namespace {
// A record kept for later: its payload and iovec hints.
std::vector<uint8_t> record_tail(const aster_event& ev, const uint8_t* payload) {
  return std::vector<uint8_t>(payload, payload + data_record_tail(ev, payload));
}
}  // namespace

Connection::Connection(const ConnectionContext& ctx, const std::vector<const Protocol*>& protocols)
    : ctx_(ctx), protocols_(protocols) {}

Connection::~Connection() {
  for (uint8_t dir = 0; dir < 2; ++dir) {
    if (ctx_.arming && armed_at_[dir] != UINT64_MAX) ctx_.arming->disarm(ctx_.conn_id, dir);
  }
  if (tls()) ctx_.stats->tls_connections_tracked.fetch_sub(1, std::memory_order_relaxed);
}

void Connection::restart_as_tls() {
  session_.reset();
  role_ = Role::kUnknown;
  unclassified_bytes_ = 0;
  for (auto& u : unclaimed_) u = Unclaimed{};
  for (auto& d : dirs_) d = Direction{};
  held_bytes_ = 0;
  ctx_.source = StreamSource::kTlsPlaintext;
  ctx_.stats->connections_tls.add();
  ctx_.stats->tls_connections_tracked.fetch_add(1, std::memory_order_relaxed);
}

void Connection::on_data(const aster_event& ev, const uint8_t* payload) {
  last_activity_ns_ = ev.timestamp_ns;
  if (((ev.flags & ASTER_F_TLS_PLAINTEXT) != 0) != tls()) {
    if (tls()) {
      // Ciphertext the socket moved before the session was bound, behind
      // the plaintext in the ring.
      ctx_.stats->tls_ciphertext_skipped.add();
      return;
    }
    restart_as_tls();
  }
  if (role_ == Role::kUnknown) {
    classify(ev, payload);
    return;
  }
  if (serving()) accept(ev, payload);
}

void Connection::accept(const aster_event& ev, const uint8_t* payload) {
  Direction& d = dirs_[ev.direction & 1];
  if (!d.started) {
    d.started = true;
    d.next_pos = ev.stream_pos;
  }
  if (ev.stream_pos > d.next_pos && (ev.flags & ASTER_F_UNSEEN_BEFORE)) {
    // The kernel's sequence numbers say the bytes in between moved by a
    // path the probes do not see: a gap now, not a wait for records.
    const uint64_t missing = ev.stream_pos - d.next_pos;
    ctx_.stats->gap_unseen.add(missing);
    d.next_pos = ev.stream_pos;
    if (serving()) {
      session_->gap(ev.direction & 1, missing, ev.timestamp_ns);
      if (!follow_session()) return;
    }
  }
  if (ev.stream_pos > d.next_pos) {
    // A record from another thread may not have reached the ring yet (the
    // position is claimed before the record is reserved); hold this one
    // for a batch or two before calling the difference lost.
    ctx_.stats->chunks_reordered.add();
    hold(d, ev, payload);
    return;
  }
  if (ev.stream_pos < d.next_pos) {
    ctx_.stats->chunks_late.add();
    return;
  }
  deliver(ev, payload);
  deliver_following(d);
}

void Connection::deliver_following(Direction& d) {
  bool progressed = true;
  while (progressed && !d.held.empty()) {
    progressed = false;
    for (size_t i = 0; i < d.held.size(); ++i) {
      if (d.held[i].ev.stream_pos == d.next_pos) {
        Held h = std::move(d.held[i]);
        d.held.erase(d.held.begin() + i);
        held_bytes_ -= h.bytes.size();
        deliver(h.ev, h.bytes.data());
        progressed = true;
        break;
      }
    }
  }
}

void Connection::hold(Direction& d, const aster_event& ev, const uint8_t* payload) {
  d.held.push_back(Held{ev, record_tail(ev, payload), batch_});
  held_bytes_ += d.held.back().bytes.size();
  if (held_bytes_ <= kMaxHeldBytes) return;
  ctx_.stats->held_bytes_capped.add();
  // Releasing this direction is enough: every addition checks the cap, so
  // the excess is at most the record just held, which is in `d`.
  while (held_bytes_ > kMaxHeldBytes && !d.held.empty()) {
    release_oldest(d);
    deliver_following(d);
  }
}

void Connection::release_oldest(Direction& d) {
  size_t oldest = 0;
  for (size_t i = 1; i < d.held.size(); ++i) {
    if (d.held[i].ev.stream_pos < d.held[oldest].ev.stream_pos) oldest = i;
  }
  Held h = std::move(d.held[oldest]);
  d.held.erase(d.held.begin() + oldest);
  held_bytes_ -= h.bytes.size();
  if (h.ev.stream_pos < d.next_pos) {
    ctx_.stats->chunks_late.add();
    return;
  }
  uint64_t missing = h.ev.stream_pos - d.next_pos;
  ctx_.stats->gap_lost.add(missing);
  uint8_t dir = h.ev.direction & 1;
  if (serving() && missing) {
    session_->gap(dir, missing, h.ev.timestamp_ns);
    follow_session();
  }
  d.next_pos = h.ev.stream_pos;
  deliver(h.ev, h.bytes.data());
}

bool Connection::flush_held(uint64_t batch, uint64_t min_age) {
  for (auto& d : dirs_) {
    while (!d.held.empty()) {
      size_t oldest = 0;
      for (size_t i = 1; i < d.held.size(); ++i) {
        if (d.held[i].ev.stream_pos < d.held[oldest].ev.stream_pos) oldest = i;
      }
      if (batch - d.held[oldest].batch < min_age) break;
      release_oldest(d);
    }
  }
  return has_held();
}

void Connection::classify(const aster_event& ev, const uint8_t* payload) {
  const uint8_t dir = ev.direction & 1;
  Unclaimed& u = unclaimed_[dir];
  // A candidate is a run of whole, contiguous transfers from a boundary:
  // bytes after a gap cannot be read as the start of anything.
  if (!u.records.empty()) {
    const aster_event& last = u.records.back().ev;
    if (last.stream_pos + last.byte_count != ev.stream_pos || last.captured_len != last.byte_count) {
      give_up_candidate(u);
    }
  }
  // Most connections are decided by their first record: it is read in
  // place, and kept (copied) only while a protocol needs more bytes.
  const bool alone = u.records.empty();
  FirstBytes b;
  b.dir = dir;
  b.unclaimed_other_direction = unclaimed_[dir ^ 1].bytes;
  if (alone) {
    b.data = payload;
    b.len = std::min<size_t>(ev.captured_len, FirstBytes::kDetectBytes);
  } else {
    u.records.push_back(Held{ev, record_tail(ev, payload), batch_});
    size_t room = FirstBytes::kDetectBytes - std::min(u.prefix.size(), FirstBytes::kDetectBytes);
    u.prefix.insert(u.prefix.end(), payload, payload + std::min<size_t>(room, ev.captured_len));
    b.data = u.prefix.data();
    b.len = u.prefix.size();
  }
  bool rejected = false, need_more = false;
  for (const Protocol* p : protocols_) {
    switch (p->detect(b)) {
      case Detection::kServer: {
        role_ = Role::kServer;
        session_ = p->open(ctx_, nullptr);
        // The records it decided on start the streams; the other
        // direction's unclaimed bytes came before anything it can pair.
        std::vector<Held> run = std::move(u.records);
        for (auto& x : unclaimed_) x = Unclaimed{};
        if (alone) {
          accept(ev, payload);
          return;
        }
        for (const Held& h : run) {
          if (serving()) accept(h.ev, h.bytes.data());
        }
        return;
      }
      case Detection::kClient:
        // The watched process is the client here: its requests are some
        // other server's to count.
        role_ = Role::kClient;
        ctx_.stats->connections_client.add();
        for (auto& x : unclaimed_) x = Unclaimed{};
        return;
      case Detection::kRejected:
        rejected = true;
        break;
      case Detection::kNeedMore:
        need_more = true;
        break;
      case Detection::kNotMine:
        break;
    }
  }
  if (need_more && !rejected && b.len < FirstBytes::kDetectBytes) {
    if (alone) {  // wait for the next read, keeping this one
      u.records.push_back(Held{ev, record_tail(ev, payload), batch_});
      u.prefix.assign(b.data, b.data + b.len);
    }
    return;
  }
  if (alone) {
    u.bytes += ev.byte_count;
    unclassified_bytes_ += ev.byte_count;
  } else {
    give_up_candidate(u);
  }
  // Both peers have spoken and no protocol took the first bytes of either:
  // they speak something else (TLS, a database protocol, HTTP/2 frames
  // answering the preface). An HTTP answer to bytes that were no request is
  // claimed above, so only answers that are nobody's protocol get here.
  const bool both_refused = unclaimed_[0].bytes > 0 && unclaimed_[1].bytes > 0;
  if (rejected || both_refused || unclassified_bytes_ > kMaxUnclassifiedBytes) {
    role_ = Role::kNotHttp;
    ctx_.stats->connections_not_http.add();
    for (auto& x : unclaimed_) x = Unclaimed{};
  }
}

void Connection::give_up_candidate(Unclaimed& u) {
  for (const Held& h : u.records) {
    u.bytes += h.ev.byte_count;
    unclassified_bytes_ += h.ev.byte_count;
  }
  u.records.clear();
  u.prefix.clear();
}

void Connection::deliver(const aster_event& ev, const uint8_t* payload) {
  uint8_t dir = ev.direction & 1;
  dirs_[dir].next_pos = ev.stream_pos + ev.byte_count;
  if (!serving()) return;  // stopped by an upgrade mid-record
  if (ev.captured_len) {
    ctx_.stats->bytes_captured.add(ev.captured_len);
    session_->feed(dir, payload, ev.captured_len, ev.timestamp_ns);
    if (!follow_session()) return;
  }
  if (!(ev.flags & (ASTER_F_IOV_HINTS | ASTER_F_WINDOWS))) {
    if (ev.byte_count > ev.captured_len) not_captured(ev, ev.byte_count - ev.captured_len);
  } else if (!deliver_pieces(ev, payload)) {
    return;
  }
  if (serving()) arm_walker(ev);
}

// The bytes past the payload that the record's trailers hold (iovec hints,
// boundary windows) are hints with gaps around them; what they do not hold
// moved but was not captured.
bool Connection::deliver_pieces(const aster_event& ev, const uint8_t* payload) {
  const uint8_t dir = ev.direction & 1;
  record_pieces(ev, payload, &pieces_);
  if (pieces_.windows == WindowCheck::kRejected) ctx_.stats->windows_rejected.add();
  uint64_t known = ev.captured_len;  // bytes of the transfer handed on so far
  for (const RecordPiece& p : pieces_.pieces) {
    if (p.offset > known && !not_captured(ev, p.offset - known)) return false;
    if (p.window) {
      ctx_.stats->windows_used.add();
      ctx_.stats->bytes_captured.add(p.len);
    } else {
      ctx_.stats->bytes_hinted.add(p.len);
    }
    session_->hint(dir, p.bytes, p.len, ev.timestamp_ns);
    if (!follow_session()) return false;
    known = p.offset + p.len;
  }
  return ev.byte_count <= known || not_captured(ev, ev.byte_count - known);
}

bool Connection::not_captured(const aster_event& ev, uint64_t missing) {
  if (ev.flags & ASTER_F_NO_USER_BUFFER) {
    ctx_.stats->gap_no_buffer.add(missing);
  } else {
    ctx_.stats->gap_not_captured.add(missing);
  }
  session_->gap(ev.direction & 1, missing, ev.timestamp_ns);
  return follow_session();
}

void Connection::arm_walker(const aster_event& ev) {
  // The kernel is walking this direction already, or there is no kernel.
  // TLS plaintext has stream positions of its own, which the walker (on
  // the socket's transfers) does not know.
  if (!ctx_.arming || tls() || (ev.flags & ASTER_F_WALKING)) return;
  const uint8_t dir = ev.direction & 1;
  BoundaryHint b;
  // A boundary right at the next transfer's start is in its copied head,
  // where the parser reads it (and the kernel arms itself from it).
  if (!session_->next_boundary(dir, &b) || b.bytes_ahead == 0) return;
  const uint64_t at = dirs_[dir].next_pos + b.bytes_ahead;
  if (armed_at_[dir] == at) return;
  armed_at_[dir] = at;
  ctx_.arming->arm(ctx_.conn_id, dir, at, b);
}

bool Connection::follow_session() {
  switch (session_->next()) {
    case ProtocolSession::Next::kContinue:
      return true;
    case ProtocolSession::Next::kStop:
      role_ = Role::kStopped;
      return false;
    case ProtocolSession::Next::kSwitch:
      break;
  }
  std::string_view to = session_->switch_to();
  for (const Protocol* p : protocols_) {
    if (p->name() != to) continue;
    Handover h = session_->handover() ? *session_->handover() : Handover{};
    // The bytes of the last piece the old protocol did not take are the
    // new one's (the first HTTP/2 frames after a 101, in the same write).
    ProtocolSession::Unconsumed rest = session_->take_unconsumed();
    session_ = p->open(ctx_, &h);
    if (rest.bytes.empty()) return true;
    session_->feed(rest.dir, rest.bytes.data(), rest.bytes.size(), rest.ts_ns);
    return follow_session();
  }
  // A protocol this build does not parse: what follows is not counted.
  role_ = Role::kStopped;
  ctx_.stats->connections_upgraded.add();
  return false;
}

void Connection::on_close(uint64_t ts_ns) {
  flush_held(UINT64_MAX, 0);
  if (serving()) session_->close(ts_ns);
}

}  // namespace aster
