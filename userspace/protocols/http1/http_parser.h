// SPDX-License-Identifier: Apache-2.0
// Incremental HTTP/1.x framing for one direction of one connection.
//
// The parser sees what the probes saw: captured bytes (feed) and bytes that
// moved but were not captured (gap), each stamped with the time of the
// syscall that moved them. It finds message boundaries exactly whenever the
// framing (start line, headers, Content-Length, chunk-size lines) was
// captured, and reports each message to a sink. It never throws, never
// allocates per call after warm-up, and after any error or gap it cannot
// frame through it resynchronises on the next start line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/http_method.h"
#include "model/parse_error.h"

namespace aster {

enum class StreamKind : uint8_t { kRequests, kResponses };

// What the sink decides about a response body that the head alone cannot
// decide: it knows which request the response answers.
enum class ResponseFraming : uint8_t {
  kFromHeaders,  // Content-Length, chunked, or until close
  kNoBody,       // the request was HEAD
  kTunnel,       // 2xx to CONNECT: stop parsing this connection
};

struct MessageHead {
  // Requests.
  HttpMethod method = HttpMethod::kOther;
  // The request target's path: everything before '?' or '#', at most
  // kMaxPathBytes (longer paths are cut there; the cut is not an error).
  // Absolute-form targets ("http://host/p") are reduced to their path.
  std::string path;
  // Responses.
  uint16_t status = 0;
  // Both.
  uint8_t version_minor = 1;       // HTTP/1.0 -> 0, HTTP/1.1 -> 1
  bool keep_alive = true;          // after HTTP/1.0 default and Connection rules
  bool upgrade = false;            // request asks to upgrade / response is 101
  bool upgrade_h2c = false;        // the Upgrade header lists "h2c" (RFC 7540 3.2)
  bool expect_continue = false;    // request carries "Expect: 100-continue"
  bool chunked = false;            // Transfer-Encoding ends in chunked
  int64_t content_length = -1;     // -1: absent
};

struct MessageDone {
  uint64_t first_byte_ns = 0;  // time of the syscall that moved the first byte
  uint64_t last_byte_ns = 0;   // time of the syscall that moved the last byte
  uint64_t body_bytes = 0;     // decoded body bytes (chunked: sum of chunk sizes)
  bool body_exact = true;      // false only when chunk framing fell into a gap
  // False when the body's size cannot be known at all (a request head
  // whose end fell into a gap before any Content-Length was read).
  bool body_known = true;
};

class HttpParserSink {
 public:
  virtual ~HttpParserSink() = default;
  // A complete head was parsed. For request streams the return value is
  // ignored. For response streams it decides what the head cannot: HEAD
  // responses carry no body, a 2xx answer to CONNECT starts a tunnel.
  // 1xx, 204 and 304 responses have no body whatever is returned.
  virtual ResponseFraming on_head(const MessageHead& head, uint64_t first_byte_ns) = 0;
  // The message (head and body) is complete. Called for 1xx responses too.
  virtual void on_message_complete(const MessageHead& head, const MessageDone& done) = 0;
  // Something went wrong; the parser recovers by itself. `bytes` is how many
  // stream bytes the trouble cost (0 when unknown).
  virtual void on_error(ParseError err, uint64_t bytes) = 0;
};

class HttpStreamParser {
 public:
  static constexpr size_t kMaxHeadBytes = 64 * 1024;
  static constexpr size_t kMaxPathBytes = 256;

  HttpStreamParser(StreamKind kind, HttpParserSink* sink);

  // Contiguous captured bytes of this direction, in stream order.
  void feed(const uint8_t* data, size_t len, uint64_t ts_ns);
  // Bytes from the next byte on to the next chunk-size line, while that is
  // known (inside chunk data, or at a chunk-size line's start); false
  // otherwise. `after_data`: a CRLF ending chunk data comes first.
  bool next_chunk_line(uint64_t* bytes_ahead, bool* after_data) const;
  // `len` bytes moved at `ts_ns` but were not captured.
  void gap(uint64_t len, uint64_t ts_ns);
  // Bytes past the capture budget (an iovec's first bytes, a boundary
  // window), with gaps around them (see ProtocolSession::hint). Only a body's framing reads them, and
  // a chunk-size line or chunk end they do not hold where one is due sends
  // the body to the estimate (kChunkHintRejected); elsewhere they are a gap.
  void hint(const uint8_t* data, size_t len, uint64_t ts_ns);
  // The connection closed: completes a close-delimited body; a message cut
  // short is dropped silently if only its head was pending, or completed
  // with the bytes seen when its body was close-delimited.
  void end_of_stream(uint64_t ts_ns);

  // True after an Upgrade/101 or a CONNECT tunnel: everything after is not
  // HTTP/1.x and is ignored.
  bool stopped() const;
  // After a feed() that stopped the parser (a 101 head): how many of its
  // last bytes it did not take. They are the next protocol's.
  size_t unconsumed() const { return unconsumed_; }
  // Body bytes of the message in progress still to come, where its
  // Content-Length says so; -1 when not known (chunked, cut by a gap).
  int64_t body_left() const;
  uint64_t body_bytes_so_far() const { return body_bytes_; }
  // True while between a message's first byte and its completion.
  bool in_message() const;

 private:
  // Largest chunk-size line (size plus extensions) accepted.
  static constexpr size_t kMaxChunkLineBytes = 4096;
  // Bytes a chunked body spends after its last data byte at the least: the
  // CRLF ending the data and the "0\r\n\r\n" last chunk. Estimate mode
  // subtracts them when it never saw the last chunk itself.
  static constexpr uint64_t kMinChunkTailBytes = 7;
  static constexpr char kLastChunk[] = "\r\n0\r\n";
  static constexpr uint8_t kLastChunkLen = 5;

