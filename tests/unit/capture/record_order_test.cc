// RecordOrder: ring records split into events, events handed on in the
// order their stamps say, the rest kept for the next drain. Batches are
// built byte for byte as the probes stage them (8-byte aligned, back to
// back); the kernel side is covered by the integration tests.
#include "capture/record_order.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "metrics/http_metrics.h"
#include "protocols/registry.h"
#include "streams/connection_tracker.h"

namespace aster {
namespace {

// Appends one event (and its payload) to a batch as the probes stage it.
void stage(std::vector<uint8_t>& batch, uint64_t ts, uint8_t kind, const std::string& payload = "",
           uint64_t conn = 1, uint8_t dir = ASTER_DIR_INGRESS, uint64_t pos = 0) {
  aster_event ev{};
  ev.timestamp_ns = ts;
  ev.conn_id = conn;
  ev.stream_pos = pos;
  ev.kind = kind;
  ev.direction = dir;
  ev.byte_count = payload.size();
  ev.captured_len = payload.size();
  size_t off = batch.size();
  batch.resize(off + ((sizeof ev + payload.size() + 7) & ~size_t{7}));
  std::memcpy(batch.data() + off, &ev, sizeof ev);
  std::memcpy(batch.data() + off + sizeof ev, payload.data(), payload.size());
}

struct Seen {
  uint64_t ts;
  size_t len;
  std::string payload;
};

std::vector<Seen> release(RecordOrder& order, uint64_t watermark) {
  std::vector<Seen> out;
  order.release(watermark, [&](const void* p, size_t len) {
    const auto* ev = static_cast<const aster_event*>(p);
    std::string payload;
    if (len >= sizeof(aster_event)) payload.assign(reinterpret_cast<const char*>(ev + 1), len - sizeof(aster_event));
    out.push_back({len >= sizeof(aster_event) ? ev->timestamp_ns : 0, len, payload});
  });
  return out;
}

TEST(RecordOrder, SplitsABatchIntoItsEventsWithTheirPayloads) {
  std::vector<uint8_t> batch;
  stage(batch, 1, ASTER_EVENT_DATA, "GET /");  // 53 bytes, padded to 56
  stage(batch, 2, ASTER_EVENT_DATA, "");
  stage(batch, 3, ASTER_EVENT_DATA, std::string(100, 'x'));
  RecordOrder order;
  order.add_ring_record(batch.data(), batch.size());
  auto seen = release(order, UINT64_MAX);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].len, sizeof(aster_event) + 5);
  EXPECT_EQ(seen[0].payload, "GET /");
  EXPECT_EQ(seen[1].len, sizeof(aster_event));
  EXPECT_EQ(seen[2].payload, std::string(100, 'x'));
  EXPECT_EQ(order.held(), 0u);
}

TEST(RecordOrder, HeaderOnlyRecordsAndUnpaddedSingleRecords) {
  // Process and close events carry no payload; a record reserved on its own
  // (not staged) is as long as it is, without padding.
  aster_event close{};
  close.timestamp_ns = 7;
  close.kind = ASTER_EVENT_CLOSE;
  close.captured_len = 99;  // meaningless outside data events
  RecordOrder order;
  order.add_ring_record(&close, sizeof close);
  std::vector<uint8_t> one;
  stage(one, 8, ASTER_EVENT_DATA, "abc");
  order.add_ring_record(one.data(), sizeof(aster_event) + 3);
  auto seen = release(order, UINT64_MAX);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].len, sizeof(aster_event));
  EXPECT_EQ(seen[1].payload, "abc");
}

