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

namespace {

// Largest chunk-size line (size plus extensions) accepted.
constexpr size_t kMaxChunkLineBytes = 4096;
// Bytes a chunked body spends after its last data byte at the least: the
// CRLF ending the data and the "0\r\n\r\n" last chunk. Estimate mode
// subtracts them when it never saw the last chunk itself.
constexpr uint64_t kMinChunkTailBytes = 7;
constexpr char kLastChunk[] = "\r\n0\r\n";
constexpr uint8_t kLastChunkLen = 5;

}  // namespace

HttpStreamParser::HttpStreamParser(StreamKind kind, HttpParserSink* sink)
    : kind_(kind), sink_(sink) {}

bool HttpStreamParser::stopped() const { return state_ == State::kStopped; }

bool HttpStreamParser::in_message() const { return in_message_; }

void HttpStreamParser::feed(const uint8_t* data, size_t len, uint64_t ts_ns) {
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
  while (p < end) {
    switch (state_) {
      case State::kStartLine:
        p = OnStartLine(p, end);
        break;
      case State::kHeaders:
        p = OnHeaders(p, end);
        break;
      case State::kBody:
        p = OnBody(p, end);
        break;
      case State::kChunkSize:
        p = OnChunkSize(p, end);
        break;
      case State::kChunkData:
        p = OnChunkData(p, end);
        break;
      case State::kChunkDataEnd:
        p = OnChunkDataEnd(p, end);
        break;
      case State::kTrailers:
        p = OnTrailers(p, end);
        break;
      case State::kUntilClose:
        last_ts_ = ts_;
        body_bytes_ += static_cast<uint64_t>(end - p);
        p = end;
        break;
      case State::kChunkEstimate:
        p = OnEstimate(p, end);
        break;
      case State::kResync:
        p = OnResync(p, end);
        break;
      case State::kStopped:
        return;
    }
  }
}

void HttpStreamParser::gap(uint64_t len, uint64_t ts_ns) {
  if (state_ == State::kStopped) return;
  ts_ = ts_ns;
  at_boundary_ = false;
  // Each step consumes part of the gap; a gap that ends one message and runs
  // into the next is handled by the states it passes through, in order.
  while (len > 0 && state_ != State::kStopped) len -= GapStep(len);
}

