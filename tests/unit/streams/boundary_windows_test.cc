// The boundary windows of a record (bpf/boundary_walker.bpf.h) are hints:
// checked against the record, then handed to the parser as the bytes at
// their offsets; and the connection arms the kernel's walker where its
// parser knows the next boundary lies in a later transfer.
#include "streams/boundary_windows.h"
#include "streams/record_pieces.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <string>
#include <vector>

#include "metrics/http_metrics.h"
#include "protocols/registry.h"
#include "streams/connection_tracker.h"
#include "streams/data_record.h"
#include "metrics/metrics_scrape.h"

namespace aster {
namespace {

const aster_event& header(const std::vector<uint8_t>& rec) { return *reinterpret_cast<const aster_event*>(rec.data()); }
const aster_windows* windows(const std::vector<uint8_t>& rec) {
  return data_record_windows(header(rec), rec.data() + sizeof(aster_event));
}

std::string chunk(size_t n, char c) {
  char line[32];
  snprintf(line, sizeof line, "%zx\r\n", n);
  return line + std::string(n, c) + "\r\n";
}

TEST(BoundaryWindows, ARecordWithoutWindowsHasNone) {
  auto rec = data_record(1, 0, 0, std::string(100, 'x'), 1, 10);
  std::vector<WindowPiece> out;
  EXPECT_EQ(check_windows(header(rec), windows(rec), &out), WindowCheck::kNone);
  EXPECT_TRUE(out.empty());
}

TEST(BoundaryWindows, WindowsBecomeTheBytesAtTheirOffsetsOverlapsTrimmed) {
  std::string t = std::string(200, 'a');
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<char>('a' + i % 26);
  // 50..74, then 60..84 overlaps it: only 75..84 is new.
  auto rec = windowed_record(1, 0, 0, t, 1, 40, {50, 60, 190});
  EXPECT_EQ(data_record_size(header(rec), rec.data(), rec.size()), rec.size());
  std::vector<WindowPiece> out;
  ASSERT_EQ(check_windows(header(rec), windows(rec), &out), WindowCheck::kUsed);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].offset, 50u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out[0].bytes), out[0].len), t.substr(50, 24));
  EXPECT_EQ(out[1].offset, 74u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out[1].bytes), out[1].len), t.substr(74, 10));
  EXPECT_EQ(out[2].offset, 190u);
  EXPECT_EQ(out[2].len, 10u);  // cut by the transfer's end
}

TEST(BoundaryWindows, AWindowStartingInTheHeadGivesOnlyWhatFollowsIt) {
  std::string t(100, 'q');
  auto rec = windowed_record(1, 0, 0, t, 1, 30, {20});
  std::vector<WindowPiece> out;
  ASSERT_EQ(check_windows(header(rec), windows(rec), &out), WindowCheck::kUsed);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].offset, 30u);
  EXPECT_EQ(out[0].len, 14u);
}

TEST(BoundaryWindows, AWindowThatAddsNothingIsSkippedNotFatal) {
  std::string t(100, 'q');
  auto rec = windowed_record(1, 0, 0, t, 1, 60, {10, 70});  // 10..34 lies in the head
  std::vector<WindowPiece> out;
  ASSERT_EQ(check_windows(header(rec), windows(rec), &out), WindowCheck::kUsed);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].offset, 70u);
}