TEST(RecordOrder, OrdersAcrossBatchesAndKeepsWhatIsNotYetBelowTheWatermark) {
  // CPU 1's batch reaches the ring first, though CPU 0 staged earlier.
  std::vector<uint8_t> cpu1, cpu0;
  stage(cpu1, 30, ASTER_EVENT_DATA, "c");
  stage(cpu1, 40, ASTER_EVENT_DATA, "d");
  stage(cpu0, 10, ASTER_EVENT_DATA, "a");
  stage(cpu0, 20, ASTER_EVENT_DATA, "b");
  RecordOrder order;
  order.add_ring_record(cpu1.data(), cpu1.size());
  order.add_ring_record(cpu0.data(), cpu0.size());
  auto first = release(order, 35);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].payload, "a");
  EXPECT_EQ(first[1].payload, "b");
  EXPECT_EQ(first[2].payload, "c");
  EXPECT_EQ(order.held(), 1u);
  // The next drain brings an event stamped before the kept one.
  std::vector<uint8_t> later;
  stage(later, 38, ASTER_EVENT_DATA, "e");
  order.add_ring_record(later.data(), later.size());
  auto second = release(order, 100);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].payload, "e");
  EXPECT_EQ(second[1].payload, "d");  // kept across the drain, payload intact
  EXPECT_EQ(order.held(), 0u);
}

TEST(RecordOrder, EqualStampsKeepTheirArrivalOrder) {
  std::vector<uint8_t> batch;
  for (char c = 'a'; c <= 'f'; ++c) stage(batch, 5, ASTER_EVENT_DATA, std::string(1, c));
  RecordOrder order;
  order.add_ring_record(batch.data(), batch.size());
  std::string got;
  for (const auto& s : release(order, 6)) got += s.payload;
  EXPECT_EQ(got, "abcdef");
}

TEST(RecordOrder, TruncatedRecordsArePassedOnWholeForTheTrackerToRefuse) {
  std::vector<uint8_t> batch;
  stage(batch, 4, ASTER_EVENT_DATA, "ok");
  size_t good = batch.size();
  stage(batch, 5, ASTER_EVENT_DATA, std::string(40, 'y'));
  batch.resize(good + sizeof(aster_event) + 10);  // claims 40 payload bytes, holds 10
  RecordOrder order;
  order.add_ring_record(batch.data(), batch.size());
  uint8_t crumbs[12] = {};
  order.add_ring_record(crumbs, sizeof crumbs);  // shorter than a header
  auto seen = release(order, 5);  // the crumbs (no stamp) come first
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].len, sizeof crumbs);
  EXPECT_EQ(seen[1].payload, "ok");
  auto rest = release(order, 6);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].len, sizeof(aster_event) + 10);
}

TEST(RecordOrder, ManyCpusBatchesComeOutAsAFullSortWouldPutThem) {
  // Eight CPUs stage ascending stamps (ties included) in batches of random
  // length; their batches reach the ring interleaved at random, with some
  // single records (close and process events) in between.
  std::mt19937 rng(7);
  std::vector<std::vector<uint8_t>> ring;
  std::vector<uint64_t> clock(8, 0);
  std::vector<std::pair<uint64_t, std::string>> all;
  for (int b = 0; b < 400; ++b) {
    int cpu = rng() % 8;
    std::vector<uint8_t> batch;
    int n = 1 + rng() % 30;
    for (int i = 0; i < n; ++i) {
      clock[cpu] += rng() % 3;  // equal stamps too
      uint64_t ts = clock[cpu] * 8 + cpu;
      std::string payload = std::to_string(ring.size()) + "/" + std::to_string(i);
      stage(batch, ts, ASTER_EVENT_DATA, payload);
      all.push_back({ts, payload});
    }
    ring.push_back(batch);
  }
  RecordOrder order;
  for (const auto& b : ring) order.add_ring_record(b.data(), b.size());
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  uint64_t watermark = all[all.size() / 2].first;
  auto first = release(order, watermark);
  auto second = release(order, UINT64_MAX);
  first.insert(first.end(), second.begin(), second.end());
  ASSERT_EQ(first.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(first[i].ts, all[i].first) << i;
    ASSERT_EQ(first[i].payload, all[i].second) << i;
  }
}

