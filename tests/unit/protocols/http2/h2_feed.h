// HTTP/2 sessions through the connection layer as the daemon runs them
// (the builtin protocols, records as the probes emit them), for the tests:
// connection 1 fed transfer by transfer, the exchanges it completes, and
// frames of nghttp2-encoded header blocks (h2_wire.h).
#pragma once

#include <string>
#include <vector>

#include "protocols/http2/h2_wire.h"
#include "protocols/registry.h"
#include "streams/tracker_feed.h"

namespace aster::h2test {

constexpr uint8_t IN = ASTER_DIR_INGRESS;
constexpr uint8_t OUT = ASTER_DIR_EGRESS;

class Sink : public ExchangeSink {
 public:
  struct Seen {
    AppProtocol protocol;
    bool request_seen;
    HttpMethod method;
    std::string path;
    uint16_t status;
    uint64_t req_body, resp_body;
    bool req_body_known, resp_body_known;
    uint64_t first_ns, last_ns;
  };
  void on_exchange(const Exchange& x) override {
    seen.push_back({x.protocol, x.request_seen, x.method, x.path ? *x.path : "", x.status, x.request_body_bytes,
                    x.response_body_bytes, x.request_body_known, x.response_body_known, x.first_byte_ns,
                    x.last_byte_ns});
  }
  bool wants_request_events() const override { return true; }
  void on_request_start(uint16_t, HttpMethod, std::string_view) override { ++starts; }
  void on_request_end(uint16_t, HttpMethod, std::string_view) override { ++ends; }
  std::vector<Seen> seen;
  int starts = 0, ends = 0;
};

// Connection 1, through the builtin protocols.
class Feed : public TrackerFeed<Sink> {
 public:
  Feed() : TrackerFeed(builtin_protocols()) {}
  void data(uint8_t dir, const std::string& bytes, uint64_t ts, size_t captured = SIZE_MAX) {
    TrackerFeed::data(1, dir, bytes, ts, captured);
  }
  void close() { TrackerFeed::close(1); }
  // The preface and both SETTINGS, at times 1 and 2.
  void open() {
    data(IN, preface() + settings(), 1);
    data(OUT, settings(), 2);
  }
};

inline Fields req(const std::string& method, const std::string& path) {
  return {{":method", method}, {":scheme", "http"}, {":authority", "localhost"}, {":path", path},
          {"user-agent", "test"}};
}
inline Fields resp(const std::string& status) { return {{":status", status}, {"server", "nghttpd"}}; }

inline std::string headers(uint32_t stream, const std::string& block, bool end_stream) {
  return frame(kHeaders, uint8_t(kEndHeaders | (end_stream ? kEndStream : 0)), stream, block);
}
inline std::string data(uint32_t stream, size_t n, bool end_stream) {
  return frame(kData, end_stream ? kEndStream : 0, stream, std::string(n, 'd'));
}

}  // namespace aster::h2test