// Each way a window can contradict its record drops all of them.
TEST(BoundaryWindows, WindowsThatContradictTheirRecordAreRejected) {
  std::string t(300, 'z');
  auto check = [&](auto mutate) {
    auto rec = windowed_record(1, 0, 0, t, 1, 40, {100, 200});
    auto* w = const_cast<aster_windows*>(windows(rec));
    mutate(*w);
    std::vector<WindowPiece> out;
    WindowCheck r = check_windows(header(rec), w, &out);
    if (r == WindowCheck::kRejected) {
      EXPECT_TRUE(out.empty());
    }
    return r;
  };
  EXPECT_EQ(check([](aster_windows&) {}), WindowCheck::kUsed);
  EXPECT_EQ(check([](aster_windows& w) { w.w[1].offset = 290; }), WindowCheck::kRejected);  // past the end
  EXPECT_EQ(check([](aster_windows& w) { w.w[1].offset = 100; }), WindowCheck::kRejected);  // not ascending
  EXPECT_EQ(check([](aster_windows& w) { w.w[1].offset = 50; }), WindowCheck::kRejected);   // descending
  EXPECT_EQ(check([](aster_windows& w) { w.w[0].len = 0; }), WindowCheck::kRejected);
  EXPECT_EQ(check([](aster_windows& w) { w.w[0].len = ASTER_WINDOW_BYTES + 1; }), WindowCheck::kRejected);
  EXPECT_EQ(check([](aster_windows& w) { w.w[0].kind = 9; }), WindowCheck::kRejected);
  EXPECT_EQ(check([](aster_windows& w) { w.w[0].offset = 0xfffffff0u; }), WindowCheck::kRejected);
}

TEST(BoundaryWindows, ACountPastTheCapIsRejected) {
  std::vector<uint32_t> offs;
  for (uint32_t i = 0; i <= ASTER_MAX_WINDOWS; ++i) offs.push_back(100 + i * 30);
  std::string t(100 + offs.size() * 30 + 30, 'z');
  auto rec = windowed_record(1, 0, 0, t, 1, 50, offs);
  std::vector<WindowPiece> out;
  EXPECT_EQ(check_windows(header(rec), windows(rec), &out), WindowCheck::kRejected);
}

TEST(BoundaryWindows, ARecordWhoseWindowsRunPastItsLengthIsMalformed) {
  auto rec = windowed_record(1, 0, 0, std::string(200, 'z'), 1, 40, {100});
  EXPECT_EQ(data_record_size(header(rec), rec.data(), rec.size() - 1), 0u);
  EXPECT_EQ(data_record_size(header(rec), rec.data(), rec.size()), rec.size());
}


// The windows' offsets at each chunk boundary of `body` after `head`: the
// first chunk-size line, then the CRLF ending each chunk's data (the
// walker's after_data windows), as the kernel walks them.
std::vector<uint32_t> chunk_boundaries(size_t head, const std::vector<size_t>& sizes) {
  std::vector<uint32_t> offs{static_cast<uint32_t>(head)};
  size_t at = head;
  for (size_t n : sizes) {
    char line[32];
    at += snprintf(line, sizeof line, "%zx\r\n", n) + n;
    offs.push_back(static_cast<uint32_t>(at));
    at += 2;
  }
  return offs;
}

// A record's two trailers describe bytes of one transfer: merged in stream
// order, each byte once (a window repeating a hint's bytes adds only what
// the hint lacks).
TEST(RecordPieces, HintsAndWindowsMergeInStreamOrderEachByteOnce) {
  // Budget 10: iovec 0 copied, iovec 1 cut (6 bytes rest), iovecs 2 and 3
  // hinted (their first 16 bytes).
  const std::vector<std::string> iovs = {"0123456789", "abcdefghijklmnop", std::string(40, 'x'), "ABCDEFGHIJKLMNOPQRSTUVWXYZ"};
  std::string t;
  for (const auto& v : iovs) t += v;
  auto rec = iov_record(1, 0, 0, iovs, 1, 12);
  ASSERT_TRUE(header(rec).flags & ASTER_F_IOV_HINTS);
  // Windows: one in the cut rest reaching into iovec 2's hinted bytes, one
  // inside iovec 2 past its hint, one that the last hint holds in part.
  add_windows(&rec, t, {14, 60, 70});
  ASSERT_EQ(data_record_size(header(rec), rec.data(), rec.size()), rec.size());
  EXPECT_EQ(data_record_size(header(rec), rec.data(), rec.size() - 1), 0u);
  RecordPieces p;
  record_pieces(header(rec), rec.data() + sizeof(aster_event), &p);
  EXPECT_EQ(p.windows, WindowCheck::kUsed);
  std::vector<std::pair<uint64_t, std::string>> got;
  for (const RecordPiece& x : p.pieces) got.emplace_back(x.offset, std::string(reinterpret_cast<const char*>(x.bytes), x.len));
  const std::vector<std::pair<uint64_t, std::string>> want = {
      {14, t.substr(14, 24)},  // window: 14..37, iovec 2's hint 26..41 starts inside it
      {38, t.substr(38, 4)},   // the rest of that hint
      {60, t.substr(60, 24)},  // window 60..83 holds iovec 3's hint 66..81 whole
      {84, t.substr(84, 8)},   // window 70..91 (cut by the transfer's end) adds its last 8
  };
  EXPECT_EQ(got, want);
}

