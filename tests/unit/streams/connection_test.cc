// Pairing and stream bookkeeping, fed with records shaped exactly as the
// probes emit them (the kernel side itself is covered by the integration
// tests).
#include "metrics/http_metrics.h"
#include "protocols/registry.h"
#include "streams/connection_tracker.h"
#include "streams/data_record.h"
#include "metrics/metrics_scrape.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace aster {
namespace {

class Harness {
 public:
  Harness() : metrics(registry, 100, [](uint16_t) { return std::string("svc"); }), tracker(stats, metrics, builtin_protocols(), nullptr) {}

  // One data record; `captured` < bytes.size() leaves the rest as a gap.
  void data(uint64_t conn, uint8_t dir, const std::string& bytes, uint64_t ts, size_t captured = SIZE_MAX,
            uint16_t flags = 0) {
    uint64_t& pos = pos_[conn][dir];
    send(conn, dir, pos, bytes, ts, captured, flags);
    pos += bytes.size();
  }
  // A record at an explicit position (to model loss or reordering).
  void send(uint64_t conn, uint8_t dir, uint64_t pos, const std::string& bytes, uint64_t ts,
            size_t captured = SIZE_MAX, uint16_t flags = 0) {
    auto rec = data_record(conn, dir, pos, bytes, ts, captured, flags);
    tracker.on_record(rec.data(), rec.size());
  }
  void skip(uint64_t conn, uint8_t dir, uint64_t n) { pos_[conn][dir] += n; }
  void close(uint64_t conn, uint64_t ts) {
    aster_event ev{};
    ev.timestamp_ns = ts;
    ev.conn_id = conn;
    ev.kind = ASTER_EVENT_CLOSE;
    tracker.on_record(&ev, sizeof ev);
  }
  // Lets the batches pass after which a closed connection is finished.
  void settle() {
    for (int i = 0; i < 3; ++i) tracker.end_batch(0);
  }

  // Sum of a family's samples whose labels include all of `want`.
  double value(const std::string& family, std::map<std::string, std::string> want, const char* field = "count") {
    double total = 0;
    for (const auto& f : collect(metrics)) {
      if (f.name != family) continue;
      for (const auto& m : f.metric) {
        bool match = true;
        for (const auto& [k, v] : want) {
          bool found = false;
          for (const auto& l : m.label) found |= l.name == k && l.value == v;
          match &= found;
        }
        if (!match) continue;
        if (f.type == prometheus::MetricType::Counter) total += m.counter.value;
        else if (std::string(field) == "sum") total += m.histogram.sample_sum;
        else total += static_cast<double>(m.histogram.sample_count);
      }
    }
    return total;
  }

  prometheus::Registry registry;
  PipelineStats stats;
  HttpMetrics metrics;
  ConnectionTracker tracker;

 private:
  std::map<uint64_t, uint64_t[2]> pos_;
};

constexpr uint8_t IN = ASTER_DIR_INGRESS;
constexpr uint8_t OUT = ASTER_DIR_EGRESS;
const uint64_t ms = 1000000;

TEST(Connection, KeepAliveSequenceWithExactDurations) {
  Harness h;
  h.data(1, IN, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 10 * ms);
  h.data(1, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 15 * ms);
  h.data(1, IN, "GET /b/12 HTTP/1.1\r\nHost: x\r\n\r\n", 20 * ms);
  h.data(1, OUT, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 21 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/a"}, {"status", "2xx"}, {"method", "GET"}}), 1);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/b/:id"}, {"status", "4xx"}}), 1);
  EXPECT_DOUBLE_EQ(h.value("aster_http_request_duration_seconds", {{"path", "/a"}}, "sum"), 0.005);
  EXPECT_DOUBLE_EQ(h.value("aster_http_response_size_bytes", {{"path", "/a"}}, "sum"), 5);
}

TEST(Connection, UncapturedBodiesStillHaveExactSizes) {
  Harness h;
  std::string body(100000, 'b');
  h.data(2, IN, "POST /up HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + body, 1 * ms, 4096);
  h.data(2, OUT, "HTTP/1.1 201 Created\r\nContent-Length: 70000\r\n\r\n", 2 * ms);
  h.data(2, OUT, std::string(70000, 'r'), 3 * ms, 0, ASTER_F_NO_USER_BUFFER);  // sendfile
  EXPECT_EQ(h.value("aster_http_request_size_bytes", {{"path", "/up"}}, "sum"), 100000);
  EXPECT_EQ(h.value("aster_http_response_size_bytes", {{"path", "/up"}}, "sum"), 70000);
  EXPECT_EQ(h.stats.gap_no_buffer.get(), 70000u);
  EXPECT_GT(h.stats.gap_not_captured.get(), 0u);
}

TEST(Connection, HeadAnswerHasNoBody) {
  Harness h;
  h.data(3, IN, "HEAD /f HTTP/1.1\r\n\r\n", 1 * ms);
  h.data(3, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", 2 * ms);
  h.data(3, IN, "GET /g HTTP/1.1\r\n\r\n", 3 * ms);
  h.data(3, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 4 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "HEAD"}}), 1);
  EXPECT_EQ(h.value("aster_http_response_size_bytes", {{"method", "HEAD"}}, "sum"), 0);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/g"}}), 1);
}

