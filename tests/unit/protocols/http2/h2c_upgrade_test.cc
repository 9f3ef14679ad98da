// HTTP/1.1 "Upgrade: h2c" answered by 101 (RFC 7540 3.2), through the
// connection layer with the builtin protocols: the HTTP/1 session hands the
// connection to HTTP/2 right after the 101's head (the server's frames may
// follow in the same write) and after the request (then the client's
// preface), and the request that asked is stream 1, answered as HTTP/2.
#include <gtest/gtest.h>

#include "protocols/http2/h2_feed.h"

namespace aster {
namespace {

using namespace h2test;

// As curl --http2 asks (its HTTP2-Settings: SETTINGS_MAX_CONCURRENT_STREAMS
// 100, SETTINGS_INITIAL_WINDOW_SIZE 32 MiB, SETTINGS_ENABLE_PUSH 0).
std::string upgrade_request(const std::string& method, const std::string& target, const std::string& extra = "") {
  return method + " " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
         "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n" +
         extra + "\r\n";
}
// As Go's x/net/http2/h2c writes it.
const std::string kSwitching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

TEST(H2cUpgrade, TheUpgradeRequestIsStreamOneAnsweredAsHttp2) {
  Feed f;
  Deflater client, server;
  f.data(IN, upgrade_request("GET", "/up?token=secret"), 10);
  // The 101 and the server's first frames in one write: its SETTINGS and
  // stream 1's answer.
  f.data(OUT, kSwitching + settings() + headers(1, server.block(resp("200")), false) + data(1, 50, true), 20);
  f.data(IN, preface() + settings() + frame(kSettings, 1, 0, ""), 30);
  f.data(IN, headers(3, client.block(req("GET", "/next")), true), 40);
  f.data(OUT, frame(kSettings, 1, 0, "") + headers(3, server.block(resp("404")), false) + data(3, 7, true), 50);
  f.close();
  ASSERT_EQ(f.sink.seen.size(), 2u);
  const auto& up = f.sink.seen[0];
  EXPECT_EQ(up.protocol, AppProtocol::kHttp2) << "its answer is HTTP/2";
  EXPECT_TRUE(up.request_seen);
  EXPECT_EQ(up.method, HttpMethod::kGet);
  EXPECT_EQ(up.path, "/up") << "no query string";
  EXPECT_EQ(up.status, 200) << "the answer on stream 1, not the 101";
  EXPECT_EQ(up.resp_body, 50u);
  EXPECT_EQ(up.first_ns, 10u) << "from the HTTP/1.1 request's first byte";
  EXPECT_EQ(up.last_ns, 20u);
  const auto& next = f.sink.seen[1];
  EXPECT_EQ(next.protocol, AppProtocol::kHttp2);
  EXPECT_EQ(next.path, "/next");
  EXPECT_EQ(next.status, 404);
  EXPECT_EQ(next.resp_body, 7u);
  EXPECT_EQ(f.stats.h2_connections_upgraded.get(), 1u);
  EXPECT_EQ(f.stats.h2_connections_start.get(), 0u);
  EXPECT_EQ(f.stats.connections_upgraded.get(), 0u) << "parsing goes on: not a stopped connection";
  EXPECT_EQ(f.stats.h2_frames_invalid.get(), 0u);
  EXPECT_EQ(f.stats.h2_resyncs.get(), 0u);
  EXPECT_EQ(f.stats.requests_recorded.get(), 2u);
  EXPECT_EQ(f.stats.requests_unanswered.get(), 0u);
  EXPECT_EQ(f.sink.starts, f.sink.ends);
}

TEST(H2cUpgrade, The101AloneInItsWriteAndTheAnswerLater) {
  // nghttpd writes the 101 by itself; the answer comes after the client's
  // preface, and every piece arrives in reads of any size.
  for (size_t cut : {size_t(1), size_t(5), size_t(9), size_t(1000)}) {
    Feed f;
    Deflater server;
    std::string in = upgrade_request("HEAD", "/a.txt");
    std::string in2 = preface() + settings();
    std::string out = kSwitching;
    std::string out2 = settings() + frame(kSettings, 1, 0, "") + headers(1, server.block(resp("200")), true);
    uint64_t ts = 1;
    for (const std::string* part : {&in, &out, &in2, &out2}) {
      uint8_t dir = part == &in || part == &in2 ? IN : OUT;
      for (size_t i = 0; i < part->size(); i += cut) f.data(dir, part->substr(i, cut), ts++);
    }
    ASSERT_EQ(f.sink.seen.size(), 1u) << cut;
    EXPECT_EQ(f.sink.seen[0].method, HttpMethod::kHead) << cut;
    EXPECT_EQ(f.sink.seen[0].path, "/a.txt") << cut;
    EXPECT_EQ(f.sink.seen[0].status, 200) << cut;
    EXPECT_EQ(f.sink.seen[0].first_ns, 1u) << cut;
    EXPECT_EQ(f.stats.h2_frames_invalid.get(), 0u) << cut;
    EXPECT_EQ(f.stats.h2_connections_upgraded.get(), 1u) << cut;
  }
}

TEST(H2cUpgrade, AnUploadsBodyIsStreamOnesEvenAfterThe101) {
  // The body read whole before the 101 (Go's h2c), and a server answering
  // 101 before reading it: the rest of the body precedes the preface.
  for (bool early : {false, true}) {
    Feed f;
    Deflater server;
    std::string head = upgrade_request("POST", "/upload", "Content-Length: 10\r\n");
    if (early) {
      f.data(IN, head + "0123", 10);
      f.data(OUT, kSwitching, 20);
      f.data(IN, "456789" + preface() + settings(), 30);
    } else {
      f.data(IN, head + "0123456789", 10);
      f.data(OUT, kSwitching, 20);
      f.data(IN, preface() + settings(), 30);
    }
    f.data(OUT, settings() + headers(1, server.block(resp("201")), false) + data(1, 3, true), 40);
    ASSERT_EQ(f.sink.seen.size(), 1u) << early;
    EXPECT_EQ(f.sink.seen[0].method, HttpMethod::kPost);
    EXPECT_EQ(f.sink.seen[0].status, 201);
    EXPECT_EQ(f.sink.seen[0].req_body, 10u) << early;
    EXPECT_TRUE(f.sink.seen[0].req_body_known);
    EXPECT_EQ(f.sink.seen[0].resp_body, 3u);
    EXPECT_EQ(f.stats.h2_frames_invalid.get(), 0u) << early;
  }
}

TEST(H2cUpgrade, AChunkedUploadCutBy101IsOfUnknownSize) {
  // Its end cannot be known from the stream: the preface is looked for at
  // the start of the client's next transfers.
  Feed f;
  Deflater server;
  f.data(IN, upgrade_request("POST", "/chunked", "Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n", 10);
  f.data(OUT, kSwitching, 20);
  f.data(IN, "0\r\n\r\n", 25);
  f.data(IN, preface() + settings(), 30);
  f.data(OUT, settings() + headers(1, server.block(resp("200")), true), 40);
  ASSERT_EQ(f.sink.seen.size(), 1u);
  EXPECT_EQ(f.sink.seen[0].path, "/chunked");
  EXPECT_EQ(f.sink.seen[0].status, 200);
  EXPECT_FALSE(f.sink.seen[0].req_body_known) << "not a guess";
  EXPECT_EQ(f.stats.h2_frames_invalid.get(), 0u);
}

TEST(H2cUpgrade, DeclinedOrAnotherProtocolIsNoSwitch) {
  {
    // The server ignores the Upgrade: an HTTP/1.1 exchange, and the
    // connection stays HTTP/1.1.
    Feed f;
    f.data(IN, upgrade_request("GET", "/plain"), 10);
    f.data(OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 20);
    f.data(IN, "GET /again HTTP/1.1\r\nHost: a\r\n\r\n", 30);
    f.data(OUT, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 40);
    ASSERT_EQ(f.sink.seen.size(), 2u);
    EXPECT_EQ(f.sink.seen[0].protocol, AppProtocol::kHttp1);
    EXPECT_EQ(f.sink.seen[0].status, 200);
    EXPECT_EQ(f.sink.seen[1].path, "/again");
    EXPECT_EQ(f.stats.h2_connections_upgraded.get(), 0u);
  }
  {
    // A 101 to a protocol other than the h2c asked for (a WebSocket):
    // the 101 is the exchange and parsing stops, as for any upgrade.
    Feed f;
    f.data(IN, "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 10);
    f.data(OUT, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi", 20);
    f.data(IN, std::string("\x81\x82\x00\x00\x00\x00hi", 8), 30);
    ASSERT_EQ(f.sink.seen.size(), 1u);
    EXPECT_EQ(f.sink.seen[0].protocol, AppProtocol::kHttp1);
    EXPECT_EQ(f.sink.seen[0].status, 101);
    EXPECT_EQ(f.stats.connections_upgraded.get(), 1u);
    EXPECT_EQ(f.stats.h2_connections_upgraded.get(), 0u);
  }
}

TEST(H2cUpgrade, StreamOneUnansweredAtCloseIsCounted) {
  Feed f;
  f.data(IN, upgrade_request("GET", "/slow"), 10);
  f.data(OUT, kSwitching + settings(), 20);
  f.data(IN, preface() + settings(), 30);
  f.close();
  EXPECT_EQ(f.sink.seen.size(), 0u);
  EXPECT_EQ(f.stats.requests_unanswered.get(), 1u);
  EXPECT_EQ(f.sink.starts, f.sink.ends);
}

}  // namespace
}  // namespace aster
