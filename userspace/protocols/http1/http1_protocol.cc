// SPDX-License-Identifier: Apache-2.0
#include "protocols/http1/http1_protocol.h"

#include <cstring>

#include "model/event_layout.h"
#include "protocols/http1/http1_session.h"
#include "protocols/http1/http_syntax.h"

namespace aster {
namespace {

using http_syntax::IsTchar;

// The longest method token taken for the start of a request line.
constexpr size_t kMaxMethod = 16;
constexpr char kStatusLine[] = "HTTP/1.";
constexpr size_t kStatusLineLen = sizeof kStatusLine - 1;
// The HTTP/2 client connection preface (RFC 9113 section 3.4) has the shape
// of an HTTP/1 request line; it is HTTP/2's, never a request.
constexpr char kHttp2Preface[] = "PRI * HTTP/2.0\r\n";

enum class Shape { kNo, kMaybe, kYes };

// "GET /", "OPTIONS *", "CONNECT host:443", "get /" (another method, OTHER):
// a token, one space, then the first byte of a target. Any token: a method
// outside the standard set is still a request, and its answer counts.
Shape request_start(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n && i < kMaxMethod && IsTchar(static_cast<char>(p[i]))) ++i;
  if (i == 0) return Shape::kNo;
  if (i == n) return i < kMaxMethod ? Shape::kMaybe : Shape::kNo;
  if (p[i] != ' ') return Shape::kNo;
  if (i + 1 == n) return Shape::kMaybe;
  uint8_t t = p[i + 1];
  bool target = t == '/' || t == '*' || (t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') || (t >= '0' && t <= '9');
  return target ? Shape::kYes : Shape::kNo;
}

Shape status_line_start(const uint8_t* p, size_t n) {
  if (n >= kStatusLineLen) return std::memcmp(p, kStatusLine, kStatusLineLen) == 0 ? Shape::kYes : Shape::kNo;
  return std::memcmp(p, kStatusLine, n) == 0 ? Shape::kMaybe : Shape::kNo;
}

}  // namespace

Detection Http1Protocol::detect(const FirstBytes& b) const {
  if (b.len == 0) return Detection::kNotMine;
  size_t cmp = b.len < sizeof kHttp2Preface - 1 ? b.len : sizeof kHttp2Preface - 1;
  if (cmp >= 4 && std::memcmp(b.data, kHttp2Preface, cmp) == 0) return Detection::kRejected;
  const bool in = b.dir == ASTER_DIR_INGRESS;
  // "HTTP/" is a method-like token too: a status line is tried first.
  Shape resp = status_line_start(b.data, b.len);
  Shape req = resp == Shape::kYes ? Shape::kNo : request_start(b.data, b.len);
  if (req == Shape::kYes) return in ? Detection::kServer : Detection::kClient;
  if (resp == Shape::kYes) {
    // Reading a response: the watched process is the client.
    if (in) return Detection::kClient;
    // Writing one after reads that were no request we could read (junk, a
    // scanner, a head we did not capture): the process is an HTTP server
    // answering them, and the answer counts (as a request not seen). With
    // nothing read first, it answers a request read before we attached.
    return b.unclaimed_other_direction > 0 ? Detection::kServer : Detection::kNotMine;
  }
  if (req == Shape::kMaybe || resp == Shape::kMaybe) return Detection::kNeedMore;
  return Detection::kNotMine;
}

std::unique_ptr<ProtocolSession> Http1Protocol::open(const ConnectionContext& ctx, const Handover*) const {
  return std::make_unique<Http1Session>(ctx);
}

}  // namespace aster