TEST(Connection, ContinueThenFinalAnswerCountsOnce) {
  Harness h;
  h.data(4, IN, "PUT /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 1 * ms);
  h.data(4, OUT, "HTTP/1.1 100 Continue\r\n\r\n", 2 * ms);
  h.data(4, IN, "data", 3 * ms);
  h.data(4, OUT, "HTTP/1.1 204 No Content\r\n\r\n", 4 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {}), 1);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"status", "2xx"}}), 1);
  EXPECT_EQ(h.value("aster_http_request_size_bytes", {}, "sum"), 4);
}

TEST(Connection, EarlyAnswerBeforeTheBodyWasRead) {
  Harness h;
  h.data(5, IN, "POST /big HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 1 * ms);
  h.data(5, OUT, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 2 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {}), 0) << "recorded when the request completes or the connection closes";
  h.close(5, 3 * ms);
  h.settle();
  EXPECT_EQ(h.value("aster_http_requests_total", {{"status", "4xx"}, {"path", "/big"}}), 1);
  EXPECT_EQ(h.tracker.size(), 0u);
}

TEST(Connection, PipelinedRequestsPairInOrder) {
  Harness h;
  h.data(6, IN, "GET /1 HTTP/1.1\r\n\r\nGET /two HTTP/1.1\r\n\r\nGET /three HTTP/1.1\r\n\r\n", 1 * ms);
  h.data(6, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 2 * ms);
  h.data(6, OUT, "HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\nbbHTTP/1.1 302 Found\r\nContent-Length: 3\r\n\r\nccc", 3 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/:id"}, {"status", "2xx"}}), 1);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/two"}, {"status", "5xx"}}), 1);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/three"}, {"status", "3xx"}}), 1);
  EXPECT_EQ(h.value("aster_http_response_size_bytes", {{"path", "/three"}}, "sum"), 3);
}

TEST(Connection, CloseDelimitedResponseEndsAtClose) {
  Harness h;
  h.data(7, IN, "GET /old HTTP/1.0\r\n\r\n", 1 * ms);
  h.data(7, OUT, "HTTP/1.0 200 OK\r\n\r\n", 2 * ms);
  h.data(7, OUT, std::string(50000, 'z'), 4 * ms, 4096);
  EXPECT_EQ(h.value("aster_http_requests_total", {}), 0);
  h.close(7, 9 * ms);
  h.settle();
  EXPECT_EQ(h.value("aster_http_response_size_bytes", {{"path", "/old"}}, "sum"), 50000);
  EXPECT_DOUBLE_EQ(h.value("aster_http_request_duration_seconds", {{"path", "/old"}}, "sum"), 0.003)
      << "ends at the last write, not at the close";
}

TEST(Connection, CloseQueuedAheadOfTheLastResponseStillCounts) {
  // A reset closes the socket on one CPU while the server's send returns
  // on another: the close record can come first.
  Harness h;
  h.data(13, IN, "GET /last HTTP/1.1\r\n\r\n", 1 * ms);
  h.close(13, 2 * ms);
  h.tracker.end_batch(0);
  h.data(13, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 3 * ms);
  h.settle();
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/last"}, {"status", "2xx"}}), 1);
  EXPECT_EQ(h.stats.requests_unanswered.get(), 0u);
  EXPECT_EQ(h.tracker.size(), 0u);
}

TEST(Connection, ClientConnectionsAreNotCounted) {
  Harness h;
  h.data(8, OUT, "GET /upstream HTTP/1.1\r\n\r\n", 1 * ms);
  h.data(8, IN, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {}), 0);
  EXPECT_EQ(h.stats.connections_client.get(), 1u);
}

