// gRPC over HTTP/2: the message counter on the 5-byte prefixes, the code
// mappings (grpc-status, RST_STREAM as grpc-go reads it, the HTTP status
// mapping), and calls through the connection layer as the daemon runs it:
// Trailers-Only errors, trailers after messages, a reset, a stream that is
// not gRPC, and a connection attached late.
#include <gtest/gtest.h>

#include "protocols/http2/grpc_stream.h"
#include "protocols/http2/h2_wire.h"
#include "protocols/registry.h"
#include "streams/tracker_feed.h"

namespace aster {
namespace {

using namespace h2test;

constexpr uint8_t IN = ASTER_DIR_INGRESS;
constexpr uint8_t OUT = ASTER_DIR_EGRESS;

std::string message(const std::string& body, uint8_t flag = 0) {
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string p{char(flag), char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  return p + body;
}

TEST(GrpcMessageCounter, PrefixesSplitAnywhereAndEmptyMessages) {
  std::string wire = message("hello") + message("") + message(std::string(300, 'x'), 1);
  for (size_t cut = 1; cut <= wire.size(); ++cut) {
    grpc::MessageCounter c;
    for (size_t i = 0; i < wire.size(); i += cut) {
      std::string part = wire.substr(i, cut);
      c.feed(reinterpret_cast<const uint8_t*>(part.data()), part.size());
    }
    EXPECT_EQ(c.messages(), 3u) << cut;
    EXPECT_TRUE(c.exact());
    EXPECT_TRUE(c.at_boundary());
  }
}

TEST(GrpcMessageCounter, AGapInABodyKeepsTheCountAGapOverAPrefixEndsIt) {
  grpc::MessageCounter c;
  std::string m = message(std::string(1000, 'x'));
  c.feed(reinterpret_cast<const uint8_t*>(m.data()), 10);
  c.skip(995);
  EXPECT_EQ(c.messages(), 1u);
  EXPECT_TRUE(c.exact());
  c.skip(3);  // a prefix went by
  EXPECT_FALSE(c.exact());
  grpc::MessageCounter bad;
  std::string not_grpc = "{\"json\": 1}";
  bad.feed(reinterpret_cast<const uint8_t*>(not_grpc.data()), not_grpc.size());
  EXPECT_FALSE(bad.exact()) << "a flag byte other than 0 or 1";
}

TEST(GrpcCodes, AsGrpcGoReportsThem) {
  EXPECT_EQ(grpc::parse_grpc_status("0"), 0);
  EXPECT_EQ(grpc::parse_grpc_status("16"), 16);
  EXPECT_EQ(grpc::parse_grpc_status("17"), kGrpcCodeUnknown);
  EXPECT_EQ(grpc::parse_grpc_status("4x"), kGrpcCodeUnknown);
  EXPECT_EQ(grpc::parse_grpc_status(""), kGrpcCodeUnknown);
  EXPECT_EQ(grpc_code_name(grpc::code_from_rst(0x8)), "Canceled");
  EXPECT_EQ(grpc_code_name(grpc::code_from_rst(0x7)), "Unavailable");
  EXPECT_EQ(grpc_code_name(grpc::code_from_rst(0x0)), "Internal");
  EXPECT_EQ(grpc_code_name(grpc::code_from_rst(0xb)), "ResourceExhausted");
  EXPECT_EQ(grpc_code_name(grpc::code_from_rst(0xc)), "PermissionDenied");
  EXPECT_EQ(grpc_code_name(grpc::code_from_rst(0x99)), "Unknown");
  EXPECT_EQ(grpc_code_name(grpc::code_from_http_status(400)), "Internal");
  EXPECT_EQ(grpc_code_name(grpc::code_from_http_status(401)), "Unauthenticated");
  EXPECT_EQ(grpc_code_name(grpc::code_from_http_status(403)), "PermissionDenied");
  EXPECT_EQ(grpc_code_name(grpc::code_from_http_status(404)), "Unimplemented");
  EXPECT_EQ(grpc_code_name(grpc::code_from_http_status(429)), "Unavailable");
  EXPECT_EQ(grpc_code_name(grpc::code_from_http_status(503)), "Unavailable");
  EXPECT_EQ(grpc_code_name(grpc::code_from_http_status(500)), "Unknown");
  EXPECT_EQ(grpc_code_name(16), "Unauthenticated");
  EXPECT_EQ(grpc_code_name(kGrpcCodeUnknown), "_unknown_");
  EXPECT_TRUE(grpc::is_grpc_content_type("application/grpc"));
  EXPECT_TRUE(grpc::is_grpc_content_type("application/grpc+proto"));
  EXPECT_TRUE(grpc::is_grpc_content_type("Application/gRPC;charset=x"));
  EXPECT_FALSE(grpc::is_grpc_content_type("application/grpc-web"));
  EXPECT_FALSE(grpc::is_grpc_content_type("application/json"));
}

class Sink : public ExchangeSink {
 public:
  void on_exchange(const Exchange&) override { ++exchanges; }
  void on_grpc_start(uint16_t, const std::string* path) override { starts.push_back(path ? *path : "(null)"); }
  void on_grpc_call(const GrpcCall& c) override {
    calls.push_back(c);
    paths.push_back(c.path ? *c.path : "(null)");
  }
  int exchanges = 0;
  std::vector<std::string> starts;
  std::vector<GrpcCall> calls;
  std::vector<std::string> paths;
};

class Feed : public TrackerFeed<Sink> {
 public:
  Feed() : TrackerFeed(builtin_protocols()) {}
  void data(uint8_t dir, const std::string& bytes, uint64_t ts, size_t captured = SIZE_MAX) {
    TrackerFeed::data(1, dir, bytes, ts, captured);
  }
};

Fields grpc_req(const std::string& path) {
  return {{":method", "POST"}, {":scheme", "http"}, {":path", path}, {":authority", "x"},
          {"content-type", "application/grpc"}, {"te", "trailers"}};
}
Fields grpc_resp() { return {{":status", "200"}, {"content-type", "application/grpc"}}; }

std::string headers(uint32_t stream, const std::string& block, bool end_stream) {
  return frame(kHeaders, uint8_t(kEndHeaders | (end_stream ? kEndStream : 0)), stream, block);
}
std::string data(uint32_t stream, const std::string& payload, bool end_stream) {
  return frame(kData, end_stream ? kEndStream : 0, stream, payload);
}

TEST(GrpcCalls, CodesFromTrailersTrailersOnlyAResetAndNotGrpc) {
  Feed f;
  Deflater client, server;
  f.data(IN, preface() + settings(), 1);
  f.data(OUT, settings(), 2);
  // (Blocks are encoded one statement at a time: in wire order.)
  // 1: two messages each way, OK in trailers.
  f.data(IN, headers(1, client.block(grpc_req("/pkg.Svc/Chat")), false) + data(1, message("a") + message("b"), true), 3);
  std::string h1 = server.block(grpc_resp());
  std::string t1 = server.block({{"grpc-status", "0"}});
  std::string r1 = headers(1, h1, false) + data(1, message("A"), false) + data(1, message("B"), false) +
                   headers(1, t1, true);
  // 3: a Trailers-Only NotFound.
  std::string b3 = client.block(grpc_req("/pkg.Svc/Get"));
  f.data(IN, headers(3, b3, false) + data(3, message("k"), true), 4);
  std::string t3 = server.block(
      {{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "5"}, {"grpc-message", "no"}});
  f.data(OUT, r1 + headers(3, t3, true), 5);
  // 5: cancelled by the client before any answer.
  f.data(IN, headers(5, client.block(grpc_req("/pkg.Svc/Get")), false) + data(5, message("k"), true) + rst(5, 8), 6);
  // 7: a 503 from a proxy without grpc-status.
  f.data(IN, headers(7, client.block(grpc_req("/pkg.Svc/Get")), false) + data(7, message("k"), true), 7);
  f.data(OUT, headers(7, server.block({{":status", "503"}}), true), 8);
  // 9: not gRPC.
  f.data(IN, headers(9, client.block({{":method", "GET"}, {":scheme", "http"}, {":path", "/x"}}), true), 9);
  f.data(OUT, headers(9, server.block({{":status", "200"}}), true), 10);
  ASSERT_EQ(f.sink.calls.size(), 4u);
  EXPECT_EQ(f.sink.starts, (std::vector<std::string>{"/pkg.Svc/Chat", "/pkg.Svc/Get", "/pkg.Svc/Get", "/pkg.Svc/Get"}));
  EXPECT_EQ(f.sink.paths, (std::vector<std::string>{"/pkg.Svc/Chat", "/pkg.Svc/Get", "/pkg.Svc/Get", "/pkg.Svc/Get"}));
  EXPECT_EQ(grpc_code_name(f.sink.calls[0].code), "OK");
  EXPECT_EQ(f.sink.calls[0].messages_received, 2u);
  EXPECT_EQ(f.sink.calls[0].messages_sent, 2u);
  EXPECT_EQ(grpc_code_name(f.sink.calls[1].code), "NotFound");
  EXPECT_EQ(f.sink.calls[1].messages_sent, 0u);
  EXPECT_EQ(grpc_code_name(f.sink.calls[2].code), "Canceled");
  EXPECT_EQ(grpc_code_name(f.sink.calls[3].code), "Unavailable");
  EXPECT_EQ(f.sink.exchanges, 4) << "the reset stream has no exchange; the others do";
  EXPECT_EQ(f.stats.grpc_calls_content_type.get(), 4u);
  EXPECT_EQ(f.stats.grpc_codes_unresolved.get(), 0u);
}

TEST(GrpcCalls, AttachedLateOldEntriesAreUnknownNeverGuessed) {
  Feed f;
  Deflater client, server;
  // Before the exporter: one call whose fields entered both tables.
  client.block(grpc_req("/pkg.Svc/Old"));
  server.block(grpc_resp());
  server.block({{"grpc-status", "0"}});
  // After: the same call again (every field an old entry), and a new
  // method (its :path a new literal; content-type still an old entry).
  std::string old_req = client.block(grpc_req("/pkg.Svc/Old"));
  f.data(IN, headers(1, old_req, false) + data(1, message("x"), true), 10);
  std::string h1 = server.block(grpc_resp());
  std::string t1 = server.block({{"grpc-status", "0"}});
  f.data(OUT, headers(1, h1, false) + data(1, message("y"), false) + headers(1, t1, true), 11);
  std::string new_req = client.block(grpc_req("/pkg.Svc/New"));
  f.data(IN, headers(3, new_req, false) + data(3, message("x") + message("z"), true), 12);
  std::string h3 = server.block(grpc_resp());
  std::string t3 = server.block({{"grpc-status", "0"}});
  f.data(OUT, headers(3, h3, false) + headers(3, t3, true), 13);
  ASSERT_EQ(f.sink.calls.size(), 2u);
  EXPECT_TRUE(f.sink.starts.empty()) << "no content-type was readable with the requests";
  // (nghttp2 never indexes :path, so both paths are literals here; grpc-go
  // indexes them: test_grpc.py shows the sentinel for those.)
  EXPECT_EQ(f.sink.paths, (std::vector<std::string>{"/pkg.Svc/Old", "/pkg.Svc/New"}));
  EXPECT_EQ(f.sink.calls[0].code, kGrpcCodeUnknown);
  EXPECT_EQ(f.sink.calls[1].code, kGrpcCodeUnknown);
  EXPECT_EQ(f.sink.calls[1].messages_received, 2u);
  EXPECT_TRUE(f.sink.calls[1].received_known);
  EXPECT_EQ(f.stats.grpc_calls_framing.get(), 2u);
  EXPECT_EQ(f.stats.grpc_codes_unresolved.get(), 2u);
}

}  // namespace
}  // namespace aster
