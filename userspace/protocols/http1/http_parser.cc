// SPDX-License-Identifier: Apache-2.0
// HTTP/1.x stream framing. One byte-driven state machine per direction:
//
//   kStartLine -> kHeaders -> (no body | kBody | kChunkSize <-> kChunkData
//   -> kChunkDataEnd ... -> kTrailers | kUntilClose) -> kStartLine ...
//
// Lines are scanned in place with memchr; only a line that spans two feed()
// calls is copied, into line_, whose capacity is kept between messages.
// Anything the parser cannot frame sends it to kResync, which skips bytes
// until a position where a start line may begin (the start of a syscall or
// just after an LF) whose first bytes look like one; kStartLine then checks
// the full line, and a failed candidate silently goes back to skipping.
#include "protocols/http1/http_parser.h"

#include <algorithm>
#include <cstring>

#include "protocols/http1/http_syntax.h"

namespace aster {
using namespace http_syntax;  // NOLINT: the parser is written in its terms

HttpStreamParser::HttpStreamParser(StreamKind kind, HttpParserSink* sink)
    : kind_(kind), sink_(sink) {}

namespace {
// `p` starts with a standard method's token and a space.
bool StartsWithStandardMethod(const uint8_t* p, size_t len) {
  const auto* sp = static_cast<const uint8_t*>(std::memchr(p, ' ', std::min<size_t>(len, 8)));
  if (sp == nullptr || sp == p) return false;
  return method_from_token(std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(sp - p))) !=
         HttpMethod::kOther;
}
}  // namespace

bool HttpStreamParser::stopped() const { return state_ == State::kStopped; }

bool HttpStreamParser::in_message() const { return in_message_; }

bool HttpStreamParser::next_chunk_line(uint64_t* bytes_ahead, bool* after_data) const {
  if (state_ == State::kChunkData) {
    *bytes_ahead = body_left_;
    *after_data = true;
    return true;
  }
  if (state_ == State::kChunkSize && head_bytes_ == 0 && line_.empty()) {
    *bytes_ahead = 0;
    *after_data = false;
    return true;
  }
  return false;
}

void HttpStreamParser::feed(const uint8_t* data, size_t len, uint64_t ts_ns) {
  unconsumed_ = len;
  if (state_ == State::kStopped || data == nullptr || len == 0) return;
  ts_ = ts_ns;
  at_boundary_ = true;
  feed_start_ = data;
  const uint8_t* p = data;
  const uint8_t* const end = data + len;
  if (state_ == State::kStartLine && resyncing_ && in_message_ && !candidate_at_boundary_ &&
      IsStartLine(kind_, FirstLine(p, len))) {
    // A resync candidate that began mid-syscall loses to a syscall that
    // starts with a whole start line: new writes start new messages.
    skipped_ += head_bytes_;
    in_message_ = false;
    line_.clear();
    line_taken_ = false;
  }
  if (state_ == State::kStartLine && resyncing_ && in_message_ && kind_ == StreamKind::kRequests &&
      line_.find(' ') == std::string::npos && StartsWithStandardMethod(p, len)) {
    // Nor does a candidate whose method token is still open win over a
    // syscall that starts with a standard method: it is the tail of a body
    // whose length was lost ("abc" + "HEAD / HTTP/1.1" would read as
    // method "abcHEAD", OTHER). A split read ("G" + "ET /") has none.
    skipped_ += head_bytes_;
    in_message_ = false;
    line_.clear();
    line_taken_ = false;
  }
  if (state_ == State::kChunkEstimate || (state_ == State::kTrailers && est_trailers_)) {
    // A syscall that starts with a start line starts the next message, so
    // the estimated one ended with the previous syscall.
    if (IsStartLine(kind_, FirstLine(p, len))) Complete();
    // A syscall boundary may stand where "\r\n" of "\r\n0\r\n" would.
    if (match_ < 2) {
      match_ = 2;
      match_base_ = 2;
    }
  }
  while (p < end && state_ != State::kStopped) p = Step(p, end);
  unconsumed_ = static_cast<size_t>(end - p);
}