TEST(Connection, UpgradeStopsParsing) {
  Harness h;
  h.data(9, IN, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 1 * ms);
  h.data(9, OUT, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 2 * ms);
  h.data(9, IN, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 3 * ms);
  h.data(9, OUT, "GET /not-a-request HTTP/1.1\r\n\r\n", 4 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"status", "1xx"}, {"path", "/ws"}}), 1);
  EXPECT_EQ(h.value("aster_http_requests_total", {}), 1);
  EXPECT_EQ(h.stats.connections_upgraded.get(), 1u);
}

TEST(Connection, ReorderedRecordsAreHeldAndLostOnesBecomeGaps) {
  Harness h;
  std::string r1 = "GET /x HTTP/1.1\r\n\r\n";
  std::string r2 = "GET /y HTTP/1.1\r\n\r\n";
  h.send(10, IN, 0, r1, 1 * ms);
  h.send(10, IN, r1.size() + r2.size(), "GET /z HTTP/1.1\r\n\r\n", 3 * ms);  // ahead of r2
  h.send(10, IN, r1.size(), r2, 2 * ms);                                     // arrives late: held one follows
  EXPECT_EQ(h.stats.chunks_reordered.get(), 1u);
  h.data(10, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4 * ms);
  h.data(10, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5 * ms);
  h.data(10, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 6 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/x"}}), 1);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/y"}}), 1);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/z"}}), 1);

  // A record that never comes: after two batches its bytes are a gap.
  h.send(11, IN, 0, r1, 1 * ms);
  h.send(11, IN, 1000, r2, 2 * ms);
  h.tracker.end_batch(1);
  h.tracker.end_batch(2);
  h.tracker.end_batch(3);
  EXPECT_EQ(h.stats.gap_lost.get(), 1000u - r1.size());
}

TEST(Connection, ResponseWithoutSeenRequestCountsAsUnknown) {
  Harness h;
  h.data(12, IN, "GET /first HTTP/1.1\r\n\r\n", 1 * ms);
  h.data(12, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2 * ms);
  // A request whose head fell into a gap (capture of 0 bytes), then its answer.
  h.data(12, IN, "GET /lost HTTP/1.1\r\n\r\n", 3 * ms, 0);
  h.data(12, OUT, "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", 4 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "UNKNOWN"}, {"path", "_unknown_"}, {"status", "5xx"}}), 1);
  EXPECT_EQ(h.stats.responses_unpaired.get(), 1u);
  EXPECT_EQ(h.value("aster_http_requests_total", {}), 2);
}

TEST(Connection, PathBudgetBoundsSeries) {
  prometheus::Registry registry;
  HttpMetrics metrics(registry, 5, [](uint16_t) { return std::string("svc"); });
  for (int i = 0; i < 50; ++i) {
    std::string path = "/page-" + std::string(1, 'a' + (i % 26)) + std::string(1, 'a' + (i / 26));
    Exchange x;
    x.path = &path;
    x.status = 200;
    metrics.on_exchange(x);
  }
  EXPECT_LE(metrics.series_count(), 6u);
  EXPECT_EQ(metrics.path_overflows(), 45u);
}

}  // namespace
}  // namespace aster

namespace aster {
namespace {

// The connection's first request, however the server's reads split it.
TEST(Connection, TheFirstRequestSplitAtAnyByteIsCountedAsSent) {
  const std::string req = "GET /a/x.txt HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  for (size_t cut = 1; cut < req.size(); ++cut) {
    Harness h;
    h.data(1, IN, req.substr(0, cut), 1 * ms);
    h.data(1, IN, req.substr(cut), 2 * ms);
    h.data(1, OUT, resp, 3 * ms);
    EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}, {"status", "2xx"}}), 1)
        << "cut at " << cut;
    EXPECT_EQ(h.value("aster_http_request_duration_seconds", {{"path", "/a/x.txt"}}, "sum"), 0.002) << cut;
  }
  Harness one;  // a byte per read
  for (size_t i = 0; i < req.size(); ++i) one.data(2, IN, req.substr(i, 1), (i + 1) * ms);
  one.data(2, OUT, resp, 100 * ms);
  EXPECT_EQ(one.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}}), 1);
}

TEST(Connection, AnyMethodTokenIsARequestAndOtherMethodsAreOther) {
  Harness h;
  h.data(1, IN, "get /a/x.txt HTTP/1.1\r\nHost: x\r\n\r\n", 1 * ms);
  h.data(1, OUT, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 2 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "OTHER"}, {"path", "/a/x.txt"}, {"status", "4xx"}}), 1);
}

