// GrpcMetrics: go-grpc-prometheus's families and labels, the method
// sentinels, the per-service cap, the type, and the unprefixed names.
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

#include "metrics/grpc_metrics.h"
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