int64_t HttpStreamParser::body_left() const {
  if (!in_message_) return 0;
  if (state_ == State::kBody) return static_cast<int64_t>(body_left_);
  return -1;
}

const uint8_t* HttpStreamParser::Step(const uint8_t* p, const uint8_t* end) {
  // One handler per state, in State's order; kStopped takes nothing.
  using Handler = const uint8_t* (HttpStreamParser::*)(const uint8_t*, const uint8_t*);
  static constexpr Handler kSteps[] = {
      &HttpStreamParser::OnStartLine,   &HttpStreamParser::OnHeaders,    &HttpStreamParser::OnBody,
      &HttpStreamParser::OnChunkSize,   &HttpStreamParser::OnChunkData,  &HttpStreamParser::OnChunkDataEnd,
      &HttpStreamParser::OnTrailers,    &HttpStreamParser::OnUntilClose, &HttpStreamParser::OnEstimate,
      &HttpStreamParser::OnResync,
  };
  static_assert(sizeof kSteps / sizeof kSteps[0] == static_cast<size_t>(State::kStopped));
  return (this->*kSteps[static_cast<size_t>(state_)])(p, end);
}

const uint8_t* HttpStreamParser::OnUntilClose(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  body_bytes_ += static_cast<uint64_t>(end - p);
  return end;
}

void HttpStreamParser::gap(uint64_t len, uint64_t ts_ns) {
  if (state_ == State::kStopped) return;
  ts_ = ts_ns;
  at_boundary_ = false;
  // Each step consumes part of the gap; a gap that ends one message and runs
  // into the next is handled by the states it passes through, in order.
  while (len > 0 && state_ != State::kStopped) len -= GapStep(len);
  if (resyncing_) after_gap_ = true;
}

uint64_t HttpStreamParser::GapStep(uint64_t len) {
  switch (state_) {
    case State::kStartLine:
      if (kind_ == StreamKind::kRequests && in_message_ && RequestLineCutByGap(len)) return len;
      if (resyncing_) {
        // A resync candidate that falls into a gap is just more skipped bytes.
        skipped_ += len + (in_message_ ? head_bytes_ : 0);
        in_message_ = false;
        line_.clear();
        state_ = State::kResync;
        return len;
      }
      // The start of a message was not captured: nothing can be framed.
      DropMessage(ParseError::kHeadNotCaptured, len + (in_message_ ? head_bytes_ : 0), false);
      return len;
    case State::kHeaders:
      if (kind_ == StreamKind::kRequests) {
        HeadCutByGap(len);
      } else {
        DropMessage(ParseError::kHeadNotCaptured, len + head_bytes_, false);
      }
      return len;
    case State::kBody:
    case State::kChunkData: {
      const uint64_t n = std::min(len, body_left_);
      last_ts_ = ts_;
      body_left_ -= n;
      body_bytes_ += n;
      if (body_left_ == 0) {
        if (state_ == State::kBody) {
          Complete();
        } else {
          state_ = State::kChunkDataEnd;
          saw_cr_ = false;
        }
      }
      return n;
    }
    case State::kChunkDataEnd: {
      // Writers send chunk data and its CRLF in one syscall, so a gap often
      // covers that CRLF too; it is framing, not lost framing.
      const uint64_t need = saw_cr_ ? 1 : 2;
      last_ts_ = ts_;
      if (len <= need) {
        if (len == need) {
          state_ = State::kChunkSize;
          head_bytes_ = 0;
        } else {
          saw_cr_ = true;
        }
        return len;
      }
      EnterEstimate(len);
      return len;
    }
    case State::kChunkSize:
    case State::kTrailers:
      last_ts_ = ts_;
      if (state_ == State::kTrailers && !est_trailers_) {
        // Every chunk was seen, so the body is exact; only where the
        // uncaptured trailers end is unknown. The next syscall tells.
        Complete();
        if (state_ != State::kStopped) EnterResync(false);
        return 0;
      }
      if (est_trailers_) {
        // The last-chunk match was a guess; the bytes go back to the body.
        est_bytes_ += last_match_len_ + head_bytes_ + len;
        est_terminated_ = false;
        est_trailers_ = false;
        match_ = 0;
        state_ = State::kChunkEstimate;
        return len;
      }
      EnterEstimate(len);
      return len;
    case State::kUntilClose:
      last_ts_ = ts_;
      body_bytes_ += len;
      return len;
    case State::kChunkEstimate:
      last_ts_ = ts_;
      est_bytes_ += len;
      match_ = 0;
      return len;
    case State::kResync:
      skipped_ += len;
      return len;
    case State::kStopped:
      return len;
  }
  return len;
}

