// GrpcMetrics: go-grpc-prometheus's families and labels, the method
// sentinels, the per-service cap, the type, and the unprefixed names.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

#include "metrics/grpc_metrics.h"
#include "metrics/http_metrics.h"
#include "metrics/metrics_scrape.h"

namespace aster {
namespace {

GrpcCall call(const std::string* path, uint8_t code, uint64_t in = 1, uint64_t out = 1) {
  GrpcCall c;
  c.path = path;
  c.code = code;
  c.request_seen = true;
  c.messages_received = in;
  c.messages_sent = out;
  c.first_byte_ns = 1000;
  c.last_byte_ns = 2000;
  return c;
}

TEST(GrpcMetrics, FamiliesLabelsAndSentinels) {
  prometheus::Registry r;
  MetricsOptions o;
  GrpcMetrics g(r, o, [](uint16_t) { return std::string("api"); });
  std::string get = "/pkg.v1.Store/Get", chat = "/pkg.v1.Store/Chat", odd = "/not-grpc";
  g.on_start(0, &get);
  GrpcCall started = call(&get, 5);
  started.start_counted = true;
  g.on_call(started);
  g.on_call(call(&chat, 0, 3, 2));
  g.on_call(call(nullptr, kGrpcCodeUnknown));
  GrpcCall hidden = call(&odd, 12);
  hidden.sent_known = false;
  g.on_call(hidden);
  Scrape s(r);
  EXPECT_EQ(s.sum("aster_grpc_server_handled_total", {{"service", "api"}, {"grpc_service", "pkg.v1.Store"},
                                                      {"grpc_method", "Get"}, {"grpc_type", "unknown"},
                                                      {"grpc_code", "NotFound"}}), 1);
  EXPECT_EQ(s.sum("aster_grpc_server_handled_total", {{"grpc_method", "Chat"}, {"grpc_type", "bidi_stream"},
                                                      {"grpc_code", "OK"}}), 1);
  EXPECT_EQ(s.sum("aster_grpc_server_handled_total", {{"grpc_service", "_unknown_"}, {"grpc_method", "_unknown_"},
                                                      {"grpc_code", "_unknown_"}}), 1);
  EXPECT_EQ(s.sum("aster_grpc_server_handled_total", {{"grpc_service", "_other_"}, {"grpc_code", "Unimplemented"}}), 1);
  EXPECT_EQ(s.sum("aster_grpc_server_started_total", {{"grpc_method", "Get"}}), 1) << "counted once, at its start";
  EXPECT_EQ(s.sum("aster_grpc_server_started_total"), 4);
  EXPECT_EQ(s.sum("aster_grpc_server_msg_received_total", {{"grpc_method", "Chat"}}), 3);
  EXPECT_EQ(s.sum("aster_grpc_server_msg_sent_total", {{"grpc_method", "Chat"}}), 2);
  EXPECT_EQ(s.sum("aster_grpc_server_msg_sent_total"), 4) << "an unknown count adds nothing";
  EXPECT_EQ(s.sum("aster_grpc_server_handling_seconds"), 4);
}

TEST(GrpcMetrics, TheCapSendsNewMethodsToOther) {
  prometheus::Registry r;
  MetricsOptions o;
  o.max_series_per_family = 3;
  GrpcMetrics g(r, o, [](uint16_t) { return std::string("api"); });
  std::vector<std::string> paths;
  for (int i = 0; i < 10; ++i) paths.push_back("/s.S/M" + std::to_string(i));
  for (const auto& p : paths) g.on_call(call(&p, 0));
  Scrape s(r);
  EXPECT_EQ(s.sum("aster_grpc_server_handled_total"), 10) << "totals stay exact";
  EXPECT_EQ(s.sum("aster_grpc_server_handled_total", {{"grpc_method", "_other_"}}), 7);
  EXPECT_LE(s.series("aster_grpc_server_handled_total"), 4u);
  uint64_t over = 0;
  for (const auto& f : g.series_overflows()) over += f.family == "aster_grpc_server_handled_total" ? f.calls : 0;
  EXPECT_EQ(over, 7u);
}

TEST(GrpcMetrics, AnExpiredServiceLosesItsSeries) {
  prometheus::Registry r;
  MetricsOptions o;
  GrpcMetrics g(r, o, [](uint16_t id) { return "svc" + std::to_string(id); });
  std::string p = "/a.B/C";
  GrpcCall c = call(&p, 0);
  g.on_call(c);
  c.service_id = 1;
  g.on_call(c);
  EXPECT_EQ(g.drop_service(0), 5u) << "started, handled, handling_seconds, msg_received, msg_sent";
  Scrape s(r);
  EXPECT_EQ(s.series("aster_grpc_server_handled_total", {{"service", "svc0"}}), 0u);
  EXPECT_EQ(s.series("aster_grpc_server_handled_total", {{"service", "svc1"}}), 1u);
  g.on_call(call(&p, 0));
  EXPECT_EQ(Scrape(r).sum("aster_grpc_server_handled_total", {{"service", "svc0"}}), 1) << "from zero again";
}

TEST(GrpcMetrics, SeriesCarryTheWorkloadsLabelsAsTheHttpSeries) {
  // Two pods of one Deployment: one service, two ids, their own k8s_*
  // labels; set through HttpMetrics, as main does, so HTTP and gRPC
  // series of a workload are labelled alike.
  prometheus::Registry r;
  MetricsOptions o;
  o.max_series_per_family = 1;
  HttpMetrics http(r, o, [](uint16_t) { return std::string("checkout"); });
  http.set_workload_labels([](uint16_t id) {
    return std::vector<std::pair<std::string, std::string>>{
        {"k8s_namespace_name", "shop"}, {"k8s_pod_name", "checkout-7d9f8b6c5d-" + std::to_string(id)}};
  });
  std::string get = "/a.B/Get", put = "/a.B/Put";
  GrpcCall c = call(&get, 0, 2, 2);
  c.service_id = 1;
  http.on_grpc_start(1, &get);
  c.start_counted = true;
  http.on_grpc_call(c);
  c.service_id = 2;
  c.start_counted = false;  // started at its end
  http.on_grpc_call(c);
  c.path = &put;  // past the cap of one method: _other_, with the workload's labels too
  http.on_grpc_call(c);
  Scrape s(r);
  for (const char* f : {"aster_grpc_server_started_total", "aster_grpc_server_handled_total",
                        "aster_grpc_server_handling_seconds", "aster_grpc_server_msg_received_total",
                        "aster_grpc_server_msg_sent_total"}) {
    EXPECT_EQ(s.series(f, {{"service", "checkout"}, {"k8s_namespace_name", "shop"},
                           {"k8s_pod_name", "checkout-7d9f8b6c5d-1"}, {"grpc_method", "Get"}}), 1u) << f;
    EXPECT_EQ(s.series(f, {{"k8s_pod_name", "checkout-7d9f8b6c5d-2"}, {"grpc_method", "Get"}}), 1u) << f;
    EXPECT_EQ(s.series(f, {{"k8s_pod_name", "checkout-7d9f8b6c5d-2"}, {"grpc_method", "_other_"}}), 1u) << f;
    EXPECT_EQ(s.series(f), 3u) << f;
  }
  size_t grpc_overflow_rows = 0;
  for (const auto& row : http.series_overflows()) {
    if (row.family.find("_grpc_") == std::string::npos) continue;
    ++grpc_overflow_rows;
    EXPECT_EQ(row.workload.size(), 2u) << row.family;
    if (row.workload.size() == 2) {
      EXPECT_EQ(row.workload[0].second, "shop");
    }
  }
  EXPECT_EQ(grpc_overflow_rows, 10u) << "five families for each of the two workloads";
  // aster_exporter_series counts them (a histogram as one series, as HTTP's).
  EXPECT_EQ(http.all_series_count(), 15u);
  http.on_service_expired(2, ExpiryReason::kGone);
  EXPECT_EQ(http.all_series_count(), 5u);
  EXPECT_EQ(http.series_expired(ExpiryReason::kGone), 10u);
  EXPECT_EQ(Scrape(r).series("aster_grpc_server_handled_total", {{"k8s_pod_name", "checkout-7d9f8b6c5d-2"}}), 0u);
}

TEST(GrpcMetrics, UnprefixedNamesForExistingDashboards) {
  prometheus::Registry r;
  MetricsOptions o;
  o.prefix = "acme";
  o.grpc_names = GrpcNames::kUnprefixed;
  GrpcMetrics g(r, o, [](uint16_t) { return std::string("api"); });
  std::string p = "/a.B/C";
  g.on_call(call(&p, 0));
  Scrape s(r);
  EXPECT_EQ(s.sum("grpc_server_handled_total"), 1);
  EXPECT_EQ(s.sum("acme_grpc_server_handled_total"), 0);
  MetricsOptions prefixed;
  prefixed.prefix = "acme";
  prometheus::Registry r2;
  GrpcMetrics g2(r2, prefixed, [](uint16_t) { return std::string("api"); });
  g2.on_call(call(&p, 0));
  EXPECT_EQ(Scrape(r2).sum("acme_grpc_server_handled_total"), 1);
}

}  // namespace
}  // namespace aster
