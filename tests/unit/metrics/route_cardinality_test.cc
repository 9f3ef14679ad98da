// HttpMetrics: templates and learning as path labels, the per-family
// per-service series cap with its overflow series, and the naming options.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

#include "metrics/http_metrics.h"
#include "metrics/metrics_scrape.h"

namespace aster {
namespace {

MetricsOptions options_with_routes(std::vector<std::pair<std::string, std::vector<std::string>>> routes) {
  MetricsOptions o;
  for (auto& [text, services] : routes) {
    RouteRule r;
    std::string why;
    EXPECT_TRUE(RouteTemplate::compile(text, &r.route, &why)) << why;
    r.services = services;
    o.routes.push_back(std::move(r));
  }
  return o;
}

struct Fixture {
  explicit Fixture(const MetricsOptions& o)
      : metrics(registry, o, [](uint16_t id) { return id == 1 ? std::string("agents") : std::string("other"); }) {}
  void request(const std::string& path, uint16_t status = 200, HttpMethod m = HttpMethod::kGet, uint16_t svc = 1) {
    Exchange x;
    x.service_id = svc;
    x.method = m;
    x.path = &path;
    x.status = status;
    x.first_byte_ns = 1000;
    x.last_byte_ns = 2000;
    metrics.on_exchange(x);
  }
  prometheus::Registry registry;
  HttpMetrics metrics;
};

TEST(RouteCardinality, TemplatesAreLabelsPerServiceFirstMatchWins) {
  Fixture f(options_with_routes({{"/v1/agents/me", {}},
                                 {"/v1/agents/{id}", {"agents"}},
                                 {"/v1/agents/:any", {}},
                                 {"/assets/*", {}}}));
  f.request("/v1/agents/me");
  f.request("/v1/agents/alice");
  f.request("/v1/agents/bob");
  f.request("/assets/js/app.js");
  f.request("/v1/agents/alice", 200, HttpMethod::kGet, 2);  // service "other": {id} does not apply
  f.request("/v1/sessions/42");                               // no template: heuristic
  Scrape s(f.metrics);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"service", "agents"}, {"path", "/v1/agents/me"}}), 1);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"service", "agents"}, {"path", "/v1/agents/{id}"}}), 2);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"service", "agents"}, {"path", "/assets/*"}}), 1);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"service", "other"}, {"path", "/v1/agents/:any"}}), 1);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"service", "agents"}, {"path", "/v1/sessions/:id"}}), 1);
  EXPECT_EQ(s.sum("aster_http_request_duration_seconds", {{"path", "/v1/agents/{id}"}}), 2);
}

TEST(RouteCardinality, CapPerFamilyPerServiceWithExactTotals) {
  MetricsOptions o;
  o.max_series_per_family = 10;
  o.learn_threshold = 0;  // learning off: only the cap bounds the series
  Fixture f(o);
  for (int i = 0; i < 1000; ++i) f.request("/item/name" + std::to_string(i) + "z", i % 7 == 0 ? 500 : 200);
  for (int i = 0; i < 100; ++i) f.request("/item/x" + std::to_string(i) + "z", 200, HttpMethod::kGet, 2);
  Scrape s(f.metrics);
  for (const char* svc : {"agents", "other"}) {
    // Ten regular series, plus the overflow series of (GET, 2xx) and (GET, 5xx).
    EXPECT_LE(s.series("aster_http_requests_total", {{"service", svc}}), 12u) << svc;
    EXPECT_LE(s.series("aster_http_request_duration_seconds", {{"service", svc}}), 11u) << svc;
  }
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"service", "agents"}}), 1000) << "every request counted once";
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"service", "other"}}), 100);
  EXPECT_EQ(s.sum("aster_http_request_duration_seconds", {{"service", "agents"}}), 1000);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"path", "_other_"}, {"service", "agents"}}), 990);
  EXPECT_GT(s.sum("aster_http_requests_total", {{"path", "_other_"}, {"status", "5xx"}}), 0)
      << "the overflow keeps the status class";

  uint64_t counter_overflow = 0, duration_overflow = 0;
  for (const auto& o : f.metrics.series_overflows()) {
    if (o.service != "agents") continue;
    if (o.family == "aster_http_requests_total") counter_overflow = o.requests;
    if (o.family == "aster_http_request_duration_seconds") duration_overflow = o.requests;
  }
  EXPECT_EQ(counter_overflow, 990u);
  EXPECT_EQ(duration_overflow, 990u);
  EXPECT_EQ(f.metrics.path_overflows(), 990u + 90u) << "labels refused past the cap, both services";
  EXPECT_LE(f.metrics.series_count(), 2u * 12u);
}

