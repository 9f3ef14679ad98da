// SPDX-License-Identifier: Apache-2.0
#include "streams/connection.h"

#include <cstring>

namespace aster {
namespace {

// "GET /", "OPTIONS *", "CONNECT host:443": an upper-case token, one space,
// then a target. Cheap enough to run on the first bytes of every record
// until the connection is classified.
bool looks_like_request_start(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z') ++i;
  if (i == 0 || i >= n || p[i] != ' ' || i + 1 >= n) return false;
  uint8_t t = p[i + 1];
  return t == '/' || t == '*' || (t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') ||
         (t >= '0' && t <= '9');
}

bool looks_like_response_start(const uint8_t* p, size_t n) {
  return n >= 7 && std::memcmp(p, "HTTP/1.", 7) == 0;
}

}  // namespace

Connection::Connection(uint64_t conn_id, uint16_t service_id, PipelineStats& stats,
                       HttpMetrics& metrics)
    : conn_id_(conn_id),
      service_id_(service_id),
      stats_(stats),
      metrics_(metrics),
      observer_(metrics.request_observer()) {
  exchanges_.resize(4);
}

Connection::~Connection() {
  // Requests still outstanding end here (expired without a close).
  if (observer_) {
    while (fifo_size_ > 0) fifo_pop();
  }
}

void Connection::on_data(const aster_event& ev, const uint8_t* payload) {
  last_activity_ns_ = ev.timestamp_ns;
  if (role_ == Role::kUnknown) classify(ev, payload);
  if (role_ != Role::kServer) return;

  Direction& d = dirs_[ev.direction & 1];
  if (!d.started) {
    d.started = true;
    d.next_pos = ev.stream_pos;
  }
  if (ev.stream_pos > d.next_pos) {
    // A record from another thread may not have reached the ring yet (the
    // position is claimed before the record is reserved); hold this one
    // for a batch or two before calling the difference lost.
    stats_.chunks_reordered.add();
    d.held.push_back(Held{ev, std::vector<uint8_t>(payload, payload + ev.captured_len), batch_});
    return;
  }
  if (ev.stream_pos < d.next_pos) {
    stats_.chunks_late.add();
    return;
  }
  deliver(ev, payload);
  // Held records that now follow on.
  bool progressed = true;
  while (progressed && !d.held.empty()) {
    progressed = false;
    for (size_t i = 0; i < d.held.size(); ++i) {
      if (d.held[i].ev.stream_pos == d.next_pos) {
        Held h = std::move(d.held[i]);
        d.held.erase(d.held.begin() + i);
        deliver(h.ev, h.bytes.data());
        progressed = true;
        break;
      }
    }
  }
}

bool Connection::flush_held(uint64_t batch, uint64_t min_age) {
  for (auto& d : dirs_) {
    while (!d.held.empty()) {
      size_t oldest = 0;
      for (size_t i = 1; i < d.held.size(); ++i) {
        if (d.held[i].ev.stream_pos < d.held[oldest].ev.stream_pos) oldest = i;
      }
      if (batch - d.held[oldest].batch < min_age) break;
      Held h = std::move(d.held[oldest]);
      d.held.erase(d.held.begin() + oldest);
      if (h.ev.stream_pos < d.next_pos) {
        stats_.chunks_late.add();
        continue;
      }
      uint64_t missing = h.ev.stream_pos - d.next_pos;
      stats_.gap_lost.add(missing);
      gap(h.ev.direction, missing, h.ev.timestamp_ns);
      d.next_pos = h.ev.stream_pos;
      deliver(h.ev, h.bytes.data());
    }
  }
  return has_held();
}

void Connection::classify(const aster_event& ev, const uint8_t* payload) {
  size_t n = ev.captured_len;
  bool req = looks_like_request_start(payload, n);
  bool resp = !req && looks_like_response_start(payload, n);
  if (ev.direction == ASTER_DIR_INGRESS && req) {
    role_ = Role::kServer;
  } else if ((ev.direction == ASTER_DIR_INGRESS && resp) || (ev.direction == ASTER_DIR_EGRESS && req)) {
    // The watched process is the HTTP client here: its requests are some
    // other server's to count.
    role_ = Role::kClient;
    stats_.connections_client.add();
  } else {
    // A response whose request came before we attached, a body, or not
    // HTTP at all: wait for a read that starts with a request line.
    unclassified_bytes_ += ev.byte_count;
    if (unclassified_bytes_ > kMaxUnclassifiedBytes) {
      role_ = Role::kNotHttp;
      stats_.connections_not_http.add();
    }
  }
}

void Connection::deliver(const aster_event& ev, const uint8_t* payload) {
  uint8_t dir = ev.direction & 1;
  dirs_[dir].next_pos = ev.stream_pos + ev.byte_count;
  if (role_ != Role::kServer) return;  // stopped by an upgrade mid-record
  HttpStreamParser& p = parser(dir);
  if (ev.captured_len) {
    stats_.bytes_captured.add(ev.captured_len);
    p.feed(payload, ev.captured_len, ev.timestamp_ns);
  }
  if (ev.byte_count > ev.captured_len && role_ == Role::kServer) {
    uint64_t missing = ev.byte_count - ev.captured_len;
    if (ev.flags & ASTER_F_NO_USER_BUFFER) {
      stats_.gap_no_buffer.add(missing);
    } else {
      stats_.gap_not_captured.add(missing);
    }
    p.gap(missing, ev.timestamp_ns);
  }
}

void Connection::gap(uint8_t dir, uint64_t len, uint64_t ts_ns) {
  if (role_ == Role::kServer && len) parser(dir).gap(len, ts_ns);
}

void Connection::on_close(uint64_t ts_ns) {
  flush_held(UINT64_MAX, 0);
  if (role_ == Role::kServer) {
    requests_.end_of_stream(ts_ns);
    responses_.end_of_stream(ts_ns);
    record_ready(true);
  }
}

Connection::Exchange& Connection::fifo_push() {
  if (fifo_size_ == exchanges_.size()) {
    if (exchanges_.size() >= kMaxOutstanding) {
      stats_.pipeline_overflow.add();
      fifo_pop();
    } else {
      // Grow the ring, keeping FIFO order from index 0.
      std::vector<Exchange> bigger(exchanges_.size() * 2);
      for (size_t i = 0; i < fifo_size_; ++i) bigger[i] = std::move(fifo_at(i));
      exchanges_.swap(bigger);
      head_ = 0;
    }
  }
  Exchange& x = fifo_at(fifo_size_++);
  x.method = HttpMethod::kOther;
  x.path.clear();  // keeps its capacity
  x.first_byte_ns = 0;
  x.request_body = 0;
  x.request_complete = false;
  x.answered = false;
  x.status = 0;
  x.response_body = 0;
  x.last_byte_ns = 0;
  return x;
}

void Connection::fifo_pop() {
  // Every exchange leaves through here: recorded, unanswered at close, or
  // dropped by the pipelining bound.
  if (observer_) {
    const Exchange& x = fifo_at(0);
    observer_->on_request_end(service_id_, x.method, x.path);
  }
  head_ = (head_ + 1) % exchanges_.size();
  --fifo_size_;
  ++front_seq_;
}

size_t Connection::first_unanswered() {
  size_t i = 0;
  while (i < fifo_size_ && fifo_at(i).answered) ++i;
  return i;
}

Connection::Exchange* Connection::answering() {
  if (answering_seq_ == kNone || answering_seq_ < front_seq_) return nullptr;
  uint64_t i = answering_seq_ - front_seq_;
  return i < fifo_size_ ? &fifo_at(i) : nullptr;
}

void Connection::record(const Exchange& x, bool unknown) {
  CompletedExchange c;
  c.service_id = service_id_;
  c.method = x.method;
  c.method_unknown = unknown;
  c.raw_path = &x.path;
  c.status = x.status;
  c.duration_ns = x.last_byte_ns > x.first_byte_ns ? x.last_byte_ns - x.first_byte_ns : 0;
  c.request_body_bytes = x.request_body;
  c.response_body_bytes = x.response_body;
  metrics_.record(c);
  stats_.requests_recorded.add();
}

void Connection::record_ready(bool closing) {
  while (fifo_size_ > 0) {
    Exchange& x = fifo_at(0);
    if (!x.answered) {
      if (!closing) break;
      stats_.requests_unanswered.add();
    } else if (x.request_complete || closing) {
      // An answer before the whole request body was read (413, early
      // 401) still counts, with the body bytes the server did read.
      record(x, false);
    } else {
      break;
    }
    fifo_pop();
  }
}

ResponseFraming Connection::RequestSink::on_head(const MessageHead& head, uint64_t first_byte_ns) {
  Exchange& x = c_.fifo_push();
  x.method = head.method;
  x.path.assign(head.path);
  x.first_byte_ns = first_byte_ns;
  if (c_.observer_) c_.observer_->on_request_start(c_.service_id_, x.method, x.path);
  return ResponseFraming::kFromHeaders;
}

void Connection::RequestSink::on_message_complete(const MessageHead&, const MessageDone& done) {
  // The request completing is the newest one pushed.
  if (c_.fifo_size_ == 0) return;
  Exchange& x = c_.fifo_at(c_.fifo_size_ - 1);
  x.request_body = done.body_bytes;
  x.request_complete = true;
  if (!done.body_exact) c_.stats_.bodies_estimated.add();
  c_.record_ready(false);
}

void Connection::RequestSink::on_error(ParseError err, uint64_t) {
  c_.stats_.parse_errors[static_cast<int>(err)].add();
}

ResponseFraming Connection::ResponseSink::on_head(const MessageHead& head, uint64_t) {
  if (head.status >= 100 && head.status < 200 && head.status != 101) {
    return ResponseFraming::kFromHeaders;  // interim: the final answer follows
  }
  size_t i = c_.first_unanswered();
  if (i == c_.fifo_size_) {
    c_.answering_seq_ = kNone;
    return ResponseFraming::kFromHeaders;
  }
  c_.answering_seq_ = c_.front_seq_ + i;
  const Exchange& x = c_.fifo_at(i);
  if (x.method == HttpMethod::kHead) return ResponseFraming::kNoBody;
  if (x.method == HttpMethod::kConnect && head.status >= 200 && head.status < 300) {
    return ResponseFraming::kTunnel;
  }
  return ResponseFraming::kFromHeaders;
}

void Connection::ResponseSink::on_message_complete(const MessageHead& head, const MessageDone& done) {
  if (head.status >= 100 && head.status < 200 && head.status != 101) return;
  if (!done.body_exact) c_.stats_.bodies_estimated.add();
  Exchange* x = c_.answering();
  c_.answering_seq_ = kNone;
  if (!x) {
    // Its request was read before we attached, or its head was not
    // captured: the answer still counts, under method UNKNOWN and path
    // "_unknown_", and only in aster_http_requests_total (no duration).
    c_.stats_.responses_unpaired.add();
    c_.metrics_.record_unpaired(c_.service_id_, head.status);
    return;
  }
  x->answered = true;
  x->status = head.status;
  x->response_body = done.body_bytes;
  x->last_byte_ns = done.last_byte_ns;
  bool tunnel = head.status == 101 ||
                (x->method == HttpMethod::kConnect && head.status >= 200 && head.status < 300);
  c_.record_ready(false);
  if (tunnel) {
    // Whatever follows is not HTTP/1.x.
    c_.record_ready(true);
    c_.role_ = Role::kStopped;
    c_.stats_.connections_upgraded.add();
  }
}

void Connection::ResponseSink::on_error(ParseError err, uint64_t) {
  c_.stats_.parse_errors[static_cast<int>(err)].add();
}

}  // namespace aster