void HttpStreamParser::end_of_stream(uint64_t /*ts_ns*/) {
  if (state_ == State::kStopped) return;
  // A close-delimited body ends here; its last byte came with the last data,
  // so last_ts_ is not moved to the close time.
  if (state_ == State::kUntilClose || state_ == State::kChunkEstimate ||
      (state_ == State::kTrailers && est_trailers_)) {
    Complete();
  } else if (resyncing_ && (skipped_ > 0 || (in_message_ && head_bytes_ > 0))) {
    sink_->on_error(ParseError::kResync, skipped_ + (in_message_ ? head_bytes_ : 0));
  }
  // Anything else cut short is dropped silently: the peer went away.
  state_ = State::kStartLine;
  ResetMessage();
  in_message_ = false;
  resyncing_ = true;
  skipped_ = 0;
}

bool HttpStreamParser::TakeLine(const uint8_t*& p, const uint8_t* end, size_t limit,
                                std::string_view* line) {
  if (line_taken_) {
    line_.clear();
    line_taken_ = false;
  }
  const auto avail = static_cast<size_t>(end - p);
  const auto* lf = static_cast<const uint8_t*>(std::memchr(p, '\n', avail));
  if (lf == nullptr) {
    // Past the limit the caller reports an error; do not grow the buffer.
    if (line_.size() + avail <= limit) line_.append(reinterpret_cast<const char*>(p), avail);
    p = end;
    return false;
  }
  const auto n = static_cast<size_t>(lf - p);
  if (line_.empty()) {
    *line = std::string_view(reinterpret_cast<const char*>(p), n);
  } else {
    if (line_.size() + n <= limit) line_.append(reinterpret_cast<const char*>(p), n);
    *line = line_;
    line_taken_ = true;
  }
  p = lf + 1;
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  return true;
}

void HttpStreamParser::ResetMessage() {
  head_.method = HttpMethod::kOther;
  head_.path.clear();
  head_.status = 0;
  head_.version_minor = 1;
  head_.keep_alive = true;
  head_.upgrade = false;
  head_.upgrade_h2c = false;
  head_.expect_continue = false;
  head_.chunked = false;
  head_.content_length = -1;
  head_bytes_ = 0;
  body_left_ = 0;
  body_bytes_ = 0;
  est_bytes_ = 0;
  stop_after_ = false;
  saw_cr_ = false;
  est_trailers_ = false;
  est_terminated_ = false;
  match_ = 0;
  match_base_ = 0;
  last_match_len_ = 0;
  cl_seen_ = false;
  cl_bad_ = false;
  te_seen_ = false;
  conn_close_ = false;
  conn_keep_alive_ = false;
  cl_value_ = -1;
  line_.clear();
  line_taken_ = false;
}

const uint8_t* HttpStreamParser::OnResync(const uint8_t* p, const uint8_t* end) {
  while (p < end) {
    if (at_boundary_) {
      at_boundary_ = false;
      if (PlausibleStart(kind_, reinterpret_cast<const char*>(p), static_cast<size_t>(end - p))) {
        state_ = State::kStartLine;
        return p;
      }
    }
    const auto avail = static_cast<size_t>(end - p);
    const auto* lf = static_cast<const uint8_t*>(std::memchr(p, '\n', avail));
    if (lf == nullptr) {
      skipped_ += avail;
      return end;
    }
    skipped_ += static_cast<uint64_t>(lf + 1 - p);
    p = lf + 1;
    at_boundary_ = true;
  }
  return p;
}