// Records the arms a connection sends, standing in for the kernel's map.
class RecordedArms : public BoundaryArming {
 public:
  struct Arm {
    uint64_t conn;
    uint8_t dir;
    uint64_t pos;
    BoundaryHint hint;
  };
  void arm(uint64_t conn_id, uint8_t dir, uint64_t stream_pos, const BoundaryHint& hint) override {
    arms.push_back(Arm{conn_id, dir, stream_pos, hint});
  }
  void disarm(uint64_t conn_id, uint8_t dir) override { disarms.emplace_back(conn_id, dir); }
  std::vector<Arm> arms;
  std::vector<std::pair<uint64_t, uint8_t>> disarms;
};

class Upload : public ::testing::Test {
 protected:
  Upload()
      : metrics(registry, 100, [](uint16_t) { return std::string("svc"); }),
        tracker(stats, metrics, builtin_protocols(), nullptr) {
    tracker.set_arming(&arms);
  }
  void record(const std::vector<uint8_t>& rec) { tracker.on_record(rec.data(), rec.size()); }
  void answer(uint64_t pos, uint64_t ts) {
    record(data_record(1, ASTER_DIR_EGRESS, pos, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", ts));
  }
  double request_bytes() { return body_sum("aster_http_request_size_bytes"); }
  double response_bytes() { return body_sum("aster_http_response_size_bytes"); }
  double body_sum(const std::string& family) {
    for (const auto& f : collect(metrics)) {
      if (f.name != family) continue;
      double sum = 0;
      for (const auto& m : f.metric) sum += m.histogram.sample_sum;
      return sum;
    }
    return -1;
  }

  prometheus::Registry registry;
  PipelineStats stats;
  HttpMetrics metrics;
  RecordedArms arms;
  ConnectionTracker tracker;
};

const std::string kHead = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

// One 64 KiB read holding a head and chunks whose size lines lie past the
// 4 KiB copied: with a window at each, the body is exact.
TEST_F(Upload, WindowsAtEveryBoundaryMakeTheBodyExact) {
  std::string body = chunk(5000, 'a') + chunk(20000, 'b') + chunk(7, 'c') + chunk(30000, 'd') + "0\r\n\r\n";
  std::string t = kHead + body;
  // The walker's boundaries: each chunk's trailing CRLF (after_data).
  std::vector<uint32_t> offs;
  size_t at = kHead.size();
  for (size_t n : {5000, 20000, 7, 30000}) {
    char line[32];
    at += snprintf(line, sizeof line, "%zx\r\n", n) + n;
    offs.push_back(static_cast<uint32_t>(at));
    at += 2;
  }
  record(windowed_record(1, ASTER_DIR_INGRESS, 0, t, 10, 4096, offs));
  answer(0, 20);
  EXPECT_EQ(request_bytes(), 55007);
  EXPECT_EQ(stats.bodies_estimated.get(), 0u);
  EXPECT_EQ(stats.windows_used.get(), 4u);
  EXPECT_TRUE(arms.arms.empty()) << "the body ended in the record: nothing to arm";
}

// The same read whose windows failed the checks: all dropped, counted, and
// the body is an estimate (counted), never a silent error.
TEST_F(Upload, RejectedWindowsLeaveAnEstimateCounted) {
  std::string t = kHead + chunk(5000, 'a') + chunk(20000, 'b') + "0\r\n\r\n";
  auto rec = windowed_record(1, ASTER_DIR_INGRESS, 0, t, 10, 4096, {static_cast<uint32_t>(t.size() + 10)});
  record(rec);
  // The next request's start line ends the estimated body.
  record(data_record(1, ASTER_DIR_INGRESS, t.size(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 15));
  answer(0, 20);
  EXPECT_EQ(stats.windows_rejected.get(), 1u);
  EXPECT_EQ(stats.windows_used.get(), 0u);
  EXPECT_EQ(stats.bodies_estimated.get(), 1u);
}

// A window that lands inside chunk data (a wrong guess of the walker) is
// data there: the framing the parser knows decides, so the count is right.
TEST_F(Upload, AWindowInsideChunkDataIsJustData) {
  std::string t = kHead + chunk(3000, 'a');
  std::string rest = chunk(2000, 'b') + "0\r\n\r\n";  // "7d0\r\n", data from 5 on, CRLF at 2005
  record(data_record(1, ASTER_DIR_INGRESS, 0, t, 10));
  record(windowed_record(1, ASTER_DIR_INGRESS, t.size(), rest, 11, 10, {100, 2005}));
  answer(0, 20);
  EXPECT_EQ(stats.windows_used.get(), 2u);
  EXPECT_EQ(stats.bodies_estimated.get(), 0u);
  EXPECT_EQ(request_bytes(), 5000);
}

// Mid-chunk at the end of a record, with the kernel not walking: the
// connection tells the walker where the next chunk-size line is, once.
TEST_F(Upload, ArmsTheWalkerWhereTheNextBoundaryLies) {
  std::string first = kHead + "10000\r\n" + std::string(3000, 'a');  // 64 KiB chunk begun
  record(data_record(1, ASTER_DIR_INGRESS, 0, first, 10));
  ASSERT_EQ(arms.arms.size(), 1u);
  EXPECT_EQ(arms.arms[0].conn, 1u);
  EXPECT_EQ(arms.arms[0].dir, ASTER_DIR_INGRESS);
  EXPECT_EQ(arms.arms[0].pos, first.size() + 0x10000 - 3000) << "at the CRLF ending the chunk's data";
  EXPECT_EQ(arms.arms[0].hint.kind, ASTER_FRAMING_H1_CHUNKED);
  EXPECT_TRUE(arms.arms[0].hint.after_data);
  // A record that moves the parser but not the boundary does not re-arm.
  record(data_record(1, ASTER_DIR_INGRESS, first.size(), std::string(1000, 'a'), 11));
  EXPECT_EQ(arms.arms.size(), 1u);
}

// A connection that ends before the kernel took its arm withdraws it, so
// the arm's pending slot does not make every transfer of the connections
// that share it look the map up for good; one never armed withdraws nothing.
TEST_F(Upload, AConnectionThatEndsWithdrawsItsArm) {
  std::string first = kHead + "10000\r\n" + std::string(3000, 'a');
  record(data_record(1, ASTER_DIR_INGRESS, 0, first, 10));
  record(data_record(2, ASTER_DIR_INGRESS, 0, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 11));
  ASSERT_EQ(arms.arms.size(), 1u);
  for (uint64_t conn : {1, 2}) {
    aster_event ev{};
    ev.kind = ASTER_EVENT_CLOSE;
    ev.conn_id = conn;
    ev.timestamp_ns = 20;
    tracker.on_record(&ev, sizeof ev);
  }
  for (int i = 0; i < 3; ++i) tracker.end_batch(0);  // a closed connection is finished a few batches on
  ASSERT_EQ(arms.disarms.size(), 1u);
  EXPECT_EQ(arms.disarms[0], std::make_pair(uint64_t{1}, uint8_t{ASTER_DIR_INGRESS}));
}

TEST_F(Upload, DoesNotArmWhileTheKernelWalksOrAtATransferBoundary) {
  std::string first = kHead + "10000\r\n" + std::string(3000, 'a');
  record(data_record(1, ASTER_DIR_INGRESS, 0, first, 10, SIZE_MAX, ASTER_F_WALKING));
  EXPECT_TRUE(arms.arms.empty()) << "the kernel said it is walking";
  // A body whose chunks end with the record: the next size line starts the
  // next transfer, in its copied head.
  record(data_record(2, ASTER_DIR_INGRESS, 0, kHead + chunk(10, 'x'), 12));
  EXPECT_TRUE(arms.arms.empty());
}

TEST_F(Upload, AReplayWithoutProbesArmsNothing) {
  tracker.set_arming(nullptr);
  // set_arming applies to connections made after it: a new connection id.
  std::string first = kHead + "10000\r\n" + std::string(3000, 'a');
  record(data_record(7, ASTER_DIR_INGRESS, 0, first, 10));
  EXPECT_TRUE(arms.arms.empty());
}

// readv of one 64 KiB buffer: one iovec, so no hints, and the walker's
// windows give the chunk-size lines past the copied head.
TEST_F(Upload, AReadvOfOneBufferIsExactThroughItsWindows) {
  const std::vector<size_t> sizes = {5000, 20000, 7, 30000};
  std::string body;
  for (size_t n : sizes) body += chunk(n, 'a');
  std::string t = kHead + body + "0\r\n\r\n";
  auto rec = iov_record(1, ASTER_DIR_INGRESS, 0, {t}, 10, 4096);
  ASSERT_FALSE(header(rec).flags & ASTER_F_IOV_HINTS);
  add_windows(&rec, t, chunk_boundaries(kHead.size(), sizes));
  record(rec);
  answer(0, 20);
  EXPECT_EQ(request_bytes(), 55007);
  EXPECT_EQ(stats.bodies_estimated.get(), 0u);
  EXPECT_EQ(stats.windows_used.get(), 4u) << "the first line lies in the copied head";
}

// Node's writev of 40 res.write()s: 160 iovecs, more than a record's 64
// hints, so the hints stop after 16 chunks; the walker's windows go on to
// every boundary and the body stays exact (hints and windows overlapping).
TEST_F(Upload, WindowsCarryAWritevPastItsHintCap) {
  record(data_record(1, ASTER_DIR_INGRESS, 0, "GET /parts HTTP/1.1\r\nHost: x\r\n\r\n", 10));
  const std::string rhead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::vector<std::string> iovs = {rhead};
  std::vector<size_t> sizes;
  for (size_t i = 0; i < 40; ++i) {
    sizes.push_back(200 + i * 37);
    char line[16];
    snprintf(line, sizeof line, "%zx", sizes.back());
    iovs.insert(iovs.end(), {line, "\r\n", std::string(sizes.back(), 'd'), "\r\n"});
  }
  iovs.push_back("0\r\n\r\n");
  std::string t;
  for (const auto& v : iovs) t += v;
  auto rec = iov_record(1, ASTER_DIR_EGRESS, 0, iovs, 11, 1024);
  ASSERT_TRUE(header(rec).flags & ASTER_F_IOV_TRUNCATED);
  std::vector<uint32_t> offs;
  for (uint32_t o : chunk_boundaries(rhead.size(), sizes)) {
    if (o + ASTER_WINDOW_BYTES > 1024) offs.push_back(o);  // the walker skips what the head holds
  }
  add_windows(&rec, t, offs);
  record(rec);
  size_t sum = 0;
  for (size_t n : sizes) sum += n;
  EXPECT_EQ(response_bytes(), static_cast<double>(sum));
  EXPECT_EQ(stats.bodies_estimated.get(), 0u);
  EXPECT_GT(stats.windows_used.get(), 20u);
  EXPECT_GT(stats.bytes_hinted.get(), 0u);
}

}  // namespace
}  // namespace aster