TEST(RouteCardinality, CounterFamilyCanFillBeforeTheHistograms) {
  MetricsOptions o;
  o.max_series_per_family = 4;
  Fixture f(o);
  // Two paths x three statuses: six counter combinations, two histogram ones.
  for (const char* p : {"/a", "/b"}) {
    for (uint16_t st : {200, 404, 500}) f.request(p, st);
  }
  Scrape s(f.metrics);
  EXPECT_EQ(s.series("aster_http_request_duration_seconds", {{"path", "_other_"}}), 0u);
  EXPECT_EQ(s.series("aster_http_requests_total", {{"path", "_other_"}}), 2u);
  EXPECT_EQ(s.sum("aster_http_requests_total"), 6);
}

TEST(RouteCardinality, LearningKeepsRealRoutesUnderTheCap) {
  MetricsOptions o;
  o.max_series_per_family = 100;
  o.learn_threshold = 50;
  Fixture f(o);
  for (int i = 0; i < 5000; ++i) f.request("/v1/users/user" + std::to_string(i) + "x/settings");
  f.request("/healthz");
  Scrape s(f.metrics);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"path", "/v1/users/:param/settings"}}), 5000 - 50);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"path", "/healthz"}}), 1) << "room left for real routes";
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"path", "_other_"}}), 0);
  EXPECT_EQ(f.metrics.learned_collapses(), 1u);
}

TEST(RouteCardinality, StatusCodeLabelAndPrefixAndBuckets) {
  MetricsOptions o;
  o.prefix = "myco";
  o.status_label = StatusLabel::kCode;
  o.duration_buckets = {0.5, 1};
  o.max_series_per_family = 2;
  Fixture f(o);
  f.request("/a", 201);
  f.request("/a", 204);
  f.request("/a", 503);  // third combination: overflow, by class
  f.request("/a", 999);  // not a status: "other"
  Scrape s(f.metrics);
  EXPECT_EQ(s.sum("myco_http_requests_total", {{"status", "201"}}), 1);
  EXPECT_EQ(s.sum("myco_http_requests_total", {{"status", "204"}}), 1);
  EXPECT_EQ(s.sum("myco_http_requests_total", {{"path", "_other_"}, {"status", "5xx"}}), 1);
  EXPECT_EQ(s.sum("myco_http_requests_total", {{"path", "_other_"}, {"status", "other"}}), 1);
  EXPECT_EQ(s.series("aster_http_requests_total"), 0u);
  for (const auto& fam : s.families) {
    if (fam.name != "myco_http_request_duration_seconds") continue;
    ASSERT_FALSE(fam.metric.empty());
    EXPECT_EQ(fam.metric[0].histogram.bucket.size(), 3u) << "0.5, 1 and +Inf";
  }
}

TEST(RouteCardinality, UnknownMethodsAndUnpairedStayBounded) {
  MetricsOptions o;
  o.max_series_per_family = 3;
  Fixture f(o);
  f.request("/x", 200, HttpMethod::kOther);
  for (uint16_t st = 100; st < 600; ++st) {
    Exchange unpaired;
    unpaired.service_id = 1;
    unpaired.request_seen = false;
    unpaired.status = st;
    f.metrics.on_exchange(unpaired);
  }
  Scrape s(f.metrics);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"method", "OTHER"}, {"path", "/x"}}), 1);
  EXPECT_LE(s.series("aster_http_requests_total"), 3u + 5u);
  EXPECT_EQ(s.sum("aster_http_requests_total"), 501);
}

}  // namespace
}  // namespace aster

namespace aster {
namespace {

// Labels are cached per raw path; a collapse must reach paths already
// cached: "/u/a", seen before /u/* collapsed, counts under "/u/:param" after.
TEST(RouteCardinality, ACollapseReachesPathsWhoseLabelWasCached) {
  MetricsOptions o;
  o.learn_threshold = 3;
  Fixture f(o);
  f.request("/u/a");
  f.request("/u/a");
  f.request("/u/b");
  f.request("/u/c");
  f.request("/u/d");  // the fourth value at that position: collapsed
  f.request("/u/a");
  f.request("/t/x");
  f.request("/t/x");
  Scrape s(f.metrics);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"path", "/u/a"}}), 2);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"path", "/u/:param"}}), 2);
  EXPECT_EQ(s.sum("aster_http_requests_total", {{"path", "/t/x"}}), 2);
  EXPECT_EQ(f.metrics.learned_collapses(), 1u);
}

}  // namespace
}  // namespace aster
