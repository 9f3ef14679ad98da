// SPDX-License-Identifier: Apache-2.0
// HTTP/1.x framing, the head: start lines and header lines, and what the
// head decides about the body (http_parser.cc has the driver, the body
// framing is in http_body.cc).
#include <algorithm>
#include <cstring>

#include "protocols/http1/http_parser.h"
#include "protocols/http1/http_syntax.h"

namespace aster {
using namespace http_syntax;  // NOLINT: the parser is written in its terms

const uint8_t* HttpStreamParser::OnStartLine(const uint8_t* p, const uint8_t* end) {
  if (!in_message_) {
    // Empty lines between messages are allowed (RFC 9112 2.2) and belong to
    // no message; a candidate after nothing else in this syscall still
    // starts at its boundary ("\r\nG" then "ET /" is GET, not "ET").
    const bool at_feed_start = p == feed_start_;
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
    candidate_at_boundary_ = at_feed_start;
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
  if (head_bytes_ > kMaxHeadBytes || !ParseStartLine(line) || UntrustedCandidate()) {
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
    after_gap_ = false;
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
    // The usual line, whole in this feed and nothing buffered before it.
    if ((line_.empty() || line_taken_) && TakeHeaderLineInOnePass(p, end)) {
      if (head_bytes_ > kMaxHeadBytes) {
        DropMessage(ParseError::kHeaderTooLarge, head_bytes_, true);
        return p;
      }
      continue;
    }
    std::string_view line;
    const bool got = TakeHeadLine(p, end, &line);
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

bool HttpStreamParser::TakeHeaderLineInOnePass(const uint8_t*& p, const uint8_t* end) {
  const uint8_t* colon = p;
  while (colon < end && IsTchar(static_cast<char>(*colon))) ++colon;
  if (colon == p || colon == end || *colon != ':') return false;
  const char* value = reinterpret_cast<const char*>(colon + 1);
  const char* stop = FieldValueEnd(value, reinterpret_cast<const char*>(end));
  // Anything but CRLF there (a bare CR or LF, a bad byte, the feed's end)
  // goes the line-by-line way, which knows each case.
  if (end - reinterpret_cast<const uint8_t*>(stop) < 2 || stop[0] != '\r' || stop[1] != '\n') return false;
  if (line_taken_) {
    line_.clear();
    line_taken_ = false;
  }
  const auto* next = reinterpret_cast<const uint8_t*>(stop + 2);
  head_bytes_ += static_cast<uint64_t>(next - p);
  const std::string_view name(reinterpret_cast<const char*>(p), static_cast<size_t>(colon - p));
  p = next;
  if (head_bytes_ <= kMaxHeadBytes) ApplyHeader(name, TrimOws(std::string_view(value, static_cast<size_t>(stop - value))));
  return true;
}

bool HttpStreamParser::ParseHeaderLine(std::string_view line) {
  size_t colon = 0;
  while (colon < line.size() && IsTchar(line[colon])) ++colon;
  if (colon == 0 || colon == line.size() || line[colon] != ':') return false;
  const std::string_view name = line.substr(0, colon);
  const std::string_view raw_value = line.substr(colon + 1);
  if (HasBadFieldByte(raw_value)) return false;
  ApplyHeader(name, TrimOws(raw_value));
  return true;
}

void HttpStreamParser::ApplyHeader(std::string_view name, std::string_view value) {
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
      if (IEquals(name, "upgrade") && !value.empty()) {
        if (kind_ == StreamKind::kRequests) head_.upgrade = true;
        ForEachListElement(value, [this](std::string_view v) {
          if (IEquals(TrimOws(v), "h2c")) head_.upgrade_h2c = true;
        });
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

}  // namespace aster
