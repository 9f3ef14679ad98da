// SPDX-License-Identifier: Apache-2.0
// Series expiry through the real pipeline (records -> connections -> HTTP/1
// -> HttpMetrics): a gone service's series go, records staged under its id
// before the sweep are dropped and counted, the id is reused by another
// service that counts exactly its own requests, and idle expiry drops only
// the series of the idle service.
#include "metrics/series_expiry.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "protocols/registry.h"
#include "streams/connection_tracker.h"
#include "streams/data_record.h"
#include "metrics/metrics_scrape.h"

namespace aster {
namespace {

constexpr uint64_t kSec = 1000000000;

class ExpiryPipeline {
 public:
  ExpiryPipeline(uint64_t gone_after, uint64_t idle_after = 0)
      : registry([this] { return now; }),
        http(prom, 1000, [this](uint16_t id) { return registry.name(id); }),
        tracker(stats, http, builtin_protocols(), nullptr),
        pipeline(tracker),
        expiry(settings(gone_after, idle_after), registry, pipeline, http, {}) {
    http.set_live_filter([this](uint16_t id) { return registry.is_live(id); });
  }

  static SeriesExpiry::Settings settings(uint64_t gone_after, uint64_t idle_after) {
    SeriesExpiry::Settings s;
    s.gone_after_ns = gone_after;
    s.idle_after_ns = idle_after;
    s.quarantine_ns = 10 * kSec;
    return s;
  }