TEST(Connection, AnAnswerToBytesThatWereNoRequestCounts) {
  Harness h;
  h.data(1, IN, std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 1 * ms);
  h.data(1, OUT, "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad request", 2 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "UNKNOWN"}, {"path", "_unknown_"}, {"status", "4xx"}}), 1);
  EXPECT_EQ(h.stats.responses_unpaired.get(), 1u);
  // An answer with nothing read before it answers a request read before the
  // exporter attached: not counted.
  Harness late;
  late.data(2, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1 * ms);
  EXPECT_EQ(late.value("aster_http_requests_total", {}), 0);
}


// `raw` written to direction `dir` in pieces cut at `cuts` (ascending), one
// record per piece, a millisecond apart from `t0`.
void pieces(Harness& h, uint64_t conn, uint8_t dir, const std::string& raw, const std::vector<size_t>& cuts,
            uint64_t t0) {
  size_t from = 0;
  uint64_t t = t0;
  for (size_t cut : cuts) {
    h.data(conn, dir, raw.substr(from, cut - from), t);
    from = cut;
    t += ms;
  }
  h.data(conn, dir, raw.substr(from), t);
}

std::vector<size_t> every(size_t step, size_t len) {
  std::vector<size_t> cuts;
  for (size_t c = step; c < len; c += step) cuts.push_back(c);
  return cuts;
}

const std::string kGet = "GET /a/x.txt HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const std::string kBad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad request";
// The first bytes of a real TLS 1.2/1.3 ClientHello and ServerHello.
const std::string kClientHello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x9a\x11\x00\x2c", 15);
const std::string kServerHello("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03\x5e\x01\x02", 14);

// Any three pieces (every pair of cuts), and pieces of 1, 3 and 10 bytes:
// the same request, method, path and duration as if read at once.
TEST(Connection, TheFirstRequestInAnyThreePiecesIsCountedAsSent) {
  std::vector<std::vector<size_t>> splits;
  for (size_t i = 1; i < kGet.size(); ++i) {
    for (size_t j = i + 1; j < kGet.size(); ++j) splits.push_back({i, j});
  }
  for (size_t step : {1, 3, 10}) splits.push_back(every(step, kGet.size()));
  for (const auto& cuts : splits) {
    Harness h;
    pieces(h, 1, IN, kGet, cuts, 1 * ms);
    h.data(1, OUT, kOk, 100 * ms);
    std::string where = "cuts";
    for (size_t c : cuts) where += " " + std::to_string(c);
    ASSERT_EQ(h.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}, {"status", "2xx"}}), 1)
        << where;
    EXPECT_EQ(h.value("aster_http_request_duration_seconds", {{"path", "/a/x.txt"}}, "sum"), 0.099) << where;
    EXPECT_EQ(h.value("aster_http_requests_total", {}), 1) << where;
    EXPECT_EQ(h.stats.connections_not_http.get(), 0u) << where;
  }
}

// A lower-case method is another method, however it is split.
TEST(Connection, ALowerCaseMethodSplitAtAnyByteIsOther) {
  const std::string get = "get /a/x.txt HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t cut = 1; cut < get.size(); ++cut) {
    Harness h;
    pieces(h, 1, IN, get, {cut}, 1 * ms);
    h.data(1, OUT, kBad, 10 * ms);
    EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "OTHER"}, {"path", "/a/x.txt"}, {"status", "4xx"}}), 1)
        << "cut at " << cut;
  }
}

// Bytes that are no request, then the server's HTTP answer, each split at
// any byte: the answer counts once, as a request not seen.
TEST(Connection, AnAnswerToJunkCountsHoweverEitherSideIsSplit) {
  const std::string junk = kClientHello + "\r\n\r\n";
  for (size_t in_cut = 1; in_cut < junk.size(); ++in_cut) {
    for (size_t out_cut = 1; out_cut < 40; ++out_cut) {
      Harness h;
      pieces(h, 1, IN, junk, {in_cut}, 1 * ms);
      pieces(h, 1, OUT, kBad, {out_cut}, 10 * ms);
      ASSERT_EQ(h.value("aster_http_requests_total", {{"method", "UNKNOWN"}, {"path", "_unknown_"}, {"status", "4xx"}}),
                1)
          << "cuts " << in_cut << " " << out_cut;
      EXPECT_EQ(h.stats.connections_not_http.get(), 0u);
    }
  }
}

