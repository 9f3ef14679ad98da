// Business gauges derived from traffic: counting (up/down) and in-flight.
#include "metrics/business_gauges.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <prometheus/registry.h>

#include "metrics/http_metrics.h"

namespace aster {
namespace {

const char* kGauges = R"(
gauges:
  - name: aster_agents_total
    up:   {method: POST, route: /v1/agents, status: 2xx}
    down: {method: DELETE, route: "/v1/agents/{id}", status: 2xx}
  - name: aster_sessions_active
    service: agents
    up: [{method: POST, route: /v1/sessions, status: 201}]
    down:
      - {method: DELETE, route: /v1/sessions/:id}
      - {method: POST, route: /v1/sessions/:id/expire}
  - name: aster_workflows_running
    inflight: {method: POST, route: /v1/workflows/:id/run}
)";

MetricsOptions options() {
  MetricsOptions o;
  std::string err = parse_metrics_options(YAML::Load(kGauges), "metrics.", o);
  EXPECT_EQ(err, "");
  return o;
}

double gauge(prometheus::Registry& r, const std::string& name, const std::string& service) {
  for (const auto& f : r.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) {
        if (l.name == "service" && l.value == service) return m.gauge.value;
      }
    }
  }
  return -1;  // no such series
}

struct Fixture {
  Fixture() : metrics(registry, options(), [](uint16_t id) { return id == 1 ? std::string("agents") : "web"; }) {}
  void exchange(HttpMethod m, const std::string& path, uint16_t status, uint16_t svc = 1) {
    Exchange x;
    x.service_id = svc;
    x.method = m;
    x.path = &path;
    x.status = status;
    metrics.on_exchange(x);
  }
  prometheus::Registry registry;
  HttpMetrics metrics;
};

TEST(BusinessGauges, UpOnCreateDownOnDeleteOnlyForSuccess) {
  Fixture f;
  f.exchange(HttpMethod::kGet, "/healthz", 200);
  EXPECT_EQ(gauge(f.registry, "aster_agents_total", "agents"), 0) << "exported at 0 once the service is seen";
  for (int i = 0; i < 5; ++i) f.exchange(HttpMethod::kPost, "/v1/agents", 201);
  f.exchange(HttpMethod::kPost, "/v1/agents", 400);           // refused: no change
  f.exchange(HttpMethod::kDelete, "/v1/agents/3", 204);
  f.exchange(HttpMethod::kDelete, "/v1/agents/99", 404);      // not there: no change
  f.exchange(HttpMethod::kGet, "/v1/agents/3", 200);          // reads change nothing
  f.exchange(HttpMethod::kPost, "/v1/agents/3/logs", 201);    // another route
  EXPECT_EQ(gauge(f.registry, "aster_agents_total", "agents"), 4);
}

TEST(BusinessGauges, NeverBelowZero) {
  Fixture f;
  // Two agents created before the exporter started are deleted, then one is created.
  f.exchange(HttpMethod::kDelete, "/v1/agents/1", 204);
  f.exchange(HttpMethod::kDelete, "/v1/agents/2", 204);
  EXPECT_EQ(gauge(f.registry, "aster_agents_total", "agents"), 0);
  f.exchange(HttpMethod::kPost, "/v1/agents", 201);
  EXPECT_EQ(gauge(f.registry, "aster_agents_total", "agents"), 1) << "a lower bound of the true count";
}

TEST(BusinessGauges, ServiceFilterAndExactStatusAndSeveralDowns) {
  Fixture f;
  f.exchange(HttpMethod::kPost, "/v1/sessions", 201);
  f.exchange(HttpMethod::kPost, "/v1/sessions", 201);
  f.exchange(HttpMethod::kPost, "/v1/sessions", 201);
  f.exchange(HttpMethod::kPost, "/v1/sessions", 200);  // status 201 only
  f.exchange(HttpMethod::kDelete, "/v1/sessions/a", 200);
  f.exchange(HttpMethod::kPost, "/v1/sessions/b/expire", 204);
  EXPECT_EQ(gauge(f.registry, "aster_sessions_active", "agents"), 1);
  f.exchange(HttpMethod::kPost, "/v1/sessions", 201, 2);
  EXPECT_EQ(gauge(f.registry, "aster_sessions_active", "web"), -1) << "not defined for service web";
  EXPECT_EQ(gauge(f.registry, "aster_agents_total", "web"), 0);
}

TEST(BusinessGauges, InflightCountsStartedNotYetEnded) {
  Fixture f;
  ExchangeSink* obs = &f.metrics;
  ASSERT_TRUE(obs->wants_request_events());
  obs->on_request_start(1, HttpMethod::kPost, "/v1/workflows/7/run");
  obs->on_request_start(1, HttpMethod::kPost, "/v1/workflows/8/run");
  obs->on_request_start(1, HttpMethod::kGet, "/v1/workflows/8/run");  // another method
  obs->on_request_start(1, HttpMethod::kPost, "/v1/workflows/8");
  EXPECT_EQ(gauge(f.registry, "aster_workflows_running", "agents"), 2);
  obs->on_request_end(1, HttpMethod::kPost, "/v1/workflows/7/run");
  obs->on_request_end(1, HttpMethod::kGet, "/v1/workflows/8/run");
  EXPECT_EQ(gauge(f.registry, "aster_workflows_running", "agents"), 1);
  obs->on_request_end(1, HttpMethod::kPost, "/v1/workflows/8/run");
  EXPECT_EQ(gauge(f.registry, "aster_workflows_running", "agents"), 0);
}

TEST(BusinessGauges, NoRequestEventsWithoutInflightGauges) {
  prometheus::Registry r;
  HttpMetrics m(r, 100, [](uint16_t) { return std::string("svc"); });
  EXPECT_FALSE(m.wants_request_events());
}

}  // namespace
}  // namespace aster
