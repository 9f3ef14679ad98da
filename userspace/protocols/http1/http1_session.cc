// SPDX-License-Identifier: Apache-2.0
#include "protocols/http1/http1_session.h"

#include "model/event_layout.h"

#include <algorithm>

namespace aster {
namespace {
bool interim(uint16_t status) { return status >= 100 && status < 200 && status != 101; }
}  // namespace

Http1Session::Http1Session(const ConnectionContext& ctx)
    : ctx_(ctx), stats_(*ctx.stats), sink_(*ctx.sink), request_events_(ctx.sink->wants_request_events()) {
  pending_.resize(4);
}

Http1Session::~Http1Session() {
  // Requests still outstanding end here (the connection expired or closed).
  if (request_events_) {
    while (fifo_size_ > 0) fifo_pop();
  }
}

void Http1Session::feed(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) {
  if (stopped_) return;
  HttpStreamParser& p = parser(dir);
  p.feed(data, len, ts_ns);
  if (switching_ && p.stopped()) {
    // What the 101's write carried after its head: the server's first
    // HTTP/2 frames.
    size_t rest = std::min(p.unconsumed(), len);
    unconsumed_ = Unconsumed{dir, ts_ns, std::vector<uint8_t>(data + len - rest, data + len)};
    stopped_ = true;
  }
}

bool Http1Session::next_boundary(uint8_t dir, BoundaryHint* out) const {
  if (stopped_) return false;
  if (!parser(dir).next_chunk_line(&out->bytes_ahead, &out->after_data)) return false;
  out->kind = ASTER_FRAMING_H1_CHUNKED;
  return true;
}

void Http1Session::gap(uint8_t dir, uint64_t len, uint64_t ts_ns) {
  if (!stopped_ && len) parser(dir).gap(len, ts_ns);
}

void Http1Session::hint(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) {
  if (!stopped_) parser(dir).hint(data, len, ts_ns);
}

void Http1Session::close(uint64_t ts_ns) {
  if (stopped_) return;
  requests_.end_of_stream(ts_ns);
  responses_.end_of_stream(ts_ns);
  record_ready(true);
}

Http1Session::Pending& Http1Session::fifo_push() {
  if (fifo_size_ == pending_.size()) {
    if (pending_.size() >= kMaxOutstanding) {
      stats_.pipeline_overflow.add();
      fifo_pop();
    } else {
      // Grow the ring, keeping FIFO order from index 0.
      std::vector<Pending> bigger(pending_.size() * 2);
      for (size_t i = 0; i < fifo_size_; ++i) bigger[i] = std::move(fifo_at(i));
      pending_.swap(bigger);
      head_ = 0;
    }
  }
  Pending& x = fifo_at(fifo_size_++);
  std::string path = std::move(x.path);
  path.clear();  // keeps its capacity
  x = Pending{};
  x.path = std::move(path);
  return x;
}

void Http1Session::fifo_pop() {
  // Every exchange leaves through here: recorded, unanswered at close, or
  // dropped by the pipelining bound.
  if (request_events_) {
    const Pending& x = fifo_at(0);
    sink_.on_request_end(ctx_.service_id, x.method, x.path);
  }
  head_ = (head_ + 1) % pending_.size();
  --fifo_size_;
  ++front_seq_;
}

size_t Http1Session::first_unanswered() {
  size_t i = 0;
  while (i < fifo_size_ && fifo_at(i).answered) ++i;
  return i;
}

Http1Session::Pending* Http1Session::answering() {
  if (answering_seq_ == kNone || answering_seq_ < front_seq_) return nullptr;
  uint64_t i = answering_seq_ - front_seq_;
  return i < fifo_size_ ? &fifo_at(i) : nullptr;
}

void Http1Session::record(const Pending& x) {
  Exchange e;
  e.service_id = ctx_.service_id;
  e.protocol = AppProtocol::kHttp1;
  e.request_incomplete = !x.request_complete;
  e.method = x.method;
  e.path = &x.path;
  e.status = x.status;
  e.request_body_bytes = x.request_body;
  e.request_body_known = x.request_body_known;
  e.response_body_bytes = x.response_body;
  e.first_byte_ns = x.first_byte_ns;
  e.last_byte_ns = x.last_byte_ns;
  sink_.on_exchange(e);
  stats_.requests_recorded.add();
}

void Http1Session::record_ready(bool closing) {
  while (fifo_size_ > 0) {
    Pending& x = fifo_at(0);
    if (!x.answered) {
      if (!closing) break;
      stats_.requests_unanswered.add();
    } else if (x.request_complete || closing) {
      // An answer before the whole request body was read (413, early
      // 401) still counts, with the body bytes the server did read.
      record(x);
    } else {
      break;
    }
    fifo_pop();
  }
}

ResponseFraming Http1Session::on_request_head(const MessageHead& head, uint64_t first_byte_ns) {
  Pending& x = fifo_push();
  x.method = head.method;
  x.path.assign(head.path);
  x.first_byte_ns = first_byte_ns;
  x.upgrade_h2c = head.upgrade_h2c;
  if (request_events_) sink_.on_request_start(ctx_.service_id, x.method, x.path);
  return ResponseFraming::kFromHeaders;
}

void Http1Session::on_request_complete(const MessageDone& done) {
  // The request completing is the newest one pushed.
  if (fifo_size_ == 0) return;
  Pending& x = fifo_at(fifo_size_ - 1);
  x.request_body = done.body_bytes;
  x.request_body_known = done.body_known;
  x.request_complete = true;
  if (!done.body_exact) stats_.bodies_estimated.add();
  record_ready(false);
}

ResponseFraming Http1Session::on_response_head(const MessageHead& head) {
  if (interim(head.status)) return ResponseFraming::kFromHeaders;  // the final answer follows
  size_t i = first_unanswered();
  if (i == fifo_size_) {
    answering_seq_ = kNone;
    return ResponseFraming::kFromHeaders;
  }
  answering_seq_ = front_seq_ + i;
  const Pending& x = fifo_at(i);
  if (x.method == HttpMethod::kHead) return ResponseFraming::kNoBody;
  if (x.method == HttpMethod::kConnect && head.status >= 200 && head.status < 300) return ResponseFraming::kTunnel;
  return ResponseFraming::kFromHeaders;
}

void Http1Session::on_response_complete(const MessageHead& head, const MessageDone& done) {
  if (interim(head.status)) return;
  if (!done.body_exact) stats_.bodies_estimated.add();
  Pending* x = answering();
  answering_seq_ = kNone;
  if (!x) {
    // Its request was read before we attached, or its head was not
    // captured: the answer still counts, as a request not seen.
    stats_.responses_unpaired.add();
    Exchange e;
    e.service_id = ctx_.service_id;
    e.request_seen = false;
    e.status = head.status;
    e.last_byte_ns = done.last_byte_ns;
    sink_.on_exchange(e);
    return;
  }
  if (head.status == 101 && x->upgrade_h2c && head.upgrade_h2c) {
    switch_to_http2(*x);
    return;
  }
  x->answered = true;
  x->status = head.status;
  x->response_body = done.body_bytes;
  x->last_byte_ns = done.last_byte_ns;
  bool tunnel = head.status == 101 || (x->method == HttpMethod::kConnect && head.status >= 200 && head.status < 300);
  record_ready(false);
  if (tunnel) {
    // Whatever follows is not HTTP/1.x.
    record_ready(true);
    stopped_ = true;
    stats_.connections_upgraded.add();
  }
}

void Http1Session::switch_to_http2(const Pending& x) {
  // Answers before it whose requests were still being read count now.
  while (fifo_size_ > 1 && &fifo_at(0) != &x) {
    record(fifo_at(0));
    fifo_pop();
  }
  // The request that asked is HTTP/2's stream 1 (RFC 7540 3.2): its answer
  // comes as HTTP/2 frames, so the 101 is no exchange of its own.
  handover_.method = x.method;
  handover_.path = x.path;
  handover_.first_byte_ns = x.first_byte_ns;
  if (x.request_complete) {
    handover_.request_body_bytes = x.request_body;
    handover_.request_body_known = x.request_body_known;
    handover_.request_body_left = 0;
  } else {
    // Answered before its body was read: the rest of the body comes
    // before the client preface.
    handover_.request_body_bytes = requests_.body_bytes_so_far();
    handover_.request_body_known = true;
    handover_.request_body_left = requests_.body_left();
  }
  fifo_pop();
  switching_ = true;
}

}  // namespace aster