uint64_t HttpStreamParser::GapStep(uint64_t len) {
  switch (state_) {
    case State::kStartLine:
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
      DropMessage(ParseError::kHeadNotCaptured, len + head_bytes_, false);
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

const uint8_t* HttpStreamParser::OnStartLine(const uint8_t* p, const uint8_t* end) {
  if (!in_message_) {
    // Empty lines between messages are allowed (RFC 9112 2.2) and belong to
    // no message.
    while (p < end && (*p == '\r' || *p == '\n')) ++p;
    if (p == end) return p;
    if (!PlausibleStart(kind_, reinterpret_cast<const char*>(p), static_cast<size_t>(end - p))) {
      // Not worth buffering: these bytes cannot start a message.
      if (resyncing_) {
        state_ = State::kResync;
        at_boundary_ = false;
      } else {
        DropMessage(ParseError::kBadStartLine, 0, false);
      }
      return p;
    }
    ResetMessage();
    in_message_ = true;
    candidate_at_boundary_ = p == feed_start_;
    first_ts_ = ts_;
  }
  last_ts_ = ts_;
  const uint8_t* start = p;
  std::string_view line;
  const bool got = TakeLine(p, end, HttpStreamParser::kMaxHeadBytes, &line);
  head_bytes_ += static_cast<uint64_t>(p - start);
  if (!got) {
    const bool implausible = !PlausibleStart(kind_, line_.data(), line_.size());
    if (head_bytes_ > kMaxHeadBytes || implausible) {
      if (resyncing_) {
        skipped_ += head_bytes_;
        in_message_ = false;
        line_.clear();
        state_ = State::kResync;
        at_boundary_ = false;
      } else {
        DropMessage(implausible ? ParseError::kBadStartLine : ParseError::kHeaderTooLarge,
                    head_bytes_, false);
      }
    }
    return p;
  }
  if (head_bytes_ > kMaxHeadBytes || !ParseStartLine(line)) {
    if (resyncing_) {
      in_message_ = false;
      state_ = State::kResync;
      at_boundary_ = true;
      if (line_taken_ && start == feed_start_) {
        // The candidate began in an earlier syscall and failed; this
        // syscall's own start is the better candidate, so look at it again.
        head_bytes_ -= static_cast<uint64_t>(p - start);
        p = start;
        line_.clear();
        line_taken_ = false;
      }
      skipped_ += head_bytes_;
    } else {
      DropMessage(ParseError::kBadStartLine, head_bytes_, true);
    }
    return p;
  }
  if (resyncing_) {
    if (skipped_ > 0) sink_->on_error(ParseError::kResync, skipped_);
    resyncing_ = false;
    skipped_ = 0;
  }
  state_ = State::kHeaders;
  return p;
}

bool HttpStreamParser::ParseStartLine(std::string_view line) {
  StartLine s;
  if (!ParseStartLineSyntax(kind_, line, &s)) return false;
  head_.version_minor = static_cast<uint8_t>(s.version_minor);
  if (kind_ == StreamKind::kResponses) {
    head_.status = s.status;
  } else {
    head_.method = method_from_token(s.method);
    const std::string_view path = TargetPath(s.target);
    head_.path.assign(path.data(), std::min(path.size(), kMaxPathBytes));
  }
  return true;
}


const uint8_t* HttpStreamParser::OnHeaders(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  while (p < end) {
    const uint8_t* start = p;
    std::string_view line;
    const bool got = TakeLine(p, end, kMaxHeadBytes, &line);
    head_bytes_ += static_cast<uint64_t>(p - start);
    if (head_bytes_ > kMaxHeadBytes) {
      DropMessage(ParseError::kHeaderTooLarge, head_bytes_, got);
      return p;
    }
    if (!got) return p;
    if (line.empty()) {
      FinishHead();
      return p;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      // obs-fold: a continuation of the previous value. None of the headers
      // we read is folded in practice, so the continuation is only checked.
      for (char c : line) {
        if (!IsFieldValueByte(c)) {
          DropMessage(ParseError::kBadHeader, head_bytes_, true);
          return p;
        }
      }
      continue;
    }
    if (!ParseHeaderLine(line)) {
      DropMessage(ParseError::kBadHeader, head_bytes_, true);
      return p;
    }
  }
  return p;
}

bool HttpStreamParser::ParseHeaderLine(std::string_view line) {
  size_t colon = 0;
  while (colon < line.size() && IsTchar(line[colon])) ++colon;
  if (colon == 0 || colon == line.size() || line[colon] != ':') return false;
  const std::string_view name = line.substr(0, colon);
  const std::string_view raw_value = line.substr(colon + 1);
  if (HasBadFieldByte(raw_value)) return false;
  const std::string_view value = TrimOws(raw_value);
  switch (name.size()) {
    case 14:
      if (IEquals(name, "content-length")) {
        // "5, 5" and repeated identical headers are one length (RFC 9110 8.6).
        bool any = false;
        ForEachListElement(value, [this, &any](std::string_view v) {
          any = true;
          uint64_t n = 0;
          for (char c : v) {
            if (c < '0' || c > '9' || n > kMaxContentLength) {
              cl_bad_ = true;
              return;
            }
            n = n * 10 + static_cast<uint64_t>(c - '0');
          }
          if (n > kMaxContentLength) {
            cl_bad_ = true;
          } else if (cl_seen_ && cl_value_ != static_cast<int64_t>(n)) {
            cl_bad_ = true;
          } else {
            cl_seen_ = true;
            cl_value_ = static_cast<int64_t>(n);
          }
        });
        if (!any) cl_bad_ = true;
      }
      break;
    case 17:
      if (IEquals(name, "transfer-encoding")) {
        // Only the last coding of the last header decides (RFC 9112 6.3).
        te_seen_ = true;
        head_.chunked = false;
        ForEachListElement(value, [this](std::string_view v) {
          head_.chunked = IEquals(TrimOws(v.substr(0, v.find(';'))), "chunked");
        });
      }
      break;
    case 10:
      if (IEquals(name, "connection")) {
        ForEachListElement(value, [this](std::string_view v) {
          if (IEquals(v, "close")) conn_close_ = true;
          if (IEquals(v, "keep-alive")) conn_keep_alive_ = true;
        });
      }
      break;
    case 7:
      if (kind_ == StreamKind::kRequests && IEquals(name, "upgrade") && !value.empty()) {
        head_.upgrade = true;
      }
      break;
    case 6:
      if (kind_ == StreamKind::kRequests && IEquals(name, "expect") &&
          IEquals(value, "100-continue")) {
        head_.expect_continue = true;
      }
      break;
    default:
      break;
  }
  return true;
}

void HttpStreamParser::FinishHead() {
  const bool requests = kind_ == StreamKind::kRequests;
  head_.keep_alive = !conn_close_ && (head_.version_minor >= 1 || conn_keep_alive_);
  if (head_.chunked) {
    // Transfer-Encoding overrides Content-Length (RFC 9112 6.3).
    head_.content_length = -1;
  } else if (te_seen_) {
    // A request body whose last coding is not chunked cannot be framed; such
    // a response runs until close (RFC 9112 6.3).
    if (requests) {
      DropMessage(ParseError::kBadHeader, head_bytes_, true);
      return;
    }
    head_.content_length = -1;
  } else if (cl_bad_) {
    DropMessage(ParseError::kBadContentLength, head_bytes_, true);
    return;
  } else {
    head_.content_length = cl_value_;
  }
  if (!requests) head_.upgrade = head_.status == 101;
  const ResponseFraming framing = sink_->on_head(head_, first_ts_);
  if (requests) {
    if (head_.chunked) {
      BeginChunkedBody();
    } else if (head_.content_length > 0) {
      body_left_ = static_cast<uint64_t>(head_.content_length);
      state_ = State::kBody;
    } else {
      Complete();
    }
    return;
  }
  const uint16_t status = head_.status;
  if (status < 200) {
    // Interim responses end at their head; the real response follows. After
    // 101 the connection speaks another protocol.
    stop_after_ = status == 101;
    Complete();
    return;
  }
  if (framing == ResponseFraming::kTunnel) {
    stop_after_ = true;
    Complete();
    return;
  }
  if (framing == ResponseFraming::kNoBody || status == 204 || status == 304) {
    Complete();
  } else if (head_.chunked) {
    BeginChunkedBody();
  } else if (head_.content_length >= 0) {
    body_left_ = static_cast<uint64_t>(head_.content_length);
    if (body_left_ == 0) {
      Complete();
    } else {
      state_ = State::kBody;
    }
  } else {
    state_ = State::kUntilClose;
  }
}

void HttpStreamParser::BeginChunkedBody() {
  state_ = State::kChunkSize;
  head_bytes_ = 0;
}

const uint8_t* HttpStreamParser::OnBody(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  const uint64_t n = std::min(body_left_, static_cast<uint64_t>(end - p));
  body_left_ -= n;
  body_bytes_ += n;
  p += n;
  if (body_left_ == 0) Complete();
  return p;
}

const uint8_t* HttpStreamParser::OnChunkSize(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  const uint8_t* start = p;
  std::string_view line;
  const bool got = TakeLine(p, end, kMaxChunkLineBytes, &line);
  head_bytes_ += static_cast<uint64_t>(p - start);
  if (head_bytes_ > kMaxChunkLineBytes) {
    DropMessage(ParseError::kBadChunk, head_bytes_, got);
    return p;
  }
  if (!got) return p;
  const int64_t size = ParseChunkSize(line);
  if (size < 0) {
    DropMessage(ParseError::kBadChunk, head_bytes_, true);
    return p;
  }
  head_bytes_ = 0;
  if (size == 0) {
    state_ = State::kTrailers;
  } else {
    body_left_ = static_cast<uint64_t>(size);
    state_ = State::kChunkData;
  }
  return p;
}

const uint8_t* HttpStreamParser::OnChunkData(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  const uint64_t n = std::min(body_left_, static_cast<uint64_t>(end - p));
  body_left_ -= n;
  body_bytes_ += n;
  p += n;
  if (body_left_ == 0) {
    state_ = State::kChunkDataEnd;
    saw_cr_ = false;
  }
  return p;
}

const uint8_t* HttpStreamParser::OnChunkDataEnd(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  while (p < end) {
    const uint8_t c = *p++;
    if (c == '\n') {
      state_ = State::kChunkSize;
      head_bytes_ = 0;
      return p;
    }
    if (c != '\r' || saw_cr_) {
      DropMessage(ParseError::kBadChunk, 0, false);
      return p;
    }
    saw_cr_ = true;
  }
  return p;
}

const uint8_t* HttpStreamParser::OnTrailers(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  while (p < end) {
    const uint8_t* start = p;
    std::string_view line;
    const bool got = TakeLine(p, end, kMaxHeadBytes, &line);
    head_bytes_ += static_cast<uint64_t>(p - start);
    bool bad = head_bytes_ > kMaxHeadBytes;
    if (!bad && got && !line.empty()) {
      const size_t colon = line.find(':');
      bad = colon == 0 || colon == std::string_view::npos;
      for (size_t i = 0; !bad && i < colon; ++i) bad = !IsTchar(line[i]);
    }
    if (bad) {
      if (est_trailers_) {
        // "\r\n0\r\n" was body data after all: back to counting.
        est_bytes_ += last_match_len_ + head_bytes_;
        est_terminated_ = false;
        est_trailers_ = false;
        match_ = 0;
        line_.clear();
        line_taken_ = false;
        state_ = State::kChunkEstimate;
      } else {
        DropMessage(
            head_bytes_ > kMaxHeadBytes ? ParseError::kHeaderTooLarge : ParseError::kBadHeader,
            head_bytes_, got);
      }
      return p;
    }
    if (!got) return p;
    if (line.empty()) {
      Complete();
      return p;
    }
  }
  return p;
}

void HttpStreamParser::EnterEstimate(uint64_t lost_bytes) {
  sink_->on_error(ParseError::kChunkFramingLost, lost_bytes);
  est_bytes_ = lost_bytes;
  head_bytes_ = 0;
  match_ = 0;
  line_.clear();
  line_taken_ = false;
  state_ = State::kChunkEstimate;
}

// Estimate mode. The body so far is exact (body_bytes_); from here on every
// byte, captured or not, counts as body (est_bytes_) except framing we can
// recognise: the last chunk "\r\n0\r\n" (or "0\r\n" at a syscall boundary)
// and the trailers after it. Chunk-size lines and data CRLFs inside the lost
// part cannot be told from data, so the estimate is high by about
// (5 + hex digits) per chunk that was not captured. If the message ends
// without the last chunk being seen (next start line, end of stream), the
// 7 bytes every chunked body ends with are subtracted.
const uint8_t* HttpStreamParser::OnEstimate(const uint8_t* p, const uint8_t* end) {
  last_ts_ = ts_;
  while (p < end) {
    if (match_ == 0) {
      const auto avail = static_cast<size_t>(end - p);
      const auto* cr = static_cast<const uint8_t*>(std::memchr(p, '\r', avail));
      if (cr == nullptr) {
        est_bytes_ += avail;
        return end;
      }
      est_bytes_ += static_cast<uint64_t>(cr - p);
      p = cr;
    }
    const char c = static_cast<char>(*p++);
    ++est_bytes_;
    if (c == kLastChunk[match_]) {
      ++match_;
    } else {
      match_ = c == '\r' ? 1 : 0;
      match_base_ = 0;
    }
    if (match_ == kLastChunkLen) {
      last_match_len_ = static_cast<uint8_t>(kLastChunkLen - match_base_);
      est_bytes_ -= std::min<uint64_t>(est_bytes_, last_match_len_);
      match_ = 0;
      match_base_ = 0;
      est_terminated_ = true;
      est_trailers_ = true;
      head_bytes_ = 0;
      state_ = State::kTrailers;
      return p;
    }
  }
  return p;
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

void HttpStreamParser::DropMessage(ParseError err, uint64_t bytes, bool at_line_start) {
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