// A request line of another version (a scanner's RTSP probe, HTTP/2.0 as
// text) is no HTTP/1.x request: its 400 counts as an answer to a request
// not seen, not with the method and path of a line that was no request.
TEST(Connection, ARequestLineOfAnotherVersionIsNoRequestButItsAnswerCounts) {
  for (const std::string line : {"OPTIONS / RTSP/1.0\r\n\r\n", "GET / HTTP/2.0\r\n\r\n"}) {
    Harness h;
    h.data(1, IN, line, 1 * ms);
    h.data(1, OUT, kBad, 2 * ms);
    EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "UNKNOWN"}, {"path", "_unknown_"}, {"status", "4xx"}}),
              1)
        << line;
    EXPECT_EQ(h.value("aster_http_requests_total", {}), 1) << line;
  }
}

// An HTTP/1-only server answers the HTTP/2 preface 400 (nginx does): the
// answer counts like any answer to bytes that were no request.
TEST(Connection, AnHttp1AnswerToTheHttp2PrefaceCounts) {
  Harness h;
  h.data(1, IN, std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0", 33), 1 * ms);
  h.data(1, OUT, kBad, 2 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "UNKNOWN"}, {"status", "4xx"}}), 1);
  EXPECT_EQ(h.stats.connections_not_http.get(), 0u);
}

// Peers that speak something else both ways are skipped at the server's
// first answer (not after 256 KiB), counted, and nothing after is parsed,
// whichever side speaks first and however the answer is split.
TEST(Connection, ABinaryProtocolAnsweredInKindIsNotHttp) {
  for (size_t cut = 1; cut < kServerHello.size(); ++cut) {
    Harness h;
    h.data(1, IN, kClientHello, 1 * ms);
    pieces(h, 1, OUT, kServerHello, {cut}, 2 * ms);
    EXPECT_EQ(h.stats.connections_not_http.get(), 1u) << "cut at " << cut;
    h.data(1, IN, kGet, 3 * ms);  // in the cipher stream by chance: not a request
    h.data(1, OUT, kOk, 4 * ms);
    EXPECT_EQ(h.value("aster_http_requests_total", {}), 0) << "cut at " << cut;
    EXPECT_EQ(h.stats.connections_not_http.get(), 1u);
  }
  Harness ssh;  // the server speaks first
  ssh.data(2, OUT, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 1 * ms);
  ssh.data(2, IN, "SSH-2.0-OpenSSH_9.2\r\n", 2 * ms);
  EXPECT_EQ(ssh.stats.connections_not_http.get(), 1u);
  EXPECT_EQ(ssh.value("aster_http_requests_total", {}), 0);
}

// Attached in the middle of a response (its request was read before the
// exporter started): the rest of it is nobody's, and the connection's next
// request is counted; only the other side refusing too gives it up.
TEST(Connection, TheRestOfAResponseBeforeTheFirstRequestIsNotAVerdict) {
  Harness h;
  h.data(1, OUT, std::string(3000, 'b'), 1 * ms);
  h.data(1, IN, kGet, 2 * ms);
  h.data(1, OUT, kOk, 3 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}}), 1);
  EXPECT_EQ(h.stats.connections_not_http.get(), 0u);
}

// A head longer than the capture (a 12 KB cookie, 4 KiB copied), its first
// read split too: method and path of its request line, paired with its
// answer.
TEST(Connection, AHeadLongerThanTheCaptureKeepsItsRequestLine) {
  const std::string head = "GET /a/x.txt HTTP/1.1\r\nHost: x\r\nCookie: s=" + std::string(12000, 'c') + "\r\n\r\n";
  for (size_t cut : {1, 3, 10, 100}) {
    Harness h;
    h.data(1, IN, head.substr(0, cut), 1 * ms);
    h.data(1, IN, head.substr(cut), 2 * ms, 4096);
    h.data(1, OUT, kOk, 3 * ms);
    EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}, {"status", "2xx"}}), 1)
        << "cut at " << cut;
    EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "UNKNOWN"}}), 0);
    EXPECT_EQ(h.stats.responses_unpaired.get(), 0u);
  }
}

// Empty lines before the first request line are allowed (RFC 9112 2.2):
// the request is counted as if they were not there, whether they come in a
// read of their own or with the request line.
TEST(Connection, EmptyLinesBeforeTheFirstRequestLineAreSkipped) {
  const std::string raw = "\r\n\r\n" + kGet;
  for (size_t cut = 1; cut < raw.size(); ++cut) {
    Harness h;
    pieces(h, 1, IN, raw, {cut}, 1 * ms);
    h.data(1, OUT, kOk, 10 * ms);
    EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}, {"status", "2xx"}}), 1)
        << "cut at " << cut;
    EXPECT_EQ(h.stats.responses_unpaired.get(), 0u) << "cut at " << cut;
  }
  Harness whole;
  whole.data(2, IN, raw, 1 * ms);
  whole.data(2, OUT, kOk, 10 * ms);
  EXPECT_EQ(whole.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}}), 1);
  EXPECT_EQ(whole.value("aster_http_request_duration_seconds", {{"path", "/a/x.txt"}}, "sum"), 0.009);
}

