// SPDX-License-Identifier: Apache-2.0
// One interface between a connection's byte streams (streams/) and the
// protocols that read them (protocols/<name>/).
//
// A connection asks each Protocol, in order, whether the first bytes it
// sees are that protocol's and in which role the watched process is
// (detection comes before anything is parsed); the first that claims the
// connection opens a ProtocolSession for it. The session then gets both
// directions' bytes in stream order, and the gaps of known length between
// them, and hands finished exchanges to the ExchangeSink. It pairs them as
// its protocol does (a FIFO for HTTP/1.x, stream ids for HTTP/2), so
// exchanges may complete in any order. After each piece the connection
// asks what comes next: go on, stop (a tunnel, a WebSocket), or switch to
// another protocol (Upgrade: h2c answered by 101).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/exchange.h"
#include "model/pipeline_stats.h"

namespace aster {

// Where a connection's bytes come from. The socket probes carry what went
// over the socket; TLS plaintext comes from uprobes on the TLS library.
enum class StreamSource : uint8_t { kSocket, kTlsPlaintext };

enum class Detection : uint8_t {
  kNotMine,   // not this protocol: ask the next one
  kServer,    // this protocol, and the watched process is the server
  kClient,    // this protocol, but the watched process is the client: not counted
  // Not this protocol, and certainly another one this protocol would
  // mistake for its own: unless a protocol later in the list claims it, the
  // connection is not parsed. (Bytes that are merely not this protocol's
  // are kNotMine: when no protocol takes the first bytes of either
  // direction, the connection is not parsed either.)
  kRejected,
  // Too few bytes to tell, and they could still become this protocol's
  // ("G", "GE", "HTTP/"): the connection waits for the next read.
  kNeedMore,
};

// What detection sees: the first captured bytes of one direction from a
// transfer boundary on (a request split over several reads arrives whole,
// up to kDetectBytes), and how much the other direction moved before
// without any protocol claiming it.
struct FirstBytes {
  static constexpr size_t kDetectBytes = 64;
  uint8_t dir = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;
  uint64_t unclaimed_other_direction = 0;
};

class BoundaryArming;

struct ConnectionContext {
  uint64_t conn_id = 0;
  uint16_t service_id = 0;
  StreamSource source = StreamSource::kSocket;
  PipelineStats* stats = nullptr;
  ExchangeSink* sink = nullptr;
  BoundaryArming* arming = nullptr;  // null: nothing to arm (a replay, a test)
};

// The request a protocol switch carries over: with Upgrade: h2c, the
// HTTP/1.1 request that asked is HTTP/2's stream 1.
struct Handover {
  HttpMethod method = HttpMethod::kOther;
  std::string path;
  uint64_t first_byte_ns = 0;
  uint64_t request_body_bytes = 0;
  bool request_body_known = true;
  // Bytes of the client's direction that still belong to that request's
  // body when the switch comes (a server may answer 101 before reading it,
  // RFC 7540 3.2); the new protocol's bytes (the client preface) follow.
  // -1: the body's end is not known (chunked, cut by a gap).
  int64_t request_body_left = 0;
};

// Where a direction's next framing boundary lies, for the kernel's boundary
// walker (bpf/boundary_walker.bpf.h): `bytes_ahead` bytes after the last
// byte the session was given, of framing `kind` (enum aster_framing), with
// the HTTP/1 window starting at the CRLF that ends chunk data when
// `after_data`.
struct BoundaryHint {
  uint64_t bytes_ahead = 0;
  uint8_t kind = 0;
  bool after_data = false;
};

// Tells the kernel's walker where a connection's next boundary is (the
// probes implement it; a replay has none).
class BoundaryArming {
 public:
  virtual ~BoundaryArming() = default;
  virtual void arm(uint64_t conn_id, uint8_t dir, uint64_t stream_pos, const BoundaryHint& hint) = 0;
  // The connection is gone: an arm it left that the kernel has not taken
  // goes too, so its pending slot does not stay raised for good.
  virtual void disarm(uint64_t conn_id, uint8_t dir) = 0;
};

class ProtocolSession {
 public:
  enum class Next : uint8_t { kContinue, kStop, kSwitch };
  virtual ~ProtocolSession() = default;
  // Captured bytes of direction `dir` (enum aster_direction), contiguous
  // with what came before in that direction, moved at `ts_ns`.
  virtual void feed(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) = 0;
  // The next framing boundary of `dir`, when the protocol knows it.
  virtual bool next_boundary(uint8_t /*dir*/, BoundaryHint* /*out*/) const { return false; }
  // `len` bytes of `dir` moved at `ts_ns` but were not captured, or lost.
  virtual void gap(uint8_t dir, uint64_t len, uint64_t ts_ns) = 0;
  // Bytes past the capture budget that a record still holds (the first
  // bytes of an iovec, a boundary window the kernel's walker copied):
  // real bytes at their place in the stream, but with gaps around them and
  // no message start before them, so a protocol may use them to follow its
  // framing (HTTP/1.x chunk-size lines) and must check them. By default
  // they are a gap.
  virtual void hint(uint8_t dir, const uint8_t* /*data*/, size_t len, uint64_t ts_ns) { gap(dir, len, ts_ns); }
  // The connection closed: finish what can be finished, drop the rest.
  virtual void close(uint64_t ts_ns) = 0;
  // What the connection does with the bytes that follow.
  virtual Next next() const { return Next::kContinue; }
  // For kSwitch: the protocol to hand over to, what it inherits, and the
  // bytes of the last feed this session did not take (the new protocol's).
  struct Unconsumed {
    uint8_t dir = 0;
    uint64_t ts_ns = 0;
    std::vector<uint8_t> bytes;
  };
  virtual std::string_view switch_to() const { return {}; }
  virtual const Handover* handover() const { return nullptr; }
  virtual Unconsumed take_unconsumed() { return {}; }
};

class Protocol {
 public:
  virtual ~Protocol() = default;
  virtual std::string_view name() const = 0;
  // The first bytes of a direction of a connection nobody has claimed yet.
  virtual Detection detect(const FirstBytes& b) const = 0;
  // A session for a connection this protocol claimed, or took over (then
  // `handover` says what it inherits; null otherwise).
  virtual std::unique_ptr<ProtocolSession> open(const ConnectionContext& ctx, const Handover* handover) const = 0;
};

}  // namespace aster