void HttpStreamParser::Complete() {
  MessageDone done;
  done.first_byte_ns = first_ts_;
  done.last_byte_ns = last_ts_;
  done.body_bytes = body_bytes_;
  if (state_ == State::kChunkEstimate || est_trailers_ || est_terminated_) {
    uint64_t est = est_bytes_;
    if (!est_terminated_) est -= std::min(est, kMinChunkTailBytes);
    done.body_bytes += est;
    done.body_exact = false;
  }
  const bool stop = stop_after_;
  sink_->on_message_complete(head_, done);
  in_message_ = false;
  line_.clear();
  line_taken_ = false;
  est_trailers_ = false;
  est_terminated_ = false;
  state_ = stop ? State::kStopped : State::kStartLine;
}

bool HttpStreamParser::UntrustedCandidate() const {
  // Resyncing after a gap, a syscall may start anywhere in what was lost
  // around it: the tail of a request line cut inside its method ("H", gap,
  // "D /x HTTP/1.1") or of a body run into the next line ("abc" + "HEAD
  // /x"). A standard method is a real start; another token there is more
  // likely such a tail than an unknown method, so it is skipped (the answer
  // then counts as unpaired) rather than counted as OTHER.
  return resyncing_ && after_gap_ && kind_ == StreamKind::kRequests && head_.method == HttpMethod::kOther;
}

bool HttpStreamParser::RequestLineCutByGap(uint64_t len) {
  StartLine s;
  if (!ParseCutRequestLine(line_, kMaxPathBytes, &s)) return false;
  head_.method = method_from_token(s.method);
  if (UntrustedCandidate()) return false;
  const std::string_view path = TargetPath(s.target);
  head_.path.assign(path.data(), std::min(path.size(), kMaxPathBytes));
  if (resyncing_) {
    if (skipped_ > 0) sink_->on_error(ParseError::kResync, skipped_);
    resyncing_ = false;
    after_gap_ = false;
    skipped_ = 0;
  }
  HeadCutByGap(len);
  return true;
}

void HttpStreamParser::HeadCutByGap(uint64_t len) {
  // Still counted as a head not captured: what followed the gap is unknown.
  sink_->on_error(ParseError::kHeadNotCaptured, len + head_bytes_);
  // A Content-Length read before the gap (and no Transfer-Encoding) gives
  // the body's size even though where it starts is not known; without one
  // it cannot be known. Either way the head reports only what was read.
  const bool sized = cl_seen_ && !cl_bad_ && !te_seen_;
  if (sized) head_.content_length = cl_value_;
  sink_->on_head(head_, first_ts_);
  MessageDone done;
  done.first_byte_ns = first_ts_;
  done.last_byte_ns = ts_;
  if (sized) {
    done.body_bytes = static_cast<uint64_t>(cl_value_);
  } else {
    done.body_known = false;
  }
  sink_->on_message_complete(head_, done);
  EnterResync(false);
}

void HttpStreamParser::DropMessage(ParseError err, uint64_t bytes, bool at_line_start) {
  if (hinting_) {
    // Hinted bytes that are not the framing expected are not trusted;
    // hint() decides what follows.
    hint_rejected_ = true;
    return;
  }
  sink_->on_error(err, bytes);
  EnterResync(at_line_start);
}

void HttpStreamParser::EnterResync(bool at_line_start) {
  in_message_ = false;
  resyncing_ = true;
  skipped_ = 0;
  line_.clear();
  line_taken_ = false;
  est_trailers_ = false;
  est_terminated_ = false;
  state_ = State::kResync;
  at_boundary_ = at_line_start;
}

}  // namespace aster