// A request line longer than the capture (a 7 KB query string), read as
// nginx reads it (1 KiB, then the rest, of which 4 KiB are copied): its
// method and path were copied, so it is counted with them and paired.
TEST(Connection, ARequestLineLongerThanTheCaptureKeepsItsMethodAndPath) {
  const std::string req = "GET /a/x.txt?q=" + std::string(7000, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  Harness h;
  h.data(1, IN, req.substr(0, 1024), 1 * ms);
  h.data(1, IN, req.substr(1024), 2 * ms, 4096);
  h.data(1, OUT, kOk, 3 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}, {"status", "2xx"}}), 1);
  EXPECT_EQ(h.stats.responses_unpaired.get(), 0u);
  EXPECT_EQ(h.value("aster_http_request_duration_seconds", {{"path", "/a/x.txt"}}, "sum"), 0.002);
  h.data(1, IN, kGet, 4 * ms);  // the next request on the connection
  h.data(1, OUT, kOk, 5 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"method", "GET"}, {"path", "/a/x.txt"}}), 2);
}

// Node.js's writev of a chunked response, four iovecs per res.write(),
// reaching far past the capture budget: the iovec hints keep every chunk
// boundary, so the body is exact, through held (reordered) records too.
std::vector<std::string> NodeWritev(const std::vector<size_t>& sizes) {
  std::vector<std::string> iovs;
  iovs.push_back("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (size_t n : sizes) {
    char line[16];
    std::snprintf(line, sizeof line, "%zx", n);
    iovs.push_back(line);
    iovs.push_back("\r\n");
    iovs.push_back(std::string(n, 'd'));
    iovs.push_back("\r\n");
  }
  iovs.push_back("0\r\n\r\n");
  return iovs;
}

size_t Total(const std::vector<std::string>& iovs) {
  size_t n = 0;
  for (const auto& v : iovs) n += v.size();
  return n;
}

TEST(ConnectionHints, NodeChunkedWritevPastTheBudgetIsExact) {
  Harness h;
  const std::string get = "GET /parts HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::vector<size_t> sizes = {1, 5000, 17, 300000, 16, 2};
  uint64_t in = 0, out = 0;
  for (int i = 0; i < 3; ++i) {
    auto req = data_record(9, IN, in, get, (10 + 2 * i) * ms);
    h.tracker.on_record(req.data(), req.size());
    in += get.size();
    auto iovs = NodeWritev(sizes);
    auto rec = iov_record(9, OUT, out, iovs, (11 + 2 * i) * ms, 4096);
    h.tracker.on_record(rec.data(), rec.size());
    out += Total(iovs);
  }
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/parts"}}), 3);
  EXPECT_EQ(h.value("aster_http_response_size_bytes", {{"path", "/parts"}}, "sum"), 3 * (1 + 5000 + 17 + 300000 + 16 + 2));
  EXPECT_EQ(h.stats.bodies_estimated.get(), 0u);
  EXPECT_GT(h.stats.bytes_hinted.get(), 0u);
  EXPECT_EQ(h.stats.parse_errors[static_cast<int>(ParseError::kChunkFramingLost)].get(), 0u);
}

TEST(ConnectionHints, HintsSurviveBeingHeldForAnEarlierRecord) {
  Harness h;
  const std::string get = "GET /parts HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  h.data(4, IN, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n", 1 * ms);
  h.data(4, OUT, ok, 2 * ms);
  h.data(4, IN, get, 3 * ms);
  // One response in two writevs; the second's record arrives first.
  std::vector<std::string> iovs = NodeWritev({10, 20});
  iovs.pop_back();  // the last chunk comes with the second writev
  std::vector<std::string> more = NodeWritev({70000, 3});
  more.erase(more.begin());  // no head: the same response goes on
  auto first = iov_record(4, OUT, ok.size(), iovs, 4 * ms, 4096);
  auto second = iov_record(4, OUT, ok.size() + Total(iovs), more, 5 * ms, 64);
  h.tracker.on_record(second.data(), second.size());
  EXPECT_EQ(h.stats.chunks_reordered.get(), 1u);
  h.tracker.on_record(first.data(), first.size());
  EXPECT_EQ(h.value("aster_http_response_size_bytes", {{"path", "/parts"}}, "sum"), 10 + 20 + 70000 + 3);
  EXPECT_EQ(h.stats.bodies_estimated.get(), 0u);
}

