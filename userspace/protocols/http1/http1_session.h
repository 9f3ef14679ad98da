// SPDX-License-Identifier: Apache-2.0
// HTTP/1.x on one connection, server role: an incremental parser on each
// direction (http_parser.h) and the FIFO that pairs each response with the
// request it answers (pipelining, 1xx, early answers, HEAD, CONNECT and
// Upgrade included). Finished exchanges go to the ExchangeSink.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/protocol.h"
#include "protocols/http1/http_parser.h"

namespace aster {

class Http1Session : public ProtocolSession {
 public:
  // Outstanding requests kept per connection; beyond it the oldest is
  // dropped (a client pipelining this deep without answers is hostile).
  static constexpr size_t kMaxOutstanding = 256;

  explicit Http1Session(const ConnectionContext& ctx);
  ~Http1Session() override;
  Http1Session(const Http1Session&) = delete;
  Http1Session& operator=(const Http1Session&) = delete;

  void feed(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) override;
  bool next_boundary(uint8_t dir, BoundaryHint* out) const override;
  void gap(uint8_t dir, uint64_t len, uint64_t ts_ns) override;
  void hint(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) override;
  void close(uint64_t ts_ns) override;
  Next next() const override { return switching_ ? Next::kSwitch : stopped_ ? Next::kStop : Next::kContinue; }
  // Upgrade: h2c answered by 101: HTTP/2 from the byte after the 101's
  // head on, with the request that asked as its stream 1.
  std::string_view switch_to() const override { return "http2"; }
  const Handover* handover() const override { return &handover_; }
  Unconsumed take_unconsumed() override { return std::move(unconsumed_); }

 private:
  struct Pending {
    HttpMethod method = HttpMethod::kOther;
    std::string path;
    uint64_t first_byte_ns = 0;
    uint64_t request_body = 0;
    bool request_body_known = true;
    bool request_complete = false;
    bool answered = false;
    bool upgrade_h2c = false;  // asked for "Upgrade: h2c"
    uint16_t status = 0;
    uint64_t response_body = 0;
    uint64_t last_byte_ns = 0;
  };

  // What each direction's parser reports goes to the session, which knows
  // which stream it came from.
  class Sink : public HttpParserSink {
   public:
    Sink(Http1Session& s, StreamKind kind) : s_(s), kind_(kind) {}
    ResponseFraming on_head(const MessageHead& head, uint64_t first_byte_ns) override {
      return kind_ == StreamKind::kRequests ? s_.on_request_head(head, first_byte_ns) : s_.on_response_head(head);
    }
    void on_message_complete(const MessageHead& head, const MessageDone& done) override {
      kind_ == StreamKind::kRequests ? s_.on_request_complete(done) : s_.on_response_complete(head, done);
    }
    void on_error(ParseError err, uint64_t) override { s_.stats_.parse_errors[static_cast<int>(err)].add(); }

   private:
    Http1Session& s_;
    StreamKind kind_;
  };

  ResponseFraming on_request_head(const MessageHead& head, uint64_t first_byte_ns);
  void on_request_complete(const MessageDone& done);
  ResponseFraming on_response_head(const MessageHead& head);
  void on_response_complete(const MessageHead& head, const MessageDone& done);
  HttpStreamParser& parser(uint8_t dir) { return dir == 0 ? requests_ : responses_; }
  const HttpStreamParser& parser(uint8_t dir) const { return dir == 0 ? requests_ : responses_; }
  // FIFO of exchanges (a ring over `pending_`, reused without allocating).
  Pending& fifo_at(size_t i) { return pending_[(head_ + i) % pending_.size()]; }
  Pending& fifo_push();
  void fifo_pop();
  // Index of the first exchange not yet answered, or fifo_size_.
  size_t first_unanswered();
  Pending* answering();
  void record_ready(bool closing);
  void switch_to_http2(const Pending& x);
  void record(const Pending& x);

  ConnectionContext ctx_;
  PipelineStats& stats_;
  ExchangeSink& sink_;
  bool request_events_;  // the sink wants request starts and ends
  bool stopped_ = false;
  bool switching_ = false;  // to HTTP/2, once the 101's feed is over
  Handover handover_;
  Unconsumed unconsumed_;

  Sink request_sink_{*this, StreamKind::kRequests};
  Sink response_sink_{*this, StreamKind::kResponses};
  HttpStreamParser requests_{StreamKind::kRequests, &request_sink_};
  HttpStreamParser responses_{StreamKind::kResponses, &response_sink_};

  std::vector<Pending> pending_;
  size_t head_ = 0;
  size_t fifo_size_ = 0;
  // Exchanges are numbered; the FIFO front is number front_seq_. The
  // response being parsed answers number answering_seq_ (kNone: nobody's).
  static constexpr uint64_t kNone = UINT64_MAX;
  uint64_t front_seq_ = 0;
  uint64_t answering_seq_ = kNone;
};

}  // namespace aster
