// HTTP/2 through the connection layer as the daemon runs it (the builtin
// protocols, records as the probes emit them), with frames and header
// blocks as nghttp2 writes them: detection, streams interleaved and
// completing out of order, DATA sizes without padding, resets, interim
// answers, gaps inside and across frames, and connections attached late.
#include <gtest/gtest.h>

#include <map>

#include "protocols/http2/h2_feed.h"

namespace aster {
namespace {

using namespace h2test;

TEST(Http2Session, ThePrefaceIsHttp2sAndStreamsCompleteOutOfOrder) {
  Feed f;
  Deflater client, server;
  // (Blocks are encoded one statement at a time: in wire order.)
  std::string get_a = client.block(req("GET", "/a?secret=1"));
  std::string post_b = client.block(req("POST", "/b"));
  f.data(IN, preface() + settings() + headers(1, get_a, true) + headers(3, post_b, false), 10);
  f.data(OUT, settings() + frame(kSettings, 1, 0, ""), 20);
  f.data(IN, data(3, 100, false) + data(3, 23, true), 30);
  // Stream 3 answered first, with a padded DATA frame: 7 bytes padding.
  std::string padded = frame(kData, kPadded | kEndStream, 3, std::string(1, '\x07') + std::string(50, 'x') + std::string(7, '\0'));
  f.data(OUT, headers(3, server.block(resp("201")), false) + padded, 40);
  f.data(OUT, headers(1, server.block(resp("404")), false) + data(1, 5000, false), 50);
  f.data(OUT, data(1, 1000, true), 60);
  ASSERT_EQ(f.sink.seen.size(), 2u);
  const auto& b = f.sink.seen[0];
  EXPECT_EQ(b.protocol, AppProtocol::kHttp2);
  EXPECT_EQ(b.method, HttpMethod::kPost);
  EXPECT_EQ(b.path, "/b");
  EXPECT_EQ(b.status, 201);
  EXPECT_EQ(b.req_body, 123u);
  EXPECT_EQ(b.resp_body, 50u) << "padding is not body";
  EXPECT_EQ(b.first_ns, 10u);
  EXPECT_EQ(b.last_ns, 40u);
  const auto& a = f.sink.seen[1];
  EXPECT_EQ(a.method, HttpMethod::kGet);
  EXPECT_EQ(a.path, "/a") << "no query string";
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.resp_body, 6000u);
  EXPECT_EQ(a.last_ns, 60u);
  EXPECT_EQ(f.stats.h2_connections_start.get(), 1u);
  EXPECT_EQ(f.stats.connections_not_http.get(), 0u);
  EXPECT_EQ(f.stats.requests_recorded.get(), 2u);
  EXPECT_EQ(f.stats.h2_table_epochs.get(), 0u);
  EXPECT_EQ(f.sink.starts, 2);
  EXPECT_EQ(f.sink.ends, 2);
}

TEST(Http2Session, FramesSplitAnywhereAcrossReads) {
  // The same conversation cut into reads of every size from 1 byte.
  for (size_t cut = 1; cut <= 17; ++cut) {
    Feed f;
    Deflater client, server;
    std::string in = preface() + settings() + headers(1, client.block(req("GET", "/x")), true);
    std::string big_block = server.block({{":status", "200"}, {"x-long", std::string(300, 'q')}});
    // A response block split over HEADERS and CONTINUATION.
    std::string out = settings() + frame(kHeaders, 0, 1, big_block.substr(0, 100)) +
                      frame(kContinuation, kEndHeaders, 1, big_block.substr(100)) + data(1, 77, true);
    uint64_t ts = 1;
    for (size_t i = 0; i < in.size(); i += cut) f.data(IN, in.substr(i, cut), ts++);
    for (size_t i = 0; i < out.size(); i += cut) f.data(OUT, out.substr(i, cut), ts++);
    ASSERT_EQ(f.sink.seen.size(), 1u) << cut;
    EXPECT_EQ(f.sink.seen[0].path, "/x");
    EXPECT_EQ(f.sink.seen[0].status, 200);
    EXPECT_EQ(f.sink.seen[0].resp_body, 77u);
    EXPECT_EQ(f.sink.seen[0].first_ns, 1u + (preface().size() + 9) / cut) << cut;
  }
}

TEST(Http2Session, ResetsEarlyHintsAndTrailers) {
  Feed f;
  Deflater client, server;
  f.open();
  std::string b1 = client.block(req("GET", "/cancelled"));
  std::string b3 = client.block(req("GET", "/hints"));
  std::string b5 = client.block(req("PUT", "/reset-after"));
  f.data(IN, headers(1, b1, true) + headers(3, b3, true) + headers(5, b5, false), 3);
  f.data(IN, rst(1, 8), 4);  // CANCEL before any answer: not recorded
  f.data(OUT, headers(3, server.block(resp("103")), false), 5);
  f.data(OUT, headers(3, server.block(resp("200")), false) + data(3, 10, false), 6);
  f.data(OUT, headers(3, server.block({{"grpc-status", "0"}}), true), 7);  // trailers end the stream
  // A whole response, then RST_STREAM NO_ERROR (the server stops the upload).
  f.data(OUT, headers(5, server.block(resp("413")), true) + rst(5, 0), 8);
  f.close();
  ASSERT_EQ(f.sink.seen.size(), 2u);
  EXPECT_EQ(f.sink.seen[0].path, "/hints");
  EXPECT_EQ(f.sink.seen[0].status, 200) << "103 is interim";
  EXPECT_EQ(f.sink.seen[0].last_ns, 7u);
  EXPECT_EQ(f.sink.seen[1].path, "/reset-after");
  EXPECT_EQ(f.sink.seen[1].status, 413);
  EXPECT_EQ(f.stats.h2_streams_reset.get(), 1u);
  EXPECT_EQ(f.sink.starts, 3);
  EXPECT_EQ(f.sink.ends, 3);
}

TEST(Http2Session, AGapInsideDataKeepsSyncAndAcrossFramesResyncs) {
  Feed f;
  Deflater client, server;
  f.open();
  std::string big = client.block(req("GET", "/big"));
  std::string next = client.block(req("GET", "/next"));
  f.data(IN, headers(1, big, true) + headers(3, next, true), 3);
  // A 16 KiB DATA frame of which only the head was captured: its size is
  // in its header, and the next transfer starts on a frame.
  std::string h1 = headers(1, server.block(resp("200")), false);
  f.data(OUT, h1 + data(1, 16000, false), 4, h1.size() + 100);
  f.data(OUT, data(1, 384, true), 5);
  ASSERT_EQ(f.sink.seen.size(), 1u);
  EXPECT_EQ(f.sink.seen[0].resp_body, 16384u);
  EXPECT_TRUE(f.sink.seen[0].resp_body_known);
  EXPECT_EQ(f.stats.h2_resyncs.get(), 0u);
  // Now a transfer whose uncaptured part holds frame headers, among them
  // the HEADERS of stream 3: sync is lost, found at the next transfer,
  // and the table is a new unknown epoch.
  std::string b404 = server.block(resp("404"));
  std::string hidden = data(1, 10, false) + headers(3, b404, false) + data(3, 50, false);
  f.data(OUT, hidden, 6, 12);
  f.data(OUT, data(3, 5, true), 7);
  ASSERT_EQ(f.sink.seen.size(), 2u);
  EXPECT_EQ(f.sink.seen[1].path, "/next");
  EXPECT_EQ(f.sink.seen[1].status, 0) << "its status went by uncaptured: not guessed";
  EXPECT_FALSE(f.sink.seen[1].resp_body_known);
  EXPECT_EQ(f.stats.h2_resyncs.get(), 1u);
  EXPECT_EQ(f.stats.h2_table_epochs.get(), 1u);
  EXPECT_EQ(f.stats.h2_fields_unresolved.get(), 1u);
}

TEST(Http2Session, AttachedLateItCountsWithWhatItCanRead) {
  // Before the exporter, the client's encoder indexed ":path: /old" and
  // the server's ":status: 418" (literals with incremental indexing,
  // static names 4 and 8); after it, both are referred to by index 62.
  const std::string path_ref = "\x82\x86\xbe";    // GET, http, dynamic 62
  const std::string status_ref = "\xbe";            // dynamic 62
  Feed f;
  // A request the decoder can read whole: literals and static entries.
  const std::string fresh = "\x83\x86\x04\x04/new";  // POST, http, :path "/new" (not indexed)
  f.data(IN, headers(41, path_ref, true) + headers(43, fresh, true), 10);
  f.data(OUT, headers(43, "\x88", false) + data(43, 9, true), 20);  // 200, static
  f.data(OUT, headers(41, status_ref, true), 30);
  // The answer to a request from before the attach.
  f.data(OUT, headers(39, "\x8d", true), 40);  // 404, static
  ASSERT_EQ(f.sink.seen.size(), 3u);
  EXPECT_EQ(f.stats.h2_connections_late.get(), 1u);
  const auto& n = f.sink.seen[0];
  EXPECT_TRUE(n.request_seen);
  EXPECT_EQ(n.method, HttpMethod::kPost);
  EXPECT_EQ(n.path, "/new");
  EXPECT_EQ(n.status, 200);
  EXPECT_EQ(n.resp_body, 9u);
  const auto& o = f.sink.seen[1];
  EXPECT_FALSE(o.request_seen) << "its :path was indexed before the attach: unknown, not guessed";
  EXPECT_EQ(o.status, 0) << "so was its :status";
  EXPECT_FALSE(f.sink.seen[2].request_seen);
  EXPECT_EQ(f.sink.seen[2].status, 404);
  EXPECT_EQ(f.stats.h2_fields_unresolved.get(), 2u) << ":path of 41 and :status of 41";
  EXPECT_EQ(f.stats.h2_table_epochs.get(), 2u);
}

TEST(Http2Session, AttachedLateToNghttp2sClientEveryPathIsKnown) {
  // nghttp2 never indexes :path, so the paths of h2load's requests are
  // readable whenever the exporter attached; :method GET and :status 200
  // are static entries.
  Deflater client, server;
  for (int i = 0; i < 20; ++i) {
    client.block(req("GET", "/old/" + std::to_string(i % 3)));
    server.block(resp("200"));
  }
  Feed f;
  std::string b = client.block(req("GET", "/old/1"));
  f.data(IN, headers(41, b, true), 10);
  std::string r = server.block(resp("200"));
  f.data(OUT, headers(41, r, true), 20);
  ASSERT_EQ(f.sink.seen.size(), 1u);
  EXPECT_TRUE(f.sink.seen[0].request_seen);
  EXPECT_EQ(f.sink.seen[0].path, "/old/1");
  EXPECT_EQ(f.sink.seen[0].status, 200);
}

TEST(Http2Session, LateAttachNeedsFramesThatSayWhoSentThem) {
  Feed f;
  // WINDOW_UPDATE and PING from either side say nothing about the role.
  f.data(IN, window_update(0, 1000) + frame(kPing, 0, 0, std::string(8, '\0')), 1);
  EXPECT_EQ(f.stats.h2_connections_late.get(), 0u);
  Deflater client;
  f.data(IN, headers(7, client.block(req("GET", "/")), true), 2);
  EXPECT_EQ(f.stats.h2_connections_late.get(), 1u);
}

TEST(Http2Session, TheClientSideOfAConnectionIsNotCounted) {
  Feed f;
  Deflater client;
  f.data(OUT, preface() + settings() + headers(1, client.block(req("GET", "/x")), true), 1);
  EXPECT_EQ(f.stats.connections_client.get(), 1u);
  EXPECT_TRUE(f.sink.seen.empty());
}

TEST(Http2Session, TlsPlaintextIsReadByTheSameDetectionAsPlainBytes) {
  // The handshake's ciphertext goes over the socket first (a ClientHello
  // that offers ALPN h2, and the server's answer); then the TLS library's
  // plaintext, flagged by its probes, starts with the client preface.
  Feed f;
  Deflater client, server;
  const uint16_t plain = ASTER_F_TLS_PLAINTEXT;
  f.TrackerFeed::data(1, IN, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(500, 'c'), 1);
  f.TrackerFeed::data(1, OUT, std::string("\x16\x03\x03\x00\x7a\x02", 6) + std::string(1200, 's'), 2);
  f.TrackerFeed::data(1, IN, preface() + settings() + headers(1, client.block(req("GET", "/tls")), true), 3,
                      SIZE_MAX, plain);
  f.TrackerFeed::data(1, OUT, settings() + headers(1, server.block(resp("200")), false) + data(1, 42, true), 4,
                      SIZE_MAX, plain);
  ASSERT_EQ(f.sink.seen.size(), 1u);
  EXPECT_EQ(f.sink.seen[0].protocol, AppProtocol::kHttp2);
  EXPECT_EQ(f.sink.seen[0].path, "/tls");
  EXPECT_EQ(f.sink.seen[0].status, 200);
  EXPECT_EQ(f.sink.seen[0].resp_body, 42u);
  EXPECT_EQ(f.stats.connections_tls.get(), 1u);
  EXPECT_EQ(f.stats.h2_connections_start.get(), 1u);
  EXPECT_EQ(f.stats.h2_frames_invalid.get(), 0u);
}

}  // namespace
}  // namespace aster
