// SPDX-License-Identifier: Apache-2.0
#include "protocols/http1/http1_protocol.h"

#include <cstring>

#include "model/event_layout.h"
#include "protocols/http1/http1_session.h"
#include "protocols/http1/http_syntax.h"

namespace aster {
namespace {

using http_syntax::PlausibleStart;

// The HTTP/2 client connection preface (RFC 9113 section 3.4) has the shape
// of an HTTP/1 request line but is never an HTTP/1 request. It is not
// refused outright: the server's answer decides, as for any bytes that are
// no request (an HTTP/1-only server answers it 400, and that answer counts;
// an h2c server answers with frames, and the connection is not HTTP/1.x).
constexpr char kHttp2Preface[] = "PRI * HTTP/2.0\r\n";
constexpr size_t kStatusLineLen = sizeof "HTTP/1." - 1;

enum class Shape { kNo, kMaybe, kYes };

bool alnum(uint8_t t) { return (t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') || (t >= '0' && t <= '9'); }

// Whether bytes begin a request line: "GET /", "OPTIONS *", "CONNECT
// host:443", "GET http://h/", "get /" (another method, OTHER). The parser's
// own test of what may begin a start line (a method token, then a space)
// says no or maybe; then the target decides, by the forms of RFC 9112
// section 3.2: "/" or "*" at once, a name only with the ':' of a scheme or
// a port before it ends (so a banner such as "SSH-2.0-x Debian" is no
// request).
Shape request_start(const uint8_t* p, size_t n) {
  // Empty lines before a request line are allowed (RFC 9112 section 2.2;
  // nginx and the parser skip them): they say nothing yet.
  while (n > 0 && (*p == '\r' || *p == '\n')) ++p, --n;
  if (n == 0) return Shape::kMaybe;
  const char* c = reinterpret_cast<const char*>(p);
  if (!PlausibleStart(StreamKind::kRequests, c, n)) return Shape::kNo;
  const void* sp = std::memchr(c, ' ', n);
  if (!sp) return Shape::kMaybe;  // a token so far
  size_t i = static_cast<const char*>(sp) - c + 1;
  if (i == n) return Shape::kMaybe;
  if (p[i] == '/' || p[i] == '*') return Shape::kYes;
  if (!alnum(p[i])) return Shape::kNo;
  for (; i < n; ++i) {
    if (p[i] == ':') return Shape::kYes;
    if (!alnum(p[i]) && p[i] != '.' && p[i] != '-' && p[i] != '+' && p[i] != '[' && p[i] != ']') return Shape::kNo;
  }
  return Shape::kMaybe;
}

Shape status_line_start(const uint8_t* p, size_t n) {
  if (n == 0 || !PlausibleStart(StreamKind::kResponses, reinterpret_cast<const char*>(p), n)) return Shape::kNo;
  return n >= kStatusLineLen ? Shape::kYes : Shape::kMaybe;
}

}  // namespace

Detection Http1Protocol::detect(const FirstBytes& b) const {
  if (b.len == 0) return Detection::kNotMine;
  size_t cmp = b.len < sizeof kHttp2Preface - 1 ? b.len : sizeof kHttp2Preface - 1;
  if (cmp >= 4 && std::memcmp(b.data, kHttp2Preface, cmp) == 0) return Detection::kNotMine;
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