TEST(RecordOrder, AResponseFlushedBeforeItsRequestIsStillPaired) {
  // The request was read on CPU 0 and the response written on CPU 1, whose
  // batch filled up and reached the ring first.
  prometheus::Registry registry;
  HttpMetrics metrics(registry, 100, [](uint16_t) { return std::string("svc"); });
  PipelineStats stats;
  ConnectionTracker tracker(stats, metrics, builtin_protocols(), nullptr);
  const std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  std::vector<uint8_t> cpu1, cpu0;
  stage(cpu1, 2000, ASTER_EVENT_DATA, resp, 9, ASTER_DIR_EGRESS, 0);
  stage(cpu0, 1000, ASTER_EVENT_DATA, req, 9, ASTER_DIR_INGRESS, 0);
  RecordOrder order;
  order.add_ring_record(cpu1.data(), cpu1.size());
  order.add_ring_record(cpu0.data(), cpu0.size());
  order.release(UINT64_MAX, [&](const void* p, size_t len) { tracker.on_record(p, len); });
  tracker.end_batch(0);
  EXPECT_EQ(stats.requests_recorded.get(), 1u);
  EXPECT_EQ(stats.responses_unpaired.get(), 0u);
}

TEST(RecordOrder, ABurstsBuffersAreGivenBackOnceTrafficIsQuietAgain) {
  // A burst: one drain of ~4 MB (a slow drain of a filling ring).
  RecordOrder order;
  const std::string payload(4000, 'x');
  std::vector<uint8_t> batch;
  for (int i = 0; i < 1000; ++i) stage(batch, 1000 + i, ASTER_EVENT_DATA, payload);
  order.add_ring_record(batch.data(), batch.size());
  size_t n = 0;
  order.release(UINT64_MAX, [&](const void*, size_t) { ++n; });
  ASSERT_EQ(n, 1000u);
  const size_t after_burst = order.reserved_bytes();
  ASSERT_GT(after_burst, size_t{3} << 20);
  // Quiet traffic: one small record per drain, and drains with none.
  uint64_t ts = 10000;
  for (size_t d = 0; d < 2 * 512 + 2; ++d) {
    if (d % 2 == 0) {
      std::vector<uint8_t> one;
      stage(one, ts++, ASTER_EVENT_DATA, "GET / HTTP/1.1\r\n\r\n");
      order.add_ring_record(one.data(), one.size());
    }
    order.release(UINT64_MAX, [&](const void*, size_t) { ++n; });
  }
  EXPECT_EQ(n, 1000u + 512 + 1);
  EXPECT_LE(order.reserved_bytes(), size_t{1} << 20) << "after a burst of " << after_burst;
  // And still works after the trim, a record kept across drains included.
  std::vector<uint8_t> two;
  stage(two, ts + 5, ASTER_EVENT_DATA, "b");
  stage(two, ts + 1, ASTER_EVENT_DATA, "a");
  order.add_ring_record(two.data(), two.size());
  auto first = release(order, ts + 2);
  auto second = release(order, UINT64_MAX);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].payload, "a");
  EXPECT_EQ(second[0].payload, "b");
}

TEST(RecordOrder, SteadyLoadKeepsItsBuffers) {
  // Drains of a steady load use a good share of the buffers: no trim, no
  // reallocation on every drain.
  RecordOrder order;
  const std::string payload(2000, 'y');
  size_t reserved = 0;
  uint64_t ts = 1;
  for (int d = 0; d < 2000; ++d) {
    std::vector<uint8_t> batch;
    for (int i = 0; i < 200; ++i) stage(batch, ts++, ASTER_EVENT_DATA, payload);
    order.add_ring_record(batch.data(), batch.size());
    order.release(UINT64_MAX, [](const void*, size_t) {});
    if (d == 10) reserved = order.reserved_bytes();
  }
  EXPECT_EQ(order.reserved_bytes(), reserved);
}

}  // namespace
}  // namespace aster