TEST(ConnectionHints, PastTheHintBoundTheBodyIsEstimatedAndCounted) {
  Harness h;
  h.data(5, IN, "GET /parts HTTP/1.1\r\nHost: x\r\n\r\n", 1 * ms);
  auto iovs = NodeWritev({100, 100, 100, 100, 100});
  auto rec = iov_record(5, OUT, 0, iovs, 2 * ms, 200, 6);
  h.tracker.on_record(rec.data(), rec.size());
  h.skip(5, OUT, Total(iovs));
  h.data(5, IN, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n", 3 * ms);
  h.data(5, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 4 * ms);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/parts"}}), 1);
  EXPECT_EQ(h.stats.bodies_estimated.get(), 1u);
  EXPECT_EQ(h.value("aster_http_response_size_bytes", {{"path", "/after"}}, "sum"), 2);
}

TEST(ConnectionHints, AMalformedHintBlockIsCountedNotRead) {
  Harness h;
  auto rec = iov_record(6, OUT, 0, NodeWritev({10}), 1 * ms, 8);
  // The block claims more hints than the record holds.
  aster_event ev;
  std::memcpy(&ev, rec.data(), sizeof ev);
  aster_iov_hints hb;
  std::memcpy(&hb, rec.data() + iov_hints_offset(ev), sizeof hb);
  hb.count += 1;
  std::memcpy(rec.data() + iov_hints_offset(ev), &hb, sizeof hb);
  h.tracker.on_record(rec.data(), rec.size());
  EXPECT_EQ(h.stats.events_malformed.get(), 1u);
}


// A body read with splice() (no record) between two recv()s: the kernel's
// sequence numbers put the next record after it (ASTER_F_UNSEEN_BEFORE),
// and its bytes are a gap at once, so the body is exact and the next
// request is read where it starts.
TEST(Connection, BytesTheProbesDidNotSeeAreAGapNotAShift) {
  Harness h;
  h.data(7, IN, "POST /up HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 1 * ms);
  h.skip(7, IN, 5000);  // spliced
  h.data(7, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2 * ms);
  h.data(7, IN, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", 3 * ms, SIZE_MAX, ASTER_F_UNSEEN_BEFORE);
  h.data(7, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 4 * ms);
  EXPECT_EQ(h.value("aster_http_request_size_bytes", {{"path", "/up"}}, "sum"), 5000);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/next"}, {"status", "2xx"}}), 1);
  EXPECT_EQ(h.stats.gap_unseen.get(), 5000u);
  EXPECT_EQ(h.stats.gap_lost.get(), 0u);
  EXPECT_EQ(h.stats.chunks_reordered.get(), 0u) << "not held as if a record were late";
}

// A keep-alive TLS connection whose ciphertext reached userspace before its
// session was bound (the library was probed after the connection opened):
// its first plaintext record makes it a TLS connection, read from the
// plaintext's own positions; ciphertext arriving later is skipped.
TEST(Connection, TlsPlaintextReplacesCiphertextSentBeforeTheBinding) {
  Harness h;
  const std::string cipher("\x17\x03\x03\x00\x20" + std::string(32, '\x9c'));
  h.send(7, ASTER_DIR_INGRESS, 0, cipher, 100);
  h.send(7, ASTER_DIR_EGRESS, 0, cipher, 110);
  h.send(7, ASTER_DIR_INGRESS, 0, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n", 1000, SIZE_MAX, ASTER_F_TLS_PLAINTEXT);
  h.send(7, ASTER_DIR_INGRESS, cipher.size(), cipher, 1001);  // in flight before the binding
  h.send(7, ASTER_DIR_EGRESS, 0, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 3000, SIZE_MAX,
         ASTER_F_TLS_PLAINTEXT);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/s"}, {"status", "2xx"}}), 1);
  EXPECT_DOUBLE_EQ(h.value("aster_http_response_size_bytes", {{"path", "/s"}}, "sum"), 3);
  EXPECT_EQ(h.stats.connections_tls.get(), 1u);
  EXPECT_EQ(h.stats.tls_ciphertext_skipped.get(), 1u);
  EXPECT_EQ(h.stats.tls_connections_tracked.load(), 1u);
  h.close(7, 4000);
  h.settle();
  EXPECT_EQ(h.stats.tls_connections_tracked.load(), 0u);
}

// Bytes read after a reset: the socket had closed before its connection was
// tracked, so no close record comes (test_connection_faults
// ReadAfterResetTest); the record's ASTER_F_SOCKET_CLOSED ends it.
TEST(Connection, ARecordOfAClosedSocketEndsItsConnection) {
  Harness h;
  h.data(21, IN, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n", 1 * ms, SIZE_MAX, ASTER_F_SOCKET_CLOSED);
  h.data(21, IN, "GET /later HTTP/1.1\r\n\r\n", 2 * ms, SIZE_MAX, ASTER_F_SOCKET_CLOSED);
  EXPECT_EQ(h.tracker.size(), 1u) << "records behind it within the grace still parse";
  h.settle();
  EXPECT_EQ(h.tracker.size(), 0u);
  EXPECT_EQ(h.stats.connections_closed.get(), 1u);
  EXPECT_EQ(h.stats.connections_closed_at_transfer.get(), 1u) << "one close per connection, not per record";
  EXPECT_EQ(h.stats.requests_unanswered.get(), 2u);
  EXPECT_EQ(h.value("aster_http_requests_total", {}), 0);
}

TEST(Connection, AClosedSocketsRecordAfterItsCloseRecordClosesOnce) {
  Harness h;
  h.data(22, IN, "GET /a HTTP/1.1\r\n\r\n", 1 * ms);
  h.data(22, OUT, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2 * ms);
  h.close(22, 3 * ms);
  h.data(22, IN, "GET /b HTTP/1.1\r\n\r\n", 4 * ms, SIZE_MAX, ASTER_F_SOCKET_CLOSED);
  h.settle();
  EXPECT_EQ(h.tracker.size(), 0u);
  EXPECT_EQ(h.stats.connections_closed.get(), 1u);
  EXPECT_EQ(h.value("aster_http_requests_total", {{"path", "/a"}}), 1);
  EXPECT_EQ(h.stats.requests_unanswered.get(), 1u);
}

// Records of a listener the kernel watched before discovery checked it
// (ASTER_SERVICE_PENDING): counted under the service the check gives, or
// dropped when it gives none; a gone child takes its parent's service.
class PendingResolver : public ProcessEvents {
 public:
  void on_fork(uint32_t, uint32_t, uint16_t) override {}
  void on_exit(uint32_t) override {}
  void on_listen(uint32_t, uint16_t) override {}
  void on_exec(uint32_t) override {}
  int resolve_pending(uint32_t tgid) override {
    ++checks;
    return tgid == 100 ? 7 : -1;
  }
  int checks = 0;
};

TEST(Connection, PendingRecordsTakeTheServiceTheCheckGives) {
  prometheus::Registry registry;
  PipelineStats stats;
  HttpMetrics metrics(registry, 100, [](uint16_t id) { return "s" + std::to_string(id); });
  PendingResolver resolver;
  ConnectionTracker tracker(stats, metrics, builtin_protocols(), &resolver);
  auto send = [&](uint64_t conn, uint32_t tgid, uint8_t dir, uint64_t pos, const std::string& bytes) {
    auto rec = data_record(conn, dir, pos, bytes, 1000);
    auto* ev = reinterpret_cast<aster_event*>(rec.data());
    ev->service_id = ASTER_SERVICE_PENDING;
    ev->tgid = tgid;
    tracker.on_record(rec.data(), rec.size());
  };
  const std::string req = "GET /p HTTP/1.1\r\n\r\n", resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  send(31, 100, ASTER_DIR_INGRESS, 0, req);
  send(31, 100, ASTER_DIR_EGRESS, 0, resp);
  send(32, 200, ASTER_DIR_INGRESS, 0, req);  // a process no selector picks
  // A child of tgid 100 forked while it was pending, gone before its check.
  aster_event fork{};
  fork.kind = ASTER_EVENT_PROC_FORK;
  fork.tgid = 300;
  fork.tid = 100;
  fork.service_id = ASTER_SERVICE_PENDING;
  tracker.on_record(&fork, sizeof fork);
  send(33, 300, ASTER_DIR_INGRESS, 0, req);
  send(33, 300, ASTER_DIR_EGRESS, 0, resp);
  double s7 = 0, other = 0;
  for (const auto& f : collect(metrics)) {
    if (f.name != "aster_http_requests_total") continue;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        if (l.name == "service") (l.value == "s7" ? s7 : other) += m.counter.value;
      }
    }
  }
  EXPECT_EQ(s7, 2);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(stats.pending_records_resolved.get(), 4u);
  EXPECT_EQ(stats.pending_records_dropped.get(), 1u);
  EXPECT_EQ(resolver.checks, 3) << "one check per process, not per record (100, 200, 300)";
}

}  // namespace
}  // namespace aster
