// SPDX-License-Identifier: Apache-2.0
// HTTP/1.x framing, the body: Content-Length bodies, chunk-size lines,
// chunk data and trailers, and the estimate a chunked body falls back to
// when its framing went into a gap (http_parser.cc has the driver, the head
// is in http_head.cc).
#include <algorithm>
#include <cstring>

#include "protocols/http1/http_parser.h"
#include "protocols/http1/http_syntax.h"

namespace aster {
using namespace http_syntax;  // NOLINT: the parser is written in its terms

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
    std::string_view line;
    const bool got = TakeHeadLine(p, end, &line);
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

bool HttpStreamParser::ReadsHints() const {
  switch (state_) {
    case State::kBody:
    case State::kChunkSize:
    case State::kChunkData:
    case State::kChunkDataEnd:
      return true;
    case State::kTrailers:
      return !est_trailers_;
    default:
      return false;
  }
}

// Node.js writes each chunk as its own iovecs (size line, CRLF, data, CRLF),
// so past the capture budget the hints hold every chunk-size line and the
// body stays exact. A hint is checked as any captured byte is, but a
// mismatch is not a broken message: the hint may not be where framing is
// (another writer's iovecs), so the body is estimated from there on.
void HttpStreamParser::hint(const uint8_t* data, size_t len, uint64_t ts_ns) {
  if (state_ == State::kStopped || data == nullptr || len == 0) return;
  ts_ = ts_ns;
  const uint8_t* p = data;
  const uint8_t* const end = data + len;
  hinting_ = true;
  hint_rejected_ = false;
  while (p < end && ReadsHints()) {
    const uint8_t* step = p;
    p = Step(p, end);
    if (!hint_rejected_) continue;
    hinting_ = false;
    if (state_ == State::kTrailers) {
      // Every chunk was read, so the body is exact; where the trailers end
      // is unknown, as after a gap there.
      Complete();
      if (state_ != State::kStopped) EnterResync(false);
      return;
    }
    EnterEstimate(static_cast<uint64_t>(end - step), ParseError::kChunkHintRejected);
    return;
  }
  hinting_ = false;
  // What the body's framing does not take (the next message's head) is
  // not read from a hint.
  if (p < end) gap(static_cast<uint64_t>(end - p), ts_ns);
}

void HttpStreamParser::EnterEstimate(uint64_t lost_bytes, ParseError err) {
  sink_->on_error(err, lost_bytes);
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

}  // namespace aster
