// SPDX-License-Identifier: Apache-2.0
#include "protocols/http1/http1_protocol.h"

#include <cstring>

#include "model/event_layout.h"
#include "protocols/http1/http1_session.h"

namespace aster {
namespace {

// "GET /", "OPTIONS *", "CONNECT host:443": an upper-case token, one space,
// then a target. Cheap enough to run on the first bytes of every record
// until the connection is classified.
bool looks_like_request_start(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z') ++i;
  if (i == 0 || i >= n || p[i] != ' ' || i + 1 >= n) return false;
  uint8_t t = p[i + 1];
  return t == '/' || t == '*' || (t >= 'a' && t <= 'z') || (t >= 'A' && t <= 'Z') || (t >= '0' && t <= '9');
}

bool looks_like_response_start(const uint8_t* p, size_t n) { return n >= 7 && std::memcmp(p, "HTTP/1.", 7) == 0; }

// The HTTP/2 client connection preface (RFC 9113 section 3.4) has the shape
// of an HTTP/1 request line; it is HTTP/2's, never a request.
constexpr char kHttp2Preface[] = "PRI * HTTP/2.0\r\n";

}  // namespace

Detection Http1Protocol::detect(uint8_t dir, const uint8_t* data, size_t len) const {
  size_t cmp = len < sizeof kHttp2Preface - 1 ? len : sizeof kHttp2Preface - 1;
  if (cmp >= 4 && std::memcmp(data, kHttp2Preface, cmp) == 0) return Detection::kRejected;
  bool req = looks_like_request_start(data, len);
  bool resp = !req && looks_like_response_start(data, len);
  if (dir == ASTER_DIR_INGRESS && req) return Detection::kServer;
  // The watched process is the HTTP client here: its requests are some
  // other server's to count.
  if ((dir == ASTER_DIR_INGRESS && resp) || (dir == ASTER_DIR_EGRESS && req)) return Detection::kClient;
  // A response whose request came before we attached, a body, or not
  // HTTP at all: wait for a read that starts with a request line.
  return Detection::kNotMine;
}

std::unique_ptr<ProtocolSession> Http1Protocol::open(const ConnectionContext& ctx, const Handover*) const {
  return std::make_unique<Http1Session>(ctx);
}

}  // namespace aster
