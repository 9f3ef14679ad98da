// SPDX-License-Identifier: Apache-2.0
#include "protocols/http2/http2_session.h"

#include <algorithm>
#include <cstring>

#include "model/event_layout.h"

namespace aster {

using namespace h2;

// The pseudo-header fields a block carried, and whether any field could
// not be read (a reference to a table entry from before what we saw).
class Http2Session::FieldCollector : public HpackFieldSink {
 public:
  void on_field(const HpackField& f) override {
    if (!f.known) {
      ++unknown;
      return;
    }
    if (f.name == "content-type") {
      has_content_type = true;
      grpc_content_type = grpc::is_grpc_content_type(f.value);
      return;
    }
    if (f.name == "grpc-status") {
      grpc_status = grpc::parse_grpc_status(f.value);
      return;
    }
    if (f.name.empty() || f.name[0] != ':') return;
    if (f.name == ":method") {
      method = method_from_token(f.value);
      has_method = true;
    } else if (f.name == ":path") {
      std::string_view p = f.value;
      p = p.substr(0, std::min(p.find_first_of("?#"), p.size()));
      path.assign(p.substr(0, kMaxPathBytes));
      has_path = true;
    } else if (f.name == ":status") {
      unsigned v = 0;
      bool ok = f.value.size() == 3;
      for (char c : f.value) ok = ok && c >= '0' && c <= '9', v = v * 10 + unsigned(c - '0');
      if (ok) {
        status = static_cast<uint16_t>(v);
        has_status = true;
      }
    }
  }
  HttpMethod method = HttpMethod::kOther;
  std::string path;
  uint16_t status = 0;
  bool has_method = false, has_path = false, has_status = false;
  bool has_content_type = false, grpc_content_type = false;
  uint8_t grpc_status = kNoGrpcStatus;
  int unknown = 0;
};

Http2Session::Http2Session(const ConnectionContext& ctx, const Handover* handover)
    : ctx_(ctx), stats_(*ctx.stats), sink_(*ctx.sink), request_events_(ctx.sink->wants_request_events()) {
  if (!handover) return;
  // Upgraded from HTTP/1.1 (RFC 7540 section 3.2): the request that asked
  // is stream 1, half-closed on the client's side; both directions start
  // here, the client's with the preface.
  decided_ = from_start_ = server_spoke_ = true;
  in_ = Reader(true);
  out_ = Reader(true);
  in_.state = Reader::State::kPreface;
  out_.state = Reader::State::kHeader;
  stats_.h2_connections_upgraded.add();
  Stream* s = open_stream(1);
  s->request_seen = s->method_known = s->path_known = true;
  s->method = handover->method;
  s->path = handover->path;
  s->first_byte_ns = handover->first_byte_ns;
  s->request_body = handover->request_body_bytes;
  s->request_body_known = handover->request_body_known && handover->request_body_left >= 0;
  in_.body_before_preface = handover->request_body_left;
  if (request_events_) sink_.on_request_start(ctx_.service_id, s->method, s->path);
}

Http2Session::~Http2Session() {
  if (request_events_) {
    for (auto& [id, s] : streams_) {
      if (s.request_seen) sink_.on_request_end(ctx_.service_id, s.method, s.path);
    }
  }
}

void Http2Session::decide_start(uint8_t dir, const uint8_t* data, size_t len) {
  decided_ = true;
  // Detection claims a fresh connection on the preface, read by the server
  // before anything else (maybe over several reads); anything else is a
  // connection attached late. (Frames cannot begin like the preface: its
  // fourth byte, ' ', is no frame type.)
  size_t n = std::min(len, kPrefaceBytes);
  from_start_ = dir == ASTER_DIR_INGRESS && n > 0 && std::memcmp(data, kPreface, n) == 0;
  in_ = Reader(from_start_);
  out_ = Reader(from_start_);
  if (from_start_) {
    // The server writes nothing before it reads the preface: its first
    // byte we see is its first frame's (counted as a connection then).
    in_.state = Reader::State::kPreface;
    out_.state = Reader::State::kHeader;
    in_.max_frame = out_.max_frame = kDefaultMaxFrame;
  } else {
    stats_.h2_connections_late.add();
    // Both tables start unknown: one epoch each.
    stats_.h2_table_epochs.add(2);
  }
}

bool Http2Session::sync_at(uint8_t dir, const uint8_t* data, size_t len) {
  // A transfer from a boundary starts with a frame header when it is
  // plausible, and so is the next one (or the first frame reaches past
  // what was captured).
  Reader& r = reader(dir);
  const Sender sender = dir == ASTER_DIR_INGRESS ? Sender::kClient : Sender::kServer;
  if (len < kFrameHeaderBytes) return false;
  FrameHeader a = parse_frame_header(data);
  if (!plausible(a, sender, r.max_frame) || a.type == kContinuation) return false;
  size_t next = kFrameHeaderBytes + size_t(a.length);
  if (next + kFrameHeaderBytes <= len) return plausible(parse_frame_header(data + next), sender, r.max_frame);
  return true;
}

void Http2Session::lose_sync(uint8_t dir) {
  Reader& r = reader(dir);
  if (r.state == Reader::State::kLost) return;
  stats_.h2_resyncs.add();
  // Whatever went by may have held header blocks: the table is unknown,
  // and so are the body sizes of the streams open in this direction.
  r.hpack.lose_block();
  stats_.h2_table_epochs.add();
  r.in_block = false;
  r.block.clear();
  r.state = Reader::State::kLost;
  for (auto& [id, s] : streams_) {
    if (dir == ASTER_DIR_INGRESS) {
      s.request_body_known = false;
      s.in_messages.lose();
    } else {
      s.response_body_known = false;
      s.out_messages.lose();
    }
  }
}

void Http2Session::feed(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) {
  if (to_http1_) return;
  if (!decided_) decide_start(dir, data, len);
  if (from_start_ && dir == ASTER_DIR_EGRESS && !server_spoke_ && len > 0) {
    server_spoke_ = true;
    if (data[0] == 'H') {
      // "HTTP/1.1 400": no frame starts so (its length would be 4.7 MB).
      to_http1_ = true;
      http1_answer_ = Unconsumed{dir, ts_ns, std::vector<uint8_t>(data, data + len)};
      return;
    }
    stats_.h2_connections_start.add();
  }
  Reader& r = reader(dir);
  const uint8_t* p = data;
  const uint8_t* end = data + len;
  if (r.state == Reader::State::kSeek || r.state == Reader::State::kLost) {
    // A feed begins at a transfer boundary.
    if (!sync_at(dir, data, len)) return;
    r.state = Reader::State::kHeader;
    r.hdr_len = 0;
  }
  while (p < end) {
    switch (r.state) {
      case Reader::State::kPreface: {
        if (r.body_before_preface > 0) {
          // The upgrade request's body, before the preface.
          size_t n = std::min<size_t>(end - p, uint64_t(r.body_before_preface));
          r.body_before_preface -= int64_t(n);
          auto it = streams_.find(1);
          if (it != streams_.end()) it->second.request_body += n;
          p += n;
          break;
        }
        if (r.body_before_preface < 0 && r.preface_seen == 0) {
          // A body of unknown length: the preface starts some transfer.
          if (p != data || std::memcmp(p, kPreface, std::min<size_t>(end - p, kPrefaceBytes)) != 0) return;
          r.body_before_preface = 0;
        }
        size_t n = std::min<size_t>(end - p, kPrefaceBytes - r.preface_seen);
        if (std::memcmp(p, kPreface + r.preface_seen, n) != 0) {
          stats_.h2_frames_invalid.add();
          lose_sync(dir);
          return;
        }
        r.preface_seen += n;
        p += n;
        if (r.preface_seen == kPrefaceBytes) r.state = Reader::State::kHeader;
        break;
      }
      case Reader::State::kHeader: {
        if (r.hdr_len == 0) r.frame_ts = ts_ns;
        size_t n = std::min<size_t>(end - p, kFrameHeaderBytes - r.hdr_len);
        std::memcpy(r.hdr + r.hdr_len, p, n);
        r.hdr_len += n;
        p += n;
        if (r.hdr_len < kFrameHeaderBytes) break;
        r.hdr_len = 0;
        r.fh = parse_frame_header(r.hdr);
        if (r.fh.length > r.max_frame) {
          // Not a frame a peer may send: we are not where we thought.
          stats_.h2_frames_invalid.add();
          lose_sync(dir);
          return;
        }
        r.left = r.fh.length;
        r.payload.clear();
        r.damaged = false;
        r.data_pad = -1;
        r.state = Reader::State::kPayload;
        if (r.left == 0) {
          r.state = Reader::State::kHeader;
          on_frame(dir, ts_ns);
        }
        break;
      }
      case Reader::State::kPayload: {
        size_t n = std::min<size_t>(end - p, r.left);
        if (r.fh.type == kData) {
          if (r.data_pad < 0 && (r.fh.flags & kPadded) && n > 0 && r.left == r.fh.length) r.data_pad = p[0];
          on_data_bytes(dir, p, n, r.fh.length - r.left);
        } else if (r.payload.size() + n <= kMaxHeaderBlock) {
          r.payload.append(reinterpret_cast<const char*>(p), n);
        } else {
          r.damaged = true;
        }
        r.left -= static_cast<uint32_t>(n);
        p += n;
        if (r.left == 0) {
          r.state = Reader::State::kHeader;
          on_frame(dir, ts_ns);
        }
        break;
      }
      case Reader::State::kSeek:
      case Reader::State::kLost:
        return;
    }
  }
}

void Http2Session::gap(uint8_t dir, uint64_t len, uint64_t ts_ns) {
  if (!decided_ || to_http1_ || len == 0) return;
  Reader& r = reader(dir);
  switch (r.state) {
    case Reader::State::kSeek:
    case Reader::State::kLost:
      return;
    case Reader::State::kPreface:
      if (r.body_before_preface < 0 && r.preface_seen == 0) return;  // more of that body
      if (r.body_before_preface > 0 && uint64_t(r.body_before_preface) >= len) {
        r.body_before_preface -= int64_t(len);
        auto it = streams_.find(1);
        if (it != streams_.end()) it->second.request_body += len;
        return;
      }
      break;
    case Reader::State::kPayload:
      if (len <= r.left) {
        // Inside one frame: a DATA frame's size is in its header, so only
        // the frames we read (header blocks, SETTINGS) are damaged.
        if (r.fh.type == kData) on_data_bytes(dir, nullptr, len, r.fh.length - r.left);
        r.left -= static_cast<uint32_t>(len);
        if (r.fh.type != kData) r.damaged = true;
        if (r.left == 0) {
          r.state = Reader::State::kHeader;
          on_frame(dir, ts_ns);
        }
        return;
      }
      break;
    default:
      break;
  }
  // The next frame header went by uncaptured.
  lose_sync(dir);
}

void Http2Session::on_data_payload(uint8_t dir, uint32_t bytes) {
  Reader& r = reader(dir);
  auto it = streams_.find(r.fh.stream);
  if (it == streams_.end()) return;
  if (dir == ASTER_DIR_INGRESS) {
    it->second.request_body += bytes;
  } else {
    it->second.response_body += bytes;
  }
}

void Http2Session::on_frame(uint8_t dir, uint64_t ts_ns) {
  Reader& r = reader(dir);
  const FrameHeader& fh = r.fh;
  if (r.in_block && fh.type != kContinuation) {
    // RFC 9113 6.10: nothing may come between a block's frames.
    stats_.h2_frames_invalid.add();
    r.in_block = false;
    r.hpack.lose_block();
    stats_.h2_table_epochs.add();
  }
  const uint8_t* p = reinterpret_cast<const uint8_t*>(r.payload.data());
  size_t n = r.payload.size();
  switch (fh.type) {
    case kData: {
      uint32_t body = fh.length;
      if (fh.flags & kPadded) {
        if (r.data_pad < 0) {
          // The pad length went by uncaptured.
          auto it = streams_.find(fh.stream);
          if (it != streams_.end()) (dir == ASTER_DIR_INGRESS ? it->second.request_body_known : it->second.response_body_known) = false;
          body = 0;
        } else {
          body = uint32_t(r.data_pad) + 1 <= body ? body - 1 - uint32_t(r.data_pad) : 0;
        }
      }
      on_data_payload(dir, body);
      if (fh.flags & kEndStream) {
        if (dir == ASTER_DIR_EGRESS) complete_stream(fh.stream, ts_ns);
      }
      return;
    }
    case kHeaders:
    case kPushPromise: {
      size_t skip = 0, pad = 0;
      if (fh.flags & kPadded) {
        if (n < 1) return;
        pad = p[0];
        skip = 1;
      }
      if (fh.type == kHeaders && (fh.flags & kPriorityFlag)) skip += 5;
      if (fh.type == kPushPromise) skip += 4;
      r.in_block = true;
      r.block.clear();
      r.block_damaged = r.damaged || skip + pad > n;
      r.block_end_stream = fh.type == kHeaders && (fh.flags & kEndStream);
      r.block_push = fh.type == kPushPromise;
      r.block_stream = fh.stream;
      r.block_ts = r.frame_ts;
      if (!r.block_damaged) r.block.assign(reinterpret_cast<const char*>(p) + skip, n - skip - pad);
      if (fh.flags & kEndHeaders) finish_block(dir, ts_ns);
      return;
    }
    case kContinuation:
      if (!r.in_block || fh.stream != r.block_stream) {
        stats_.h2_frames_invalid.add();
        r.hpack.lose_block();
        stats_.h2_table_epochs.add();
        return;
      }
      if (r.damaged || r.block.size() + n > kMaxHeaderBlock) {
        r.block_damaged = true;
      } else if (!r.block_damaged) {
        r.block.append(reinterpret_cast<const char*>(p), n);
      }
      if (fh.flags & kEndHeaders) finish_block(dir, ts_ns);
      return;
    case kRstStream:
      on_rst_stream(fh.stream,
                    !r.damaged && n == 4 ? grpc::code_from_rst(uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 |
                                                               uint32_t(p[2]) << 8 | p[3])
                                         : kGrpcCodeUnknown,
                    ts_ns);
      return;
    case kSettings:
      if (!r.damaged && !(fh.flags & kAck)) on_settings(dir);
      return;
    default:
      // PRIORITY, PING, GOAWAY, WINDOW_UPDATE, extensions: nothing a
      // request's labels or times depend on. (GOAWAY's refused streams
      // are reset or retried by the client; at close they count as
      // unanswered.)
      return;
  }
}

void Http2Session::on_settings(uint8_t dir) {
  // SETTINGS_MAX_FRAME_SIZE (0x5) bounds what the *other* side may send.
  Reader& r = reader(dir);
  Reader& other = reader(dir ^ 1);
  for (size_t i = 0; i + 6 <= r.payload.size(); i += 6) {
    const uint8_t* s = reinterpret_cast<const uint8_t*>(r.payload.data()) + i;
    uint16_t id = uint16_t(s[0] << 8 | s[1]);
    uint32_t v = uint32_t(s[2]) << 24 | uint32_t(s[3]) << 16 | uint32_t(s[4]) << 8 | s[5];
    if (id == 0x5 && v >= kDefaultMaxFrame && v <= kLargestMaxFrame) other.max_frame = v;
  }
}

void Http2Session::finish_block(uint8_t dir, uint64_t ts_ns) {
  Reader& r = reader(dir);
  r.in_block = false;
  FieldCollector f;
  const FieldCollector* fields = nullptr;
  if (r.block_damaged) {
    r.hpack.lose_block();
    stats_.h2_table_epochs.add();
  } else {
    uint64_t before = r.hpack.epochs();
    if (r.hpack.decode(reinterpret_cast<const uint8_t*>(r.block.data()), r.block.size(), f)) {
      fields = &f;
    } else {
      stats_.h2_frames_invalid.add();
    }
    stats_.h2_table_epochs.add(r.hpack.epochs() - before);
  }
  r.block.clear();
  // Pushed streams (PUSH_PROMISE, and their responses on even streams)
  // answer no request of the client: their blocks are decoded to keep the
  // table right, and not counted.
  if (r.block_push || (r.block_stream & 1) == 0) return;
  if (dir == ASTER_DIR_INGRESS) {
    on_request_headers(r.block_stream, fields, r.block_end_stream, r.block_ts);
  } else {
    on_response_headers(r.block_stream, fields, r.block_end_stream, ts_ns);
  }
}

Http2Session::Stream* Http2Session::open_stream(uint32_t id) {
  if (streams_.size() >= kMaxStreams) {
    auto oldest = std::min_element(streams_.begin(), streams_.end(),
                                   [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
    stats_.pipeline_overflow.add();
    drop_stream(oldest);
  }
  Stream& s = streams_[id];
  s = Stream{};
  s.order = next_order_++;
  return &s;
}

void Http2Session::on_request_headers(uint32_t id, const FieldCollector* f, bool end_stream, uint64_t ts_ns) {
  auto it = streams_.find(id);
  if (it != streams_.end()) return;  // trailers (or a second block): the request is already known
  (void)end_stream;
  Stream* s = open_stream(id);
  s->request_seen = true;
  s->first_byte_ns = ts_ns;
  s->method_known = f && f->has_method;
  s->path_known = f && f->has_path;
  if (s->method_known) s->method = f->method;
  if (s->path_known) s->path = f->path;
  if (!s->method_known) stats_.h2_fields_unresolved.add();
  if (!s->path_known) stats_.h2_fields_unresolved.add();
  if (request_events_) sink_.on_request_start(ctx_.service_id, s->method, s->path);
  note_grpc_fields(*s, f, true);
  if (s->grpc == Stream::GrpcKind::kYes) {
    s->grpc_start_counted = true;
    sink_.on_grpc_start(ctx_.service_id, s->path_known ? &s->path : nullptr);
  }
}

void Http2Session::note_grpc_fields(Stream& s, const FieldCollector* f, bool request) {
  if (s.grpc == Stream::GrpcKind::kUnknown && f) {
    // Absent from a block read whole: not gRPC. (A request decides; the
    // response's content-type only when the request's could not be read.)
    if (f->has_content_type) {
      s.grpc = f->grpc_content_type ? Stream::GrpcKind::kYes : Stream::GrpcKind::kNo;
    } else if (f->unknown == 0 && request) {
      s.grpc = Stream::GrpcKind::kNo;
    }
  }
  if (!request && f && f->grpc_status != kNoGrpcStatus) s.grpc_status = f->grpc_status;
}

void Http2Session::on_response_headers(uint32_t id, const FieldCollector* f, bool end_stream, uint64_t ts_ns) {
  auto it = streams_.find(id);
  Stream* s = nullptr;
  if (it == streams_.end()) {
    // Its request came before we attached, or in a gap: the answer still
    // counts, as a request not seen.
    s = open_stream(id);
  } else {
    s = &it->second;
  }
  if (it == streams_.end()) {
    // The request's messages went by before: their count is not known.
    s->in_messages.lose();
  }
  if (!s->response_started) {
    if (f && f->has_status && f->status >= 100 && f->status < 200) {
      // 1xx (103 Early Hints, 100 Continue): the final answer follows.
      if (!end_stream) return;
    }
    s->response_started = true;
    s->status_known = f && f->has_status;
    if (s->status_known) {
      s->status = f->status;
    } else {
      stats_.h2_fields_unresolved.add();
    }
  }
  note_grpc_fields(*s, f, false);
  if (end_stream) {
    s->ended_by_headers = true;
    s->end_block_unresolved = !f || (f->unknown > 0 && f->grpc_status == kNoGrpcStatus);
    complete_stream(id, ts_ns);
  }
}

void Http2Session::on_rst_stream(uint32_t id, uint8_t reset_code, uint64_t ts_ns) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;  // already complete (NO_ERROR after a whole response), or never seen
  it->second.reset = true;
  it->second.reset_code = reset_code;
  it->second.last_byte_ns = ts_ns;
  if (it->second.response_started) {
    // The answer began: it counts, with its status, ending here.
    complete_stream(id, ts_ns);
    return;
  }
  // Reset before any answer (cancelled, refused): no HTTP status to label
  // it by, but a gRPC call's handler ran and ended with the reset's code.
  stats_.h2_streams_reset.add();
  if (is_grpc(it->second)) record_grpc(it->second);
  drop_stream(it);
}

void Http2Session::complete_stream(uint32_t id, uint64_t ts_ns) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  if (!s.response_started) {
    // END_STREAM without a final HEADERS block read: its HEADERS went by
    // in a gap, so the status is unknown.
    s.response_started = true;
    stats_.h2_fields_unresolved.add();
  }
  s.last_byte_ns = ts_ns;
  record(s);
  if (is_grpc(s)) record_grpc(s);
  drop_stream(it);
}

void Http2Session::drop_stream(std::unordered_map<uint32_t, Stream>::iterator it) {
  if (request_events_ && it->second.request_seen) sink_.on_request_end(ctx_.service_id, it->second.method, it->second.path);
  streams_.erase(it);
}

void Http2Session::on_data_bytes(uint8_t dir, const uint8_t* p, uint64_t n, uint64_t offset) {
  Reader& r = reader(dir);
  auto it = streams_.find(r.fh.stream);
  if (it == streams_.end()) return;
  grpc::MessageCounter& c = dir == ASTER_DIR_INGRESS ? it->second.in_messages : it->second.out_messages;
  uint64_t begin = 0, end = r.fh.length;
  if (r.fh.flags & kPadded) {
    // The pad length byte, and the padding at the end, are no message bytes.
    if (r.data_pad < 0) {
      if (offset + n > 0) c.lose();
      return;
    }
    begin = 1;
    end = uint32_t(r.data_pad) + 1 <= end ? end - uint32_t(r.data_pad) : 1;
  }
  uint64_t from = std::max(offset, begin), to = std::min(offset + n, end);
  if (from >= to) return;
  if (p) {
    c.feed(p + (from - offset), to - from);
  } else {
    c.skip(to - from);
  }
}

bool Http2Session::is_grpc(const Stream& s) const {
  if (s.grpc != Stream::GrpcKind::kUnknown) return s.grpc == Stream::GrpcKind::kYes;
  return s.request_seen && s.in_messages.exact() && s.in_messages.messages() > 0 && s.in_messages.at_boundary() &&
         (s.ended_by_headers || s.reset);
}

void Http2Session::record_grpc(const Stream& s) {
  GrpcCall c;
  c.service_id = ctx_.service_id;
  c.path = s.request_seen && s.path_known ? &s.path : nullptr;
  c.request_seen = s.request_seen;
  c.start_counted = s.grpc_start_counted;
  // The code as a grpc-go client would report it: grpc-status, else the
  // reset's error code, else the HTTP status (gRPC's
  // http-grpc-status-mapping.md); an ending block we could not read is
  // the sentinel, never a guess.
  if (s.grpc_status != kNoGrpcStatus) {
    c.code = s.grpc_status;
  } else if (s.ended_by_headers && s.end_block_unresolved) {
    c.code = kGrpcCodeUnknown;
  } else if (s.reset) {
    c.code = s.reset_code;
  } else if (s.status_known && s.status != 200) {
    c.code = grpc::code_from_http_status(s.status);
  } else if (s.status_known) {
    // 200 and an end without grpc-status: grpc-go says Unknown for
    // trailers without it, Internal for no trailers at all.
    c.code = s.ended_by_headers ? 2 : 13;
  }
  if (c.code == kGrpcCodeUnknown) stats_.grpc_codes_unresolved.add();
  c.messages_received = s.in_messages.messages();
  c.messages_sent = s.out_messages.messages();
  c.received_known = s.in_messages.exact();
  c.sent_known = s.out_messages.exact();
  if (!c.received_known) stats_.grpc_messages_unknown_received.add();
  if (!c.sent_known) stats_.grpc_messages_unknown_sent.add();
  if (s.grpc == Stream::GrpcKind::kYes) {
    stats_.grpc_calls_content_type.add();
  } else {
    stats_.grpc_calls_framing.add();
  }
  c.first_byte_ns = s.first_byte_ns;
  c.last_byte_ns = s.last_byte_ns;
  sink_.on_grpc_call(c);
}

void Http2Session::record(const Stream& s) {
  Exchange e;
  e.service_id = ctx_.service_id;
  e.protocol = AppProtocol::kHttp2;
  // A request whose method or path could not be read counts as a request
  // not seen (method UNKNOWN, path "_unknown_"), never under a guess.
  e.request_seen = s.request_seen && s.method_known && s.path_known;
  e.method = s.method;
  e.path = &s.path;
  e.status = s.status_known ? s.status : 0;
  e.request_body_bytes = s.request_body;
  e.request_body_known = s.request_body_known;
  e.response_body_bytes = s.response_body;
  e.response_body_known = s.response_body_known;
  e.first_byte_ns = s.first_byte_ns;
  e.last_byte_ns = s.last_byte_ns;
  sink_.on_exchange(e);
  if (e.request_seen) {
    stats_.requests_recorded.add();
  } else {
    stats_.responses_unpaired.add();
  }
  stats_.h2_streams.add();
}

void Http2Session::close(uint64_t) {
  // Streams without an answer at close: as HTTP/1's unanswered requests.
  for (auto& [id, s] : streams_) {
    if (s.request_seen) stats_.requests_unanswered.add();
  }
}

}  // namespace aster
