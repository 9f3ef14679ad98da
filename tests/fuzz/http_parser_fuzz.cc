// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for HttpStreamParser.
//
// Input layout: 8 seed bytes, then the stream bytes. The seed drives a small
// PRNG that cuts the stream into syscalls, turns the tail of some syscalls
// into gaps (as the probes do when they capture only a head), and picks the
// sink's on_head answers. The corpus files are therefore real HTTP bytes
// behind an 8-byte prefix. Every input is run as both a request and a
// response stream, and the sink aborts on any broken invariant.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "fuzz_support.h"
#include "protocols/http1/http_parser.h"

namespace {

using aster::HttpParserSink;
using aster::HttpStreamParser;
using aster::MessageDone;
using aster::MessageHead;
using aster::ParseError;
using aster::ResponseFraming;
using aster::StreamKind;

using fuzz::Check;
using fuzz::Rng;

class CheckingSink : public HttpParserSink {
 public:
  CheckingSink(StreamKind kind, Rng* rng) : kind_(kind), rng_(rng) {}

  ResponseFraming on_head(const MessageHead& head, uint64_t first_byte_ns) override {
    Check(!stopped_, "callback after stopped");
    // A new head while one is pending means the earlier message was dropped,
    // which the parser must have reported.
    Check(!head_pending_ || error_since_head_ || eos_since_head_, "head dropped silently");
    Check(first_byte_ns >= last_first_ns_, "first_byte_ns went backwards");
    Check(head.path.size() <= HttpStreamParser::kMaxPathBytes, "path too long");
    Check(head.path.find_first_of("?#") == std::string::npos, "query kept in path");
    Check(!head.chunked || head.content_length == -1, "chunked with content_length");
    Check(head.content_length >= -1, "negative content_length");
    Check(head.version_minor <= 1, "bad version");
    Check(static_cast<int>(head.method) < static_cast<int>(aster::HttpMethod::kCount),
          "bad method");
    if (kind_ == StreamKind::kResponses) {
      Check(head.status >= 100 && head.status <= 999, "bad status");
    } else {
      Check(head.status == 0, "status on a request");
    }
    last_first_ns_ = first_byte_ns;
    head_ts_ = first_byte_ns;
    head_after_cut_ = cut_reported_;
    cut_reported_ = false;
    head_pending_ = true;
    error_since_head_ = false;
    eos_since_head_ = false;
    framing_ = ResponseFraming::kFromHeaders;
    if (kind_ == StreamKind::kResponses) {
      const uint64_t r = rng_->Next() % 32;
      if (r == 0) framing_ = ResponseFraming::kNoBody;
      if (r == 1) framing_ = ResponseFraming::kTunnel;
    }
    return framing_;
  }

  void on_message_complete(const MessageHead& head, const MessageDone& done) override {
    Check(!stopped_, "callback after stopped");
    Check(head_pending_, "complete without head");
    Check(done.first_byte_ns == head_ts_, "first_byte_ns differs from on_head");
    Check(done.first_byte_ns <= done.last_byte_ns, "first_byte_ns > last_byte_ns");
    head_pending_ = false;
    const bool body_less = kind_ == StreamKind::kResponses &&
                           (head.status < 200 || head.status == 204 || head.status == 304 ||
                            framing_ != ResponseFraming::kFromHeaders);
    if (!done.body_known) {
      // Only a request whose head was cut by a gap has a body of unknown size.
      Check(kind_ == StreamKind::kRequests && head_after_cut_, "body size unknown without a cut head");
      Check(done.body_bytes == 0 && done.body_exact, "an unknown body reported with a size");
      return;
    }
    if (body_less) Check(done.body_bytes == 0 && done.body_exact, "body on a body-less response");
    if (done.body_exact && !head.chunked && head.content_length >= 0 && !body_less) {
      Check(done.body_bytes == static_cast<uint64_t>(head.content_length),
            "body_bytes != content_length");
    }
    if (!done.body_exact) Check(head.chunked, "estimate on a non-chunked body");
    if (kind_ == StreamKind::kRequests && !head.chunked && head.content_length < 0) {
      Check(done.body_bytes == 0, "request body without framing");
    }
  }

  void on_error(ParseError err, uint64_t bytes) override {
    Check(!stopped_, "callback after stopped");
    Check(static_cast<int>(err) < static_cast<int>(ParseError::kCount), "bad error kind");
    if (err == ParseError::kResync) Check(bytes > 0, "empty resync reported");
    error_since_head_ = true;
    cut_reported_ = err == ParseError::kHeadNotCaptured;
  }

  void SetStopped() { stopped_ = true; }
  void EndOfStream() { eos_since_head_ = true; }

 private:
  StreamKind kind_;
  Rng* rng_;
  ResponseFraming framing_ = ResponseFraming::kFromHeaders;
  uint64_t last_first_ns_ = 0;
  uint64_t head_ts_ = 0;
  bool head_pending_ = false;
  bool error_since_head_ = false;
  bool cut_reported_ = false;    // the last error was a head cut by a gap
  bool head_after_cut_ = false;  // the pending head was reported after such a cut
  bool eos_since_head_ = false;
  bool stopped_ = false;
};

void RunOne(StreamKind kind, uint64_t seed, const uint8_t* data, size_t size) {
  Rng rng{seed | 1};
  CheckingSink sink(kind, &rng);
  HttpStreamParser parser(kind, &sink);
  uint64_t ts = 1;
  size_t pos = 0;
  while (pos < size) {
    const uint64_t r = rng.Next();
    // Syscall sizes: mostly small, sometimes the whole rest.
    size_t n = (r & 3) == 0 ? size - pos : 1 + (r >> 8) % 64;
    if (n > size - pos) n = size - pos;
    // Capture only the first part of some syscalls; the rest is a gap.
    size_t captured = n;
    if (((r >> 4) & 7) == 0) captured = (r >> 20) % (n + 1);
    if (captured > 0) parser.feed(data + pos, captured, ts);
    if (n > captured) parser.gap(n - captured, ts);
    if (((r >> 40) & 63) == 0) parser.gap((r >> 46) % 100000, ts);  // e.g. sendfile
    if (parser.stopped()) sink.SetStopped();
    pos += n;
    ts += (r >> 32) & 1;
    if (((r >> 50) & 255) == 0) {
      sink.EndOfStream();
      parser.end_of_stream(ts);
    }
  }
  sink.EndOfStream();
  parser.end_of_stream(ts + 1);
  Check(!parser.in_message() || parser.stopped(), "in_message after end_of_stream");
  // The parser must stay usable after whatever came before.
  parser.feed(reinterpret_cast<const uint8_t*>("\r\n"), 2, ts + 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t seed;
  std::memcpy(&seed, data, 8);
  RunOne(StreamKind::kRequests, seed, data + 8, size - 8);
  RunOne(StreamKind::kResponses, seed, data + 8, size - 8);
  return 0;
}
