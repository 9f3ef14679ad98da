// SPDX-License-Identifier: Apache-2.0
// One TCP connection of a watched process: two byte streams that know their
// gaps, an HTTP/1.x parser on each, and the FIFO that pairs each response
// with the request it answers (pipelining, 1xx, early answers included).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/event_layout.h"
#include "metrics/http_metrics.h"
#include "protocols/http1/http_parser.h"
#include "model/pipeline_stats.h"

namespace aster {

class Connection {
 public:
  // Outstanding requests kept per connection; beyond it the oldest is
  // dropped (a client pipelining this deep without answers is hostile).
  static constexpr size_t kMaxOutstanding = 256;
  // Bytes seen without finding an HTTP start line before giving up.
  static constexpr uint64_t kMaxUnclassifiedBytes = 256 * 1024;

  Connection(uint64_t conn_id, uint16_t service_id, PipelineStats& stats, HttpMetrics& metrics);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void on_data(const aster_event& ev, const uint8_t* payload);
  void on_close(uint64_t ts_ns);
  // Delivers held (out-of-order) records once they are `min_age` batches
  // old, treating the bytes still missing as lost. True while some remain.
  bool flush_held(uint64_t batch, uint64_t min_age);
  bool has_held() const { return !dirs_[0].held.empty() || !dirs_[1].held.empty(); }
  uint64_t last_activity_ns() const { return last_activity_ns_; }
  void set_batch(uint64_t batch) { batch_ = batch; }

 private:
  enum class Role : uint8_t { kUnknown, kServer, kClient, kNotHttp, kStopped };

  struct Held {
    aster_event ev;
    std::vector<uint8_t> bytes;
    uint64_t batch;
  };
  struct Direction {
    bool started = false;
    uint64_t next_pos = 0;
    std::vector<Held> held;
  };
  struct Exchange {
    HttpMethod method = HttpMethod::kOther;
    std::string path;
    uint64_t first_byte_ns = 0;
    uint64_t request_body = 0;
    bool request_complete = false;
    bool answered = false;
    uint16_t status = 0;
    uint64_t response_body = 0;
    uint64_t last_byte_ns = 0;
  };

  class RequestSink : public HttpParserSink {
   public:
    explicit RequestSink(Connection& c) : c_(c) {}
    ResponseFraming on_head(const MessageHead& head, uint64_t first_byte_ns) override;
    void on_message_complete(const MessageHead& head, const MessageDone& done) override;
    void on_error(ParseError err, uint64_t bytes) override;

   private:
    Connection& c_;
  };
  class ResponseSink : public HttpParserSink {
   public:
    explicit ResponseSink(Connection& c) : c_(c) {}
    ResponseFraming on_head(const MessageHead& head, uint64_t first_byte_ns) override;
    void on_message_complete(const MessageHead& head, const MessageDone& done) override;
    void on_error(ParseError err, uint64_t bytes) override;

   private:
    Connection& c_;
  };

  void classify(const aster_event& ev, const uint8_t* payload);
  void deliver(const aster_event& ev, const uint8_t* payload);
  void feed_parser(const aster_event& ev, const uint8_t* payload);
  void gap(uint8_t dir, uint64_t len, uint64_t ts_ns);
  HttpStreamParser& parser(uint8_t dir) { return dir == ASTER_DIR_INGRESS ? requests_ : responses_; }

  // FIFO of exchanges (a ring over `exchanges_`, reused without allocating).
  Exchange& fifo_at(size_t i) { return exchanges_[(head_ + i) % exchanges_.size()]; }
  Exchange& fifo_push();
  void fifo_pop();
  // Index of the first exchange not yet answered, or fifo_size_.
  size_t first_unanswered();
  Exchange* answering();
  void record_ready(bool closing);
  void record(const Exchange& x, bool unknown);

  uint64_t conn_id_;
  uint16_t service_id_;
  PipelineStats& stats_;
  HttpMetrics& metrics_;
  RequestObserver* observer_;  // null unless an in-flight gauge is configured
  Role role_ = Role::kUnknown;
  uint64_t unclassified_bytes_ = 0;
  uint64_t last_activity_ns_ = 0;
  uint64_t batch_ = 0;
  Direction dirs_[2];

  RequestSink request_sink_{*this};
  ResponseSink response_sink_{*this};
  HttpStreamParser requests_{StreamKind::kRequests, &request_sink_};
  HttpStreamParser responses_{StreamKind::kResponses, &response_sink_};

  std::vector<Exchange> exchanges_;
  size_t head_ = 0;
  size_t fifo_size_ = 0;
  // Exchanges are numbered; the FIFO front is number front_seq_. The
  // response being parsed answers number answering_seq_ (kNone: nobody's).
  static constexpr uint64_t kNone = UINT64_MAX;
  uint64_t front_seq_ = 0;
  uint64_t answering_seq_ = kNone;
};

}  // namespace aster
