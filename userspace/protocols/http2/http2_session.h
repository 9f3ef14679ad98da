// SPDX-License-Identifier: Apache-2.0
// HTTP/2 on one connection, server role: a frame reader on each direction
// (frames split over reads, gaps of known length inside DATA, losing and
// regaining frame sync), an HPACK decoder per direction, and the streams
// that pair each request with its response by stream id. Exchanges
// complete in any order, at the server's END_STREAM or a RST_STREAM.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "model/protocol.h"
#include "protocols/http2/frame.h"
#include "protocols/http2/grpc_stream.h"
#include "protocols/http2/hpack_decoder.h"

namespace aster {

class Http2Session : public ProtocolSession {
 public:
  // Open streams kept per connection; beyond it the oldest is dropped
  // (counted): RFC 9113 peers advertise ~100 concurrent streams.
  static constexpr size_t kMaxStreams = 1024;
  // Bytes of one header block (all its frames) kept to decode it; a larger
  // block is lost (a new unknown HPACK epoch), not a reason to grow.
  static constexpr size_t kMaxHeaderBlock = 64 * 1024;
  // The path read into a stream, as HTTP/1's parser cuts it.
  static constexpr size_t kMaxPathBytes = 256;

  // `handover`: the connection was upgraded from HTTP/1.1 (h2c), whose
  // request is stream 1.
  Http2Session(const ConnectionContext& ctx, const Handover* handover);
  ~Http2Session() override;
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  void feed(uint8_t dir, const uint8_t* data, size_t len, uint64_t ts_ns) override;
  void gap(uint8_t dir, uint64_t len, uint64_t ts_ns) override;
  void close(uint64_t ts_ns) override;
  // An HTTP/1-only server answering the preface (nginx: 400) is HTTP/1's.
  Next next() const override { return to_http1_ ? Next::kSwitch : Next::kContinue; }
  std::string_view switch_to() const override { return "http1"; }
  Unconsumed take_unconsumed() override { return std::move(http1_answer_); }

 private:
  struct Stream {
    HttpMethod method = HttpMethod::kOther;
    std::string path;
    uint16_t status = 0;
    bool request_seen = false;    // the request's HEADERS were read
    bool method_known = false;
    bool path_known = false;
    bool status_known = false;
    bool response_started = false;  // a final (non-1xx) HEADERS went out
    bool response_body_known = true;
    bool request_body_known = true;
    uint64_t request_body = 0;
    uint64_t response_body = 0;
    uint64_t first_byte_ns = 0;
    uint64_t last_byte_ns = 0;
    uint64_t order = 0;  // creation order, for the cap
    // gRPC (grpc_stream.h): whether the content-type says so (unknown
    // when the field could not be read), the status and how the response
    // ended, and the messages each way.
    enum class GrpcKind : uint8_t { kUnknown, kNo, kYes };
    GrpcKind grpc = GrpcKind::kUnknown;
    uint8_t grpc_status = kNoGrpcStatus;
    bool grpc_start_counted = false;
    bool ended_by_headers = false;   // trailers, or a Trailers-Only response
    bool end_block_unresolved = false;  // that block had fields we could not read
    bool reset = false;
    uint8_t reset_code = kGrpcCodeUnknown;  // as code_from_rst() maps it
    grpc::MessageCounter in_messages, out_messages;
  };
  static constexpr uint8_t kNoGrpcStatus = 0xff;

  // One direction's frames.
  struct Reader {
    enum class State : uint8_t {
      kPreface,  // the client's connection preface, not a frame
      kSeek,     // first bytes after attach: a frame boundary if plausible
      kHeader,   // collecting a 9-byte frame header
      kPayload,  // inside a frame's payload
      kLost,     // frame sync lost in a gap: waiting for a transfer that starts with a frame
    };
    explicit Reader(bool from_start) : hpack(from_start) {}
    State state = State::kSeek;
    size_t preface_seen = 0;
    // After Upgrade: h2c, the rest of the HTTP/1.1 request's body comes
    // first: this many bytes, or (-1) an unknown number, in which case the
    // preface is looked for at the start of each transfer.
    int64_t body_before_preface = 0;
    uint8_t hdr[h2::kFrameHeaderBytes];
    size_t hdr_len = 0;
    h2::FrameHeader fh;
    uint32_t left = 0;          // payload bytes still to come
    uint64_t frame_ts = 0;      // when the frame's first byte moved
    std::string payload;        // buffered payload (all but DATA)
    bool damaged = false;       // part of the payload fell into a gap
    int data_pad = -1;          // a padded DATA frame's pad length, once read
    // The header block being assembled (HEADERS or PUSH_PROMISE, then
    // CONTINUATION up to END_HEADERS).
    bool in_block = false;
    bool block_damaged = false;
    bool block_end_stream = false;
    bool block_push = false;
    uint32_t block_stream = 0;
    uint64_t block_ts = 0;
    std::string block;
    HpackDecoder hpack;
    // The most the peer lets this direction send in one frame.
    uint32_t max_frame = h2::kLargestMaxFrame;
  };

  class FieldCollector;

  Reader& reader(uint8_t dir) { return dir == 0 ? in_ : out_; }
  void decide_start(uint8_t dir, const uint8_t* data, size_t len);
  // Bytes of `dir` from a transfer boundary: is a frame header here?
  bool sync_at(uint8_t dir, const uint8_t* data, size_t len);
  void lose_sync(uint8_t dir);
  void on_frame(uint8_t dir, uint64_t ts_ns);
  void on_data_payload(uint8_t dir, uint32_t bytes);
  // DATA payload bytes at `offset` in the current frame's payload, for the
  // stream's gRPC message counter (padding excluded); null `p`: a gap.
  void on_data_bytes(uint8_t dir, const uint8_t* p, uint64_t n, uint64_t offset);
  void note_grpc_fields(Stream& s, const FieldCollector* f, bool request);
  // Whether a stream is a gRPC call: by content-type, else by its framing
  // (every request byte in complete length-prefixed messages, the answer
  // ended by a HEADERS block or a reset).
  bool is_grpc(const Stream& s) const;
  void record_grpc(const Stream& s);
  void on_header_fragment(uint8_t dir, const uint8_t* p, size_t n, uint64_t ts_ns);
  void finish_block(uint8_t dir, uint64_t ts_ns);
  void on_request_headers(uint32_t id, const FieldCollector* f, bool end_stream, uint64_t ts_ns);
  void on_response_headers(uint32_t id, const FieldCollector* f, bool end_stream, uint64_t ts_ns);
  void on_settings(uint8_t dir);
  // `reset_code`: the error code as code_from_rst() maps it (kGrpcCodeUnknown: unread).
  void on_rst_stream(uint32_t id, uint8_t reset_code, uint64_t ts_ns);
  Stream* open_stream(uint32_t id);
  void complete_stream(uint32_t id, uint64_t ts_ns);
  void drop_stream(std::unordered_map<uint32_t, Stream>::iterator it);
  void record(const Stream& s);

  ConnectionContext ctx_;
  PipelineStats& stats_;
  ExchangeSink& sink_;
  bool request_events_;
  bool decided_ = false;   // whether the connection was seen from its start is known
  bool from_start_ = false;
  bool server_spoke_ = false;  // the server's first bytes were read
  bool to_http1_ = false;
  Unconsumed http1_answer_;
  Reader in_{false};       // client to server (ingress)
  Reader out_{false};      // server to client (egress)
  std::unordered_map<uint32_t, Stream> streams_;
  uint64_t next_order_ = 0;
};

}  // namespace aster