  // Where the next byte goes. See http_parser.cc for the transitions.
  enum class State : uint8_t {
    kStartLine,      // between messages, or reading a start line
    kHeaders,        // reading header lines up to the empty line
    kBody,           // Content-Length body: body_left_ bytes to go
    kChunkSize,      // reading a chunk-size line
    kChunkData,      // chunk data: body_left_ bytes to go
    kChunkDataEnd,   // the CRLF after chunk data
    kTrailers,       // trailer lines after the last chunk
    kUntilClose,     // close-delimited response body
    kChunkEstimate,  // chunk framing lost in a gap: counting until the end shows
    kResync,         // skipping bytes until a line that may be a start line
    kStopped,        // upgraded or tunnelled: not HTTP/1.x any more
  };

  const uint8_t* OnStartLine(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnHeaders(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnBody(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnChunkSize(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnChunkData(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnChunkDataEnd(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnTrailers(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnUntilClose(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnEstimate(const uint8_t* p, const uint8_t* end);
  const uint8_t* OnResync(const uint8_t* p, const uint8_t* end);
  // Runs the current state's handler on [p, end); returns where it stopped.
  const uint8_t* Step(const uint8_t* p, const uint8_t* end);
  // The states whose framing hinted bytes may carry on.
  bool ReadsHints() const;
  // Consumes one gap piece in the current state; returns the bytes used.
  uint64_t GapStep(uint64_t len);
  // Takes bytes up to and including the next LF. True with `line` set (CR
  // stripped) when the line is complete; false after buffering a partial line.
  bool TakeLine(const uint8_t*& p, const uint8_t* end, size_t limit, std::string_view* line);
  // TakeLine for a header or trailer line: counts its bytes into head_bytes_.
  bool TakeHeadLine(const uint8_t*& p, const uint8_t* end, std::string_view* line) {
    const uint8_t* start = p;
    const bool got = TakeLine(p, end, kMaxHeadBytes, line);
    head_bytes_ += static_cast<uint64_t>(p - start);
    return got;
  }
  bool ParseStartLine(std::string_view line);
  bool ParseHeaderLine(std::string_view line);
  // One pass over a whole, well-formed header line at p (a token, ':', a
  // value of field-value bytes, CRLF, all in this feed): consumes it and
  // applies it (unless it takes the head past kMaxHeadBytes, which the
  // caller checks). False, with nothing consumed, for anything else: the
  // line-by-line path then takes it.
  bool TakeHeaderLineInOnePass(const uint8_t*& p, const uint8_t* end);
  // What a header line (name and trimmed value, both valid) tells the head.
  void ApplyHeader(std::string_view name, std::string_view value);
  void FinishHead();
  void BeginChunkedBody();
  // `err`: what is counted for the switch to the estimate.
  void EnterEstimate(uint64_t lost_bytes, ParseError err = ParseError::kChunkFramingLost);
  void Complete();
  // A request head whose end fell into a gap of `len` bytes after its
  // request line was read: the request is reported with its method and
  // path (and paired with its answer), then the stream resynchronises.
  void HeadCutByGap(uint64_t len);
  // A request-line candidate of method OTHER found resyncing after a gap.
  bool UntrustedCandidate() const;
  // The same for a request line whose end fell into the gap, when its
  // method and path were captured whole (http_syntax ParseCutRequestLine).
  // False, with nothing done, when they were not.
  bool RequestLineCutByGap(uint64_t len);
  // Reports `err`, forgets the message in progress and resynchronises.
  void DropMessage(ParseError err, uint64_t bytes, bool at_line_start);
  void EnterResync(bool at_line_start);
  void ResetMessage();

  StreamKind kind_;
  HttpParserSink* sink_;
  State state_ = State::kStartLine;
  MessageHead head_;
  std::string line_;                     // a line that spans feed() calls; reused
  bool line_taken_ = false;              // line_ holds a line already handed out
  uint64_t ts_ = 0;                      // time of the feed()/gap() being processed
  const uint8_t* feed_start_ = nullptr;  // first byte of the feed() in progress
  uint64_t first_ts_ = 0;
  uint64_t last_ts_ = 0;
  uint64_t head_bytes_ = 0;  // bytes of the current head (or chunk line, trailers)
  uint64_t body_left_ = 0;
  uint64_t body_bytes_ = 0;  // exact body bytes so far
  uint64_t est_bytes_ = 0;   // body bytes counted in estimate mode
  uint64_t skipped_ = 0;     // bytes skipped in the current resync episode
  bool in_message_ = false;
  size_t unconsumed_ = 0;
  bool resyncing_ = true;               // a failed start line is part of a resync, not an error
  bool after_gap_ = false;              // the resync follows a gap (see UntrustedCandidate)
  bool at_boundary_ = false;            // the next byte starts a syscall or follows an LF
  bool candidate_at_boundary_ = false;  // the start line in progress began a syscall
  bool stop_after_ = false;             // stop once the current message completes
  bool saw_cr_ = false;
  bool hinting_ = false;         // hint() is running the handlers
  bool hint_rejected_ = false;   // a handler found the hinted bytes were not framing
  bool est_trailers_ = false;    // kTrailers reached from estimate mode
  bool est_terminated_ = false;  // estimate mode saw the last chunk
  uint8_t match_ = 0;            // estimate mode: progress through "\r\n0\r\n"
  uint8_t match_base_ = 0;       // how much of match_ was assumed, not consumed
  uint8_t last_match_len_ = 0;
  // Header facts gathered while reading the head.
  bool cl_seen_ = false;
  bool cl_bad_ = false;
  bool te_seen_ = false;
  bool conn_close_ = false;
  bool conn_keep_alive_ = false;
  int64_t cl_value_ = -1;
};

}  // namespace aster