  // One transfer on `conn` tagged with `service`, released at once.
  void send(uint64_t conn, uint8_t dir, const std::string& bytes, uint16_t service) {
    uint64_t& pos = pos_[conn][dir];
    auto rec = data_record(conn, dir, pos, bytes, now);
    pos += bytes.size();
    aster_event ev;
    std::memcpy(&ev, rec.data(), sizeof ev);
    ev.service_id = service;
    std::memcpy(rec.data(), &ev, sizeof ev);
    pipeline.add_ring_record(rec.data(), rec.size());
    pipeline.release(UINT64_MAX);
    pipeline.end_batch(now);
  }
  void request(uint64_t conn, uint16_t service, const std::string& path = "/x") {
    send(conn, ASTER_DIR_INGRESS, "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n", service);
  }
  void response(uint64_t conn, uint16_t service) {
    send(conn, ASTER_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", service);
  }
  void exchange(uint64_t conn, uint16_t service, const std::string& path = "/x") {
    request(conn, service, path);
    response(conn, service);
  }
  void advance(uint64_t ns) {
    now += ns;
    expiry.sweep(now);
  }

  // Sum of requests_total per service label; and every series of every family.
  std::map<std::string, double> requests() {
    std::map<std::string, double> out;
    for (const auto& f : collect(http)) {
      if (f.name != "aster_http_requests_total") continue;
      for (const auto& m : f.metric) {
        for (const auto& l : m.label) {
          if (l.name == "service") out[l.value] += m.counter.value;
        }
      }
    }
    return out;
  }
  size_t series_in_registry() {
    size_t n = 0;
    for (const auto& f : collect(http)) n += f.metric.size();
    return n;
  }

  uint64_t now = 1000 * kSec;
  ServiceRegistry registry;
  prometheus::Registry prom;
  PipelineStats stats;
  HttpMetrics http;
  ConnectionTracker tracker;
  RecordPipeline pipeline;
  SeriesExpiry expiry;

 private:
  std::map<uint64_t, std::map<uint8_t, uint64_t>> pos_;
};

TEST(SeriesExpiry, AGoneServicesSeriesGoAndItsReusedIdCountsOnlyTheNewService) {
  ExpiryPipeline p(60 * kSec);
  uint16_t a = p.registry.intern("a");
  ASSERT_TRUE(p.registry.add({10, 1, a}));
  uint16_t keep = p.registry.intern("keep");
  ASSERT_TRUE(p.registry.add({20, 1, keep}));
  p.exchange(1, a);
  p.exchange(1, a, "/y");
  p.exchange(2, keep);
  EXPECT_EQ(p.requests(), (std::map<std::string, double>{{"a", 2}, {"keep", 1}}));
  // A request of a under way when it goes: its connection is dropped.
  p.request(3, a);
  size_t series_before = p.http.all_series_count();
  EXPECT_EQ(series_before, p.series_in_registry());

  p.registry.remove(10);
  p.advance(59 * kSec);
  EXPECT_EQ(p.requests()["a"], 2) << "still within gone_after";
  p.advance(1 * kSec);
  EXPECT_EQ(p.requests(), (std::map<std::string, double>{{"keep", 1}}));
  EXPECT_EQ(p.http.all_series_count(), 4u) << "keep's counter and three histograms";
  EXPECT_EQ(p.http.all_series_count(), p.series_in_registry());
  EXPECT_EQ(p.http.series_expired(ExpiryReason::kGone), series_before - 4);
  EXPECT_FALSE(p.registry.is_live(a));

  // Records staged under a's id before the sweep, arriving after it: a
  // whole exchange on a new connection.
  p.exchange(4, a);
  EXPECT_EQ(p.requests(), (std::map<std::string, double>{{"keep", 1}}));
  EXPECT_EQ(p.http.stale_dropped(), 1u);
  EXPECT_EQ(p.http.all_series_count(), 4u);

  // After the quarantine, the id goes to a new service, which counts its
  // own requests from zero; the stale connection 4 was dropped with it.
  p.advance(10 * kSec);
  uint16_t b = p.registry.intern("b");
  ASSERT_EQ(b, a);
  ASSERT_TRUE(p.registry.add({30, 1, b}));
  EXPECT_EQ(p.tracker.size(), 1u) << "only keep's connection is left";
  p.exchange(5, b);
  p.exchange(5, b, "/y");
  p.exchange(5, b, "/y");
  p.exchange(2, keep);
  EXPECT_EQ(p.requests(), (std::map<std::string, double>{{"b", 3}, {"keep", 2}}));
  EXPECT_EQ(p.http.all_series_count(), p.series_in_registry());
}

TEST(SeriesExpiry, ARelearnedServiceStartsFromNoRoutes) {
  ExpiryPipeline p(60 * kSec);
  uint16_t a = p.registry.intern("a");
  ASSERT_TRUE(p.registry.add({10, 1, a}));
  for (int i = 0; i < 60; ++i) p.exchange(1, a, "/u/user" + std::string(1, static_cast<char>('a' + i % 26)) + std::to_string(i));
  EXPECT_GT(p.http.learned_collapses(), 0u);
  p.registry.remove(10);
  p.advance(60 * kSec);
  p.advance(10 * kSec);
  uint16_t b = p.registry.intern("b");
  ASSERT_EQ(b, a);
  ASSERT_TRUE(p.registry.add({30, 1, b}));
  p.exchange(2, b, "/u/alice");
  // a's learning had collapsed /u/*: b's first path keeps its own label.
  bool found = false;
  for (const auto& f : collect(p.http)) {
    if (f.name != "aster_http_requests_total") continue;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) found |= l.name == "path" && l.value == "/u/alice";
    }
  }
  EXPECT_TRUE(found);
}

TEST(SeriesExpiry, AnIdleServiceLosesItsSeriesOnlyAndComesBackFromZero) {
  ExpiryPipeline p(600 * kSec, 30 * kSec);
  uint16_t quiet = p.registry.intern("quiet");
  uint16_t busy = p.registry.intern("busy");
  ASSERT_TRUE(p.registry.add({10, 1, quiet}));
  ASSERT_TRUE(p.registry.add({20, 1, busy}));
  p.exchange(1, quiet);
  p.exchange(2, busy);
  p.advance(20 * kSec);
  p.exchange(2, busy);
  p.advance(10 * kSec);
  EXPECT_EQ(p.requests(), (std::map<std::string, double>{{"busy", 2}}));
  EXPECT_EQ(p.http.series_expired(ExpiryReason::kIdle), 4u);
  EXPECT_TRUE(p.registry.is_live(quiet)) << "idle keeps the id";
  p.exchange(1, quiet);
  EXPECT_EQ(p.requests(), (std::map<std::string, double>{{"busy", 2}, {"quiet", 1}}));
  EXPECT_EQ(p.http.stale_dropped(), 0u);
}

}  // namespace
}  // namespace aster
